/**
 * Raft's messages (Ongaro & Ousterhout 2014, Figure 2 and Figure 13; Ongaro's thesis §9.6 for PreVote,
 * §3.10 for TimeoutNow). AppendEntries is both the heartbeat (no entries) and log replication (§5.3).
 */
import type { Command, Membership, NodeId } from '../types.js';

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
 * §5.2/§5.3: the leader's heartbeat (no entries) and log replication. It asserts leadership for `term`
 * and resets followers' timers. `round` numbers the leader's heartbeats within its term and comes back in
 * the answer, so that the leader knows WHEN (by its own clock) the heartbeat a quorum acknowledged was
 * sent: its lease starts then, and a ReadIndex read waits for it (thesis §6.4). Entries sent between two
 * heartbeats carry the current round again.
 */
export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly term: number;
  /** §5.3: the index and term of the entry just before `entries`: the follower's consistency check. */
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  /** The entries from prevLogIndex + 1 on (empty for a heartbeat), bounded per message (raft.ts). */
  readonly entries: readonly LogEntry[];
  /** The leader's commitIndex: the follower commits up to min(leaderCommit, the last entry it matched). */
  readonly leaderCommit: number;
  readonly round: number;
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse';
  readonly term: number;
  readonly success: boolean;
  /** The `round` of the heartbeat answered. */
  readonly round: number;
  /**
   * On success: the last index of the follower's log known to match the leader's (prevLogIndex plus the
   * entries; the leader's matchIndex, Figure 2). On failure (the §5.3 consistency check): the highest
   * index that may still match — below the follower's last index and below the whole conflicting term
   * (the optimization at the end of §5.3) — so the leader sets nextIndex to it + 1 in one step.
   */
  readonly matchIndex: number;
}

/**
 * §7, Figure 13: the leader sends its snapshot to a follower that needs entries it has compacted away,
 * in chunks (each at most MAX_CHUNK_CHARS characters of `data`, so a frame never exceeds 64 KiB), one
 * chunk at a time: the next leaves when the previous is acknowledged, or again at the next heartbeat.
 */
export interface InstallSnapshot {
  readonly type: 'InstallSnapshot';
  readonly term: number;
  /** The snapshot replaces every entry up to and including this index; its entry had this term. */
  readonly lastIncludedIndex: number;
  readonly lastIncludedTerm: number;
  /** Where this chunk starts in the snapshot's data (characters). */
  readonly offset: number;
  readonly data: string;
  /** Whether this is the last chunk. */
  readonly done: boolean;
  readonly round: number;
  /**
   * The snapshot's configuration (RaftSnapshot.membership), on the last chunk only (the follower needs it
   * when it installs); absent when the cluster still runs on the configuration it was started with.
   */
  readonly membership?: Membership;
}

export interface InstallSnapshotResponse {
  readonly type: 'InstallSnapshotResponse';
  readonly term: number;
  readonly lastIncludedIndex: number;
  /** How many characters of the snapshot the follower holds (the next chunk's offset); with `done`, all. */
  readonly offset: number;
  /** The follower installed the whole snapshot (or already had every entry it covers). */
  readonly done: boolean;
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

export type RaftMessage =
  | RequestVote
  | RequestVoteResponse
  | PreVote
  | PreVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow;

export const raftMessageTypes = [
  'RequestVote',
  'RequestVoteResponse',
  'PreVote',
  'PreVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'InstallSnapshot',
  'InstallSnapshotResponse',
  'TimeoutNow',
] as const satisfies readonly RaftMessage['type'][];

/**
 * One log entry: its term (all election looks at, §5.4.1) and the client's command. An entry without a
 * command is the no-op '' (history entries, and state files written before replication existed).
 */
export interface LogEntry {
  readonly term: number;
  readonly command?: Command;
  /**
   * A configuration entry (thesis §4.1): from this entry on, the cluster's configuration — used by every
   * node that holds the entry, committed or not. Its command is the no-op '' (the host's state machine
   * skips it).
   */
  readonly membership?: Membership;
}

/** §7: a snapshot replaces the log up to `index` (whose entry had `term`); `data` is the host's state machine. */
export interface RaftSnapshot {
  readonly index: number;
  readonly term: number;
  readonly data: string;
  /**
   * The latest configuration in the log as of `index` (paper §7: "the snapshot also includes the latest
   * configuration in the log as of last included index"); absent when no configuration entry precedes
   * it (the starting configuration is in force).
   */
  readonly membership?: Membership;
}

/**
 * What Raft keeps on stable storage (Figure 2, "Persistent state on all servers"; §7 for the snapshot).
 * `log` holds the entries AFTER the snapshot: entry k of it has index snapshot.index + 1 + k.
 */
export interface RaftDurable {
  readonly currentTerm: number;
  readonly votedFor: NodeId | null;
  readonly log: readonly LogEntry[];
  /** Absent until the first compaction (and in files written before it existed). */
  readonly snapshot?: RaftSnapshot;
}

// ---- bounds ---------------------------------------------------------------------------------------
// A peer frame is at most 64 KiB (src/runtime/frames.ts) and JSON spends at most 6 bytes on one UTF-16
// code unit (a `\uXXXX` escape), so 8,192 characters of commands or snapshot data take at most 48 KiB,
// which leaves room for the entries' terms and the message's other fields.

/** The longest command a proposal may carry (UTF-16 code units); a longer one is refused. One bound for all cores. */
export { MAX_COMMAND_LENGTH as MAX_COMMAND_CHARS } from '../limits.js';
/** At most this many entries per AppendEntries (Figure 2's "may send more than one for efficiency"). */
export const MAX_APPEND_ENTRIES = 64;
/** At most this many characters of commands per AppendEntries (one longer entry still goes alone). */
export const MAX_APPEND_CHARS = 8_192;
/** Characters of snapshot data per InstallSnapshot chunk (§7, Figure 13's `offset`/`data`/`done`). */
export const MAX_CHUNK_CHARS = 8_192;
/** The largest snapshot a node keeps or accepts (characters); `compact` with a larger one is ignored. One bound for all cores (the key-value store stops growing below it). */
export { MAX_CHUNKED_SNAPSHOT_CHARS as MAX_SNAPSHOT_CHARS } from '../limits.js';
