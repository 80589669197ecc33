/**
 * A tiny in-memory network for transcript tests of ZAB (etcd-io/raft's interaction tests in spirit):
 * fixed latency, links that can be cut, crash and restart, and a log of every message sent. Time moves
 * only when the test says so; nothing here is random.
 */
import type { ElectionEvent, NodeConfig, NodeId, Timing } from '../../core/types.js';
import { checkZabSend, zab } from '../../core/zab/index.js';
import type { ZabDurable, ZabMessage } from '../../core/zab/messages.js';
import { ZabNode, defaultZabOptions, type ZabOptions } from '../../core/zab/zab.js';

export interface Sent {
  readonly at: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: ZabMessage;
}

interface InFlight extends Sent {
  readonly deliverAt: number;
  readonly seq: number;
}

export interface ClusterOptions {
  readonly voters: number;
  readonly observers?: number;
  /** Node id -> counter of its last zxid in epoch 1 (`--history`). */
  readonly history?: Readonly<Record<number, number>>;
  readonly timing?: Partial<Timing>;
  readonly options?: Partial<ZabOptions>;
  /** One-way latency of every message, ms (default 1). */
  readonly latencyMs?: number;
}

const noRandom = { next: () => 0.5 };

export class Cluster {
  readonly voters: NodeId[];
  readonly observers: NodeId[];
  readonly nodes = new Map<NodeId, ZabNode>();
  readonly durable = new Map<NodeId, ZabDurable>();
  readonly sent: Sent[] = [];
  readonly events: { at: number; node: NodeId; event: ElectionEvent }[] = [];
  /** Problems found by checkZabSend on any message sent. */
  readonly sendViolations: string[] = [];
  now = 0;
  private readonly timing: Timing;
  private readonly zabOptions: ZabOptions;
  private readonly latencyMs: number;
  private inFlight: InFlight[] = [];
  private seq = 0;
  private readonly cut = new Set<string>();

  constructor(options: ClusterOptions) {
    this.voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    this.observers = Array.from({ length: options.observers ?? 0 }, (_, i) => options.voters + i + 1);
    this.timing = { ...zab.defaultTiming, ...options.timing };
    this.zabOptions = { ...defaultZabOptions, ...options.options };
    this.latencyMs = options.latencyMs ?? 1;
    for (const id of [...this.voters, ...this.observers]) {
      this.durable.set(id, zab.initialDurable(options.history?.[id] ?? 0));
    }
    for (const id of [...this.voters, ...this.observers]) this.start(id);
  }

  node(id: NodeId): ZabNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`node ${id} is down`);
    return node;
  }

  start(id: NodeId): void {
    const config: NodeConfig = { id, voters: this.voters, observers: this.observers, timing: this.timing };
    const node = new ZabNode(config, this.durable.get(id)!, noRandom, this.now, this.zabOptions);
    this.nodes.set(id, node);
    this.drain(node);
  }

  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.inFlight = this.inFlight.filter((m) => m.to !== id);
  }

  /** Cuts both directions between `a` and each of `others`. */
  isolate(a: NodeId, others: readonly NodeId[] = [...this.voters, ...this.observers]): void {
    for (const b of others) {
      if (b === a) continue;
      this.cut.add(`${a}>${b}`);
      this.cut.add(`${b}>${a}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Drops the messages in flight that match. */
  drop(match: (m: Sent) => boolean): void {
    this.inFlight = this.inFlight.filter((m) => !match(m));
  }

  pending(match: (m: Sent) => boolean = () => true): Sent[] {
    return this.inFlight.filter(match);
  }

  /** Runs the cluster until `until` (absolute ms): deliveries and deadlines in time order. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.nextEvent();
      if (!next || next.at > until) break;
      this.now = next.at;
      next.run();
    }
    this.now = Math.max(this.now, until);
  }

  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Runs until `predicate` holds (checked after each event), or fails after `limitMs`. */
  runUntilTrue(predicate: () => boolean, limitMs = 10_000): void {
    const limit = this.now + limitMs;
    while (!predicate()) {
      const next = this.nextEvent();
      if (!next || next.at > limit) throw new Error(`condition not reached within ${limitMs} ms (now ${this.now})`);
      this.now = next.at;
      next.run();
    }
  }

  /** The established leader, if exactly one live node believes it leads. */
  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.status().leader === n.id).map((n) => n.id);
  }

  sentOfType<T extends ZabMessage['type']>(type: T, since = 0): (Sent & { message: Extract<ZabMessage, { type: T }> })[] {
    return this.sent.filter((s) => s.message.type === type && s.at >= since) as (Sent & { message: Extract<ZabMessage, { type: T }> })[];
  }

  private nextEvent(): { at: number; run: () => void } | null {
    let best: { at: number; run: () => void } | null = null;
    let message: InFlight | null = null;
    for (const m of this.inFlight) {
      if (!message || m.deliverAt < message.deliverAt || (m.deliverAt === message.deliverAt && m.seq < message.seq)) message = m;
    }
    if (message) {
      const m = message;
      best = { at: m.deliverAt, run: () => this.deliver(m) };
    }
    for (const node of [...this.nodes.values()].sort((a, b) => a.id - b.id)) {
      const at = node.nextDeadline();
      if (at !== Infinity && (!best || at < best.at)) best = { at: Math.max(at, this.now), run: () => this.tick(node) };
    }
    return best;
  }

  private deliver(m: InFlight): void {
    this.inFlight = this.inFlight.filter((x) => x !== m);
    const node = this.nodes.get(m.to);
    if (!node || this.cut.has(`${m.from}>${m.to}`)) return;
    node.receive(this.now, m.from, m.message);
    this.drain(node);
  }

  private tick(node: ZabNode): void {
    node.tick(this.now);
    this.drain(node);
  }

  private drain(node: ZabNode): void {
    const output = node.takeOutput();
    if (output.persist) this.durable.set(node.id, output.persist);
    for (const { to, message } of output.messages) {
      const sent: Sent = { at: this.now, from: node.id, to, message };
      this.sent.push(sent);
      const problem = checkZabSend(node.id, to, message, { voters: this.voters, observers: this.observers });
      if (problem) this.sendViolations.push(`${node.id} -> ${to} ${message.type}: ${problem}`);
      if (!this.cut.has(`${node.id}>${to}`)) this.inFlight.push({ ...sent, deliverAt: this.now + this.latencyMs, seq: this.seq++ });
    }
    for (const event of output.events) this.events.push({ at: this.now, node: node.id, event });
  }
}
