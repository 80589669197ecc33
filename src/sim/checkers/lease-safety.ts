/**
 * Lease safety: the intervals of virtual time during which nodes hold a leader lease never overlap
 * (DESIGN.md, "Leases"; the argument for Raft is in docs/algorithms/raft.md). A node holds a lease from
 * the status that says `lease: true` until the first of: the status that says otherwise, its crash, or
 * the lease's expiry by its OWN clock (the core's `lease-renewed` event, converted to virtual time at
 * the node's clock rate). The last matters for a paused node: it still says `lease: true` while frozen,
 * but a correct core acts on the lease only before the expiry by its clock, which runs on in a pause.
 * Algorithms without leases never say `lease: true`, so they hold none and cannot violate it.
 */
import type { NodeId } from '../../core/types.js';
import { roundMs, type Engine } from '../engine.js';
import { NO_VIOLATIONS, type Checker, type SimEvent, type SimEventType } from '../events.js';

interface Lease {
  readonly term: number;
  /** The virtual time it expires (Infinity: a lease claimed without an expiry lasts until the status says otherwise). */
  endsAt: number;
}

/**
 * Who holds a lease, and until when, from the event stream; and the virtual time during which two or
 * more held one (shared by the checker and the `leaseOverlapMs` metric).
 */
export class LeaseHolders {
  static readonly wants = ['driver', 'crash', 'drift'] as const satisfies readonly SimEventType[];
  /** The holders now (a lease whose expiry has passed is dropped at the next event). */
  readonly holders = new Map<NodeId, Lease>();
  /** Each node's latest announced expiry, by its own clock, with the term it was announced in. */
  private readonly expiry = new Map<NodeId, { readonly term: number; readonly until: number }>();
  /** Up to when the overlap has been counted. */
  private countedTo = 0;
  private overlapTotalMs = 0;

  constructor(private readonly engine: Engine) {}

  /** Virtual time during which two or more nodes held a lease, up to the last event seen (or `now` after `finish`). */
  get overlapMs(): number {
    return this.overlapTotalMs;
  }

  /**
   * Applies one event at the engine's current time. Returns the node whose lease began at this event
   * (it held none a moment before), or null.
   */
  update(event: SimEvent): NodeId | null {
    this.advance(this.engine.now);
    switch (event.type) {
      case 'crash':
        this.holders.delete(event.node);
        this.expiry.delete(event.node);
        return null;
      case 'drift': {
        // The node's clock runs at a new rate from now: its expiry, still ahead, falls at another virtual time.
        const lease = this.holders.get(event.node);
        const expiry = this.expiry.get(event.node);
        if (lease !== undefined && expiry !== undefined && expiry.term === lease.term) lease.endsAt = this.endOf(event.node, expiry.until);
        return null;
      }
      case 'driver':
        break;
      default:
        return null;
    }
    const driverEvent = event.event;
    if (driverEvent.type === 'core' && driverEvent.event.type === 'lease-renewed') {
      const { term, until } = driverEvent.event;
      this.expiry.set(event.node, { term, until });
      const lease = this.holders.get(event.node);
      if (lease === undefined || lease.term !== term) return null; // the status that follows starts it
      lease.endsAt = this.endOf(event.node, until);
      return null;
    }
    if (driverEvent.type !== 'status') return null;
    const { status } = driverEvent;
    if (status.lease !== true) {
      this.holders.delete(event.node);
      return null;
    }
    if (this.holders.get(event.node)?.term === status.term) return null;
    const expiry = this.expiry.get(event.node);
    const endsAt = expiry !== undefined && expiry.term === status.term ? this.endOf(event.node, expiry.until) : Infinity;
    if (endsAt <= this.engine.now) return null;
    this.holders.set(event.node, { term: status.term, endsAt });
    return event.node;
  }

  /** Counts the overlap up to the end of the run. */
  finish(): void {
    this.advance(this.engine.now);
  }

  /**
   * Counts the overlap in [countedTo, now): between events every lease runs to its expiry, so two or
   * more overlap until the second-latest expiry. Then drops the leases that have expired.
   */
  private advance(now: number): void {
    if (now <= this.countedTo) return;
    if (this.holders.size >= 2) {
      let latest = -Infinity;
      let second = -Infinity;
      for (const lease of this.holders.values()) {
        const end = Math.min(lease.endsAt, now);
        if (end > latest) [latest, second] = [end, latest];
        else if (end > second) second = end;
      }
      if (second > this.countedTo) this.overlapTotalMs += second - this.countedTo;
    }
    for (const [node, lease] of this.holders) if (lease.endsAt <= now) this.holders.delete(node);
    this.countedTo = now;
  }

  /** The virtual time at which `node`'s clock reads `until`, at its current rate. */
  private endOf(node: NodeId, until: number): number {
    return this.engine.virtualAt(this.engine.node(node)!, until);
  }
}

export class LeaseSafety implements Checker {
  readonly name = 'lease-safety';
  readonly wants = LeaseHolders.wants;
  private readonly leases: LeaseHolders;

  constructor(engine: Engine) {
    this.leases = new LeaseHolders(engine);
  }

  /** Checked when a lease begins: every overlap begins with one. */
  observe(event: SimEvent): readonly string[] {
    const started = this.leases.update(event);
    if (started === null || this.leases.holders.size < 2) return NO_VIOLATIONS;
    const holders = [...this.leases.holders]
      .map(([node, lease]) => `${node} (term ${lease.term}, until ${lease.endsAt === Infinity ? 'its status changes' : `${roundMs(lease.endsAt)} ms`})`)
      .join(', ');
    return [`nodes ${holders} hold leases at once`];
  }
}
