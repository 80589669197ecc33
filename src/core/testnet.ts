/**
 * A test network in the spirit of etcd-io/raft's `network` (raft_test.go): a few nodes, each hosted by
 * NodeDriver (the one host loop), on a deterministic queue — fixed latency, no randomness but the
 * nodes' own — where the test decides what happens: `tick` a node, `deliver` what is in flight,
 * `isolate` a node, `cut` a link, `crash` and `restart`, or `runUntil` a time with deliveries and
 * deadlines in time order. It logs every message sent, every batch a node released and every driver
 * event, so a transcript test can assert on them. The simulator (simulation.ts) is the randomized,
 * measured version of the same thing; this one is for tests that walk through a protocol step by step,
 * and for a running node's rehearsal of its rare paths (rehearsal.ts).
 */
import { NodeDriver, leads, type DriverEvent } from './driver.js';
import type { History } from './history.js';
import type { Algorithm, ElectionNode, Message, NodeConfig, NodeId, Random, Status, Timing } from './types.js';
import { Prng } from './prng.js';

export interface TestNetOptions<M extends Message, D, N extends ElectionNode<M, D>> {
  readonly algorithm: Algorithm<M, D>;
  /** Voting members: ids 1..voters. */
  readonly voters: number;
  /** Non-voting members after the voters. */
  readonly observers?: number;
  readonly timing?: Partial<Timing>;
  /** One-way latency of every message, ms (default 0: delivered at the instant it is sent). */
  readonly latencyMs?: number;
  /** Node id → the durable history it starts with (`--history`; src/core/history.ts). */
  readonly history?: Readonly<Record<NodeId, History>>;
  /** Each node's randomness (default: a seeded stream per node). */
  readonly random?: (id: NodeId) => Random;
  /** Builds a node (default: the algorithm's `create`); a test may build the concrete class to inspect it. */
  readonly create?: (config: NodeConfig, durable: D, random: Random, now: number) => N;
  /** Called with each state a node persists, after the one it held before (rehearsal.ts warms a host's storage code with them). */
  readonly persisted?: (node: NodeId, before: D, after: D) => void;
}

export interface Sent<M extends Message = Message> {
  readonly at: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: M;
}

/** What one input made a node do: what it persisted (null: nothing) and what it sent, in order. */
export interface Batch<M extends Message, D> {
  readonly node: NodeId;
  persist: D | null;
  readonly sent: Sent<M>[];
}

interface InFlight<M extends Message> extends Sent<M> {
  readonly deliverAt: number;
  readonly seq: number;
}

export class TestNet<M extends Message, D, N extends ElectionNode<M, D> = ElectionNode<M, D>> {
  readonly voters: NodeId[];
  readonly observers: NodeId[];
  readonly members: NodeId[];
  readonly timing: Timing;
  /** The running nodes' drivers (a crashed node has none). */
  readonly drivers = new Map<NodeId, NodeDriver<M, D>>();
  /** Each node's durable state, as last persisted. */
  readonly durable = new Map<NodeId, D>();
  /** Every message sent, in order (also those a cut or a crash then dropped). */
  readonly sent: Sent<M>[] = [];
  readonly batches: Batch<M, D>[] = [];
  /** Every driver event but inputs, with the node it came from. */
  readonly events: { readonly at: number; readonly node: NodeId; readonly event: DriverEvent }[] = [];
  /** What the algorithm's `checkSend` found wrong with any message sent. */
  readonly sendViolations: string[] = [];
  now = 0;
  private readonly latencyMs: number;
  private readonly randoms = new Map<NodeId, Random>();
  private readonly cuts = new Set<string>();
  private inFlight: InFlight<M>[] = [];
  private seq = 0;
  private batch: Batch<M, D> | null = null;

