/**
 * The simulated network: latency drawn per message, loss, duplication, partitions (groups), one-way
 * cuts. Reordering follows from the latency spread: two messages on one link may overtake each other,
 * as UDP would allow (TCP would not; the runtime's transport preserves order per link).
 */
import type { NodeId } from '../core/types.js';
import type { Prng } from './prng.js';

export interface LatencyRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export class Network {
  /** Partition group of each node; nodes in different groups cannot talk. No partition: all 0. */
  private group = new Map<NodeId, number>();
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
    return this.group.get(from) === this.group.get(to) && (this.cuts.size === 0 || !this.cuts.has(`${from}>${to}`));
  }

  /**
   * The delays of the copies of one message: [] when it is lost, two entries when it is duplicated.
   * Connectivity is checked again at delivery, so a partition also drops messages in flight.
   */
  transmit(from: NodeId, to: NodeId): number[] {
    if (!this.connected(from, to)) return [];
    if (this.random.chance(this.loss)) return [];
    const first = this.delay();
    return this.random.chance(this.duplicate) ? [first, this.delay()] : [first];
  }

  private delay(): number {
    const { minMs, maxMs } = this.latency;
    return minMs + (maxMs - minMs) * this.random.next();
  }

  /** Nodes in `groups` are split accordingly; every node not listed joins one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const next = new Map<NodeId, number>();
    for (const id of this.members) next.set(id, groups.length);
    groups.forEach((g, index) => g.forEach((id) => next.set(id, index)));
    this.group = next;
    this.version++;
  }

  isolate(node: NodeId): void {
    const next = new Map(this.group);
    next.set(node, -1 - node); // a group of its own
    this.group = next;
    this.version++;
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
    this.version++;
  }

  heal(): void {
    this.group = new Map(this.members.map((id) => [id, 0]));
    this.cuts.clear();
    this.version++;
  }

  /** Whether any partition or cut is in force. */
  get faulty(): boolean {
    if (this.cuts.size > 0) return true;
    for (const g of this.group.values()) if (g !== 0) return true;
    return false;
  }

  /** The partition groups (ignoring one-way cuts), each sorted, in order of their smallest id. */
  components(): NodeId[][] {
    const byGroup = new Map<number, NodeId[]>();
    for (const id of this.members) {
      const g = this.group.get(id)!;
      const list = byGroup.get(g);
      if (list) list.push(id);
      else byGroup.set(g, [id]);
    }
    return [...byGroup.values()].sort((a, b) => a[0]! - b[0]!);
  }
}
