/**
 * `ballot bench failover`: the real-process failover benchmark (src/bench/failover.ts) against ballot's
 * nodes, etcd and ZooKeeper, printed side by side from one run (trials interleaved round robin), with
 * each ballot ÷ other ratio and its bootstrap interval (src/bench/ratios.ts).
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findAlgorithm } from '../core/algorithms.js';
import { summarize } from '../core/stats.js';
import { etcdDefaultTiming, etcdSystem } from '../bench/etcd-system.js';
import { benchKinds, failoverKinds, MAX_NODES, PORT_BLOCKS, PORT_BLOCK_SIZE, runFailoverRows, type FailoverKind, type FailoverReport, type FailoverRow, type FailoverTiming, type ProgressEvent } from '../bench/failover.js';
import { coldStartRatios, coldStartTimes, failoverRatios, formatColdStartRatios, formatRatios } from '../bench/ratios.js';
import type { SystemUnderTest } from '../bench/system.js';
import { zookeeperDefaultTiming, zookeeperSystem } from '../bench/zookeeper-system.js';
import { UsageError, helpText, integer, parseOptions, range, type CommandSpec } from './args.js';

const ballotAlgorithms = ['bully', 'raft', 'zab'] as const;
type BallotAlgorithm = (typeof ballotAlgorithms)[number];
const otherSystems = ['etcd', 'zookeeper'] as const;
type OtherSystem = (typeof otherSystems)[number];

export type Target = { readonly kind: 'ballot'; readonly algorithm: BallotAlgorithm } | { readonly kind: OtherSystem };

/** ballot's Raft defaults: what every system is matched to unless told otherwise. */
export const matchedDefaultTiming: FailoverTiming = { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };

export const benchFailoverSpec: CommandSpec = {
  name: 'bench failover',
  usage: 'ballot bench failover [--algorithm LIST | --system LIST | --all] [--nodes 3,5] [--trials 15] [--kind LIST] [options]',
  summary:
    'Measures failover of real processes on 127.0.0.1: per trial a fresh cluster, wait until all members\n' +
    'agree on a leader, take the leader down at a random heartbeat phase, time until every survivor names\n' +
    'the same new leader (and, where /status reports it, until that leader holds its lease). Kinds:\n' +
    '  kill      kill -9 of the leader\n' +
    '  pause     SIGSTOP of the leader (hung); SIGCONT once the survivors agree, then watch whether the\n' +
    '            resumed old leader disrupts them (--resume-window)\n' +
    '  graceful  SIGTERM of the leader (a planned stop)\n' +
    '  start     no failure: the cold start alone (every kind measures one: a fresh cluster per trial)\n' +
    'ballot, etcd and ZooKeeper run through the same harness at matched timing (see docs/bench.md), their\n' +
    'trials interleaved round robin, with the machine load recorded per trial, and are printed side by\n' +
    'side with each ballot ÷ other ratio (Raft ÷ etcd, ZAB ÷ ZooKeeper) and its bootstrap 95% interval.',
  options: {
    algorithm: { type: 'string', value: 'LIST', description: `ballot's own nodes, comma-separated: ${ballotAlgorithms.join(', ')}` },
    system: { type: 'string', value: 'LIST', description: `other systems, comma-separated: ${otherSystems.join(', ')} (scripts/install-comparison-systems.sh)` },
    all: { type: 'boolean', description: 'every algorithm and system' },
    nodes: { type: 'string', value: 'N[,N]', description: 'cluster sizes (default 3)' },
    trials: { type: 'string', value: 'T', description: 'trials per system, size and kind (default 15)' },
    kind: { type: 'string', value: 'LIST', description: `kinds, comma-separated: ${benchKinds.join(', ')} (default: ${failoverKinds.join(',')})` },
    'resume-window': { type: 'string', value: 'MS', description: 'pause: how long to watch the cluster after the old leader resumes (default 2000)' },
    heartbeat: { type: 'string', value: 'MS', description: 'heartbeat interval to match (default 50)' },
    'election-timeout': { type: 'string', value: 'MIN-MAX', description: 'election timeout range to match (default 150-300)' },
    defaults: { type: 'boolean', description: "each system at its own default timing instead (etcd 100/1000, ZooKeeper tickTime 2000)" },
    'base-port': { type: 'string', value: 'PORT', description: `first port, below 32768 (outgoing connections take ports above); trials rotate through ${PORT_BLOCKS} blocks of ${PORT_BLOCK_SIZE} (default 21000)` },
    'data-dir': { type: 'string', value: 'DIR', description: 'where trial data goes (default: a fresh temporary directory)' },
    'keep-data': { type: 'boolean', description: "keep every trial's data and logs (those of failed trials are always kept; etcd's members keep only their logs: its WAL is ~600 MB a trial)" },
    settle: { type: 'string', value: 'MS', description: 'quiet time between agreement and the signal, before the random phase (default 1000)' },
    timeout: { type: 'string', value: 'MS', description: 'a failover, or a lease after it, slower than this is a failed trial (default 30000)' },
    'poll-during-failover': { type: 'boolean', description: "poll the survivors every ~5 ms during a failover even when every system logs the leaders it learns (without it such a run polls only once their lines agree: see docs/bench.md)" },
    json: { type: 'boolean', description: 'print every trial and summary as one JSON object' },
  },
  epilog:
    'Exit status: 0 when every trial converged, 1 when some did not (they are counted in the table),\n' +
    '2 for bad arguments, 130 when interrupted.\n' +
    'Example: ballot bench failover --algorithm raft --system etcd --nodes 3,5 --trials 20',
};

