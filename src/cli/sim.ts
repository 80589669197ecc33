/** `ballot sim`: one simulated run (CONTRACT.md). */
import { readFileSync } from 'node:fs';
import { algorithmNames, algorithms } from '../core/algorithms.js';
import { MAX_EPOCH } from '../core/bounds.js';
import { bullyStable } from '../core/bully/index.js';
import type { History, HistoryRun } from '../core/history.js';
import { createRaft } from '../core/raft/index.js';
import { describeConfiguration } from '../sim/membership.js';
import { parseSchedule, ScheduleError, type Action } from '../sim/schedule.js';
import { isScenarioName, scenarioNames, type ScenarioName } from '../sim/scenarios.js';
import { simulate, type SimOptions, type SimResult } from '../sim/simulation.js';
import { DEFAULT_KV_RATE, parseWorkload } from '../sim/workload.js';
import { parseRaftOptions, raftOptions } from './raft-flags.js';
import { UsageError, helpText, idMap, integer, number, oneOf, parseOptions, range, timing, timingOptions, type CommandSpec } from './args.js';

export const simSpec: CommandSpec = {
  name: 'sim',
  usage: 'ballot sim --algorithm bully|raft|zab [options]',
  summary:
    'Runs one election scenario in the deterministic simulator (virtual time, seeded faults) and prints a\n' +
    'timeline, or the result as JSON. The same seed and arguments always give the same result.',
  options: {
    algorithm: { type: 'string', value: 'NAME', description: `the election algorithm: ${algorithmNames.join(', ')} (required)` },
    nodes: { type: 'string', value: 'N', description: 'voting members, ids 1..N (default 5)' },
    observers: { type: 'string', value: 'K', description: 'non-voting members after the voters (ZAB observers, Raft learners; default 0)' },
    seed: { type: 'string', value: 'N', description: 'seed of every random choice (default 1)' },
    scenario: { type: 'string', value: 'NAME', description: `${scenarioNames.join(', ')} (default cold-start)` },
    schedule: { type: 'string', value: 'FILE', description: 'a JSON schedule of timed faults instead of a scenario' },
    duration: { type: 'string', value: 'MS', description: 'virtual time to simulate (default 10000, scaled up with slow timeouts)' },
    latency: { type: 'string', value: 'MIN-MAX', description: 'one-way message latency in ms, uniform (default 1-5)' },
    loss: { type: 'string', value: 'P', description: 'probability a message is lost (default 0)' },
    duplicate: { type: 'string', value: 'P', description: 'probability a message is delivered twice (default 0)' },
    ...timingOptions,
    history: {
      type: 'string',
      value: 'ID=H,...',
      description: 'node ID starts with history H: N entries of term 1, or TERM:N+TERM:N... (1:3+2:2; raft: log; zab: last zxid 2:2)',
    },
    'bully-mode': { type: 'string', value: 'MODE', description: 'bully only: preempt (a recovered higher id takes over; default) or stable (it follows the live coordinator)' },
    'deliver-stale': { type: 'boolean', description: 'messages sent to a node before it crashed still reach it once restarted (datagrams; default: dropped)' },
    ...raftOptions,
    workload: {
      type: 'string',
      value: 'kv[:RATE]',
      description: `key-value clients write and read through the faults (RATE operations/s, default ${DEFAULT_KV_RATE}); the history is checked for linearizability and summed up (kv in --json)`,
    },
    spares: {
      type: 'string',
      value: 'N',
      description: 'nodes that start outside the configuration, ids after the voters and observers (default 0); a leader may add them (--membership, or a schedule\'s change-membership); raft only',
    },
    membership: {
      type: 'boolean',
      description: 'the membership nemesis: at random times the leader is asked to add a node as a learner, promote a learner or remove a member (one server at a time); membership in --json; raft only',
    },
    json: { type: 'boolean', description: 'print the result as one JSON object' },
  },
  epilog:
    'Exit status: 0 when no invariant was violated, 1 when one was, 2 for bad arguments.\n' +
    'Example: ballot sim --algorithm raft --nodes 5 --scenario leader-crash --seed 7\n' +
    '         ballot sim --algorithm raft --spares 2 --membership --scenario random --workload kv --seed 3',
};

export interface SimCommand {
  readonly options: SimOptions;
  readonly json: boolean;
}

