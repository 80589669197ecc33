/**
 * The invariant sweep: seeded random-nemesis runs, with Raft/ZAB histories of several terms, plus
 * targeted schedules for what random faults rarely make. It is what CI runs against the correct cores
 * and against each broken one (src/sim/mutants.test.ts), and what `node dist/bench/sweep.js` runs at
 * scale. docs/invariants.md reports its numbers.
 */
import type { History, HistoryRun } from '../core/history.js';
import { majority } from '../core/quorum.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { Prng } from '../core/prng.js';
import type { Action } from './schedule.js';
import { simulate, type SimOptions, type SimResult } from './simulation.js';
import type { MembershipOptions } from './types.js';
import { DEFAULT_KV_RATE, type WorkloadOptions } from './workload.js';

/**
 * Histories of several terms that Raft can reach: every node holds a prefix of one log (runs of terms
 * 1, 2, 3 ...), so "a majority holds it" means "committed" (src/sim/checkers/raft.ts). Half the seeds
 * start empty (the plain random-nemesis run).
 */
export function sweepHistories(seed: number, nodes: number): ReadonlyMap<NodeId, History> | undefined {
  const random = new Prng(seed, 'sweep-history');
  if (random.chance(0.5)) return undefined;
  const runs: HistoryRun[] = [];
  const terms = 1 + random.int(3);
  for (let term = 1; term <= terms; term++) runs.push({ term, entries: 1 + random.int(3) });
  const total = runs.reduce((sum, run) => sum + run.entries, 0);
  const histories = new Map<NodeId, History>();
  for (let id = 1; id <= nodes; id++) histories.set(id, prefix(runs, random.int(total + 1)));
  return histories;
}

/** The first `length` entries of a history given by runs. */
function prefix(runs: readonly HistoryRun[], length: number): HistoryRun[] {
  const out: HistoryRun[] = [];
  let left = length;
  for (const run of runs) {
    if (left <= 0) break;
    const entries = Math.min(run.entries, left);
    out.push({ term: run.term, entries });
    left -= entries;
  }
  return out;
}

/**
 * One run of the sweep: seed → options (3 to 9 voters; histories for half the seeds; clients with a
 * workload; with membership change, 0 to 3 spares and the membership nemesis).
 */
export function sweepOptions(algorithm: AnyAlgorithm, seed: number, workload?: WorkloadOptions, membership?: MembershipOptions): SimOptions {
  const nodes = 3 + (seed % 7);
  const drawn = algorithm.name === 'bully' ? undefined : sweepHistories(seed, nodes);
  // Configuration entries, like client commands, tell one entry from another: the histories must be reachable.
  const history = drawn && (workload || membership) ? reachable(drawn, nodes) : drawn;
  const spares = membership ? Math.floor(seed / 7) % 4 : 0;
  return {
    algorithm, nodes, seed, scenario: 'random', ...(history ? { history } : {}), ...(workload ? { workload } : {}),
    ...(membership ? { membership, ...(spares > 0 ? { spares } : {}) } : {}),
  };
}

/**
 * Histories a cluster can have reached, for runs whose clients write (or whose configuration changes:
 * a configuration entry differs from a history's no-op as a command does): the entries of the last term
 * were written by a leader that a majority had voted for, so a majority knows that term (Raft §5.2:
 * currentTerm only grows; a node's term here is its history's last). The drawn prefixes need not say
 * so: a node that only holds term 1 could then lead term 2 again and write a second, different entry
 * at an index another node's history already holds in term 2 — an election run cannot tell (history
 * entries are all the same no-op), a run with client commands can. The lowest ids of a majority get
 * the whole log.
 */
function reachable(histories: ReadonlyMap<NodeId, History>, nodes: number): ReadonlyMap<NodeId, History> {
  const longest = [...histories.values()].reduce<History>((best, history) => (total(history) > total(best) ? history : best), []);
  const result = new Map(histories);
  for (let id = 1; id <= majority(nodes); id++) result.set(id, longest);
  return result;
}

const total = (history: History): number => (typeof history === 'number' ? history : history.reduce((sum, run) => sum + run.entries, 0));

/**
 * Schedules aimed at what the nemesis rarely makes:
 *   - ZAB, two would-be leaders of one epoch in overlapping groups during discovery: 5 cannot reach
 *     1, 2 (both ways) nor send to 4, so 5 is elected and proposes epoch 1 but only 3 can promise it;
 *     at T, 5 is partitioned away: 1, 2, 4 elect 4, whose connecting quorum {4, 1, 2} has promised
 *     nothing and so proposes epoch 1 again; 3, timing out on 5, then joins 4 and is asked for epoch 1
 *     a second time (a correct voter answers "not new", and a correct leader does not count it). A
 *     cut 2 -> 4 soon after T delays 2's promise so that 3's answer comes first. T sweeps the moments.
 *   - Raft/ZAB, a majority holding entries of a newer term than the highest ids: §5.4.1 decides.
 */
