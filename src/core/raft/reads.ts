/**
 * Linearizable reads by ReadIndex (thesis §6.4) at the leader: each read records the commitIndex when it
 * arrived and is answered ('read-ready') once the leader knows it still led after the read arrived — a
 * quorum acknowledged a heartbeat round sent after it — or at once while it holds its lease
 * (CheckQuorum). Either way the leader must first have committed an entry of its own term (its no-op), or
 * its commitIndex could lag behind what an earlier leader committed. The node (raft.ts) refuses reads
 * it cannot take (not the leader, or handing over) and sends the rounds; this queue keeps the waiting ones.
 */
import type { ElectionEvent, NodeId } from '../types.js';

/** A ReadIndex read waiting at the leader (thesis §6.4). */
interface PendingRead {
  readonly id: number;
  /** The commitIndex when it arrived; null until an entry of this leader's term is committed. */
  index: number | null;
  /** The heartbeat round, sent after the read arrived, that a quorum must acknowledge. */
  readonly round: number;
}

/** What the queue needs of its node. */
export interface ReadIndexHost {
  /** The commitIndex if an entry of the leader's own term is committed (thesis §6.4's precondition), else null. */
  readIndex(): number | null;
  /** Answers a read ('read-ready', 'request-refused'). */
  emit(event: ElectionEvent): void;
}

export class ReadIndexQueue {
  private readonly host: ReadIndexHost;
  /** The reads waiting for a heartbeat quorum or for this term's first commit, in arrival order. */
  private pending: PendingRead[] = [];

  constructor(host: ReadIndexHost) {
    this.host = host;
  }

  /** Whether any read is waiting. */
  get waiting(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Read `id` arrives at the leader, whose last heartbeat round is `round`: answered at once under a
   * held lease (true), else it waits for round + 1 (false: the leader sends that round now, shared by
   * every read that arrives before it leaves).
   */
  arrive(id: number, leaseHeld: boolean, round: number): boolean {
    const index = this.host.readIndex();
    if (index !== null && leaseHeld) {
      this.host.emit({ type: 'read-ready', id, index });
      return true;
    }
    this.pending.push({ id, index, round: round + 1 });
    return false;
  }

  /** Answers the waiting reads whose round is at most `quorumRound` (a quorum of voters acknowledged it), once this term has committed. */
  serve(quorumRound: number): void {
    const ownTermIndex = this.host.readIndex();
    const waiting: PendingRead[] = [];
    for (const read of this.pending) {
      if (read.index === null && ownTermIndex !== null) read.index = ownTermIndex;
      if (read.index !== null && read.round <= quorumRound) this.host.emit({ type: 'read-ready', id: read.id, index: read.index });
      else waiting.push(read);
    }
    this.pending = waiting;
  }

  /** Refuses every waiting read, pointing its client at `leader` (null: none known). */
  refuseAll(leader: NodeId | null): void {
    for (const read of this.pending) this.host.emit({ type: 'request-refused', id: read.id, leader });
    this.pending = [];
  }
}