  constructor(private readonly options: TestNetOptions<M, D, N>) {
    const { algorithm } = options;
    this.voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    this.observers = Array.from({ length: options.observers ?? 0 }, (_, i) => options.voters + i + 1);
    this.members = [...this.voters, ...this.observers];
    this.timing = { ...algorithm.defaultTiming, ...options.timing };
    this.latencyMs = options.latencyMs ?? 0;
    for (const id of this.members) {
      this.durable.set(id, algorithm.initialDurable(options.history?.[id] ?? 0));
      this.randoms.set(id, options.random?.(id) ?? new Prng(1, `node:${id}`));
    }
    for (const id of this.members) this.start(id);
  }

  // ---- nodes --------------------------------------------------------------------------------------

  /** The core of a running node (throws for a crashed one). */
  node(id: NodeId): N {
    return this.driver(id).core as unknown as N;
  }

  driver(id: NodeId): NodeDriver<M, D> {
    const driver = this.drivers.get(id);
    if (!driver) throw new Error(`node ${id} is down`);
    return driver;
  }

  isUp(id: NodeId): boolean {
    return this.drivers.has(id);
  }

  /** Starts (or restarts) a node from its durable state. */
  start(id: NodeId): void {
    const config: NodeConfig = { id, voters: this.voters, observers: this.observers, timing: this.timing };
    const random = this.randoms.get(id)!;
    const durable = this.durable.get(id)!;
    const core = this.options.create ? this.options.create(config, durable, random, this.now) : this.options.algorithm.create(config, durable, random, this.now);
    this.batched(id, () => {
      const driver = new NodeDriver<M, D>(core, this.host(id), this.now);
      this.drivers.set(id, driver);
    });
  }

  restart(id: NodeId): void {
    this.start(id);
  }

  /** Stops a node; the messages in flight to it are lost. */
  crash(id: NodeId): void {
    this.drivers.delete(id);
    this.inFlight = this.inFlight.filter((m) => m.to !== id);
  }

  /** Ticks a node at `at` (default: its deadline; the clock never goes back). */
  tick(id: NodeId, at?: number): void {
    const driver = this.driver(id);
    this.now = Math.max(this.now, at ?? driver.nextDeadline());
    this.batched(id, () => driver.tick(this.now));
  }

  /** The node's own status (the same as its driver's, unless the test stepped the core by hand). */
  status(id: NodeId): Status {
    return this.driver(id).core.status();
  }

  // ---- the network --------------------------------------------------------------------------------

  /** Cuts one direction of a link: what `from` sends to `to` is dropped, sent or in flight. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Cuts both directions between `node` and each of `others` (default: everyone). */
  isolate(node: NodeId, others: readonly NodeId[] = this.members): void {
    for (const other of others) {
      if (other === node) continue;
      this.cut(node, other);
      this.cut(other, node);
    }
  }

  heal(): void {
    this.cuts.clear();
  }

  /** The messages in flight that match, in delivery order. */
  pending(match: (m: Sent<M>) => boolean = () => true): Sent<M>[] {
    return this.inFlight.filter(match);
  }

  /** Drops the messages in flight that match. */
  drop(match: (m: Sent<M>) => boolean): void {
    this.inFlight = this.inFlight.filter((m) => !match(m));
  }

  /**
   * Delivers what is in flight, in send order, and what that causes, until nothing is — without moving
   * the clock (as if the network were instant; with latency 0 it is).
   */
  deliverAll(): void {
    for (let message = this.inFlight.shift(); message; message = this.inFlight.shift()) this.deliver(message);
  }

  sentOfType<T extends M['type']>(type: T, since = 0): (Sent<M> & { message: Extract<M, { type: T }> })[] {
    return this.sent.filter((s) => s.message.type === type && s.at >= since) as (Sent<M> & { message: Extract<M, { type: T }> })[];
  }

  // ---- running ------------------------------------------------------------------------------------

  /** Runs until `until` (absolute ms): deliveries and deadlines in time order. */
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

  /** Runs until `predicate` holds (checked after each event), or throws after `limitMs`. */
  runUntilTrue(predicate: () => boolean, limitMs = 10_000): void {
    const limit = this.now + limitMs;
    while (!predicate()) {
      const next = this.nextEvent();
      if (!next || next.at > limit) throw new Error(`condition not reached within ${limitMs} ms (now ${this.now})`);
      this.now = next.at;
      next.run();
    }
  }