export function targetedRuns(algorithm: AnyAlgorithm): SimOptions[] {
  const runs: SimOptions[] = [];
  if (algorithm.name === 'zab') {
    const both = (a: NodeId, b: NodeId, atMs = 0): Action[] => [{ atMs, do: 'cut', from: a, to: b }, { atMs, do: 'cut', from: b, to: a }];
    for (let atMs = 500; atMs <= 2000; atMs += 50) {
      for (const slowMs of [0, 100, 200]) {
        const schedule: Action[] = [
          { atMs: 0, do: 'cut', from: 5, to: 4 },
          ...both(5, 1),
          ...both(5, 2),
          { atMs, do: 'partition', groups: [[5], [1, 2, 3, 4]] },
          ...(slowMs > 0 ? [{ atMs: atMs + slowMs, do: 'cut', from: 2, to: 4 } as const] : []),
          { atMs: atMs + 3000, do: 'heal' },
        ];
        for (let seed = 1; seed <= 3; seed++) runs.push({ algorithm, nodes: 5, seed, schedule, scheduleName: 'overlapping-discovery', durationMs: 8000 });
      }
    }
  }
  const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
  if (algorithm.name === 'raft' || algorithm.name === 'zab') {
    for (const seed of seeds) {
      // Nodes 1..3 hold a newer term than 4 and 5, which hold more entries of an older one.
      const newer: History = [{ term: 1, entries: 2 }, { term: 2, entries: 1 }];
      const older: History = [{ term: 1, entries: 4 }];
      const history = new Map<NodeId, History>([[1, newer], [2, newer], [3, newer], [4, older], [5, older]]);
      runs.push({ algorithm, nodes: 5, seed, scenario: seed % 2 === 0 ? 'leader-crash' : 'random', history });
    }
  }
  return runs;
}

export interface SweepReport {
  readonly runs: number;
  /** Runs with at least one violation, by invariant (a run counts once per invariant it broke). */
  readonly caughtBy: ReadonlyMap<string, number>;
  /** Runs with any violation. */
  readonly failed: number;
  /** Virtual time during which two or more nodes held a lease, summed over the runs, and how many runs had any. */
  readonly leaseOverlapMs: number;
  readonly leaseOverlapRuns: number;
  /** Virtual time with two or more self-believed leaders (dualLeaderMs), summed, and how many runs had any. */
  readonly dualLeaderMs: number;
  readonly dualLeaderRuns: number;
  /** The first failing run, to replay. */
  readonly firstFailure: { readonly options: SimOptions; readonly result: SimResult } | null;
  /** With a workload: what the clients saw, summed over the runs (null without one). */
  readonly kv: KvSweep | null;
  /** With membership change: the changes asked for and answered, summed over the runs (null without). */
  readonly membership: MembershipSweep | null;
  /** Messages sent, by type, summed over the runs; and in how many runs each type was sent at all. */
  readonly messagesByType: ReadonlyMap<string, number>;
  readonly runsByType: ReadonlyMap<string, number>;
}

/** The membership nemesis's changes over a sweep (each run's `membership`, docs/invariants.md). */
export interface MembershipSweep {
  readonly requested: number;
  readonly accepted: number;
  readonly committed: number;
  readonly refused: number;
  /** Runs whose final committed configuration differs from the one they started with. */
  readonly changedRuns: number;
}

/** The key-value workload's measurements over a sweep (each run's `kv`, docs/invariants.md). */
export interface KvSweep {
  readonly ops: number;
  readonly acked: number;
  readonly lostAcked: number;
  /** Runs that lost an acknowledged write. */
  readonly lostAckedRuns: number;
  /** Runs whose history is not linearizable, and runs whose check ran out of steps. */
  readonly notLinearizable: number;
  readonly undecided: number;
  readonly staleReads: number;
  readonly unavailableMs: number;
}

/**
 * Runs `seeds` random-nemesis runs (seeds firstSeed.., default 1..N), then the targeted runs, and counts what broke;
 * `stopWhen` ends the sweep early at the first run it accepts (CI: "caught by the checker meant to").
 */
export function sweep(
  algorithm: AnyAlgorithm,
  seeds: number,
  {
    targeted = true,
    stopWhen,
    firstSeed = 1,
    workload,
    membership,
  }: { targeted?: boolean; stopWhen?: (result: SimResult) => boolean; firstSeed?: number; workload?: WorkloadOptions; membership?: MembershipOptions } = {},
): SweepReport {
  const all: SimOptions[] = [];
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) all.push(sweepOptions(algorithm, seed, workload, membership));
  if (targeted) all.push(...targetedRuns(algorithm).map((options) => ({ ...options, ...(workload ? { workload } : {}), ...(membership ? { membership } : {}) })));
  return sweepRuns(all, { ...(stopWhen ? { stopWhen } : {}), withKv: workload !== undefined });
}

