/**
 * The simulator's engine: virtual time, one event queue, the network, and the nodes, each hosted by the
 * one host loop (NodeDriver, src/core/driver.ts) exactly as a real node is. It crashes and restarts
 * nodes and carries messages, and publishes everything that happens on the event stream (events.ts);
 * it measures and checks nothing itself.
 */
import { agreedLeader } from '../core/agreement.js';
import { NodeDriver, leads, type DriverEvent, type DriverHost } from '../core/driver.js';
import type { AnyAlgorithm, Input, Message, NodeConfig, NodeId, Status, Timing } from '../core/types.js';
import type { SimEvent } from './events.js';
import { EventHeap } from './heap.js';
import { Network } from './network.js';
import { Prng } from '../core/prng.js';
import type { Action } from './schedule.js';
import { Configurations } from './membership.js';
import type { InFlight, SimOptions } from './types.js';

/** Times in results and the timeline are rounded to the microsecond. */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

type Queued =
  | { readonly time: number; readonly seq: number; readonly kind: 'timer'; readonly node: SimNode; readonly incarnation: number }
  | {
      readonly time: number;
      readonly seq: number;
      readonly kind: 'deliver';
      /** When it was sent (for the stepping API's snapshot of messages in flight). */
      readonly sentMs: number;
      readonly from: NodeId;
      readonly to: SimNode;
      readonly incarnation: number;
      readonly message: Message;
    }
  | { readonly time: number; readonly seq: number; readonly kind: 'action'; readonly action: Action; readonly nemesis: boolean }
  /** A crashed node's connection closing at a live peer (the FIN on its way): a 'peer-down' input. */
  | { readonly time: number; readonly seq: number; readonly kind: 'peer-down'; readonly node: SimNode; readonly incarnation: number; readonly peer: NodeId }
  /** The end of a pause (a node frozen like a GC stall or SIGSTOP runs again). */
  | { readonly time: number; readonly seq: number; readonly kind: 'resume'; readonly node: SimNode; readonly incarnation: number };

/** An input that reached a paused node: it waits, in arrival order, until the node resumes. */
type PendingInput =
  | { readonly kind: 'message'; readonly from: NodeId; readonly message: Message }
  | { readonly kind: 'timer' }
  | { readonly kind: 'peer-down'; readonly peer: NodeId }
  /** A local request (a leadership transfer, a client's proposal or read): see `local`. */
  | { readonly kind: 'local'; readonly input: LocalInput };

/** The inputs a host hands its node on its own behalf rather than from the network. */
export type LocalInput = Extract<Input, { type: 'transfer-leadership' | 'propose' | 'read' | 'compact' | 'change-membership' }>;

/** A member of the simulated cluster, up or down. */
export interface SimNode {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly random: Prng;
  up: boolean;
  /** Bumped at each crash: messages and timers addressed to an earlier incarnation are dropped. */
  incarnation: number;
  /** The running incarnation's host loop; null while down. */
  driver: NodeDriver | null;
  durable: unknown;
  /** The deadline a timer event is queued for (Infinity when none). */
  timerAt: number;
  /** The last status it reported (kept across a crash: `final` shows it beside up: false). */
  status: Status;
  /** Up and naming itself leader. */
  believesLeader: boolean;
  /**
   * While paused (a GC stall, SIGSTOP): the virtual time the pause ends, else -Infinity. A paused node
   * runs nothing: its inputs wait in `pending` and it keeps believing what it believed (a paused
   * leader still thinks it leads), then it takes them in order when it resumes.
   */
  pausedUntil: number;
  pending: PendingInput[];
  /**
   * The node's own clock: local = clockBase + clockRate × (virtual − clockAnchor). The core is handed
   * local times and its deadlines are converted back to virtual time for the queue. The clock runs on
   * across crashes and pauses (it is the machine's clock); `drift` changes its rate from now on.
   */
  clockRate: number;
  clockBase: number;
  clockAnchor: number;
}