/** Turns the command line into simulator options; throws UsageError for any mistake. */
export function parseSimArgs(argv: readonly string[], readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): SimCommand | 'help' {
  const values = parseOptions(simSpec, argv);
  if (values.help) return 'help';
  const algorithmName = oneOf(values.algorithm, 'algorithm', algorithmNames);
  const bullyMode = oneOf(values['bully-mode'], 'bully-mode', ['preempt', 'stable'], 'preempt');
  if (values['bully-mode'] !== undefined && algorithmName !== 'bully') throw new UsageError('--bully-mode applies to --algorithm bully only');
  const raftOptionsAsked = parseRaftOptions(values, [algorithmName], timing(values), true);
  const algorithm = bullyMode === 'stable' ? bullyStable : algorithmName === 'raft' ? createRaft(raftOptionsAsked) : algorithms[algorithmName];
  const nodes = integer(values.nodes, 'nodes', 5, 1, 100);
  const observers = integer(values.observers, 'observers', 0, 0, 100);
  if (observers > 0 && !algorithm.supportsObservers) throw new UsageError(`--observers: ${algorithm.name} has no non-voting members`);
  const seed = integer(values.seed, 'seed', 1, 0, Number.MAX_SAFE_INTEGER);
  const spares = integer(values.spares, 'spares', 0, 0, 100);
  if (spares > 0 && !algorithm.membershipChange) throw new UsageError(`--spares: ${algorithm.name} cannot add members while it runs (no membership change)`);
  const membership = values.membership === true;
  if (membership && !algorithm.membershipChange) throw new UsageError(`--membership: ${algorithm.name} has no membership change`);
  const members = Array.from({ length: nodes + observers + spares }, (_, i) => i + 1);

  let scenario: ScenarioName = 'cold-start';
  if (values.scenario !== undefined) {
    if (typeof values.scenario !== 'string' || !isScenarioName(values.scenario)) {
      throw new UsageError(`--scenario must be one of ${scenarioNames.join(', ')}, got ${JSON.stringify(values.scenario)}`);
    }
    scenario = values.scenario;
  }
  let schedule: Action[] | undefined;
  if (values.schedule !== undefined) {
    if (values.scenario !== undefined) throw new UsageError('give either --scenario or --schedule, not both');
    schedule = readSchedule(String(values.schedule), members, readFile);
  }

  const latency = range(values.latency, 'latency');
  let workload: SimOptions['workload'];
  if (values.workload !== undefined) {
    const parsed = parseWorkload(String(values.workload));
    if (typeof parsed === 'string') throw new UsageError(parsed);
    workload = parsed;
  }

  const history = new Map<number, History>();
  for (const [id, text] of idMap(values.history, 'history')) {
    if (!members.includes(id)) throw new UsageError(`--history: unknown node id ${id} (members: 1..${members.length})`);
    history.set(id, parseHistory(id, text));
  }

  const options: SimOptions = {
    algorithm,
    nodes,
    observers,
    seed,
    scenario,
    ...(schedule ? { schedule, scheduleName: 'schedule' } : {}),
    ...(values.duration !== undefined ? { durationMs: number(values.duration, 'duration', 0, 1, 100_000_000) } : {}),
    ...(latency ? { latency: { minMs: latency.min, maxMs: latency.max } } : {}),
    loss: number(values.loss, 'loss', 0, 0, 1),
    duplicate: number(values.duplicate, 'duplicate', 0, 0, 1),
    timing: timing(values),
    history,
    ...(values['deliver-stale'] === true ? { deliverStale: true } : {}),
    ...(workload ? { workload } : {}),
    ...(spares > 0 ? { spares } : {}),
    ...(membership ? { membership: {} } : {}),
    // ρ bounds the random nemesis's clock rates (every algorithm) and Raft's lease alike.
    ...(values['max-clock-drift'] !== undefined ? { maxClockDrift: raftOptionsAsked.maxClockDrift } : {}),
  };
  return { options, json: values.json === true };
}

/** `N` (N entries of term 1) or `TERM:N+TERM:N...` with increasing terms (src/core/history.ts). */
function parseHistory(id: number, text: string): History {
  const name = `history ${id}=`;
  if (!text.includes(':')) return integer(text, name, 0, 0, 1_000_000);
  const runs: HistoryRun[] = [];
  let total = 0;
  for (const part of text.split('+')) {
    const match = /^(\d+):(\d+)$/.exec(part);
    if (!match) throw new UsageError(`--history ${id}: cannot read ${JSON.stringify(part)} (expected TERM:ENTRIES, e.g. 1:3+2:2)`);
    const term = integer(match[1], `${name}TERM`, 0, 1, MAX_EPOCH);
    const entries = integer(match[2], `${name}ENTRIES`, 0, 0, 1_000_000);
    const previous = runs[runs.length - 1];
    if (previous && term <= previous.term) throw new UsageError(`--history ${id}: terms must increase (${previous.term} then ${term})`);
    total += entries;
    if (total > 1_000_000) throw new UsageError(`--history ${id}: at most 1000000 entries in all`);
    runs.push({ term, entries });
  }
  return runs;
}

