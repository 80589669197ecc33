/**
 * What `ballot compare` measures in one simulated run (a trial), and how trials add up to a cell
 * (one algorithm, one cluster size, one scenario). Every definition here is also written out in
 * docs/comparison.md; the two must say the same thing.
 */
import { summarize as summarizeSamples, type AnyAlgorithm } from '../core/index.js';
import type { ElectionRecord, ScenarioName, SimResult } from '../sim/index.js';
import type { KvSummary } from '../sim/types.js';
// Not part of the simulator's public API: the nominal fault times, to tell a scenario's elections from the cold start.
import { scenarioActions } from '../sim/scenarios.js';

/** The scenarios `ballot compare` runs by default: one per row of the source documents' comparison. */
export const compareScenarios = ['cold-start', 'leader-crash', 'flapping', 'partition'] as const satisfies readonly ScenarioName[];

/** One measured election of a trial. */
export interface ElectionSample {
  /** endMs − startMs: from the loss of the leader (or the start) until every live node on its side agrees. */
  readonly ms: number;
  /** Every message sent in the period, heartbeats included (CONTRACT.md `elections[].messages`). */
  readonly messages: number;
  /** Messages of the period whose type a settled cluster never sends (see `steadyStateTypes`). */
  readonly electionMessages: number;
  /** Elections started by any node in the period (`elections[].candidacies`). */
  readonly candidacies: number;
  /** Distinct nodes among those starts. */
  readonly candidates: number;
  /** Distinct terms (epochs, generations) those starts were for (`elections[].terms`): the rounds needed. */
  readonly terms: number;
}

/** The measurements of one trial: one `simulate()` run, seed = trial number. */
export interface TrialMetrics {
  readonly seed: number;
  /** The elections the scenario is about (see `measuredElections`), in order. */
  readonly elections: readonly ElectionSample[];
  /** True when the scenario should have produced a measured election and none completed. */
  readonly unfinished: boolean;
  /** leaders.length − 1: every time a node became leader after the first one (stability). */
  readonly leaderChanges: number;
  /** Virtual ms during which two or more live nodes each believed they led (split brain). */
  readonly dualLeaderMs: number;
  /** Virtual ms during which two or more nodes held a leader lease (`leaseOverlapMs`; 0 without leases). */
  readonly leaseOverlapMs: number;
  /** Reigns that began at or after the scenario's heal (null: the scenario has no heal): a healed cluster should keep its leader. */
  readonly leaderChangesAfterHeal: number | null;
  /** The largest durable state of any node at the end of the run, in bytes of JSON. */
  readonly durableBytes: number;
  readonly violations: number;
  /** With `--workload kv`: what the clients saw (the run's `kv`, docs/invariants.md); absent without. */
  readonly kv?: KvSummary;
}

/**
 * When the scenario's first fault strikes (its first scheduled action); 0 for cold-start, which has
 * none; Infinity for a scenario with nothing to do at this size (a partition of one node). Elections
 * that start at or after it are the ones the scenario measures.
 */
export function firstFaultMs(scenario: ScenarioName, nodes: number, algorithm: AnyAlgorithm): number {
  if (scenario === 'cold-start') return 0;
  const voters = Array.from({ length: nodes }, (_, i) => i + 1);
  // At the nominal times: every run's faults fall at or up to one heartbeat after them.
  const actions = scenarioActions(scenario, voters, algorithm.defaultTiming);
  return actions.length === 0 ? Infinity : Math.min(...actions.map((a) => a.atMs));
}

/** When the scenario's network heals (its last 'heal' action at the nominal time), or null when it never does. */
export function healMs(scenario: ScenarioName, nodes: number, algorithm: AnyAlgorithm): number | null {
  const voters = Array.from({ length: nodes }, (_, i) => i + 1);
  const heals = scenarioActions(scenario, voters, algorithm.defaultTiming).filter((a) => a.do === 'heal');
  return heals.length === 0 ? null : Math.max(...heals.map((a) => a.atMs));
}

/**
 * The elections a scenario is about:
 * - cold-start: the first election (from time 0 until all nodes agree on the first leader);
 * - every other scenario: every election that starts at or after the first fault (leader-crash: the
 *   failover; partition: the majority's election and any change at the heal; flapping: each change the
 *   crashes and restarts cause). Elections before the first fault are the cold start, not the scenario.
 */
