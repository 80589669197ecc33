/**
 * Issue 5's benchmark of real nodes (not a test): `node dist/bench/runtime-bench.js [options]`.
 *
 * - Failover: a fresh 5-node cluster of real processes per trial; once all agree on a leader, wait a
 *   random part of a heartbeat, kill -9 the leader, and time until every survivor's /status names the
 *   same new leader (polled every --poll ms over keep-alive HTTP). Median, p90, p99 (src/core/stats.ts:
 *   type 7, linear between the nearest trials).
 * - Idle cost: a 5-node cluster, --warmup seconds after it agreed on a leader, left alone (no polling)
 *   for --idle seconds: CPU per node from /proc/PID/stat (utime+stime), resident memory from
 *   /proc/PID/status (VmRSS).
 *
 * - `--floor`: the same idle measurement for bare Node.js sockets carrying a leader's traffic, without
 *   parsing, validation or algorithm: the floor under a leader's idle cost.
 *
 * Defaults: every registered algorithm with its default timing, 20 trials. Linux only (/proc).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agreedLeader, algorithms, findAlgorithm, summarize, type AlgorithmName, type AnyAlgorithm } from '../core/index.js';
import { LocalCluster, mainJs } from '../runtime/local-cluster.js';
import { freePortBlock, freePorts, sleep, waitFor } from '../runtime/testing.js';
import { ballotSystem } from './ballot-system.js';
import { agreementOf } from './failover.js';
import type { ClusterUnderTest } from './system.js';


/** One trial; a port taken by someone else between choosing it and binding it costs a retry, not the run. */
async function failoverTrial(algorithm: AnyAlgorithm, nodes: number, pollMs: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await failoverTrialOnce(algorithm, nodes, pollMs);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof Error) || !error.message.includes('address already in use')) throw error;
    }
  }
}