/** The leader every live node of the largest group names, and its term. */
export interface Agreement {
  readonly leader: NodeId;
  readonly term: number;
}

export interface EngineHooks {
  /** The event stream. */
  publish(event: SimEvent): void;
  /** Carries out a queued action (the faults part); `nemesis` when it came from the random nemesis. */
  act(action: Action, nemesis: boolean): void;
  /** Whether anything reads events of `type` (asked once, at `startAll`): the hot path skips the rest. */
  wants(type: SimEvent['type']): boolean;
}

/** Reused stream events of the hot path (see events.ts). */
type Mutable<E> = { -readonly [K in keyof E]: E[K] };
type EventOf<T extends SimEvent['type']> = Mutable<Extract<SimEvent, { type: T }>>;

/**
 * What a node's driver calls back: a class rather than closures, so the hot path (a send per message)
 * stays one monomorphic call.
 */
class SimHost implements DriverHost<Message, unknown> {
  /** The engine delivers every input itself (and publishes the deliveries): the drivers need not. */
  readonly publishInputs = false;

  constructor(
    private readonly engine: Engine,
    private readonly node: SimNode,
  ) {}

  persist(state: unknown): void {
    this.node.durable = state;
  }

  send(to: NodeId, message: Message): void {
    this.engine.send(this.node, to, message);
  }

  publish(event: DriverEvent): void {
    this.engine.onDriverEvent(this.node, event);
  }
}

export class Engine {
  readonly algorithm: AnyAlgorithm;
  readonly timing: Timing;
  readonly voters: NodeId[];
  readonly observers: NodeId[];
  /** Nodes that start outside the configuration (SimOptions.spares): ids after the observers. */
  readonly spares: NodeId[];
  /**
   * Whether the configuration may change in this run (spares, the membership nemesis, or a schedule
   * that asks for a change): then `configurations` follows what the nodes report, and the agreement
   * counts only the members of the committed configuration. Otherwise the fixed voters and observers
   * are the members throughout, as in every run before membership change.
   */
  readonly dynamic: boolean;
  /** What every node says its configuration is, and the newest one committed (only when `dynamic`). */
  readonly configurations: Configurations;
  readonly nodes: SimNode[];
  /** Node by id (ids are small positive integers: an array, read once per message). */
  private readonly byId: (SimNode | undefined)[] = [];
  readonly network: Network;
  private readonly heap = new EventHeap<Queued>();
  private seq = 0;
  now = 0;
  /** Messages sent, in total and by type: counters rather than events, for the metrics to read. */
  messagesSent = 0;
  readonly sentByType = new Map<string, number>();

  private readonly driverEvent: EventOf<'driver'>;
  private readonly sentEvent: EventOf<'sent'>;
  private readonly deliveredEvent: EventOf<'delivered'>;
  private readonly droppedEvent: EventOf<'dropped'>;
  /** Which hot-path events anything reads (see EngineHooks.wants). */
  private readonly publishing = { driver: true, sent: true, delivered: true, dropped: true };

  /** Deliver messages sent to an earlier incarnation to the restarted node (datagram-like); off: dropped. */
  private readonly deliverStale: boolean;
  /** SimOptions.closedConnections: whether a crash closes its connections at live peers (peer-down). */
  private readonly closedConnections: boolean;
  /** Whether the nodes were started: actions at time 0 run before that (see `startAll`). */
  private booted = false;

