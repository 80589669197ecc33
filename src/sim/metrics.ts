/**
 * Election metrics, as CONTRACT.md defines them, from the event stream: who became leader when, the
 * election periods (from the loss of the agreed leader until every live node of the largest group
 * agrees again) with their messages and rounds, and the time two nodes both believed they led.
 * Message counts are the engine's counters (a counter rather than an event per message).
 */
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { roundMs, type Agreement, type Engine } from './engine.js';
import type { SimEvent, Subscriber } from './events.js';
import { LeaseHolders } from './lease-checker.js';
import type { ElectionRecord, LeaderRecord } from './types.js';

interface ElectionStart {
  readonly startMs: number;
  /** Messages sent and elections started at that moment. */
  readonly messages: number;
  readonly rounds: number;
  /** Messages by type and elections started by node at that moment. */
  readonly byType: ReadonlyMap<string, number>;
  readonly starts: ReadonlyMap<NodeId, number>;
}

const coldStart = (): ElectionStart => ({ startMs: 0, messages: 0, rounds: 0, byType: new Map(), starts: new Map() });

export class ElectionMetrics implements Subscriber {
  readonly wants = ['driver', 'status', 'crash', 'network'] as const;
  readonly leaders: LeaderRecord[] = [];
  readonly elections: ElectionRecord[] = [];
  private electionsStarted = 0;
  /** Elections started, per node, since the beginning (for `candidates`). */
  private readonly startsByNode = new Map<NodeId, number>();
  private believers = 0;
  private dualSince = -1;
  private dualLeaderTotalMs = 0;
  /** Lease overlap (lease-checker.ts): when two or more nodes began to hold leases at once, and the total. */
  private readonly leases = new LeaseHolders();
  private leaseOverlapSince = -1;
  private leaseOverlapTotalMs = 0;
  private agreed: Agreement | null = null;
  private lastAgreedLeader: NodeId | null = null;
  /** When agreement was last lost, with the counters at that moment. */
  private agreementLost: ElectionStart = coldStart();
  /** The election period in progress, if a leader was lost (or the run just started). */
  private open: ElectionStart | null = coldStart();
  /** Whether something that may change the agreement happened since the last `settle`. */
  private dirty = true;

  constructor(
    private readonly engine: Engine,
    private readonly publish: (event: SimEvent) => void,
  ) {}

  /** The leader the cluster agreed on as of the last `settle`. */
  get agreement(): Agreement | null {
    return this.agreed;
  }

  get dualLeaderMs(): number {
    return this.dualLeaderTotalMs;
  }

  get leaseOverlapMs(): number {
    return this.leaseOverlapTotalMs;
  }

  observe(event: SimEvent): void {
    if (this.leases.update(event)) this.countLeaseHolders();
    switch (event.type) {
      case 'driver':
        if (event.event.type === 'core' && event.event.event.type === 'election-started') {
          this.electionsStarted++;
          this.startsByNode.set(event.node, (this.startsByNode.get(event.node) ?? 0) + 1);
        }
        return;
      case 'status': {
        this.dirty = true;
        const believes = event.status.leader === event.node;
        if (believes && !event.wasLeader) this.leaders.push({ atMs: roundMs(this.engine.now), node: event.node, term: event.status.term });
        if (believes !== event.wasLeader) this.countBeliever(believes);
        return;
      }
      case 'crash':
        this.dirty = true;
        if (event.wasLeader) this.countBeliever(false);
        return;
      case 'network':
        // Who is on the leader's side may have changed (loss, duplication and latency change nothing).
        if (event.change.kind === 'partition' || event.change.kind === 'isolate' || event.change.kind === 'cut' || event.change.kind === 'heal') this.dirty = true;
        return;
      default:
        return;
    }
  }

  /**
   * Two self-believed leaders at once is measured (dualLeaderMs), not a violation: Raft's deposed
   * leader may not know it yet, and Bully promises nothing under a partition (split brain). The
   * stream says when it starts and ends, so it is seen, not hidden.
   */
  private countBeliever(believes: boolean): void {
    const before = this.believers;
    this.believers += believes ? 1 : -1;
    const now = this.engine.now;
    if (before < 2 && this.believers >= 2) {
      this.dualSince = now;
      const leaders = this.engine.nodes.filter((n) => n.believesLeader).map((n) => ({ node: n.id, term: n.status.term }));
      this.publish({ type: 'dual-leaders', leaders });
    }
    if (before >= 2 && this.believers < 2) {
      this.dualLeaderTotalMs += now - this.dualSince;
      this.publish({ type: 'one-leader', afterMs: roundMs(now - this.dualSince) });
      this.dualSince = -1;
    }
  }

