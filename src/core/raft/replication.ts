/**
 * The leader's replication to each other member (§5.3, §7): Figure 2's "volatile state on leaders"
 * (nextIndex, matchIndex, reset at each election) and the messages that carry the log — AppendEntries
 * batches, pipelined as etcd's replicate state, or the snapshot in chunks to a member whose next entry
 * was compacted away. The node (raft.ts) decides when to send and what a quorum's match commits
 * (§5.4.2); this class knows how far each member is and what it still lacks.
 */
import type { NodeId } from '../types.js';
import { MAX_APPEND_CHARS, MAX_APPEND_ENTRIES, MAX_CHUNK_CHARS, type AppendEntries, type InstallSnapshot, type LogEntry, type RaftMessage } from './messages.js';
import type { RaftLog } from './log.js';

/** The entries of a heartbeat (shared: an empty list allocates nothing per heartbeat). */
const NO_ENTRIES: readonly LogEntry[] = Object.freeze([]);

/** What replication needs of its node (the leader). */
export interface ReplicationHost {
  readonly id: NodeId;
  /** The leader's log (read only here). */
  readonly log: RaftLog;
  /** Its voters and learners: the leader replicates to every one but itself. */
  members(): readonly NodeId[];
  term(): number;
  commitIndex(): number;
  /** The current heartbeat round, carried by every message (lease.ts). */
  round(): number;
  send(to: NodeId, message: RaftMessage): void;
}

export class LeaderReplication {
  private readonly host: ReplicationHost;
  /** The next index to send each other member (optimistic: advanced as entries are sent, etcd's pipelining). */
  private readonly nextIndex = new Map<NodeId, number>();
  /** The highest index known replicated on each other member. */
  private readonly matchIndex = new Map<NodeId, number>();
  /** The snapshot chunk each member has acknowledged up to (characters), while it is sent one (§7). */
  private readonly snapshotSent = new Map<NodeId, { readonly index: number; readonly offset: number }>();

  constructor(host: ReplicationHost) {
    this.host = host;
  }

  /** The highest index known replicated on `member` (0: none). */
  matchOf(member: NodeId): number {
    return this.matchIndex.get(member) ?? 0;
  }

  /** A new leader: Figure 2, nextIndex starts just past the leader's last entry, matchIndex at 0. */
  lead(): void {
    this.nextIndex.clear();
    this.matchIndex.clear();
    this.snapshotSent.clear();
    for (const member of this.host.members()) if (member !== this.host.id) this.nextIndex.set(member, this.host.log.lastIndex() + 1);
  }

  /**
   * The configuration of the entry at `index` is in force: replicate to the members it adds from that
   * entry on (the consistency check walking back as for any follower, Figure 2), and forget those it
   * removes (one added again later may come back with an empty log). Returns the removed ones.
   */
  membersChanged(index: number): NodeId[] {
    const members = this.host.members();
    for (const member of members) if (member !== this.host.id && !this.nextIndex.has(member)) this.nextIndex.set(member, index);
    const removed: NodeId[] = [];
    for (const member of [...this.nextIndex.keys()]) {
      if (members.includes(member)) continue;
      this.nextIndex.delete(member);
      this.matchIndex.delete(member);
      this.snapshotSent.delete(member);
      removed.push(member);
    }
    return removed;
  }

  /** §5.3/§5.4.2: the highest index a quorum of `voters` holds (the leader holds its whole log). */
  quorumIndex(voters: readonly NodeId[], quorum: number): number {
    const matched = voters.map((voter) => (voter === this.host.id ? this.host.log.lastIndex() : this.matchOf(voter)));
    matched.sort((a, b) => b - a);
    return matched[quorum - 1]!;
  }

  // ---- sending ------------------------------------------------------------------------------------

  /**
   * §5.2: a heartbeat to every other member — an AppendEntries that also carries whatever entries the
   * member still lacks (§5.3: the leader "retries AppendEntries indefinitely"), or a chunk of the
   * snapshot. Members that lack nothing share one message object (the simulator's election-only hot
   * path allocates no more than before).
   */
  heartbeat(): void {
    let shared: AppendEntries | null = null;
    const next = this.host.log.lastIndex() + 1;
    for (const member of this.host.members()) {
      if (member === this.host.id) continue;
      if (this.nextIndex.get(member) !== next) {
        this.replicateTo(member);
        continue;
      }
      shared ??= this.appendEntriesFrom(next, NO_ENTRIES);
      this.host.send(member, shared);
    }
  }

  /** Sends every other member what it lacks (a new entry of the leader's). */
  replicateToAll(): void {
    for (const member of this.host.members()) if (member !== this.host.id) this.replicateTo(member);
  }