export function measuredElections(result: SimResult, faultMs: number): ElectionRecord[] {
  if (faultMs === 0) return result.elections.slice(0, 1);
  return result.elections.filter((e) => e.startMs >= faultMs);
}

/** Scenarios in which a trial with no measured election is a failure to elect (flapping may have none). */
function expectsElection(scenario: string, nodes: number): boolean {
  switch (scenario) {
    case 'cold-start':
    case 'leader-crash':
    case 'leader-isolate':
      return true;
    case 'partition':
      return nodes >= 2;
    default:
      return false;
  }
}

/** Reads one trial's measurements off a simulator result. */
export function trialMetrics(result: SimResult, faultMs: number, steadyTypes: ReadonlySet<string>, healAtMs: number | null = null): TrialMetrics {
  const elections = measuredElections(result, faultMs).map((e): ElectionSample => {
    let electionMessages = 0;
    for (const [type, count] of Object.entries(e.messagesByType)) if (!steadyTypes.has(type)) electionMessages += count;
    return { ms: round(e.endMs - e.startMs), messages: e.messages, electionMessages, candidacies: e.candidacies, candidates: e.candidates, terms: e.terms };
  });
  return {
    seed: result.seed,
    elections,
    unfinished: elections.length === 0 && expectsElection(result.scenario, result.nodes.length),
    leaderChanges: Math.max(0, result.leaders.length - 1),
    dualLeaderMs: result.dualLeaderMs,
    leaseOverlapMs: result.leaseOverlapMs,
    leaderChangesAfterHeal: healAtMs === null ? null : result.leaders.filter((l) => l.atMs >= healAtMs).length,
    durableBytes: Math.max(0, ...result.final.map((f) => f.durableBytes)),
    violations: result.violations.length,
    ...(result.kv ? { kv: result.kv } : {}),
  };
}

// ---- statistics ------------------------------------------------------------------------------------

/**
 * The numbers compare reports for one metric of a cell, from src/core/stats.ts (quantiles are type 7,
 * linear between the nearest samples); every field is NaN when there are no values (JSON: null).
 */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = summarizeSamples(values);
  if (s === null) return { count: 0, mean: NaN, p50: NaN, p99: NaN, max: NaN };
  return { count: s.count, mean: round(s.mean), p50: round(s.median), p99: round(s.p99), max: s.max };
}

/** Rounds to microseconds (and keeps NaN), so JSON stays short and byte-stable. */
export function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value;
}

/** A cell: one algorithm, one cluster size, one scenario, all its trials. */
export interface CellKey {
  readonly algorithm: string;
  readonly nodes: number;
  readonly scenario: ScenarioName;
}

export interface CellSummary extends CellKey {
  readonly trials: number;
  /** Measured elections over all trials (a trial may have none, or several under flapping). */
  readonly elections: number;
  /** Trials that should have elected a leader but did not within the run. */
  readonly unfinished: number;
  readonly electionMs: Summary;
  readonly messages: Summary;
  readonly electionMessages: Summary;
  /** electionMessages / candidacies per election, comparable to the textbook's figures for one candidate's round. */
  readonly electionMessagesPerCandidacy: Summary;
  /** candidacies − 1 per election: every extra start, competing candidates in one term and new rounds alike. */
  readonly extraCandidacies: Summary;
  /** Share of elections with more than one candidacy. */
  readonly extraCandidacyShare: number;
  /** terms − 1 per election: rounds that failed and were followed by a new one (Raft: a split vote). */
  readonly newRounds: Summary;
  /** Share of elections that needed a second (or later) round: more than one term. */
  readonly newRoundShare: number;
  readonly leaderChanges: Summary;
  readonly dualLeaderMs: Summary;
  /** Share of trials with any dual-leader time. */
  readonly dualLeaderShare: number;
  readonly leaseOverlapMs: Summary;
  /** Share of trials with any lease overlap. */
  readonly leaseOverlapShare: number;
  /** Reigns begun at or after the heal, per trial (count 0 when the scenario has no heal). */
  readonly leaderChangesAfterHeal: Summary;
  readonly durableBytes: number;
  readonly violations: number;
  /** Seeds of the trials with violations (at most 10), to replay with `ballot sim`. */
  readonly violationSeeds: readonly number[];
  /** With `--workload kv`: the clients' outcomes over the cell's trials; absent without. */
  readonly kv?: KvCell;
}

