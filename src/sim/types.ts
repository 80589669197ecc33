/**
 * What the simulator takes and gives: the options of a run, its result (the `ballot sim --json` object,
 * CONTRACT.md), and the stepping API's snapshots (what the browser visualizer draws).
 */
import type { History } from '../core/history.js';
import type { AnyAlgorithm, NodeId, Timing } from '../core/types.js';
import type { LatencyRange } from './network.js';
import type { ScenarioName } from './scenarios.js';
import type { Action } from './schedule.js';

export interface SimOptions {
  readonly algorithm: AnyAlgorithm;
  readonly nodes: number;
  readonly observers?: number;
  readonly seed: number;
  /** A named scenario; ignored when `schedule` is given. Default 'cold-start'. */
  readonly scenario?: ScenarioName;
  /** Explicit actions (from a schedule file); they replace the scenario's. */
  readonly schedule?: readonly Action[];
  /** What to report as `scenario` in the result when `schedule` is used. */
  readonly scheduleName?: string;
  readonly durationMs?: number;
  readonly latency?: LatencyRange;
  readonly loss?: number;
  readonly duplicate?: number;
  readonly timing?: Partial<Timing>;
  /** Node id → the durable history it starts with (`--history`; src/core/history.ts). */
  readonly history?: ReadonlyMap<NodeId, History>;
  /**
   * Messages sent to a node before it crashed are still delivered to it once it has restarted (as
   * datagrams would be, to a process that reuses the address); default false: they are dropped.
   */
  readonly deliverStale?: boolean;
  /**
   * ρ: the random nemesis draws clock rates within 1 ± ρ (schedules are checked by parseSchedule).
   * Default DEFAULT_MAX_CLOCK_DRIFT.
   */
  readonly maxClockDrift?: number;
  /**
   * Whether a connection's close reaches the other end as a 'peer-down' input: a crash closes the dead
   * process's connections at its live peers, and the random nemesis adds spurious resets. Default true
   * (the runtime's failure detection from closed connections); false runs the algorithms on timeouts
   * alone, as every run recorded before that detection existed (regression seeds pin such runs).
   */
  readonly closedConnections?: boolean;
  /** Collect a human-readable timeline (off for sweeps and benchmarks). */
  readonly timeline?: boolean;
  /**
   * Drive key-value clients through the run (`--workload kv[:RATE]`, src/sim/workload.ts): the history
   * is checked at the end and summed up in the result's `kv`. Absent: no client, the run as always.
   */
  readonly workload?: WorkloadOptions;
  /**
   * Spare nodes (`--spares N`): members of the simulated network, ids after the voters and observers,
   * that start outside the configuration (NodeConfig voters [] and observers []): they wait to be
   * contacted by a leader that added them. They crash, restart and are partitioned like any node.
   * Only for algorithms with membership change (Algorithm.membershipChange). Default 0.
   */
  readonly spares?: number;
  /**
   * The membership nemesis (`--membership`, src/sim/membership.ts): at random times it asks the leader
   * to add a node as a learner, promote a learner or remove a member. Absent: the configuration never
   * changes (unless a schedule asks), the run as always.
   */
  readonly membership?: MembershipOptions;
}

/** The membership nemesis's knobs (`--membership`); each is drawn per run (seeded) when not given. */
export interface MembershipOptions {
  /**
   * The chance that a change is followed at once (within 2 ms) by another, while the first cannot have
   * committed yet: what a leader that forgets "one change at a time" gets wrong (Raft thesis §4.1).
   */
  readonly backToBack?: number;
}

export interface LeaderRecord {
  readonly atMs: number;
  readonly node: NodeId;
  readonly term: number;
}

export interface ElectionRecord {
  readonly startMs: number;
  readonly endMs: number;
  readonly leader: NodeId;
  readonly term: number;
  /** All messages sent in the period (CONTRACT.md). */
  readonly messages: number;
  /**
   * Deprecated alias of `candidacies` (the same number, kept for scripts that read it): despite its
   * name it never counted rounds. Read `candidacies` or `terms`.
   */
  readonly rounds: number;
  /** Extension: `messages` by message type (types with a count of 0 are left out). */
  readonly messagesByType: Record<string, number>;
  /** Extension: distinct nodes that started an election in the period. */
  readonly candidates: number;
  /**
   * Extension: elections started by any node in the period (Raft: candidacies; ZAB: a voter going
   * LOOKING with a proposal; Bully: Election broadcasts). Two candidates in one term count 2.
   */
  readonly candidacies: number;
  /**
   * Extension: how many distinct terms (Raft terms, ZAB epochs, Bully generations) those candidacies
   * were for: the rounds the period needed. `terms > 1`: a round failed and a new one began.
   */
  readonly terms: number;
}