  /**
   * Sends `member` what it lacks from its nextIndex on: up to MAX_APPEND_ENTRIES entries and
   * MAX_APPEND_CHARS characters of commands (one longer entry goes alone), then advances nextIndex past
   * them at once (pipelining, as etcd's replicate state: a failed check sets it back to the hint). A
   * member whose next entry was compacted away gets the snapshot instead, one chunk at a time (§7).
   */
  replicateTo(member: NodeId): void {
    const { log } = this.host;
    const next = this.nextIndex.get(member) ?? log.lastIndex() + 1;
    if (next <= log.snapshotIndex()) {
      this.sendSnapshotChunk(member);
      return;
    }
    const last = log.lastIndex();
    let entries = NO_ENTRIES;
    if (next <= last) {
      entries = log.batchFrom(next, MAX_APPEND_ENTRIES, MAX_APPEND_CHARS);
      this.nextIndex.set(member, next + entries.length);
    }
    this.host.send(member, this.appendEntriesFrom(next, entries));
  }

  /** The AppendEntries carrying `entries` from index `next` on, in the current term and round. */
  private appendEntriesFrom(next: number, entries: readonly LogEntry[]): AppendEntries {
    return {
      type: 'AppendEntries',
      term: this.host.term(),
      prevLogIndex: next - 1,
      prevLogTerm: this.host.log.termAt(next - 1)!,
      entries,
      leaderCommit: this.host.commitIndex(),
      round: this.host.round(),
    };
  }

  /** §7: the next chunk of our snapshot to `member`, from what it acknowledged (resent at each heartbeat until it answers). */
  private sendSnapshotChunk(member: NodeId): void {
    const snapshot = this.host.log.snapshot!;
    const sent = this.snapshotSent.get(member);
    const offset = sent !== undefined && sent.index === snapshot.index ? sent.offset : 0;
    const data = snapshot.data.slice(offset, offset + MAX_CHUNK_CHARS);
    const done = offset + data.length >= snapshot.data.length;
    const chunk: InstallSnapshot = {
      type: 'InstallSnapshot',
      term: this.host.term(),
      lastIncludedIndex: snapshot.index,
      lastIncludedTerm: snapshot.term,
      offset,
      data,
      done,
      round: this.host.round(),
      // The configuration goes with the last chunk, where the follower installs (paper §7).
      ...(done && snapshot.membership !== undefined ? { membership: snapshot.membership } : {}),
    };
    this.host.send(member, chunk);
  }

  // ---- answers ------------------------------------------------------------------------------------

  /**
   * `member` holds our log up to `index` (a successful AppendEntries): true when that advances its
   * matchIndex (then its nextIndex is past it too); an answer beyond our log is ignored.
   */
  matched(member: NodeId, index: number): boolean {
    if (index <= this.matchOf(member) || index > this.host.log.lastIndex()) return false;
    this.matchIndex.set(member, index);
    if ((this.nextIndex.get(member) ?? 0) <= index) this.nextIndex.set(member, index + 1);
    return true;
  }

  /** A follower catching up gets the next batch (in steady state nextIndex is already past the end). */
  continueTo(member: NodeId): void {
    if ((this.nextIndex.get(member) ?? 0) <= this.host.log.lastIndex()) this.replicateTo(member);
  }

  /** §5.3: "decrement nextIndex and retry", to the follower's hint at once (never below what it matched). */
  rejected(member: NodeId, hint: number): void {
    const next = Math.max(hint, this.matchOf(member)) + 1;
    if (next < (this.nextIndex.get(member) ?? 0)) {
      this.nextIndex.set(member, next);
      this.replicateTo(member);
    }
  }

  /**
   * `member` installed our snapshot up to `index` (or held it already): it is sent no more chunks; true
   * when that advances its matchIndex (an answer beyond our log is ignored).
   */
  snapshotInstalled(member: NodeId, index: number): boolean {
    this.snapshotSent.delete(member);
    if (index <= this.matchOf(member) || index > this.host.log.lastIndex()) return false;
    this.matchIndex.set(member, index);
    return true;
  }

  /** After a snapshot up to `index`: `member` gets what follows it. */
  continueAfterSnapshot(member: NodeId, index: number): void {
    if ((this.nextIndex.get(member) ?? 0) <= index) this.nextIndex.set(member, index + 1);
    this.replicateTo(member);
  }

  /** `member` holds our snapshot of `index` up to `offset` characters: the next chunk follows (a stale snapshot's answer is ignored). */
  chunkAcknowledged(member: NodeId, index: number, offset: number): void {
    const { snapshot } = this.host.log;
    if (snapshot === null || index !== snapshot.index) return;
    this.snapshotSent.set(member, { index: snapshot.index, offset });
    this.replicateTo(member);
  }
}