function readSchedule(path: string, members: number[], readFile: (path: string) => string): Action[] {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--schedule: cannot read ${path}${code ? ` (${code})` : ''}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--schedule: ${path} is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return parseSchedule(json, members);
  } catch (error) {
    if (error instanceof ScheduleError) throw new UsageError(`--schedule: ${path}: ${error.message}`);
    throw error;
  }
}

/** Runs the command; returns the exit status. */
export function runSim(argv: readonly string[], write: (text: string) => void): number {
  const command = parseSimArgs(argv);
  if (command === 'help') {
    write(helpText(simSpec));
    return 0;
  }
  const result = simulate({ ...command.options, timeline: !command.json });
  if (command.json) {
    const { timeline: _timeline, ...json } = result;
    write(JSON.stringify(json, null, 2) + '\n');
  } else {
    write(formatTimeline(result, argv));
  }
  return result.violations.length > 0 ? 1 : 0;
}

const ms = (value: number): string => value.toFixed(1);

/** The readable report: one line per event in fixed columns, then the measurements. */
export function formatTimeline(result: SimResult, argv: readonly string[]): string {
  const lines: string[] = [];
  const members =
    (result.observers.length > 0 ? `${result.nodes.length} voters + ${result.observers.length} observers` : `${result.nodes.length} nodes`) +
    (result.spares ? ` + ${result.spares.length} spare${result.spares.length === 1 ? '' : 's'}` : '');
  lines.push(`${result.algorithm}${result.variant ? ` (${result.variant})` : ''}, ${members}, seed ${result.seed}, ${result.scenario}, ${result.durationMs} ms of virtual time`);
  lines.push('');
  lines.push(`${'time ms'.padStart(10)}  event`);
  for (const entry of result.timeline ?? []) lines.push(`${ms(entry.atMs).padStart(10)}  ${entry.text}`);
  lines.push('');
  lines.push('elections (from the loss of a leader until every live node on its side agrees):');
  if (result.elections.length === 0) lines.push('  none completed');
  for (const e of result.elections) {
    lines.push(
      `  ${ms(e.startMs).padStart(9)} -> ${ms(e.endMs).padStart(9)} ms  ${ms(e.endMs - e.startMs).padStart(7)} ms  ` +
        `leader ${e.leader}, term ${e.term}, ${e.messages} messages, ${e.candidacies} ${e.candidacies === 1 ? 'candidacy' : 'candidacies'} in ${e.terms} term${e.terms === 1 ? '' : 's'}`,
    );
  }
  const byType = Object.entries(result.messages.byType).map(([type, count]) => `${type} ${count}`).join(', ');
  lines.push(`messages: ${result.messages.total}${byType ? ` (${byType})` : ''}`);
  lines.push(`dual-leader time: ${ms(result.dualLeaderMs)} ms`);
  if (result.kv) {
    const { kv } = result;
    const linearizable = kv.linearizable === null ? 'not decided (the check ran out of steps)' : kv.linearizable ? 'yes' : 'NO';
    lines.push(`key-value workload: ${kv.ops} operations, ${kv.acked} writes acknowledged, ${kv.lostAcked} of them lost, ${kv.staleReads} stale reads, ${ms(kv.unavailableMs)} ms without a writable leader; linearizable: ${linearizable}`);
  }
  if (result.membership) {
    const m = result.membership;
    const reasons = Object.entries(m.refusedBy).map(([reason, count]) => `${reason} ${count}`).join(', ');
    const { configuration } = m;
    lines.push(`membership: ${m.requested} changes asked, ${m.accepted} accepted, ${m.committed} committed, ${m.refused} refused${reasons ? ` (${reasons})` : ''}`);
    lines.push(`  configuration at the end (index ${configuration.index}): ${describeConfiguration(configuration)}`);
  }
  lines.push('final:');
  lines.push(`  ${'node'.padEnd(6)}${'up'.padEnd(5)}${'role'.padEnd(13)}${'leader'.padEnd(8)}term`);
  for (const f of result.final) {
    lines.push(`  ${String(f.node).padEnd(6)}${(f.up ? 'yes' : 'no').padEnd(5)}${f.role.padEnd(13)}${String(f.leader ?? '-').padEnd(8)}${f.term}`);
  }
  if (result.violations.length === 0) {
    lines.push('invariants: all held');
  } else {
    lines.push(`invariants: ${result.violations.length} violated`);
    for (const v of result.violations) lines.push(`  ${ms(v.atMs).padStart(9)} ms  ${v.invariant}: ${v.detail}`);
    lines.push(`replay: ballot sim ${argv.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
