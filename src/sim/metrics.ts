/**
 * Election metrics, as CONTRACT.md defines them, from the event stream: who became leader when, the
 * election periods (from the loss of the agreed leader until every live node of the largest group
 * agrees again) with their messages, candidacies and terms, and the time two nodes both believed they led.
 * Message counts are the engine's counters (a counter rather than an event per message).
 */
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { roundMs, type Agreement, type Engine } from './engine.js';
import { startsReign, type SimEvent, type Subscriber } from './events.js';
import { LeaseHolders } from './checkers/lease-safety.js';
import type { ElectionRecord, LeaderRecord } from './types.js';

interface ElectionStart {
  readonly startMs: number;
  /** Messages sent and elections started at that moment. */
  readonly messages: number;
  readonly rounds: number;
  /** How many elections had been started (the length of `startedTerms`) at that moment. */
  readonly starts: number;
  /** Messages by type and elections started by node at that moment. */
  readonly byType: ReadonlyMap<string, number>;
  readonly startsByNode: ReadonlyMap<NodeId, number>;
}

const coldStart = (): ElectionStart => ({ startMs: 0, messages: 0, rounds: 0, starts: 0, byType: new Map(), startsByNode: new Map() });

export class ElectionMetrics implements Subscriber {
  readonly wants = ['driver', 'status', 'crash', 'network', 'drift'] as const;
  readonly leaders: LeaderRecord[] = [];
  readonly elections: ElectionRecord[] = [];
  private electionsStarted = 0;
  /** The term (epoch, generation) of every election started, in order (for `terms`). */
  private readonly startedTerms: number[] = [];
  /** Elections started, per node, since the beginning (for `candidates`). */
  private readonly startsByNode = new Map<NodeId, number>();
  private believers = 0;
  private dualSince = -1;
  private dualLeaderTotalMs = 0;
  /** Lease overlap (checkers/lease-safety.ts): who holds a lease until when, and the overlap so far. */
  private readonly leases: LeaseHolders;
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
  ) {
    this.leases = new LeaseHolders(engine);
  }

  /** The leader the cluster agreed on as of the last `settle`. */
  get agreement(): Agreement | null {
    return this.agreed;
  }

  get dualLeaderMs(): number {
    return this.dualLeaderTotalMs;
  }

  get leaseOverlapMs(): number {
    return this.leases.overlapMs;
  }

  observe(event: SimEvent): void {
    this.leases.update(event);
    switch (event.type) {
      case 'driver':
        if (event.event.type === 'core' && event.event.event.type === 'election-started') {
          this.electionsStarted++;
          this.startedTerms.push(event.event.event.term);
          this.startsByNode.set(event.node, (this.startsByNode.get(event.node) ?? 0) + 1);
        }
        return;
      case 'status': {
        this.dirty = true;
        const believes = event.status.leader === event.node;
        // Every reign, including a re-declaration under a new term (Bully's new generation).
        if (startsReign(event)) this.leaders.push({ atMs: roundMs(this.engine.now), node: event.node, term: event.status.term });
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
      starts: this.startedTerms.length,
      byType: new Map(engine.sentByType),
      startsByNode: new Map(this.startsByNode),
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
        candidates: this.startersSince(open.startsByNode),
        candidacies: this.electionsStarted - open.rounds,
        terms: new Set(this.startedTerms.slice(open.starts)).size,
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
    this.leases.finish();
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
