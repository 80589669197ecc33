/**
 * The Bully algorithm's messages (Garcia-Molina 1982; source documents 003 and 004), in the source documents' words:
 * Election (start an election), Alive (the answer to an Election), Victory (the coordinator's claim).
 * Heartbeat is the coordinator's periodic proof of life, from which followers detect its loss.
 *
 * Every message carries the sender's generation (the highest it has seen). Garcia-Molina's messages
 * carry none; ours do so that a new coordinator can pick a generation above every one in use, and so
 * that a coordinator whose generation is behind learns it must declare again (see bully.ts).
 */

/** "Are you alive? I am starting an election": sent to every higher id. */
export interface Election {
  readonly type: 'Election';
  readonly generation: number;
}

/** "I am alive and higher than you: I take over from here": the answer to an Election from a lower id. */
export interface Alive {
  readonly type: 'Alive';
  readonly generation: number;
}

/** "I am the coordinator of this generation": sent by the new coordinator to every lower id. */
export interface Victory {
  readonly type: 'Victory';
  readonly generation: number;
}

/**
 * The coordinator's heartbeat to every other member. No answer is needed: only followers detect loss.
 * It also names the coordinator's last log entry, so a backup that missed a copy, or holds another
 * coordinator's log, asks for what it lacks (SyncRequest).
 */
export interface Heartbeat {
  readonly type: 'Heartbeat';
  readonly generation: number;
  /** The coordinator's last log index (0: its log is empty). */
  readonly lastIndex: number;
  /** The generation of that entry (0 for none). */
  readonly lastTerm: number;
}

/** One entry of the primary's log: the generation of the reign that appended it, and the client's command. */
export interface BullyEntry {
  readonly term: number;
  readonly command: string;
}

/**
 * Primary–backup replication (issue 15): the coordinator's copy of the entry it has just applied and
 * acknowledged, sent once to every other member, asynchronously (no answer). A backup appends it only
 * directly after its last entry, which must be `prevTerm` at index − 1.
 */
export interface Copy {
  readonly type: 'Copy';
  readonly generation: number;
  readonly index: number;
  readonly prevTerm: number;
  readonly entry: BullyEntry;
}

/** A backup's "my log ends at (index, term): send me what follows", to the coordinator it follows. */
export interface SyncRequest {
  readonly type: 'SyncRequest';
  readonly generation: number;
  readonly index: number;
  readonly term: number;
  /**
   * While it assembles a snapshot from SnapshotChunks: the first offset it lacks, where the next
   * pieces start. Absent otherwise (and from nodes that predate chunked snapshots).
   */
  readonly snapshotOffset?: number;
}

/**
 * The coordinator's answer to a SyncRequest: `entries` follow its entry (index, term). Without a
 * snapshot (`snapshot` is []) the backup's log ends there too, and it appends them. With one
 * (`[data]`), the backup's log is not a prefix of the coordinator's: the coordinator's log wins, and
 * the backup replaces its state with `data` (everything up to `index`; '' at index 0: the empty
 * state) and then the entries.
 */
export interface Sync {
  readonly type: 'Sync';
  readonly generation: number;
  readonly index: number;
  readonly term: number;
  readonly snapshot: readonly [] | readonly [string];
  readonly entries: readonly BullyEntry[];
}

/**
 * One piece of the coordinator's snapshot, for a snapshot too large for one Sync (more than
 * MAX_BULLY_SNAPSHOT_LENGTH bytes encoded). The answer to a SyncRequest is then every piece of the
 * snapshot (`index`, `term`) of `length` characters: `data` is its characters from `offset`, a multiple
 * of MAX_BULLY_CHUNK_CHARS, and each piece but the last is MAX_BULLY_CHUNK_CHARS long. One SyncRequest
 * is answered with at most SNAPSHOT_CHUNK_WINDOW pieces from its `snapshotOffset` (so a burst never
 * overflows a peer link's queue); the backup asks for the next ones as soon as it holds the window. It
 * assembles pieces in any order, installs the snapshot once it holds all of them, and asks for the
 * entries after it at the next heartbeat (SyncRequest, as after a Sync); a lost piece makes it ask again.
 */
export interface SnapshotChunk {
  readonly type: 'SnapshotChunk';
  readonly generation: number;
  readonly index: number;
  readonly term: number;
  /** The whole snapshot's length, in characters (UTF-16 code units). */
  readonly length: number;
  readonly offset: number;
  readonly data: string;
}

export type BullyMessage = Election | Alive | Victory | Heartbeat | Copy | SyncRequest | Sync | SnapshotChunk;

export const bullyMessageTypes = ['Election', 'Alive', 'Victory', 'Heartbeat', 'Copy', 'SyncRequest', 'Sync', 'SnapshotChunk'] as const satisfies readonly BullyMessage['type'][];

/** Longest command a Bully log entry carries: the one bound of all cores (src/core/limits.ts). */
export { MAX_COMMAND_LENGTH as MAX_BULLY_COMMAND_LENGTH } from '../limits.js';
/**
 * Longest snapshot a Sync carries whole, in bytes once JSON-encoded (so also in UTF-16 code units),
 * within one frame; a larger one travels in SnapshotChunks.
 */
export { MAX_WHOLE_SNAPSHOT_BYTES as MAX_BULLY_SNAPSHOT_LENGTH } from '../limits.js';
/**
 * Most characters of snapshot one SnapshotChunk carries: JSON spends at most 6 bytes on one, so a piece
 * takes at most 48 KiB of a 64 KiB frame (the same bound as Raft's InstallSnapshot chunks).
 */
export { SNAPSHOT_CHUNK_CHARS as MAX_BULLY_CHUNK_CHARS } from '../limits.js';
/** Most SnapshotChunks one SyncRequest is answered with: well within a peer link's queue of 64 messages. */
export { SNAPSHOT_CHUNK_WINDOW } from '../limits.js';
/**
 * Longest snapshot the durable state holds and SnapshotChunks carry, in characters (Raft's bound too):
 * `compact` with a longer one is ignored (the log keeps its entries).
 */
export { MAX_CHUNKED_SNAPSHOT_CHARS as MAX_BULLY_SNAPSHOT_CHARS } from '../limits.js';
/** Most entries one Sync carries: a backup further behind asks again at the next heartbeat. */
export const MAX_SYNC_ENTRIES = 64;
/** Most entries the durable log holds between two compactions (the host compacts long before). */
export const MAX_BULLY_LOG_ENTRIES = 1_000_000;

/**
 * What Bully keeps on stable storage: the highest generation it has seen (or led), and with
 * replication its log: the last snapshot the host handed it (`compact`) and the entries after it.
 * Both are absent in a node that never replicated (files written before issue 15 read back as such).
 */
export interface BullyDurable {
  readonly generation: number;
  /** The state up to `index` (entry `term`), as the host's state machine wrote it. */
  readonly snapshot?: { readonly index: number; readonly term: number; readonly data: string };
  /** The entries after the snapshot (from index 1 without one), each applied when appended. */
  readonly log?: readonly BullyEntry[];
}