export interface Violation {
  readonly atMs: number;
  readonly invariant: string;
  readonly detail: string;
}

export interface FinalStatus {
  readonly node: NodeId;
  readonly up: boolean;
  readonly role: string;
  readonly leader: NodeId | null;
  readonly term: number;
  /** Extension: bytes of the node's durable state (as JSON) at the end of the run. */
  readonly durableBytes: number;
}

/** A change made to the simulated network by a fault (the partition groups are those after it). */
export type NetworkChange =
  | { readonly kind: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: 'isolate'; readonly node: NodeId }
  | { readonly kind: 'cut'; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'heal' }
  | { readonly kind: 'loss'; readonly p: number }
  | { readonly kind: 'duplicate'; readonly p: number }
  | { readonly kind: 'latency'; readonly minMs: number; readonly maxMs: number };

/**
 * One line of the timeline: what happened (`kind`, with its typed fields: read these, never the text)
 * and the line `ballot sim` prints for it.
 */
export type TimelineEntry = { readonly atMs: number; readonly text: string } & (
  | { readonly kind: 'became-leader'; readonly node: NodeId; readonly term: number }
  | { readonly kind: 'crash'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'pause'; readonly node: NodeId; readonly forMs: number }
  | { readonly kind: 'resume'; readonly node: NodeId }
  | { readonly kind: 'drift'; readonly node: NodeId; readonly rate: number }
  | NetworkChange
  /** A fault naming "the leader" found none. */
  | { readonly kind: 'skipped'; readonly action: Action }
  /** Two or more live nodes believe they lead. */
  | { readonly kind: 'dual-leaders'; readonly leaders: readonly { readonly node: NodeId; readonly term: number }[] }
  /** At most one again, after `afterMs` of dual leaders. */
  | { readonly kind: 'one-leader'; readonly afterMs: number }
  | { readonly kind: 'leader-lost'; readonly leader: NodeId }
  /** Every live node of the largest group agrees on `leader`, `afterMs` after the election began. */
  | { readonly kind: 'agreed'; readonly leader: NodeId; readonly term: number; readonly afterMs: number }
  | { readonly kind: 'violation'; readonly invariant: string; readonly detail: string }
  /** A configuration entry (Raft membership change), at its first report: normally the leader appending it. */
  | { readonly kind: 'membership-changed'; readonly node: NodeId; readonly index: number; readonly voters: readonly NodeId[]; readonly observers: readonly NodeId[] }
  /** The newest configuration known committed moved on to this one. */
  | { readonly kind: 'membership-committed'; readonly index: number; readonly voters: readonly NodeId[]; readonly observers: readonly NodeId[] }
);

export type TimelineKind = TimelineEntry['kind'];

/** The key-value workload of a run (`--workload kv[:RATE]`, src/sim/workload.ts). */
export interface WorkloadOptions {
  /** Operations per second (virtual), all clients together. */
  readonly rate: number;
  readonly clients?: number;
  readonly keys?: number;
  /** A client gives an operation up after this long without an answer, ms. */
  readonly timeoutMs?: number;
  /** Hosts compact their log every this many applied entries. */
  readonly compactEvery?: number;
  /** Pads every written value to this many characters, so that states (and snapshots) grow large. */
  readonly valueChars?: number;
}

/** `--json`'s `kv` (docs/reference.md; each field defined in docs/invariants.md, "The key-value workload"). */
export interface KvSummary {
  /** Operations the clients invoked (each once, however often it was sent again). */
  readonly ops: number;
  /** Writes (put, delete, cas) answered to their client. */
  readonly acked: number;
  /** Answered writes whose entry (index, term) is not the one the leader at the end applied at that index. */
  readonly lostAcked: number;
  /** Whether the history is linearizable; null when the check ran out of its step budget. */
  readonly linearizable: boolean | null;
  /** Gets that returned a version below one a write on that key had been answered with before the get was invoked. */
  readonly staleReads: number;
  /** Virtual time during which no live, running node believed it led (no node could accept a write). */
  readonly unavailableMs: number;
}

/** A configuration as the result reports it (Membership without the addresses, which the simulator leaves ''). */
export interface ConfigurationSummary {
  /** The position of its entry in the log (0: the configuration the cluster started with). */
  readonly index: number;
  readonly voters: readonly NodeId[];
  readonly observers: readonly NodeId[];
}