  /** Virtual time with two or more lease holders (0 where the lease-safety invariant holds). */
  private countLeaseHolders(): void {
    const overlapping = this.leases.count >= 2;
    if (overlapping && this.leaseOverlapSince < 0) this.leaseOverlapSince = this.engine.now;
    if (!overlapping && this.leaseOverlapSince >= 0) {
      this.leaseOverlapTotalMs += this.engine.now - this.leaseOverlapSince;
      this.leaseOverlapSince = -1;
    }
  }

  /**
   * After each instant: recomputes whether the cluster agrees on a leader and opens or closes election
   * periods. An election runs from the loss of the agreed leader (it crashed, stepped down, or was cut
   * off from the largest group of live nodes), or from the start, until every live node of the largest
   * group names the same live leader that believes it leads. A leader change with no such loss (Bully's
   * takeover by a recovered higher id) is an election from the moment agreement was lost.
   */
  settle(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const { engine } = this;
    const previous = this.agreed;
    const next = engine.agreement();
    if (previous?.leader === next?.leader && previous?.term === next?.term) return;
    this.agreed = next;
    const here: ElectionStart = {
      startMs: engine.now,
      messages: engine.messagesSent,
      rounds: this.electionsStarted,
      byType: new Map(engine.sentByType),
      starts: new Map(this.startsByNode),
    };
    if (previous && !next) {
      this.agreementLost = here;
      const leader = engine.node(previous.leader)!;
      const lost = !leader.up || !leader.believesLeader || !engine.largestGroup().includes(leader);
      if (lost && !this.open) {
        this.open = here;
        this.publish({ type: 'leader-lost', leader: previous.leader });
      }
      return;
    }
    if (!next) return;
    let open = this.open;
    if (!open && next.leader !== this.lastAgreedLeader) {
      // Agreement moved to another leader without the old one being lost first (a rejoining node
      // deposed it, or Bully's recovered higher id took over): the election ran from the moment
      // agreement was lost (or from now, if agreement never broke).
      open = previous ? here : this.agreementLost;
    }
    if (open) {
      this.elections.push({
        startMs: roundMs(open.startMs),
        endMs: roundMs(engine.now),
        leader: next.leader,
        term: next.term,
        messages: engine.messagesSent - open.messages,
        rounds: this.electionsStarted - open.rounds,
        messagesByType: countsSince(engine.algorithm, engine.sentByType, open.byType),
        candidates: this.startersSince(open.starts),
      });
      this.publish({ type: 'agreed', leader: next.leader, term: next.term, afterMs: roundMs(engine.now - open.startMs) });
      this.open = null;
    }
    this.lastAgreedLeader = next.leader;
  }

  /** Closes a dual-leader period still open when the run ends. */
  finish(): void {
    if (this.dualSince >= 0) this.dualLeaderTotalMs += this.engine.now - this.dualSince;
    this.dualSince = -1;
    if (this.leaseOverlapSince >= 0) this.leaseOverlapTotalMs += this.engine.now - this.leaseOverlapSince;
    this.leaseOverlapSince = -1;
  }

  /** How many nodes have started an election since `before` (a snapshot of `startsByNode`). */
  private startersSince(before: ReadonlyMap<NodeId, number>): number {
    let starters = 0;
    for (const [id, count] of this.startsByNode) if (count > (before.get(id) ?? 0)) starters++;
    return starters;
  }
}

/** Messages by type since `before` (an earlier copy of `now`), in the algorithm's type order; zeros left out. */
export function countsSince(algorithm: AnyAlgorithm, now: ReadonlyMap<string, number>, before: ReadonlyMap<string, number> = new Map()): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (type: string) => {
    const count = (now.get(type) ?? 0) - (before.get(type) ?? 0);
    if (count > 0) counts[type] = count;
  };
  for (const type of algorithm.messageTypes) add(type);
  for (const type of now.keys()) if (!(type in counts)) add(type);
  return counts;
}
