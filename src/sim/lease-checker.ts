/**
 * Lease safety: the intervals of virtual time during which nodes hold a leader lease never overlap
 * (DESIGN.md, "Leases"; the argument for Raft is in docs/algorithms/raft.md). A node holds a lease from
 * the status that says `lease: true` until the status that says otherwise, or until it crashes.
 * Algorithms without leases never say `lease: true`, so they hold none and cannot violate it.
 */
import type { NodeId } from '../core/types.js';
import { NO_VIOLATIONS, type Checker, type SimEvent, type SimEventType } from './events.js';

/** Who holds a lease now, from the event stream (shared by the checker and the overlap metric). */
export class LeaseHolders {
  /** The lease holders, each with the term it holds its lease in. */
  readonly holders = new Map<NodeId, number>();
  static readonly wants = ['driver', 'crash'] as const satisfies readonly SimEventType[];

  /** Applies one event; returns whether the set of holders changed. */
  update(event: SimEvent): boolean {
    if (event.type === 'crash') return this.holders.delete(event.node);
    if (event.type !== 'driver' || event.event.type !== 'status') return false;
    const { status } = event.event;
    if (status.lease === true) {
      if (this.holders.get(event.node) === status.term) return false;
      this.holders.set(event.node, status.term);
      return true;
    }
    return this.holders.delete(event.node);
  }

  get count(): number {
    return this.holders.size;
  }
}

export class LeaseSafety implements Checker {
  readonly name = 'lease-safety';
  readonly wants = LeaseHolders.wants;
  private readonly leases = new LeaseHolders();

  observe(event: SimEvent): readonly string[] {
    if (!this.leases.update(event) || this.leases.count < 2) return NO_VIOLATIONS;
    const holders = [...this.leases.holders].map(([node, term]) => `${node} (term ${term})`).join(', ');
    return [`nodes ${holders} hold leases at once`];
  }
}