  constructor(options: SimOptions, private readonly hooks: EngineHooks) {
    this.deliverStale = options.deliverStale ?? false;
    this.closedConnections = options.closedConnections ?? true;
    this.algorithm = options.algorithm;
    this.timing = { ...options.algorithm.defaultTiming, ...options.timing };
    this.voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.observers = Array.from({ length: options.observers ?? 0 }, (_, i) => options.nodes + i + 1);
    this.spares = Array.from({ length: options.spares ?? 0 }, (_, i) => this.voters.length + this.observers.length + i + 1);
    this.dynamic = this.spares.length > 0 || options.membership !== undefined || (options.schedule ?? []).some((action) => action.do === 'change-membership');
    this.configurations = new Configurations({ voters: this.voters, observers: this.observers, addresses: {} });
    const members = [...this.voters, ...this.observers, ...this.spares];
    this.network = new Network(members, options.latency ?? { minMs: 1, maxMs: 5 }, new Prng(options.seed, 'network'));
    this.network.loss = options.loss ?? 0;
    this.network.duplicate = options.duplicate ?? 0;
    const none: Message = { type: '' };
    this.driverEvent = { type: 'driver', node: 0, event: { type: 'input', atMs: 0, input: { type: 'tick' } } };
    this.sentEvent = { type: 'sent', from: 0, to: 0, message: none };
    this.deliveredEvent = { type: 'delivered', from: 0, to: 0, message: none };
    this.droppedEvent = { type: 'dropped', from: 0, to: 0, message: none, reason: 'crashed' };

    this.nodes = members.map((id) => {
      // A spare starts outside the configuration: it knows no member and waits to be contacted.
      const spare = this.spares.includes(id);
      const config: NodeConfig = { id, voters: spare ? [] : this.voters, observers: spare ? [] : this.observers, timing: this.timing };
      const node: SimNode = {
        id,
        config,
        random: new Prng(options.seed, `node:${id}`),
        // Up from the beginning, though its core starts only in `startAll`: a crash at time 0 takes it
        // down before it has said anything.
        up: true,
        incarnation: 0,
        driver: null,
        durable: this.algorithm.initialDurable(options.history?.get(id) ?? 0),
        timerAt: Infinity,
        status: { id, role: 'starting', leader: null, term: 0 },
        believesLeader: false,
        pausedUntil: -Infinity,
        pending: [],
        clockRate: 1,
        clockBase: 0,
        clockAnchor: 0,
      };
      this.byId[id] = node;
      return node;
    });
  }

  node(id: NodeId): SimNode | undefined {
    return this.byId[id];
  }

  /**
   * Starts every node, once the scenario's actions are queued. The actions due at time 0 run first, so a
   * node crashed (or paused) at 0 never spoke before it; then every node that is up and not paused
   * starts, in id order.
   */
  startAll(): void {
    for (const type of ['driver', 'sent', 'delivered', 'dropped'] as const) this.publishing[type] = this.hooks.wants(type);
    for (let next = this.heap.peek(); next?.kind === 'action' && next.time <= 0; next = this.heap.peek()) this.step();
    this.booted = true;
    for (const node of this.nodes) if (node.up && node.driver === null && !this.paused(node)) this.boot(node);
  }

  // ---- the queue ----------------------------------------------------------------------------------

  /** The time of the next queued event, or Infinity. */
  nextTime(): number {
    return this.heap.peek()?.time ?? Infinity;
  }

  /** Processes the next queued event; false when nothing is queued. */
  step(): boolean {
    const event = this.heap.pop();
    if (!event) return false;
    this.now = event.time;
    switch (event.kind) {
      case 'timer': {
        const node = event.node;
        if (!node.up || node.incarnation !== event.incarnation || node.timerAt !== event.time) return true; // stale
        node.timerAt = Infinity;
        if (node.pausedUntil > this.now) {
          node.pending.push({ kind: 'timer' }); // it fires late, when the node resumes
          return true;
        }
        node.driver!.tick(this.localNow(node));
        this.armTimer(node);
        return true;
      }
      case 'deliver': {
        const node = event.to;
        const crashed = !node.up || (node.incarnation !== event.incarnation && !this.deliverStale);
        // A partition also drops what is in flight.
        if (crashed || !this.network.connected(event.from, node.id)) {
          if (!this.publishing.dropped) return true;
          const dropped = this.droppedEvent;
          dropped.from = event.from;
          dropped.to = node.id;
          dropped.message = event.message;
          dropped.reason = crashed ? 'crashed' : 'partitioned';
          this.hooks.publish(dropped);
          return true;
        }
        if (node.pausedUntil > this.now || node.driver === null) {
          node.pending.push({ kind: 'message', from: event.from, message: event.message });
          return true;
        }
        this.receive(node, event.from, event.message);
        this.armTimer(node);
        return true;
      }
      case 'action':
        this.hooks.act(event.action, event.nemesis);
        return true;
      case 'peer-down':
        // The connection closed where it was open: not across a partition (the FIN is lost there too).
        if (event.node.incarnation === event.incarnation && this.network.connected(event.peer, event.node.id)) this.peerDown(event.node, event.peer);
        return true;
      case 'resume':
        if (event.node.incarnation === event.incarnation && event.node.pausedUntil === event.time) this.resume(event.node);
        return true;
    }
  }