  /**
   * Runs until every live node names the same live leader: delivers everything in flight, then moves
   * the clock to the earliest deadline and ticks that node, again and again. Returns the leader.
   */
  runUntilAgreed(limitMs = 10_000): NodeId {
    const limit = this.now + limitMs;
    for (;;) {
      this.deliverAll();
      const agreed = this.agreedLeader();
      if (agreed !== null) return agreed;
      let next: NodeDriver<M, D> | null = null;
      for (const driver of this.drivers.values()) if (next === null || driver.nextDeadline() < next.nextDeadline()) next = driver;
      if (next === null || next.nextDeadline() >= limit) throw new Error(`no agreed leader within ${limitMs} ms (now ${this.now})`);
      this.tick(next.id);
    }
  }

  /** The nodes that believe they lead. */
  leaders(): NodeId[] {
    return [...this.drivers.values()].filter((d) => leads(d.status())).map((d) => d.id);
  }

  /** The leader every live node names, if it is live and believes it leads; else null. */
  agreedLeader(): NodeId | null {
    const named = new Set([...this.drivers.values()].map((d) => d.status().leader));
    if (named.size !== 1) return null;
    const [leader] = named;
    if (leader === null || leader === undefined) return null;
    const driver = this.drivers.get(leader);
    return driver && leads(driver.status()) ? leader : null;
  }

  // ---- inside -------------------------------------------------------------------------------------

  private host(id: NodeId) {
    return {
      persist: (state: D) => {
        this.options.persisted?.(id, this.durable.get(id)!, state);
        this.durable.set(id, state);
        if (this.batch) this.batch.persist = state;
      },
      send: (to: NodeId, message: M) => this.send(id, to, message),
      publish: (event: DriverEvent) => {
        this.events.push({ at: this.now, node: id, event });
      },
      publishInputs: false,
    };
  }

  /** Runs one input of `id`, recording what it persisted and sent as one batch. */
  private batched(id: NodeId, run: () => void): void {
    const batch: Batch<M, D> = { node: id, persist: null, sent: [] };
    this.batch = batch;
    try {
      run();
    } finally {
      this.batch = null;
    }
    this.batches.push(batch);
  }

  private send(from: NodeId, to: NodeId, message: M): void {
    const sent: Sent<M> = { at: this.now, from, to, message };
    this.sent.push(sent);
    this.batch?.sent.push(sent);
    const problem = this.options.algorithm.checkSend?.(from, to, message, { voters: this.voters, observers: this.observers });
    if (problem) this.sendViolations.push(`${from} -> ${to} ${message.type}: ${problem}`);
    if (!this.cuts.has(`${from}>${to}`)) this.inFlight.push({ ...sent, deliverAt: this.now + this.latencyMs, seq: this.seq++ });
  }

  private deliver(m: InFlight<M>): void {
    this.inFlight = this.inFlight.filter((x) => x !== m);
    const driver = this.drivers.get(m.to);
    if (!driver || this.cuts.has(`${m.from}>${m.to}`)) return;
    this.batched(m.to, () => driver.receive(this.now, m.from, m.message));
  }

  private nextEvent(): { at: number; run: () => void } | null {
    let best: { at: number; run: () => void } | null = null;
    let message: InFlight<M> | null = null;
    for (const m of this.inFlight) {
      if (!message || m.deliverAt < message.deliverAt || (m.deliverAt === message.deliverAt && m.seq < message.seq)) message = m;
    }
    if (message) {
      const m = message;
      best = { at: m.deliverAt, run: () => this.deliver(m) };
    }
    for (const driver of [...this.drivers.values()].sort((a, b) => a.id - b.id)) {
      const at = driver.nextDeadline();
      if (at !== Infinity && (!best || at < best.at)) best = { at: Math.max(at, this.now), run: () => this.tick(driver.id, this.now) };
    }
    return best;
  }
}
