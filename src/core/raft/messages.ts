/**
 * Raft's election messages (Ongaro & Ousterhout 2014, Figure 2). Log replication is not part of
 * election, so AppendEntries travels here as the leader's heartbeat and carries no entries yet.
 */
import type { NodeId } from '../types.js';

/** §5.2: a candidate asks for a vote; §5.4.1: it says how up to date its log is. */
export interface RequestVote {
  readonly type: 'RequestVote';
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse';
  readonly term: number;
  readonly voteGranted: boolean;
}

/** §5.2: the leader's heartbeat; it asserts leadership for `term` and resets followers' timers. */
export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly term: number;
  readonly leaderCommit: number;
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse';
  readonly term: number;
  readonly success: boolean;
}

export type RaftMessage = RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse;

export const raftMessageTypes = [
  'RequestVote',
  'RequestVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
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