const benchSpec: CommandSpec = {
  name: 'bench',
  usage: 'ballot bench failover [options] | ballot bench kv [options] | ballot bench report FILE.json...',
  summary:
    'Benchmarks of real processes. Subcommands:\n' +
    '  failover   take the leader down (kill -9, SIGSTOP, SIGTERM), time until the survivors agree on a new one\n' +
    '  kv         writes per second through the key-value API, 3 Raft nodes with fsync, against etcd\n' +
    '  report     print the table and ratios of saved `failover --json` results',
  options: {},
  epilog: "Run 'ballot bench failover --help' or 'ballot bench kv --help' for their options.",
};

export interface BenchCommand {
  readonly targets: readonly Target[];
  readonly nodes: readonly number[];
  readonly kinds: readonly FailoverKind[];
  readonly trials: number;
  /** 'defaults': each system's own default timing. */
  readonly timing: FailoverTiming | 'defaults';
  readonly basePort: number;
  readonly dataDir: string | null;
  readonly settleMs: number;
  readonly failoverTimeoutMs: number;
  readonly resumeWindowMs: number;
  readonly keepData: boolean;
  readonly pollDuringFailover: boolean;
  readonly json: boolean;
}

function list(value: string | boolean | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value.split(',').map((part) => part.trim()).filter((part) => part !== '');
}