  /** Queues an action at its `atMs`, behind whatever is already queued for that instant. */
  pushAction(action: Action, nemesis: boolean): void {
    this.heap.push({ time: action.atMs, seq: this.seq++, kind: 'action', action, nemesis });
  }

  /** Messages queued for delivery to the incarnation they were sent to, sorted by delivery time. */
  inFlight(): InFlight[] {
    const inFlight: InFlight[] = [];
    for (const event of this.heap.all()) {
      if (event.kind !== 'deliver' || (event.incarnation !== event.to.incarnation && !this.deliverStale)) continue;
      inFlight.push({ from: event.from, to: event.to.id, type: event.message.type, sentMs: event.sentMs, deliverMs: event.time });
    }
    return inFlight.sort((a, b) => a.deliverMs - b.deliverMs);
  }

  // ---- nodes --------------------------------------------------------------------------------------

  /**
   * Brings a node up (a restart). Its core is built at once unless the nodes have not started yet
   * (`startAll` builds it) or the node is paused (it is built when the pause ends).
   */
  start(node: SimNode): void {
    node.up = true;
    node.timerAt = Infinity;
    if (this.booted && !this.paused(node)) this.boot(node);
  }

  /** Builds the node's core from its durable state and hosts it through a fresh NodeDriver. */
  private boot(node: SimNode): void {
    const now = this.localNow(node);
    const core = this.algorithm.create(node.config, node.durable, node.random, now);
    node.driver = new NodeDriver(core, new SimHost(this, node), now);
    this.armTimer(node);
  }

  crash(node: SimNode): void {
    const wasLeader = node.believesLeader;
    node.up = false;
    node.driver = null;
    node.incarnation++;
    node.timerAt = Infinity;
    node.believesLeader = false;
    // A killed process is no longer stopped, and what waited for it is lost with it.
    node.pausedUntil = -Infinity;
    node.pending = [];
    if (this.dynamic) this.configurations.crashed(node.id);
    this.hooks.publish({ type: 'crash', node: node.id, wasLeader });
    // A dead process's sockets close at once: each live peer it was connected to reads the close one
    // network delay later (ZooKeeper's followers act on it; Raft and Bully may too).
    for (const peer of this.closedConnections ? this.nodes : []) {
      if (peer === node || !peer.up || !this.network.connected(node.id, peer.id)) continue;
      this.heap.push({ time: this.now + this.network.latency.minMs, seq: this.seq++, kind: 'peer-down', node: peer, incarnation: peer.incarnation, peer: node.id });
    }
  }

  /**
   * Tells `node` its connection to `peer` closed (a 'peer-down' input), true or not. A paused node takes
   * it when it resumes; a node that is down has no connection to lose.
   */
  peerDown(node: SimNode, peer: NodeId): void {
    if (!node.up) return;
    if (node.pausedUntil > this.now) {
      node.pending.push({ kind: 'peer-down', peer });
      return;
    }
    if (node.driver === null) return; // not started yet: it had no connection to lose
    node.driver.step(this.localNow(node), { type: 'peer-down', peer });
    this.armTimer(node);
  }

