/**
 * Raft's election messages (Ongaro & Ousterhout 2014, Figure 2; Ongaro's thesis §9.6 for PreVote).
 * Log replication is not part of election, so AppendEntries travels here as the leader's heartbeat and
 * carries no entries yet.
 */
import type { NodeId } from '../types.js';

/** §5.2: a candidate asks for a vote; §5.4.1: it says how up to date its log is. */
export interface RequestVote {
  readonly type: 'RequestVote';
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /**
   * 0 for an ordinary election. n > 0: a leadership transfer (thesis §3.10): the leader of term − 1 sent
   * this candidate TimeoutNow after its heartbeat round n and gave up its lease; a voter that has
   * acknowledged none of that leader's rounds after n votes although it hears that leader (etcd's
   * campaignTransfer), because no lease rests on its acknowledgements any more (docs/algorithms/raft.md).
   */
  readonly transfer: number;
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse';
  readonly term: number;
  readonly voteGranted: boolean;
  /**
   * With CheckQuorum: how long (ms by the voter's clock, rounded up) the voter's promise to the leader it
   * last heard still runs; 0 unless it voted early because that leader's connection closed. The new
   * leader's lease starts only once every counted promise has certainly ended (docs/algorithms/raft.md).
   */
  readonly promiseMs: number;
}

/**
 * Thesis §9.6: "would you vote for me in `term`?" `term` is the precandidate's current term + 1, a term
 * it has NOT adopted: neither side changes its term or its vote for a PreVote.
 */
export interface PreVote {
  readonly type: 'PreVote';
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** A granted pre-vote carries the asked-for term; a refusal carries the voter's current term. */
export interface PreVoteResponse {
  readonly type: 'PreVoteResponse';
  readonly term: number;
  readonly voteGranted: boolean;
}

/**
 * §5.2: the leader's heartbeat; it asserts leadership for `term` and resets followers' timers. `round`
 * numbers the leader's heartbeats within its term and comes back in the answer, so that the leader
 * knows WHEN (by its own clock) the heartbeat a quorum acknowledged was sent: its lease starts then.
 */
export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly term: number;
  readonly leaderCommit: number;
  readonly round: number;
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse';
  readonly term: number;
  readonly success: boolean;
  /** The `round` of the heartbeat answered. */
  readonly round: number;
}

/**
 * Thesis §3.10 (etcd's MsgTimeoutNow): the leader of `term` tells the target of a leadership transfer to
 * start an election at once, skipping PreVote. `round` is the leader's last heartbeat round: it holds no
 * lease on that round or any earlier one from now on.
 */
export interface TimeoutNow {
  readonly type: 'TimeoutNow';
  readonly term: number;
  readonly round: number;
}

export type RaftMessage = RequestVote | RequestVoteResponse | PreVote | PreVoteResponse | AppendEntries | AppendEntriesResponse | TimeoutNow;

export const raftMessageTypes = [
  'RequestVote',
  'RequestVoteResponse',
  'PreVote',
  'PreVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'TimeoutNow',
] as const satisfies readonly RaftMessage['type'][];

/** One log entry; only its term matters to election (§5.4.1). */
export interface LogEntry {
  readonly term: number;
}

/** What Raft keeps on stable storage (Figure 2, "Persistent state on all servers"). */
export interface RaftDurable {
  readonly currentTerm: number;
  readonly votedFor: NodeId | null;
  readonly log: readonly LogEntry[];
}