/** Turns `ballot bench failover …` (without `failover`) into a command; throws UsageError for any mistake. */
export function parseBenchFailoverArgs(argv: readonly string[]): BenchCommand | 'help' {
  const values = parseOptions(benchFailoverSpec, argv);
  if (values.help) return 'help';
  const targets: Target[] = [];
  const add = (target: Target): void => {
    if (!targets.some((t) => targetName(t) === targetName(target))) targets.push(target);
  };
  if (values.algorithm !== undefined && list(values.algorithm).length === 0) throw new UsageError('--algorithm needs a name (bully, raft, zab)');
  if (values.system !== undefined && list(values.system).length === 0) throw new UsageError('--system needs a name (etcd, zookeeper)');
  for (const name of list(values.algorithm)) {
    if (!(ballotAlgorithms as readonly string[]).includes(name)) throw new UsageError(`--algorithm must be among ${ballotAlgorithms.join(', ')}, got ${JSON.stringify(name)}`);
    add({ kind: 'ballot', algorithm: name as BallotAlgorithm });
  }
  for (const name of list(values.system)) {
    if (!(otherSystems as readonly string[]).includes(name)) throw new UsageError(`--system must be among ${otherSystems.join(', ')}, got ${JSON.stringify(name)}`);
    add({ kind: name as OtherSystem });
  }
  if (values.all === true) {
    for (const algorithm of ballotAlgorithms) add({ kind: 'ballot', algorithm });
    for (const system of otherSystems) add({ kind: system });
  }
  if (targets.length === 0) throw new UsageError('say what to measure: --algorithm bully|raft|zab, --system etcd|zookeeper, or --all');

  const nodes = values.nodes === undefined ? [3] : list(values.nodes).map((n) => integer(n, 'nodes', 3, 2, MAX_NODES));
  if (nodes.length === 0) throw new UsageError('--nodes needs a number, e.g. 3 or 3,5');
  const trials = integer(values.trials, 'trials', 15, 1, 10_000);
  if (values.kind !== undefined && list(values.kind).length === 0) throw new UsageError(`--kind needs a name (${benchKinds.join(', ')})`);
  const kinds: FailoverKind[] = [];
  for (const name of list(values.kind)) {
    if (!(benchKinds as readonly string[]).includes(name)) throw new UsageError(`--kind must be among ${benchKinds.join(', ')}, got ${JSON.stringify(name)}`);
    if (!kinds.includes(name as FailoverKind)) kinds.push(name as FailoverKind);
  }
  if (kinds.length === 0) kinds.push(...failoverKinds);

  let timing: FailoverTiming | 'defaults';
  if (values.defaults === true) {
    if (values.heartbeat !== undefined || values['election-timeout'] !== undefined) {
      throw new UsageError('--defaults uses each system\'s own timing; leave out --heartbeat and --election-timeout');
    }
    timing = 'defaults';
  } else {
    const heartbeatMs = integer(values.heartbeat, 'heartbeat', matchedDefaultTiming.heartbeatMs, 1, 600_000);
    const timeout = range(values['election-timeout'], 'election-timeout');
    if (timeout && timeout.min <= 0) throw new UsageError('--election-timeout must be positive');
    timing = {
      heartbeatMs,
      electionTimeoutMinMs: timeout?.min ?? matchedDefaultTiming.electionTimeoutMinMs,
      electionTimeoutMaxMs: timeout?.max ?? matchedDefaultTiming.electionTimeoutMaxMs,
    };
  }
  const basePort = integer(values['base-port'], 'base-port', 21_000, 1024, 65_535 - PORT_BLOCKS * PORT_BLOCK_SIZE);
  const dataDir = typeof values['data-dir'] === 'string' ? resolve(values['data-dir']) : null;
  if (values['data-dir'] !== undefined && (dataDir === null || values['data-dir'] === '')) throw new UsageError('--data-dir needs a directory');
  const settleMs = integer(values.settle, 'settle', 1000, 0, 600_000);
  const failoverTimeoutMs = integer(values.timeout, 'timeout', 30_000, 100, 3_600_000);
  const resumeWindowMs = integer(values['resume-window'], 'resume-window', 2000, 0, 600_000);
  return { targets, nodes, kinds, trials, timing, basePort, dataDir, settleMs, failoverTimeoutMs, resumeWindowMs, keepData: values['keep-data'] === true, pollDuringFailover: values['poll-during-failover'] === true, json: values.json === true };
}

/** The timing a target runs at: the matched timing, or with --defaults the system's own. */
export function timingFor(target: Target, timing: FailoverTiming | 'defaults'): FailoverTiming {
  if (timing !== 'defaults') return timing;
  switch (target.kind) {
    case 'etcd':
      return etcdDefaultTiming;
    case 'zookeeper':
      return zookeeperDefaultTiming;
    case 'ballot':
      return findAlgorithm(target.algorithm)?.defaultTiming ?? matchedDefaultTiming;
  }
}

export function targetName(target: Target): string {
  return target.kind === 'ballot' ? `ballot-${target.algorithm}` : target.kind;
}

/**
 * ballot's own adapter (src/bench/ballot-system.ts, `ballotSystem(algorithm)`), loaded only when asked
 * for: it is written in parallel with this command, and a build without it must still measure etcd and
 * ZooKeeper.
 */
async function loadBallotSystem(algorithm: string): Promise<SystemUnderTest> {
  const specifier = '../bench/ballot-system.js';
  let module: unknown;
  try {
    module = await import(specifier);
  } catch (error) {
    // Only the adapter itself missing means "not in this build"; a module IT fails to find is a real error.
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes('ballot-system.js');
    if (missing) throw new Error("ballot's own nodes are not in this build yet (src/bench/ballot-system.ts is missing)");
    throw error;
  }
  const factory = (module as { ballotSystem?: unknown }).ballotSystem;
  if (typeof factory !== 'function') throw new Error('src/bench/ballot-system.ts does not export ballotSystem(algorithm)');
  return (factory as (name: string) => SystemUnderTest)(algorithm);
}