  /**
   * Hands `node` a local request — a leadership transfer (like `node.transferLeadership()`), a client's
   * proposal or read, a compaction. A paused node takes it when it resumes; a node that is down ignores
   * it (returns false: the request was lost with the process).
   */
  local(node: SimNode, input: LocalInput): boolean {
    if (!node.up) return false;
    if (node.pausedUntil > this.now) {
      node.pending.push({ kind: 'local', input });
      return true;
    }
    if (node.driver === null) return false;
    node.driver.step(this.localNow(node), input);
    this.armTimer(node);
    return true;
  }

  /** Hands a message to a running node (published as delivered only now: a paused node has not read it). */
  private receive(node: SimNode, from: NodeId, message: Message): void {
    if (this.publishing.delivered) {
      const delivered = this.deliveredEvent;
      delivered.from = from;
      delivered.to = node.id;
      delivered.message = message;
      this.hooks.publish(delivered);
    }
    node.driver!.receive(this.localNow(node), from, message);
  }

  /** Whether `node` is frozen now. */
  paused(node: SimNode): boolean {
    return node.pausedUntil > this.now;
  }

  /**
   * Freezes a node that is up for `forMs` (a pause while paused lasts until the later end). Its clock
   * runs on; whatever reaches it waits until it resumes. Returns false for a node that is down.
   */
  pause(node: SimNode, forMs: number): boolean {
    if (!node.up) return false;
    const until = Math.max(node.pausedUntil, this.now + forMs);
    if (until <= this.now) return true;
    node.pausedUntil = until;
    this.heap.push({ time: until, seq: this.seq++, kind: 'resume', node, incarnation: node.incarnation });
    return true;
  }

  /** The end of a pause: the node starts if it was restarted meanwhile, then takes its inputs in order. */
  private resume(node: SimNode): void {
    node.pausedUntil = -Infinity;
    this.hooks.publish({ type: 'resume', node: node.id });
    if (!node.up) return;
    if (node.driver === null) {
      if (!this.booted) return;
      this.boot(node);
    }
    const pending = node.pending;
    node.pending = [];
    const driver = node.driver!;
    for (const input of pending) {
      // A timer that fell due during the pause fires in its place among the messages (late).
      if (input.kind === 'message') this.receive(node, input.from, input.message);
      else if (input.kind === 'peer-down') driver.step(this.localNow(node), { type: 'peer-down', peer: input.peer });
      else if (input.kind === 'local') driver.step(this.localNow(node), input.input);
      else if (driver.nextDeadline() <= this.localNow(node)) driver.tick(this.localNow(node));
    }
    node.timerAt = NaN; // re-arm whatever the deadline (the timer event that fired during the pause is gone)
    this.armTimer(node);
  }

  /**
   * Sets the rate of `node`'s clock from now on (1 = true time). Its local time runs on continuously,
   * and its pending deadline is converted again at the new rate.
   */
  drift(node: SimNode, rate: number): void {
    node.clockBase = this.localNow(node);
    node.clockAnchor = this.now;
    node.clockRate = rate;
    if (node.driver !== null && !this.paused(node)) {
      node.timerAt = NaN; // the queued timer is at the old rate's time: queue it again
      this.armTimer(node);
    }
  }

  /** `node`'s own clock at the current virtual time (the identity until its rate is changed). */
  localNow(node: SimNode): number {
    // Exactly `now` while the clock was never changed (0 + 1 × (now − 0)): runs without drift stay identical.
    return node.clockBase + node.clockRate * (this.now - node.clockAnchor);
  }

  /**
   * The earliest virtual time at which `node`'s clock reads `local` or later, at its current rate (a
   * later `drift` changes the answer for times still ahead). Rounding may land the
   * division a hair early; the core would then see its deadline not yet due, and the timer would be
   * queued again for the same instant forever: step up until the clock has reached it.
   */
  virtualAt(node: SimNode, local: number): number {
    let virtual = node.clockAnchor + (local - node.clockBase) / node.clockRate;
    while (node.clockBase + node.clockRate * (virtual - node.clockAnchor) < local) virtual += Math.max(Math.abs(virtual) * Number.EPSILON, Number.MIN_VALUE);
    return virtual;
  }