/**
 * Runs where Bully's primary–backup replication keeps the consensus promise, the proof runs of the
 * log checkers' Bully mutants (src/testing/mutants.ts, replicationMutants): key-value clients, no fault
 * but one bounce of the lowest id (down 2 s, long enough for the coordinator to compact past its log),
 * which neither changes the coordinator nor loses a write. A correct Bully declared 'consensus' passes
 * every one; a broken replication is caught by the log checkers.
 */
export function replicationProofRuns(algorithm: AnyAlgorithm, seeds: number, workload: WorkloadOptions): SimOptions[] {
  const runs: SimOptions[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const nodes = 3 + (seed % 7);
    const schedule: Action[] = [{ atMs: 3000, do: 'crash', node: 1 }, { atMs: 5000, do: 'restart', node: 1 }];
    runs.push({ algorithm, nodes, seed, schedule, scheduleName: 'follower-bounce', workload });
  }
  return runs;
}

/**
 * The sweep a mutant of the catalog (src/testing/mutants.ts) needs: with key-value clients when its
 * broken rule shows only when they write (`workload: 'kv'`, default rate unless `workload` is given),
 * with the membership nemesis when it breaks a rule of changing the configuration (`membershipSweep`:
 * back-to-back changes in some runs, what a leader that forgets "one at a time" gets wrong).
 */
export function mutantSweepOptions(
  mutant: { readonly workload?: 'kv'; readonly membershipSweep?: { readonly caughtBy: string } },
  workload?: WorkloadOptions,
): { workload?: WorkloadOptions; membership?: MembershipOptions } {
  return {
    ...(mutant.workload === 'kv' ? { workload: workload ?? { rate: DEFAULT_KV_RATE } } : {}),
    ...(mutant.membershipSweep ? { membership: {} } : {}),
  };
}

/** Runs each of `all` and counts what broke (see `sweep`). */
export function sweepRuns(all: readonly SimOptions[], { stopWhen, withKv = false }: { stopWhen?: (result: SimResult) => boolean; withKv?: boolean } = {}): SweepReport {
  const caughtBy = new Map<string, number>();
  let failed = 0;
  let firstFailure: SweepReport['firstFailure'] = null;
  const kv = { ops: 0, acked: 0, lostAcked: 0, lostAckedRuns: 0, notLinearizable: 0, undecided: 0, staleReads: 0, unavailableMs: 0 };
  let runs = 0;
  let leaseOverlapMs = 0;
  let leaseOverlapRuns = 0;
  let dualLeaderMs = 0;
  let dualLeaderRuns = 0;
  let membership: { requested: number; accepted: number; committed: number; refused: number; changedRuns: number } | null = null;
  const messagesByType = new Map<string, number>();
  const runsByType = new Map<string, number>();
  for (const options of all) {
    const result = simulate(options);
    runs++;
    for (const [type, count] of Object.entries(result.messages.byType)) {
      if (count === 0) continue;
      messagesByType.set(type, (messagesByType.get(type) ?? 0) + count);
      runsByType.set(type, (runsByType.get(type) ?? 0) + 1);
    }
    if (result.leaseOverlapMs > 0) {
      leaseOverlapMs += result.leaseOverlapMs;
      leaseOverlapRuns++;
    }
    if (result.dualLeaderMs > 0) {
      dualLeaderMs += result.dualLeaderMs;
      dualLeaderRuns++;
    }
    if (result.kv) {
      kv.ops += result.kv.ops;
      kv.acked += result.kv.acked;
      kv.lostAcked += result.kv.lostAcked;
      if (result.kv.lostAcked > 0) kv.lostAckedRuns++;
      if (result.kv.linearizable === false) kv.notLinearizable++;
      if (result.kv.linearizable === null) kv.undecided++;
      kv.staleReads += result.kv.staleReads;
      kv.unavailableMs += result.kv.unavailableMs;
    }
    if (result.membership) {
      membership ??= { requested: 0, accepted: 0, committed: 0, refused: 0, changedRuns: 0 };
      membership.requested += result.membership.requested;
      membership.accepted += result.membership.accepted;
      membership.committed += result.membership.committed;
      membership.refused += result.membership.refused;
      if (result.membership.configuration.index > 0) membership.changedRuns++;
    }
    if (result.violations.length === 0) continue;
    failed++;
    firstFailure ??= { options, result };
    for (const invariant of new Set(result.violations.map((v) => v.invariant))) caughtBy.set(invariant, (caughtBy.get(invariant) ?? 0) + 1);
    if (stopWhen?.(result)) break;
  }
  return { runs, caughtBy, failed, leaseOverlapMs, leaseOverlapRuns, dualLeaderMs, dualLeaderRuns, firstFailure, kv: withKv ? kv : null, membership, messagesByType, runsByType };
}