/** The key-value workload over a cell's trials (each trial's `kv`; definitions in docs/invariants.md). */
export interface KvCell {
  /** Writes answered to their client, and those of them lost, over all trials. */
  readonly acked: number;
  readonly lostAcked: number;
  /** Share of trials that lost any acknowledged write. */
  readonly lostAckedShare: number;
  /** Virtual ms per trial with no node able to accept a write. */
  readonly unavailableMs: Summary;
  /** Gets answered with a version older than one acknowledged before they were invoked, over all trials. */
  readonly staleReads: number;
  /** Share of trials with any stale read. */
  readonly staleReadShare: number;
  /** Trials whose history is not linearizable, and trials whose check ran out of steps. */
  readonly notLinearizable: number;
  readonly undecided: number;
}

function kvCell(trials: readonly TrialMetrics[]): KvCell | undefined {
  const kvs = trials.flatMap((t) => (t.kv ? [t.kv] : []));
  if (kvs.length === 0) return undefined;
  return {
    acked: kvs.reduce((sum, kv) => sum + kv.acked, 0),
    lostAcked: kvs.reduce((sum, kv) => sum + kv.lostAcked, 0),
    lostAckedShare: share(kvs.filter((kv) => kv.lostAcked > 0).length, kvs.length),
    unavailableMs: summarize(kvs.map((kv) => kv.unavailableMs)),
    staleReads: kvs.reduce((sum, kv) => sum + kv.staleReads, 0),
    staleReadShare: share(kvs.filter((kv) => kv.staleReads > 0).length, kvs.length),
    notLinearizable: kvs.filter((kv) => kv.linearizable === false).length,
    undecided: kvs.filter((kv) => kv.linearizable === null).length,
  };
}

export function summarizeCell(key: CellKey, trials: readonly TrialMetrics[]): CellSummary {
  const elections = trials.flatMap((t) => t.elections);
  const withViolations = trials.filter((t) => t.violations > 0);
  const kvOf = kvCell(trials);
  return {
    ...key,
    trials: trials.length,
    elections: elections.length,
    unfinished: trials.filter((t) => t.unfinished).length,
    electionMs: summarize(elections.map((e) => e.ms)),
    messages: summarize(elections.map((e) => e.messages)),
    electionMessages: summarize(elections.map((e) => e.electionMessages)),
    electionMessagesPerCandidacy: summarize(elections.filter((e) => e.candidacies > 0).map((e) => round(e.electionMessages / e.candidacies))),
    extraCandidacies: summarize(elections.map((e) => Math.max(0, e.candidacies - 1))),
    extraCandidacyShare: share(elections.filter((e) => e.candidacies > 1).length, elections.length),
    newRounds: summarize(elections.map((e) => Math.max(0, e.terms - 1))),
    newRoundShare: share(elections.filter((e) => e.terms > 1).length, elections.length),
    leaderChanges: summarize(trials.map((t) => t.leaderChanges)),
    dualLeaderMs: summarize(trials.map((t) => t.dualLeaderMs)),
    dualLeaderShare: share(trials.filter((t) => t.dualLeaderMs > 0).length, trials.length),
    leaseOverlapMs: summarize(trials.map((t) => t.leaseOverlapMs)),
    leaseOverlapShare: share(trials.filter((t) => t.leaseOverlapMs > 0).length, trials.length),
    leaderChangesAfterHeal: summarize(trials.flatMap((t) => (t.leaderChangesAfterHeal === null ? [] : [t.leaderChangesAfterHeal]))),
    durableBytes: Math.max(0, ...trials.map((t) => t.durableBytes)),
    violations: trials.reduce((sum, t) => sum + t.violations, 0),
    violationSeeds: withViolations.slice(0, 10).map((t) => t.seed),
    ...(kvOf ? { kv: kvOf } : {}),
  };
}

function share(part: number, whole: number): number {
  return whole === 0 ? NaN : round(part / whole);
}