async function failoverTrialOnce(algorithm: AnyAlgorithm, nodes: number, pollMs: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), `ballot-bench-${algorithm.name}-`));
  const basePort = await freePortBlock(2 * nodes);
  const timing = algorithm.defaultTiming;
  let cluster: ClusterUnderTest | null = null;
  try {
    cluster = await ballotSystem(algorithm.name).start({
      nodes,
      basePort,
      dataDir,
      heartbeatMs: timing.heartbeatMs,
      electionTimeoutMinMs: timing.electionTimeoutMinMs,
      electionTimeoutMaxMs: timing.electionTimeoutMaxMs,
    });
    const running = cluster;
    const leader = await waitFor('a first leader', 20_000, async () => agreementOf(await running.views(running.members), running.members) ?? undefined);
    // Kill at a random phase of the leader's heartbeat cycle.
    await sleep(Math.random() * timing.heartbeatMs);
    const killedAt = performance.now();
    await running.signal(leader, 'SIGKILL');
    const survivors = running.members.filter((id) => id !== leader);
    for (;;) {
      const now = agreementOf(await running.views(survivors), survivors);
      if (now !== null && now !== leader) return performance.now() - killedAt;
      if (performance.now() - killedAt > 30_000) throw new Error(`${algorithm.name}: no new leader 30 s after the kill`);
      await sleep(pollMs);
    }
  } finally {
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface IdleCost {
  readonly cpuPercentPerNode: readonly number[];
  /** The kernel's share of each node's CPU (system time: mostly the sockets' writes, which on loopback deliver to the peer too). */
  readonly systemPercentPerNode: readonly number[];
  readonly leaderCpuPercent: number;
  readonly rssMiBPerNode: readonly number[];
}

/** A process's CPU time so far, in clock ticks: user + system, and system alone. */
function cpuTimes(pid: number): { readonly total: number; readonly system: number } {
  // Fields after the command name (which may contain spaces): utime is field 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { total: Number(fields[11]) + Number(fields[12]), system: Number(fields[12]) };
}

function cpuTicks(pid: number): number {
  return cpuTimes(pid).total;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function idleCost(algorithm: AnyAlgorithm, nodes: number, seconds: number, warmupSeconds: number): Promise<IdleCost> {
  const dataDir = mkdtempSync(join(tmpdir(), `ballot-idle-${algorithm.name}-`));
  const ports = await freePorts(2 * nodes);
  const cluster = new LocalCluster({
    command: [process.execPath, mainJs, 'node'],
    algorithm: algorithm.name,
    voters: nodes,
    peerPorts: ports.slice(0, nodes),
    httpPorts: ports.slice(nodes),
    dataDir,
  });
  const killAll = (): void => cluster.killAllSync();
  process.on('exit', killAll);
  try {
    cluster.startAll();
    const leader = await waitFor('a leader', 20_000, async () => {
      const views = await cluster.statuses(500);
      return agreedLeader(views.values())?.leader;
    });
    await sleep(warmupSeconds * 1000); // let start-up work (module loading, JIT tiers) settle
    const settled = await cluster.statuses(500);
    if (![...settled.values()].every((view) => view?.leader === leader)) throw new Error(`${algorithm.name}: the leader changed during the warm-up`);
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const pids = cluster.members.map((id) => cluster.pid(id)!);
    const before = pids.map(cpuTimes);
    const startedAt = performance.now();
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - startedAt) / 1000;
    const after = pids.map(cpuTimes);
    const percent = (ticks: number): number => (ticks / ticksPerSecond / elapsed) * 100;
    const cpu = after.map(({ total }, i) => percent(total - before[i]!.total));
    const system = after.map(({ system: ticks }, i) => percent(ticks - before[i]!.system));
    const rss = pids.map(rssMiB);
    // The leader at the end of the window must be the one it started with, or the window saw an election.
    const ended = await cluster.statuses(500);
    const stable = [...ended.values()].every((view) => view?.leader === leader);
    if (!stable) throw new Error(`${algorithm.name}: the leader changed during the idle window; run again on a quieter machine`);
    return { cpuPercentPerNode: cpu, systemPercentPerNode: system, leaderCpuPercent: cpu[leader - 1]!, rssMiBPerNode: rss };
  } finally {
    await cluster.stop();
    process.off('exit', killAll);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The floor under a leader's idle cost: bare Node.js sockets carrying the traffic of a leader with
 * `peers` followers (one small frame out and one answer in per follower per heartbeat), with no
 * parsing, validation or algorithm. Separate processes, the same /proc method as idleCost.
 */
async function socketFloor(peers: number, heartbeatMs: number, warmupSeconds: number, seconds: number): Promise<number> {
  const ports = await freePorts(peers);
  const frame = "Buffer.from('\\0\\0\\0\\x2d{\"type\":\"AppendEntries\",\"term\":1,\"leaderCommit\":0}')";
  const echo = `const net=require('node:net');const f=${frame};net.createServer(s=>{s.setNoDelay(true);s.on('data',()=>s.write(f))}).listen(+process.argv[1],'127.0.0.1');process.stdin.on('end',()=>process.exit(0));process.stdin.resume();`;
  const lead =
    `const net=require('node:net');const f=${frame};const ps=process.argv[1].split(',').map(Number);` +
    `const ss=ps.map(p=>{const c=net.connect(p,'127.0.0.1');c.setNoDelay(true);c.on('data',()=>{});return c});` +
    `const tick=()=>{for(const c of ss)c.write(f);setTimeout(tick,${heartbeatMs})};setTimeout(tick,${heartbeatMs});process.stdin.on('end',()=>process.exit(0));process.stdin.resume();`;
  const { spawn } = await import('node:child_process');
  const children = ports.map((port) => spawn(process.execPath, ['-e', echo, String(port)], { stdio: ['pipe', 'ignore', 'inherit'] }));
  await sleep(300);
  const leader = spawn(process.execPath, ['-e', lead, ports.join(',')], { stdio: ['pipe', 'ignore', 'inherit'] });
  children.push(leader);
  try {
    await sleep(warmupSeconds * 1000);
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const before = cpuTicks(leader.pid!);
    const startedAt = performance.now();
    await sleep(seconds * 1000);
    return ((cpuTicks(leader.pid!) - before) / ticksPerSecond / ((performance.now() - startedAt) / 1000)) * 100;
  } finally {
    for (const child of children) child.stdin!.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      algorithm: { type: 'string', multiple: true },
      trials: { type: 'string', default: '20' },
      nodes: { type: 'string', default: '5' },
      idle: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      poll: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
    },
  });
  if (values.floor) {
    const nodes = Number(values.nodes);
    const warmup = Number(values.warmup);
    const idle = Number(values.idle);
    const cpu = await socketFloor(nodes - 1, 50, warmup, idle);
    process.stdout.write(`bare Node.js sockets, a leader's traffic with ${nodes - 1} followers at a 50 ms heartbeat: ${cpu.toFixed(2)}% of a core (${warmup} s warm-up, ${idle} s window)\n`);
    return;
  }
  const names = (values.algorithm ?? Object.keys(algorithms)) as AlgorithmName[];
  const trials = Number(values.trials);
  const nodes = Number(values.nodes);
  const pollMs = Number(values.poll);
  const results: Record<string, unknown>[] = [];
  for (const name of names) {
    const algorithm = findAlgorithm(name);
    if (!algorithm) {
      process.stderr.write(`runtime-bench: ${name} is not implemented yet, skipped\n`);
      continue;
    }
    const timing = algorithm.defaultTiming;
    const idle = await idleCost(algorithm, nodes, Number(values.idle), Number(values.warmup));
    const samples: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      samples.push(await failoverTrial(algorithm, nodes, pollMs));
      if (!values.json) process.stderr.write(`\r${name}: trial ${trial + 1}/${trials}: ${samples.at(-1)!.toFixed(0)} ms   `);
    }
    if (!values.json) process.stderr.write('\n');
    const failover = summarize(samples);
    results.push({
      algorithm: name,
      nodes,
      timing: `election ${timing.electionTimeoutMinMs}-${timing.electionTimeoutMaxMs} ms, heartbeat ${timing.heartbeatMs} ms`,
      trials,
      failoverMs: failover && { median: failover.median, p90: failover.p90, p99: failover.p99, min: failover.min, max: failover.max },
      samplesMs: samples.map((s) => Math.round(s * 10) / 10),
      idleCpuPercent: { leader: idle.leaderCpuPercent, max: Math.max(...idle.cpuPercentPerNode), perNode: idle.cpuPercentPerNode, systemPerNode: idle.systemPercentPerNode },
      rssMiB: { max: Math.max(...idle.rssMiBPerNode), perNode: idle.rssMiBPerNode },
    });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
    return;
  }
  // No trials (--trials 0): no failover columns to fill, a dash rather than "undefined ms".
  const ms = (n: number | undefined): string => (n === undefined ? '-' : `${n.toFixed(0)} ms`);
  const range = (failover: Record<string, number> | null): string => (failover === null ? '-' : `${failover.min!.toFixed(0)}–${failover.max!.toFixed(0)} ms`);
  process.stdout.write(`| algorithm | timing | failover median | p90 | p99 | min–max | idle CPU/node (leader) | of it, kernel | RSS/node |\n|---|---|---|---|---|---|---|---|---|\n`);
  for (const r of results as { algorithm: string; timing: string; failoverMs: Record<string, number> | null; idleCpuPercent: { leader: number; max: number; systemPerNode: readonly number[] }; rssMiB: { max: number } }[]) {
    const kernel = r.idleCpuPercent.systemPerNode;
    process.stdout.write(
      `| ${r.algorithm} | ${r.timing} | ${ms(r.failoverMs?.median)} | ${ms(r.failoverMs?.p90)} | ${ms(r.failoverMs?.p99)} | ${range(r.failoverMs)} | ≤ ${r.idleCpuPercent.max.toFixed(2)}% (${r.idleCpuPercent.leader.toFixed(2)}%) | ${Math.min(...kernel).toFixed(2)}–${Math.max(...kernel).toFixed(2)}% | ≤ ${r.rssMiB.max.toFixed(1)} MiB |\n`,
    );
  }
}

const invokedAs = process.argv[1] ?? '';
if (/runtime-bench\.js$/.test(invokedAs)) {
  main().catch((error: unknown) => {
    process.stderr.write(`runtime-bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
