/**
 * ZAB's messages and durable state: FastLeaderElection's notifications, then the Zab phases after the
 * election (discovery: FOLLOWERINFO / LEADERINFO / ACKEPOCH; synchronization: NEWLEADER carrying
 * ZooKeeper's DIFF / TRUNC / SNAP, ACK, UPTODATE; broadcast: PROPOSAL / ACK / COMMIT, INFORM to
 * observers, PING). ZooKeeper's packet names, in this project's PascalCase.
 */
import { ZXID_COUNTER_SPAN } from '../bounds.js';
import type { Command, NodeId } from '../types.js';

/** The four server states of ZooKeeper (QuorumPeer.ServerState), in lower case as `status().role`. */
export type ServerState = 'looking' | 'following' | 'leading' | 'observing';

export const serverStates = ['looking', 'following', 'leading', 'observing'] as const satisfies readonly ServerState[];

// ---- zxid -----------------------------------------------------------------------------------------

/**
 * A zxid is (epoch << 32) | counter, kept in a JS number: epoch * 2^32 + counter stays a safe integer
 * while epochs stay at most MAX_EPOCH = 2^21 − 1 (src/core/bounds.ts). Never use `<<` here: it
 * truncates to 32 bits.
 */
const COUNTER_SPAN = ZXID_COUNTER_SPAN;

/** The highest counter of an epoch's zxids. */
export const ZXID_COUNTER_MAX = COUNTER_SPAN - 1;

export function makeZxid(epoch: number, counter: number): number {
  return epoch * COUNTER_SPAN + counter;
}

export function epochOfZxid(zxid: number): number {
  return Math.floor(zxid / COUNTER_SPAN);
}

export function counterOfZxid(zxid: number): number {
  return zxid % COUNTER_SPAN;
}

/** "0x1:5" style, for timelines and test messages. */
export function formatZxid(zxid: number): string {
  return `${epochOfZxid(zxid)}:${counterOfZxid(zxid)}`;
}

// ---- FastLeaderElection ---------------------------------------------------------------------------

/**
 * FLE's notification: the sender's current vote and state. The sender's id (ZooKeeper's `sid`) is not
 * in the payload: as in ZooKeeper, it is the authenticated peer the message came from.
 *
 * A voter sends its vote (proposed leader, that leader's zxid and epoch) to every voter when it starts
 * a round or changes its vote, and answers a LOOKING peer with its current vote (FOLLOWING/LEADING
 * nodes answer with the leader they settled on, so that a latecomer can join it).
 *
 * An observer never votes: its notifications carry `state: 'observing'` and `leader: null`, and only
 * ask the voters for their votes. Receivers never tally a notification from a non-voter.
 */
export interface Notification {
  readonly type: 'Notification';
  /** The proposed leader; null only in an observer's request for votes. */
  readonly leader: NodeId | null;
  /** The last zxid of the proposed leader. */
  readonly zxid: number;
  /** The sender's logical clock: the election round the vote belongs to. */
  readonly electionEpoch: number;
  /** The epoch (currentEpoch) of the proposed leader. */
  readonly peerEpoch: number;
  readonly state: ServerState;
}

// ---- discovery (Zab phase 1) ----------------------------------------------------------------------

/** A follower's first word to the leader it elected: the last epoch it promised (acceptedEpoch). */
export interface FollowerInfo {
  readonly type: 'FollowerInfo';
  readonly acceptedEpoch: number;
}

/** An observer's first word to the leader: it asks to be synchronized (from its last zxid), and promises nothing. */
export interface ObserverInfo {
  readonly type: 'ObserverInfo';
  readonly lastZxid: number;
}

/** The prospective leader's new epoch: one more than every acceptedEpoch of a quorum (and its own). */
export interface LeaderInfo {
  readonly type: 'LeaderInfo';
  readonly epoch: number;
}

/**
 * A follower's promise to follow `epoch`, with its history summary so the leader can refuse to lead a
 * quorum member more up to date than itself. `newlyAccepted` is false when the follower had already
 * accepted this very epoch (ZooKeeper sends -1 then): such an answer is no new promise and does not
 * count toward the epoch quorum.
 */
export interface AckEpoch {
  readonly type: 'AckEpoch';
  readonly epoch: number;
  readonly currentEpoch: number;
  readonly lastZxid: number;
  readonly newlyAccepted: boolean;
}

