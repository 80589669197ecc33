/**
 * The simulated network: latency drawn per message, loss, duplication, partitions (groups), one-way
 * cuts. Reordering follows from the latency spread: two messages on one link may overtake each other,
 * as UDP would allow (TCP would not; the runtime's transport preserves order per link).
 */
import type { NodeId } from '../core/types.js';
import type { Prng } from '../core/prng.js';

export interface LatencyRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export class Network {
  /**
   * Partition group of each node, indexed by node id (ids are small positive integers; an array
   * because this is read twice per message); nodes in different groups cannot talk. No partition: all 0.
   */
  private group: number[] = [];
  private readonly cuts = new Set<string>();
  loss = 0;
  duplicate = 0;
  latency: LatencyRange;
  /** Bumped on every topology change, so observers can cache what they derive from it. */
  version = 0;

  constructor(private readonly members: readonly NodeId[], latency: LatencyRange, private readonly random: Prng) {
    this.latency = latency;
    this.heal();
  }

  connected(from: NodeId, to: NodeId): boolean {
    return this.group[from] === this.group[to] && (this.cuts.size === 0 || !this.cuts.has(`${from}>${to}`));
  }

  /**
   * The delay of one message, or -1 when it is lost; then call `duplicateDelay()` for its second copy.
   * Two calls rather than an array of delays: this runs once per message sent, and the random draws
   * keep their order (loss, delay, duplication, second delay). Connectivity is checked again at
   * delivery, so a partition also drops messages in flight.
   */
  transmit(from: NodeId, to: NodeId): number {
    if (!this.connected(from, to)) return -1;
    if (this.random.chance(this.loss)) return -1;
    return this.delay();
  }

  /** After a `transmit` that was not lost: the delay of a duplicate copy, or -1 for none. */
  duplicateDelay(): number {
    return this.random.chance(this.duplicate) ? this.delay() : -1;
  }

  private delay(): number {
    const { minMs, maxMs } = this.latency;
    return minMs + (maxMs - minMs) * this.random.next();
  }

  /** Nodes in `groups` are split accordingly; every node not listed joins one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const next = this.filled(groups.length);
    groups.forEach((g, index) => g.forEach((id) => (next[id] = index)));
    this.group = next;
    this.version++;
  }

  isolate(node: NodeId): void {
    const next = [...this.group];
    next[node] = -1 - node; // a group of its own
    this.group = next;
    this.version++;
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
    this.version++;
  }

  heal(): void {
    this.group = this.filled(0);
    this.cuts.clear();
    this.version++;
  }

  /** A group of every id up to the highest member's (a packed array: no holes). */
  private filled(group: number): number[] {
    return new Array<number>(Math.max(0, ...this.members) + 1).fill(group);
  }

  /** Whether any partition or cut is in force. */
  get faulty(): boolean {
    if (this.cuts.size > 0) return true;
    for (const id of this.members) if (this.group[id] !== 0) return true;
    return false;
  }

  /** The partition groups (ignoring one-way cuts), each sorted, in order of their smallest id. */
  components(): NodeId[][] {
    const byGroup = new Map<number, NodeId[]>();
    for (const id of this.members) {
      const g = this.group[id]!;
      const list = byGroup.get(g);
      if (list) list.push(id);
      else byGroup.set(g, [id]);
    }
    return [...byGroup.values()].sort((a, b) => a[0]! - b[0]!);
  }
}
