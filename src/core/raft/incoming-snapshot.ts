/**
 * A follower receiving the leader's snapshot in chunks (§7, Figure 13): chunks are taken in order, each
 * continuing the last; an out-of-order one is answered with what is held, and the leader resends from
 * there. Bounded by MAX_SNAPSHOT_CHARS: a larger snapshot is refused (the leader never makes one).
 */
import { MAX_SNAPSHOT_CHARS, type InstallSnapshot } from './messages.js';

/** What a chunk made of the snapshot: held up to `offset` characters (the answer), or whole (`data`). */
export type SnapshotProgress = { readonly done: false; readonly offset: number } | { readonly done: true; readonly data: string };

export class IncomingSnapshot {
  /** The snapshot being received, or null. */
  private current: { readonly index: number; readonly term: number; readonly chunks: string[]; length: number } | null = null;

  /** Takes a chunk of the leader's snapshot (one not already covered by what is committed here). */
  receive(request: InstallSnapshot): SnapshotProgress {
    const { lastIncludedIndex: index, lastIncludedTerm: term } = request;
    const incoming = this.current;
    if (request.offset === 0) {
      this.current = { index, term, chunks: [request.data], length: request.data.length };
    } else if (incoming !== null && incoming.index === index && incoming.term === term && incoming.length === request.offset) {
      incoming.chunks.push(request.data);
      incoming.length += request.data.length;
    } else {
      return { done: false, offset: incoming !== null && incoming.index === index && incoming.term === term ? incoming.length : 0 };
    }
    const received = this.current!;
    if (received.length > MAX_SNAPSHOT_CHARS) {
      this.current = null; // bounded: a snapshot this large is refused (the leader never makes one)
      return { done: false, offset: 0 };
    }
    if (!request.done) return { done: false, offset: received.length };
    this.current = null;
    return { done: true, data: received.chunks.join('') };
  }
}