  private armTimer(node: SimNode): void {
    const local = node.driver!.nextDeadline();
    const deadline = local === Infinity ? Infinity : this.virtualAt(node, local);
    if (deadline === node.timerAt) return;
    node.timerAt = deadline;
    if (deadline !== Infinity) {
      this.heap.push({ time: Math.max(deadline, this.now), seq: this.seq++, kind: 'timer', node, incarnation: node.incarnation });
    }
  }

  /** An event of `node`'s driver (SimHost.publish). */
  onDriverEvent(node: SimNode, event: DriverEvent): void {
    if (event.type === 'status') this.observe(node, event.status);
    else if (this.dynamic && event.type === 'core') {
      const core = event.event;
      if (core.type === 'membership-changed' || core.type === 'committed' || core.type === 'snapshot-installed') this.configurations.observe(node.id, core);
    }
    if (!this.publishing.driver) return;
    const wrapped = this.driverEvent;
    wrapped.node = node.id;
    wrapped.event = event;
    this.hooks.publish(wrapped);
  }

  /** Updates the simulator's view of a node, then publishes the change (see the 'status' event). */
  private observe(node: SimNode, status: Status): void {
    const previous = node.status;
    // A fresh driver reports its first status against 'starting'; compare with what the node reported
    // before it crashed instead, so a restart that reports the same status changes nothing.
    if (previous.role === status.role && previous.leader === status.leader && previous.term === status.term && previous.id === status.id) return;
    const wasLeader = node.believesLeader;
    node.status = status;
    node.believesLeader = leads(status);
    this.hooks.publish({ type: 'status', node: node.id, previous, status, wasLeader });
  }

  /** A message `from` sent (SimHost.send). */
  send(from: SimNode, to: NodeId, message: Message): void {
    this.messagesSent++;
    this.sentByType.set(message.type, (this.sentByType.get(message.type) ?? 0) + 1);
    if (this.publishing.sent) {
      const sent = this.sentEvent;
      sent.from = from.id;
      sent.to = to;
      sent.message = message;
      this.hooks.publish(sent);
    }
    const target = this.byId[to];
    if (!target) {
      this.hooks.publish({ type: 'undeliverable', from: from.id, to, message });
      return;
    }
    const delay = this.network.transmit(from.id, to);
    if (delay < 0) return;
    this.queueDelivery(from.id, target, message, delay);
    const duplicate = this.network.duplicateDelay();
    if (duplicate >= 0) this.queueDelivery(from.id, target, message, duplicate);
  }

  private queueDelivery(from: NodeId, to: SimNode, message: Message, delay: number): void {
    this.heap.push({ time: this.now + delay, seq: this.seq++, kind: 'deliver', sentMs: this.now, from, to, incarnation: to.incarnation, message });
  }

  // ---- views of the cluster -----------------------------------------------------------------------

  /**
   * Whether `node` is a member of the cluster as the agreement counts it: with a fixed configuration
   * every node is; when it may change, the members of the newest committed configuration (a spare not
   * yet added, or a node removed, has no say and need not name the leader).
   */
  isMember(node: SimNode): boolean {
    if (!this.dynamic) return true;
    const committed = this.configurations.committed.membership;
    return committed.voters.includes(node.id) || committed.observers.includes(node.id);
  }

  /** The largest partition group counted in live members (ties: the one with the smallest id). */
  largestGroup(): SimNode[] {
    let best: SimNode[] = [];
    for (const component of this.network.components()) {
      const live = component.map((id) => this.byId[id]!).filter((n) => n.up && this.isMember(n));
      if (live.length > best.length) best = live;
    }
    return best;
  }

  /**
   * The leader every live node of the largest group names, if it is among them and names itself: the
   * one agreement rule of the project (src/core/agreement.ts), as the real bench and `ballot cluster` use.
   */
  agreement(): Agreement | null {
    const agreed = agreedLeader(this.largestGroup().map((n) => ({ id: n.id, leader: n.status.leader, term: n.status.term })));
    return agreed === null ? null : { leader: agreed.leader, term: agreed.term! };
  }

}