// ---- synchronization (Zab phase 2) ----------------------------------------------------------------

/**
 * How a learner's history becomes the leader's (ZooKeeper's LearnerHandler.syncFollower):
 *  - diff: it holds the leader's history up to `base`: it appends the entries after it;
 *  - trunc: it holds proposals beyond `base` that the leader does not: it drops them (then appends any);
 *  - snap: it replaces its history with the leader's snapshot (`snapshot`, up to `base`) and entries.
 */
export type SyncMode = 'diff' | 'trunc' | 'snap';

export const syncModes = ['diff', 'trunc', 'snap'] as const satisfies readonly SyncMode[];

/** A stretch of consecutive zxids of one epoch: (epoch, first) … (epoch, first + count − 1). */
export interface ZabRun {
  readonly epoch: number;
  readonly first: number;
  readonly count: number;
}

/** A snapshot of the state machine: every entry up to `index` (whose zxid is `zxid`) applied to `data`. */
export interface ZabSnapshot {
  readonly index: number;
  readonly zxid: number;
  readonly data: string;
}

/**
 * The leader's history for one learner, and the epoch it must make current before acknowledging.
 * The learner keeps its history up to `base` (at position `baseIndex`), drops the rest, and appends
 * `runs`, whose newest entries carry `commands` (older ones the empty command). `zxid` is the last
 * zxid the learner then holds. A SNAP carries the snapshot's state as `snapshot` ('' otherwise) when it
 * fits one frame; a larger one follows it in SNAPCHUNKs, window by window as the learner asks
 * (SnapRequest), and `snapshotLength` (present only then) says how long it is: the learner
 * acknowledges only once it holds all of it.
 */
export interface NewLeader {
  readonly type: 'NewLeader';
  readonly epoch: number;
  readonly zxid: number;
  readonly sync: SyncMode;
  readonly base: number;
  readonly baseIndex: number;
  readonly snapshot: string;
  /** A SNAP whose snapshot came in chunks: its length (the `snapshot` field is then ''). */
  readonly snapshotLength?: number;
  readonly runs: readonly ZabRun[];
  readonly commands: readonly Command[];
}

/**
 * One piece of a SNAP's snapshot too large for one frame (this project's addition: ZooKeeper streams a
 * snapshot over its TCP connection, whose flow control paces it). The leader sends a window of
 * SNAPSHOT_CHUNK_WINDOW pieces in answer to each SnapRequest (src/core/chunks.ts); `index` is the
 * snapshot's position (NEWLEADER's baseIndex) and `total` its length, so that a learner can tell the
 * pieces of one snapshot from another's. `offset` is a multiple of SNAPSHOT_CHUNK_CHARS and `data` that
 * many characters (fewer only in the last piece). They may arrive in any order, twice, or not at all.
 */
export interface SnapChunk {
  readonly type: 'SnapChunk';
  readonly epoch: number;
  readonly index: number;
  readonly total: number;
  readonly offset: number;
  readonly data: string;
}

/**
 * A learner's request for the next window of the chunked snapshot its NEWLEADER announced (`epoch`,
 * the snapshot at `index`): the pieces from `offset`, the first one it lacks. It asks when the NEWLEADER
 * arrives (again: a re-sent one resumes where it stands), as soon as it holds a window, and every
 * heartbeat in which no new piece came (a piece was lost). This project's addition, standing in for
 * the TCP flow control under ZooKeeper's snapshot stream: the runtime's peer links drop the oldest
 * frames of a burst beyond their queue (src/runtime/links.ts), so the leader never sends more than a
 * window unasked.
 */
export interface SnapRequest {
  readonly type: 'SnapRequest';
  readonly epoch: number;
  readonly index: number;
  readonly offset: number;
}

/**
 * A follower's acknowledgement: of NEWLEADER (its history is the leader's up to `zxid`, and its
 * currentEpoch the leader's, on disk) and, once serving, of the proposals it logged up to `zxid`.
 * Cumulative, as the network may lose or reorder what ZooKeeper's TCP would not.
 */
export interface Ack {
  readonly type: 'Ack';
  readonly epoch: number;
  readonly zxid: number;
}

