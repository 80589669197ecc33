/**
 * ZAB's messages and durable state: FastLeaderElection's notifications, then the Zab phases after the
 * election (discovery: FOLLOWERINFO / LEADERINFO / ACKEPOCH; synchronization: NEWLEADER / ACK /
 * UPTODATE; broadcast: PING). ZooKeeper's packet names, in this project's PascalCase.
 *
 * Transactions (PROPOSAL / COMMIT) are not modelled: ballot elects leaders, it does not replicate a log.
 * A node's history is summarised by its last zxid, which is all the election compares.
 */
import { ZXID_COUNTER_SPAN } from '../bounds.js';
import type { NodeId } from '../types.js';

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

/** An observer's first word to the leader: it asks to be synchronized, and promises nothing. */
export interface ObserverInfo {
  readonly type: 'ObserverInfo';
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
 * The leader's history (summarised by its last zxid; a learner adopts it, as after ZooKeeper's
 * DIFF/TRUNC/SNAP) and the epoch the learner must make current before acknowledging.
 */
export interface NewLeader {
  readonly type: 'NewLeader';
  readonly epoch: number;
  readonly zxid: number;
}

/** A follower acknowledges NEWLEADER: its history and currentEpoch are the leader's and on disk. */
export interface Ack {
  readonly type: 'Ack';
  readonly epoch: number;
}

/** The leader is established (a quorum acknowledged NEWLEADER): the follower may serve. */
export interface UpToDate {
  readonly type: 'UpToDate';
  readonly epoch: number;
}

// ---- broadcast (Zab phase 3) ----------------------------------------------------------------------

/** The established leader's heartbeat to its learners. */
export interface Ping {
  readonly type: 'Ping';
  readonly epoch: number;
}

/** A learner's answer to a ping (ZooKeeper answers PING with PING); it keeps the leader's quorum alive. */
export interface PingReply {
  readonly type: 'PingReply';
  readonly epoch: number;
}

export type ZabMessage =
  | Notification
  | FollowerInfo
  | ObserverInfo
  | LeaderInfo
  | AckEpoch
  | NewLeader
  | Ack
  | UpToDate
  | Ping
  | PingReply;

export const zabMessageTypes = [
  'Notification',
  'FollowerInfo',
  'ObserverInfo',
  'LeaderInfo',
  'AckEpoch',
  'NewLeader',
  'Ack',
  'UpToDate',
  'Ping',
  'PingReply',
] as const satisfies readonly ZabMessage['type'][];

/**
 * Zab's persistent state (Junqueira, Reed, Serafini 2011, "Zab: high-performance broadcast"):
 * the last epoch promised to a prospective leader, the epoch of the last NEWLEADER acknowledged, and
 * the history, summarised here by its last zxid. Each is on disk before any message depending on it.
 */
export interface ZabDurable {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly lastZxid: number;
}