async function systemFor(target: Target): Promise<SystemUnderTest> {
  switch (target.kind) {
    case 'etcd':
      return etcdSystem;
    case 'zookeeper':
      return zookeeperSystem;
    case 'ballot':
      return loadBallotSystem(target.algorithm);
  }
}

/** One row of the table: a report, or why the system could not be measured at all. */
export type Row =
  | { readonly kind: 'report'; readonly report: FailoverReport }
  | { readonly kind: 'unavailable'; readonly system: string; readonly nodes: number; readonly failoverKind?: FailoverKind; readonly reason: string };

const ms = (value: number | undefined): string => (value === undefined ? '-' : String(Math.round(value)));

/** What a column says for a report (saved reports from before a field existed say '-' or 'n/a'). */
function leaseCell(report: FailoverReport): string {
  if (report.lease) return ms(report.lease.median);
  if (report.kind === 'start') return '-'; // no failover, so no lease after one
  // No successful trial reported a lease: the system does not have one (etcd, ZooKeeper, ballot's ZAB and Bully).
  return 'n/a';
}

/** A named time's median: '-' for a start row (no failover), 'n/a' where no trial has one (or saved before the field). */
function namedCell(report: FailoverReport, named: FailoverReport['named']): string {
  if (named) return ms(named.median);
  return report.kind === 'start' ? '-' : 'n/a';
}

function disruptedCell(report: FailoverReport): string {
  if (report.kind !== 'pause' || report.resumeDisrupted === null || report.resumeDisrupted === undefined) return '-';
  return `${report.resumeDisrupted}/${report.trials.filter((t) => t.ok).length}`;
}

/** The side-by-side table, in Markdown (readable in a terminal, pasted as is into docs/bench.md). */
export function formatTable(rows: readonly Row[]): string {
  const header = ['system', 'N', 'kind', 'settings', 'failover p50', 'p90', 'p99', 'max', 'named p50', 'named (own clocks) p50', 'lease p50', 'disrupted after resume', 'cold start p50', 'load p50', 'failures'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i >= 4 ? '---:' : '---')).join('|')}|`];
  for (const row of rows) {
    if (row.kind === 'unavailable') {
      lines.push(`| ${row.system} | ${row.nodes} | ${row.failoverKind ?? '-'} | not available: ${row.reason} | - | - | - | - | - | - | - | - | - | - | - |`);
      continue;
    }
    const r = row.report;
    const f = r.failover;
    const load = r.load ? r.load.median.toFixed(1) : '-';
    lines.push(
      `| ${r.system} | ${r.nodes} | ${r.kind} | ${r.settings} | ${ms(f?.median)} | ${ms(f?.p90)} | ${ms(f?.p99)} | ${ms(f?.max)} | ${namedCell(r, r.named)} | ${namedCell(r, r.namedLogged)} | ${leaseCell(r)} | ${disruptedCell(r)} | ${ms(r.coldStart?.median)} | ${load} | ${r.failures}/${r.trials.length}${r.aborted ? ' (interrupted)' : ''} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The reports among the rows. */
const reportsOf = (rows: readonly Row[]): FailoverReport[] => rows.flatMap((row) => (row.kind === 'report' ? [row.report] : []));

/**
 * Cold start, one row per system and size: every trial of every kind starts a fresh cluster and times
 * it until all members agree on a leader (docs/bench.md), so the kinds' cold starts are pooled.
 */