/** The leader is established (a quorum acknowledged NEWLEADER): the follower may serve; committed up to `zxid`. */
export interface UpToDate {
  readonly type: 'UpToDate';
  readonly epoch: number;
  readonly zxid: number;
}

// ---- broadcast (Zab phase 3) ----------------------------------------------------------------------

/** A transaction the leader logged, to be logged by each follower after `prevZxid`. */
export interface Proposal {
  readonly type: 'Proposal';
  readonly epoch: number;
  readonly zxid: number;
  readonly prevZxid: number;
  readonly command: Command;
}

/** Every proposal up to `zxid` is committed (a quorum logged it): deliver it. Cumulative. */
export interface Commit {
  readonly type: 'Commit';
  readonly epoch: number;
  readonly zxid: number;
}

/** A committed transaction, to an observer (ZooKeeper's INFORM), to be logged after `prevZxid`. */
export interface Inform {
  readonly type: 'Inform';
  readonly epoch: number;
  readonly zxid: number;
  readonly prevZxid: number;
  readonly command: Command;
}

/**
 * The established leader's heartbeat to its learners, with its commit point (`zxid`) and the number of
 * its ping round (`round`, echoed in the reply: the barrier of linearizable reads).
 */
export interface Ping {
  readonly type: 'Ping';
  readonly epoch: number;
  readonly zxid: number;
  readonly round: number;
}

/**
 * A learner's answer to a ping (ZooKeeper answers PING with PING); it keeps the leader's quorum alive,
 * tells the leader how far the learner has logged (`zxid`) and echoes the ping's `round`.
 */
export interface PingReply {
  readonly type: 'PingReply';
  readonly epoch: number;
  readonly zxid: number;
  readonly round: number;
}

export type ZabMessage =
  | Notification
  | FollowerInfo
  | ObserverInfo
  | LeaderInfo
  | AckEpoch
  | NewLeader
  | SnapChunk
  | SnapRequest
  | Ack
  | UpToDate
  | Proposal
  | Commit
  | Inform
  | Ping
  | PingReply;

export const zabMessageTypes = [
  'Notification',
  'FollowerInfo',
  'ObserverInfo',
  'LeaderInfo',
  'AckEpoch',
  'NewLeader',
  'SnapChunk',
  'SnapRequest',
  'Ack',
  'UpToDate',
  'Proposal',
  'Commit',
  'Inform',
  'Ping',
  'PingReply',
] as const satisfies readonly ZabMessage['type'][];

/**
 * Zab's persistent state (Junqueira, Reed, Serafini 2011, "Zab: high-performance broadcast"):
 * the last epoch promised to a prospective leader, the epoch of the last NEWLEADER acknowledged, and
 * the history. Each is on disk before any message depending on it.
 *
 * The history is `snapshot` (absent: none, index 0) then `runs` of zxids (src/core/zab/log.ts), whose
 * newest entries carry `commands`. Files written before replication have none of the three: their
 * history is `lastZxid`'s counter entries of its epoch, with empty commands.
 */
export interface ZabDurable {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  /** The zxid of the history's last entry (the snapshot's when none follows it). */
  readonly lastZxid: number;
  readonly runs?: readonly ZabRun[];
  readonly commands?: readonly Command[];
  readonly snapshot?: ZabSnapshot;
}

/** The longest command ZAB carries: the one bound of all cores (src/core/limits.ts). */
export { MAX_COMMAND_LENGTH } from '../limits.js';
/**
 * The largest snapshot sent whole in NEWLEADER, in bytes once JSON-encoded (and so in UTF-16 code
 * units): one 64 KiB frame (src/runtime/frames.ts) holds it. A larger one travels in SNAPCHUNKs.
 */
export { MAX_WHOLE_SNAPSHOT_BYTES as MAX_WHOLE_SNAPSHOT_LENGTH } from '../limits.js';
/**
 * The largest snapshot kept (and sent in chunks), in UTF-16 code units. A larger state is not compacted
 * (Input 'compact' is ignored), so the history keeps its entries instead.
 */
export { MAX_CHUNKED_SNAPSHOT_CHARS as MAX_SNAPSHOT_LENGTH, SNAPSHOT_CHUNK_CHARS } from '../limits.js';
/** How many runs and commands a history, or a NEWLEADER, may hold. */
export const MAX_HISTORY_ITEMS = 1_000_000;
