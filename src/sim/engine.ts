/**
 * The simulator's engine: virtual time, one event queue, the network, and the nodes, each hosted by the
 * one host loop (NodeDriver, src/core/driver.ts) exactly as a real node is. It crashes and restarts
 * nodes and carries messages, and publishes everything that happens on the event stream (events.ts);
 * it measures and checks nothing itself.
 */
import { agreedLeader } from '../core/agreement.js';
import { NodeDriver, leads, type DriverEvent, type DriverHost } from '../core/driver.js';
import type { AnyAlgorithm, Message, NodeConfig, NodeId, Status, Timing } from '../core/types.js';
import type { SimEvent } from './events.js';
import { EventHeap } from './heap.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import type { Action } from './schedule.js';
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
  | { readonly time: number; readonly seq: number; readonly kind: 'action'; readonly action: Action; readonly nemesis: boolean };

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

  constructor(options: SimOptions, private readonly hooks: EngineHooks) {
    this.algorithm = options.algorithm;
    this.timing = { ...options.algorithm.defaultTiming, ...options.timing };
    this.voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.observers = Array.from({ length: options.observers ?? 0 }, (_, i) => options.nodes + i + 1);
    const members = [...this.voters, ...this.observers];
    this.network = new Network(members, options.latency ?? { minMs: 1, maxMs: 5 }, new Prng(options.seed, 'network'));
    this.network.loss = options.loss ?? 0;
    this.network.duplicate = options.duplicate ?? 0;
    const none: Message = { type: '' };
    this.driverEvent = { type: 'driver', node: 0, event: { type: 'input', atMs: 0, input: { type: 'tick' } } };
    this.sentEvent = { type: 'sent', from: 0, to: 0, message: none };
    this.deliveredEvent = { type: 'delivered', from: 0, to: 0, message: none };
    this.droppedEvent = { type: 'dropped', from: 0, to: 0, message: none, reason: 'crashed' };

    this.nodes = members.map((id) => {
      const config: NodeConfig = { id, voters: this.voters, observers: this.observers, timing: this.timing };
      const node: SimNode = {
        id,
        config,
        random: new Prng(options.seed, `node:${id}`),
        up: false,
        incarnation: 0,
        driver: null,
        durable: this.algorithm.initialDurable(options.history?.get(id) ?? 0),
        timerAt: Infinity,
        status: { id, role: 'starting', leader: null, term: 0 },
        believesLeader: false,
      };
      this.byId[id] = node;
      return node;
    });
  }

  node(id: NodeId): SimNode | undefined {
    return this.byId[id];
  }

  /** Starts every node (once the scenario's actions are queued: queue order breaks ties in time). */
  startAll(): void {
    for (const type of ['driver', 'sent', 'delivered', 'dropped'] as const) this.publishing[type] = this.hooks.wants(type);
    for (const node of this.nodes) this.start(node);
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
        node.driver!.tick(this.now);
        this.armTimer(node);
        return true;
      }
      case 'deliver': {
        const node = event.to;
        const crashed = !node.up || node.incarnation !== event.incarnation;
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
        if (this.publishing.delivered) {
          const delivered = this.deliveredEvent;
          delivered.from = event.from;
          delivered.to = node.id;
          delivered.message = event.message;
          this.hooks.publish(delivered);
        }
        node.driver!.receive(this.now, event.from, event.message);
        this.armTimer(node);
        return true;
      }
      case 'action':
        this.hooks.act(event.action, event.nemesis);
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
      if (event.kind !== 'deliver' || event.incarnation !== event.to.incarnation) continue;
      inFlight.push({ from: event.from, to: event.to.id, type: event.message.type, sentMs: event.sentMs, deliverMs: event.time });
    }
    return inFlight.sort((a, b) => a.deliverMs - b.deliverMs);
  }

  // ---- nodes --------------------------------------------------------------------------------------

  /** Builds the node from its durable state and hosts it through a fresh NodeDriver. */
  start(node: SimNode): void {
    node.up = true;
    node.timerAt = Infinity;
    const core = this.algorithm.create(node.config, node.durable, node.random, this.now);
    node.driver = new NodeDriver(core, new SimHost(this, node), this.now);
    this.armTimer(node);
  }

  crash(node: SimNode): void {
    const wasLeader = node.believesLeader;
    node.up = false;
    node.driver = null;
    node.incarnation++;
    node.timerAt = Infinity;
    node.believesLeader = false;
    this.hooks.publish({ type: 'crash', node: node.id, wasLeader });
  }

  private armTimer(node: SimNode): void {
    const deadline = node.driver!.nextDeadline();
    if (deadline === node.timerAt) return;
    node.timerAt = deadline;
    if (deadline !== Infinity) {
      this.heap.push({ time: Math.max(deadline, this.now), seq: this.seq++, kind: 'timer', node, incarnation: node.incarnation });
    }
  }

  /** An event of `node`'s driver (SimHost.publish). */
  onDriverEvent(node: SimNode, event: DriverEvent): void {
    if (event.type === 'status') this.observe(node, event.status);
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

  /** The largest partition group counted in live nodes (ties: the one with the smallest id). */
  largestGroup(): SimNode[] {
    let best: SimNode[] = [];
    for (const component of this.network.components()) {
      const live = component.map((id) => this.byId[id]!).filter((n) => n.up);
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