/** `--json`'s `membership` (with `--membership`; docs/invariants.md, "Membership change"). */
export interface MembershipSummary {
  /** Changes the nemesis (or a schedule) asked a leader for; a change with no leader to ask is not counted. */
  readonly requested: number;
  /** Accepted: the leader appended the configuration entry ('proposed'). */
  readonly accepted: number;
  /** Accepted changes whose entry committed as proposed. */
  readonly committed: number;
  /** Refused ('request-refused'); requested − accepted − refused were lost with a node that crashed. */
  readonly refused: number;
  /** Refusals by reason (MembershipRefusal, or 'not-leader' for a refusal without one); reasons never given are left out. */
  readonly refusedBy: Record<string, number>;
  /** The newest configuration known to be committed at the end of the run. */
  readonly configuration: ConfigurationSummary;
}

/** The `--json` object of `ballot sim` (CONTRACT.md). */
export interface SimResult {
  readonly algorithm: string;
  /** Extension: present only for a non-default variant (`--bully-mode stable` → "stable"). */
  readonly variant?: string;
  readonly nodes: NodeId[];
  readonly observers: NodeId[];
  /** Extension: present only with `--spares`: the ids of the nodes that started outside the configuration. */
  readonly spares?: NodeId[];
  readonly seed: number;
  readonly scenario: string;
  readonly durationMs: number;
  readonly leaders: LeaderRecord[];
  readonly elections: ElectionRecord[];
  readonly messages: { total: number; byType: Record<string, number> };
  readonly dualLeaderMs: number;
  /** Virtual time during which two or more nodes held a leader lease at once (0 for algorithms without leases). */
  readonly leaseOverlapMs: number;
  readonly final: FinalStatus[];
  readonly violations: Violation[];
  /** Only with a workload (`--workload kv`): what the clients saw (src/sim/workload.ts, KvSummary). */
  readonly kv?: KvSummary;
  /** Only with the membership nemesis (`--membership`): the changes asked for and the final configuration. */
  readonly membership?: MembershipSummary;
  /** Only when `timeline: true` was asked for; not part of the JSON output. */
  readonly timeline?: TimelineEntry[];
}

/** A message on the wire: sent, not yet delivered (or dropped on arrival). */
export interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly type: string;
  readonly sentMs: number;
  readonly deliverMs: number;
}

/**
 * A node's one timer (the host loop arms one, for the core's `nextDeadline()`): when it fires and what
 * for. A node that leads sends its next heartbeat then; any other node gives up waiting (for the
 * leader, or for its election round) and acts: Raft's election timeout, Bully's and ZAB's failure
 * detectors and round timeouts.
 */
export interface NodeTimer {
  readonly atMs: number;
  readonly purpose: 'heartbeat' | 'timeout';
}

export interface NodeView {
  readonly node: NodeId;
  readonly up: boolean;
  readonly role: string;
  readonly leader: NodeId | null;
  readonly term: number;
  /** The node's armed timer; null while it is down or waits only for messages. */
  readonly timer: NodeTimer | null;
}

/** What a stepped run looks like at its current instant. */
export interface RunSnapshot {
  readonly nowMs: number;
  readonly nodes: NodeView[];
  /** Messages sent so far, in total (the result's `messages.total` at this instant). */
  readonly messagesSent: number;
  /** Sorted by delivery time. */
  readonly inFlight: InFlight[];
  /** Groups of mutually connected nodes (one group when the network is whole). */
  readonly components: NodeId[][];
  /** The leader every live node of the largest group agrees on, if any. */
  readonly agreedLeader: NodeId | null;
  readonly leaders: readonly LeaderRecord[];
  readonly elections: readonly ElectionRecord[];
  readonly violations: readonly Violation[];
  /** Only with `timeline: true`. */
  readonly timeline: readonly TimelineEntry[];
}

/**
 * A simulation advanced by its host rather than all at once (the browser visualizer steps it frame by
 * frame). Same engine as `simulate()`: stepping to `durationMs` and calling `finish()` gives the same
 * result, event for event.
 */
export interface SimRun {
  readonly durationMs: number;
  /** Virtual time of the last event processed. */
  readonly nowMs: number;
  /** Processes the next event, if any; false when nothing is queued. */
  step(): boolean;
  /** Processes every event due at or before `timeMs`, then sets the clock to `timeMs` (never backwards). */
  stepUntil(timeMs: number): void;
  /** Carries out `action` now (its `atMs` is ignored): it is queued behind the events already due now. */
  inject(action: Action): void;
  snapshot(): RunSnapshot;
  /** Ends the run at the current time: final convergence check and the `ballot sim` result. */
  finish(): SimResult;
}