export function formatColdStarts(rows: readonly Row[]): string {
  const reports = reportsOf(rows);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const report of reports) {
    const key = `${report.system}/${report.nodes}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const times = coldStartTimes(reports, report.system, report.nodes);
    const summary = summarize(times);
    if (summary === null) continue;
    const loads = summarize(reports.filter((r) => r.system === report.system && r.nodes === report.nodes).flatMap((r) => r.trials.flatMap((t) => (typeof t.load === 'number' ? [t.load] : []))));
    lines.push(`| ${report.system} | ${report.nodes} | ${ms(summary.median)} | ${ms(summary.p90)} | ${ms(summary.p99)} | ${ms(summary.max)} | ${loads ? loads.median.toFixed(1) : '-'} | ${times.length} |`);
  }
  if (lines.length === 0) return '';
  return `\ncold start (spawn until every member names the same leader; all trials of the run):\n\n| system | N | cold start p50 | p90 | p99 | max | load p50 | cold starts |\n|---|---|---:|---:|---:|---:|---:|---:|\n${lines.join('\n')}\n`;
}

/** Everything below the table: the failover ratios, the cold starts and their ratios. */
function formatSummaries(reports: readonly FailoverReport[], rows: readonly Row[]): string {
  return formatRatios(failoverRatios(reports)) + formatColdStarts(rows) + formatColdStartRatios(coldStartRatios(reports));
}

/** The pause trials whose survivors were disrupted after the old leader resumed: when, and what each member said. */
export function formatDisruptions(rows: readonly Row[]): string {
  const lines: string[] = [];
  for (const report of reportsOf(rows)) {
    for (const t of report.trials) {
      if (t.resumeDisrupted === true) lines.push(`${report.system} N=${report.nodes} trial ${t.trial} (old leader ${t.killed}, new ${t.newLeader}): ${t.resumeDisruption ?? 'disrupted'}`);
    }
  }
  return lines.length > 0 ? `\ndisrupted after the resume (first such poll, member→leader, '-' none):\n${lines.join('\n')}\n` : '';
}

/** Why trials failed, one line each (below the table). */
function formatFailures(rows: readonly Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (row.kind !== 'report') continue;
    for (const t of row.report.trials) {
      if (t.failure) lines.push(`${row.report.system} N=${row.report.nodes} trial ${t.trial}: ${t.failure.phase}: ${t.failure.message.split('\n')[0]}${t.keptDataDir ? ` (logs: ${t.keptDataDir})` : ''}`);
    }
  }
  return lines.length > 0 ? `\nfailed trials:\n${lines.join('\n')}\n` : '';
}

export interface BenchIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether stderr is a terminal: progress is shown only there. */
  readonly tty: boolean;
}

function progressPrinter(io: BenchIo): ((event: ProgressEvent) => void) | undefined {
  if (!io.tty) return undefined;
  return (event) => {
    const head = `${event.system} N=${event.nodes} ${event.failoverKind} trial ${event.trial + 1}/${event.trials}`;
    if (event.kind === 'phase') {
      io.err(`\r\x1b[K${head}: ${event.phase}`);
    } else {
      const r = event.result;
      const lease = r.leaseMs !== null ? `, lease ${Math.round(r.leaseMs)} ms` : '';
      const resume = r.resumeDisrupted !== null ? `, ${r.resumeDisrupted ? `disrupted after the resume (${r.resumeDisruption})` : 'undisturbed after the resume'}` : '';
      const logged = r.namedLoggedMs !== null && r.namedLoggedMs !== undefined ? ` (${Math.round(r.namedLoggedMs)} by their clocks)` : '';
      const named = r.namedMs !== null && r.namedMs !== undefined ? `, named ${Math.round(r.namedMs)} ms${logged}` : '';
      const failover = r.failoverMs === null ? '' : `failover ${Math.round(r.failoverMs)} ms (${r.killed} → ${r.newLeader})${named}${lease}${resume}, `;
      io.err(`\r\x1b[K${head}: ${r.ok ? `${failover}cold start ${Math.round(r.coldStartMs!)} ms, load ${r.load.toFixed(1)}` : `FAILED in ${r.failure?.phase}`}\n`);
    }
  };
}

/** Runs `ballot bench …`; returns the exit status. */
export async function runBench(argv: readonly string[], io: BenchIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.out(helpText(benchSpec));
    return 0;
  }
  if (sub === 'report') return runReport(rest, io);
  if (sub === 'kv') return runKv(rest, io);
  if (sub !== 'failover') throw new UsageError(`unknown benchmark ${JSON.stringify(sub)} (benchmarks: failover, kv, report)`);
  const command = parseBenchFailoverArgs(rest);
  if (command === 'help') {
    io.out(helpText(benchFailoverSpec));
    return 0;
  }

  const workDir = command.dataDir ?? (await mkdtemp(join(tmpdir(), 'ballot-bench-')));
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  if (loadBefore[0]! > cpus().length * 0.5) {
    io.err(`note: the machine is busy (load ${loadBefore[0]!.toFixed(1)} on ${cpus().length} cores); real-process timings will be skewed\n`);
  }
  try {
    // Rows in table order (size, kind, system); their trials run interleaved (src/bench/failover.ts).
    const measured: FailoverRow[] = [];
    const slots: (Extract<Row, { kind: 'unavailable' }> | FailoverRow)[] = [];
    for (const nodes of command.nodes) {
      for (const kind of command.kinds) {
        for (const target of command.targets) {
          let system: SystemUnderTest;
          try {
            system = await systemFor(target);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            io.err(`${targetName(target)}: ${reason}\n`);
            slots.push({ kind: 'unavailable', system: targetName(target), nodes, failoverKind: kind, reason });
            continue;
          }
          const row: FailoverRow = { system, nodes, kind, timing: timingFor(target, command.timing) };
          measured.push(row);
          slots.push(row);
        }
      }
    }
    const onProgress = progressPrinter(io);
    const reports = await runFailoverRows(measured, {
      trials: command.trials,
      basePort: command.basePort,
      workDir,
      settleMs: command.settleMs,
      failoverTimeoutMs: command.failoverTimeoutMs,
      resumeWindowMs: command.resumeWindowMs,
      keepData: command.keepData,
      pollDuringFailover: command.pollDuringFailover,
      signal: abort.signal,
      ...(onProgress ? { onProgress } : {}),
    });
    for (const slot of slots) {
      if ('reason' in slot) rows.push(slot);
      else rows.push({ kind: 'report', report: reports[measured.indexOf(slot)]! });
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  if (command.json) {
    const json = {
      startedAt,
      finishedAt: new Date().toISOString(),
      // Other work on the machine skews real-process timings: the load averages say whether there was any.
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: process.platform, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
      command: ['ballot', 'bench', ...argv],
      // Trials ran round robin over the rows (each trial's `order`), each with the load when it started.
      interleaved: true,
      rows,
      ratios: failoverRatios(reportsOf(rows)),
      coldStartRatios: coldStartRatios(reportsOf(rows)),
    };
    io.out(JSON.stringify(json, null, 2) + '\n');
  } else {
    io.out(formatTable(rows) + formatSummaries(reportsOf(rows), rows) + formatDisruptions(rows) + formatFailures(rows));
  }

  const failed = rows.some((row) => row.kind === 'unavailable' || row.report.failures > 0);
  // Keep the data of failed trials (their logs); remove the rest, and our temporary directory if empty.
  if (command.dataDir === null) {
    const left = await readdir(workDir).catch(() => []);
    if (left.length === 0) await rm(workDir, { recursive: true, force: true });
    else io.err(`trial data kept in ${workDir}\n`);
  }
  if (abort.signal.aborted) return 130;
  return failed ? 1 : 0;
}

/** `ballot bench report FILE...`: the rows of saved `--json` results in one table. */
async function runReport(files: readonly string[], io: BenchIo): Promise<number> {
  if (files.length === 0 || files.includes('--help') || files.includes('-h')) {
    if (files.length === 0) throw new UsageError('report needs the JSON files of `ballot bench failover --json` runs');
    io.out(
      'Usage: ballot bench report FILE.json...\n\nPrints the table of saved `ballot bench failover --json` results, in the order given,\n' +
        'and for each file its cold starts (all trials pooled) and the ballot ÷ other ratios of its run (Raft ÷ etcd,\n' +
        'ZAB ÷ ZooKeeper: median and p99 of the failover time and of the cold start) with percentile-bootstrap 95%\n' +
        'intervals (seeded: the same file prints the same intervals).\n',
    );
    return 0;
  }
  const rows: Row[] = [];
  let ratios = '';
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const saved = (json as { rows?: unknown }).rows;
    if (!Array.isArray(saved)) throw new UsageError(`${file} is not the output of ballot bench failover --json (no rows)`);
    const fromFile = (saved as Row[]).map(savedRow);
    rows.push(...fromFile);
    // Ratios within one file only: both sides of a ratio must come from the same run.
    const text = formatSummaries(reportsOf(fromFile), fromFile);
    if (text !== '') ratios += files.length > 1 ? `\n${file}:${text}` : text;
  }
  io.out(formatTable(rows) + ratios + formatDisruptions(rows));
  return 0;
}

/** A saved row, with the fields of files written before kinds, leases and load existed filled in. */
function savedRow(row: Row): Row {
  if (row.kind !== 'report') return row;
  const report = row.report as Partial<FailoverReport> & FailoverReport;
  return {
    kind: 'report',
    report: { ...report, kind: report.kind ?? 'kill', lease: report.lease ?? null, load: report.load ?? null, resumeDisrupted: report.resumeDisrupted ?? null },
  };
}

export const benchKvSpec: CommandSpec = {
  name: 'bench kv',
  usage: 'ballot bench kv [--clients 64] [--duration 5000] [--rounds 3] [--reads 0] [--no-etcd] [options]',
  summary:
    'Writes per second through the key-value API: 3 ballot Raft nodes on 127.0.0.1 (state.log fsync\'d\n' +
    'before an acknowledgement) and 3 etcd members (its WAL fsync\'d) run side by side; CLIENTS closed-loop\n' +
    'clients over keep-alive HTTP send puts (PUT /kv/:key; etcd: POST /v3/kv/put) of random 8-byte keys and\n' +
    'values to the leader. Measured phases alternate between the systems, each after a warm-up; prints\n' +
    'writes/s, latency median and p99 for each, and ballot ÷ etcd.',
  options: {
    clients: { type: 'string', value: 'N', description: 'concurrent clients (default 64)' },
    duration: { type: 'string', value: 'MS', description: 'measured time per system and round (default 5000)' },
    warmup: { type: 'string', value: 'MS', description: 'unmeasured time before each phase (default 1000)' },
    rounds: { type: 'string', value: 'N', description: 'rounds, each measuring every system once (default 3)' },
    reads: { type: 'string', value: 'PERCENT', description: 'percentage of requests that are linearizable reads (default 0)' },
    'no-etcd': { type: 'boolean', description: 'measure ballot alone (etcd not installed, or not wanted)' },
    'base-port': { type: 'string', value: 'PORT', description: 'first of the ports used (default 23000)' },
    'data-dir': { type: 'string', value: 'DIR', description: 'where the clusters keep their data (default: a fresh temporary directory, removed after)' },
    json: { type: 'boolean', description: 'print the report as JSON' },
  },
  epilog: 'Exit status: 0, 1 when a system could not be measured, 2 for bad arguments.\nExample: ballot bench kv --clients 64 --rounds 3',
};

async function runKv(argv: readonly string[], io: BenchIo): Promise<number> {
  const values = parseOptions(benchKvSpec, argv);
  if (values.help === true) {
    io.out(helpText(benchKvSpec));
    return 0;
  }
  const { runKvBench, formatKvReport } = await import('../bench/kv-bench.js');
  const given = values['data-dir'];
  const settings = {
    clients: integer(values.clients, 'clients', 64, 1, 4096),
    durationMs: integer(values.duration, 'duration', 5000, 100),
    warmupMs: integer(values.warmup, 'warmup', 1000, 0),
    rounds: integer(values.rounds, 'rounds', 3, 1, 100),
    readFraction: integer(values.reads, 'reads', 0, 0, 100) / 100,
    nodes: 3,
    basePort: integer(values['base-port'], 'base-port', 23000, 1024, 32000),
    etcd: values['no-etcd'] !== true,
    // etcd's own default timing for both (heartbeat 100 ms, elections after ~1-2 s): a throughput
    // benchmark on a shared machine measures writes, not elections caused by a starved event loop.
    timing: etcdDefaultTiming,
    progress: (line: string) => io.err(`${line}\n`),
  };
  // Made once the arguments are known good: a bad one exits 2 and must leave nothing behind.
  const dataDir = typeof given === 'string' ? resolve(given) : await mkdtemp(join(tmpdir(), 'ballot-bench-kv-'));
  const load = loadavg()[0]!;
  try {
    const report = await runKvBench({ ...settings, dataDir });
    const after = loadavg()[0]!;
    if (values.json === true) io.out(`${JSON.stringify({ ...report, load: { before: load, after }, cpus: cpus().length }, null, 2)}\n`);
    else io.out(`${formatKvReport(report)}\nload average ${load.toFixed(1)} before, ${after.toFixed(1)} after (${cpus().length} cpus)\n`);
    return 0;
  } catch (error) {
    io.err(`bench kv: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    if (typeof given !== 'string') await rm(dataDir, { recursive: true, force: true });
  }
}
