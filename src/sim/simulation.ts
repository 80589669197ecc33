/**
 * The deterministic discrete-event simulator. Virtual time in milliseconds, one event heap, one seed
 * from which every random stream is derived. It hosts the very same core nodes as the real runtime,
 * checks safety invariants after every event and measures elections as CONTRACT.md defines them.
 */
import type { AnyAlgorithm, AnyNode, Message, NodeConfig, NodeId, Status, Timing } from '../core/types.js';
import { EventHeap } from './heap.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import { Nemesis, defaultDurationMs, scenarioActions, scenarioPhaseMs } from './scenarios.js';
import { describeAction, type Action, type NodeRef } from './schedule.js';
import type {
  SimOptions,
  LeaderRecord,
  ElectionRecord,
  Violation,
  TimelineEntry,
  SimResult,
  InFlight,
  RunSnapshot,
  SimRun,
} from './types.js';

export type {
  SimOptions,
  LeaderRecord,
  ElectionRecord,
  Violation,
  FinalStatus,
  TimelineEntry,
  SimResult,
  InFlight,
  NodeView,
  RunSnapshot,
  SimRun,
} from './types.js';

type SimEvent =
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

interface SimNode {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly random: Prng;
  up: boolean;
  /** Bumped at each crash: messages and timers addressed to an earlier incarnation are dropped. */
  incarnation: number;
  core: AnyNode | null;
  durable: unknown;
  /** The deadline a timer event is queued for (Infinity when none). */
  timerAt: number;
  status: Status;
  believesLeader: boolean;
  /** The highest term this node has reported, across restarts. */
  highestTerm: number;
}

interface ElectionStart {
  readonly startMs: number;
  /** messagesSent and electionsStarted at that moment. */
  readonly messages: number;
  readonly rounds: number;
  /** `byType` and `startsByNode` at that moment. */
  readonly byType: ReadonlyMap<string, number>;
  readonly starts: ReadonlyMap<NodeId, number>;
}

interface Agreement {
  readonly leader: NodeId;
  readonly term: number;
}

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

export function createRun(options: SimOptions): SimRun {
  return new Simulation(options);
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
/** TextEncoder rather than Buffer: the simulator also runs in the browser. */
const utf8 = new TextEncoder();

class Simulation implements SimRun {
  private readonly algorithm: AnyAlgorithm;
  private readonly timing: Timing;
  private readonly voters: NodeId[];
  private readonly observerIds: NodeId[];
  private readonly nodes: SimNode[];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly network: Network;
  private readonly heap = new EventHeap<SimEvent>();
  private readonly nemesis: Nemesis | null;
  readonly durationMs: number;
  private readonly scenarioName: string;
  private readonly wantTimeline: boolean;
  private readonly seed: number;
  private seq = 0;
  private now = 0;

  // Measurements.
  private readonly leaders: LeaderRecord[] = [];
  private readonly elections: ElectionRecord[] = [];
  private readonly violations: Violation[] = [];
  private readonly timeline: TimelineEntry[] = [];
  private readonly byType = new Map<string, number>();
  private messagesSent = 0;
  private electionsStarted = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private believers = 0;
  private dualSince = -1;
  private dualLeaderMs = 0;
  private agreement: Agreement | null = null;
  private lastAgreedLeader: NodeId | null = null;
  /** When agreement was last lost, with the counters at that moment. */
  private agreementLost: ElectionStart = { startMs: 0, messages: 0, rounds: 0, byType: new Map(), starts: new Map() };
  /** The election period in progress, if a leader was lost (or the run just started). */
  private open: ElectionStart | null = { startMs: 0, messages: 0, rounds: 0, byType: new Map(), starts: new Map() };
  /** Elections started, per node, since the beginning (for `candidates`). */
  private readonly startsByNode = new Map<NodeId, number>();
  private dirty = true;
  private lastDisturbanceMs = 0;

  constructor(options: SimOptions) {
    this.algorithm = options.algorithm;
    this.seed = options.seed;
    this.timing = { ...options.algorithm.defaultTiming, ...options.timing };
    const observers = options.observers ?? 0;
    this.voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.observerIds = Array.from({ length: observers }, (_, i) => options.nodes + i + 1);
    const members = [...this.voters, ...this.observerIds];
    this.network = new Network(members, options.latency ?? { minMs: 1, maxMs: 5 }, new Prng(options.seed, 'network'));
    this.network.loss = options.loss ?? 0;
    this.network.duplicate = options.duplicate ?? 0;
    this.durationMs = options.durationMs ?? defaultDurationMs(this.timing);
    this.wantTimeline = options.timeline ?? false;

    const scenario = options.scenario ?? 'cold-start';
    this.scenarioName = options.schedule ? (options.scheduleName ?? 'schedule') : scenario;
    const actions = options.schedule ?? scenarioActions(scenario, this.voters, this.timing, scenarioPhaseMs(options.seed, this.timing));
    for (const action of actions) this.pushAction(action, false);
    this.nemesis = !options.schedule && scenario === 'random' ? new Nemesis(options.seed, members, this.timing, this.network.latency) : null;
    if (this.nemesis) {
      this.pushNemesis(0);
      for (const action of this.nemesis.quietActions()) this.pushAction(action, false);
    }

    this.nodes = members.map((id) => {
      const config: NodeConfig = { id, voters: this.voters, observers: this.observerIds, timing: this.timing };
      const durable = this.algorithm.initialDurable(options.history?.get(id) ?? 0);
      const node: SimNode = {
        id,
        config,
        random: new Prng(options.seed, `node:${id}`),
        up: false,
        incarnation: 0,
        core: null,
        durable,
        timerAt: Infinity,
        status: { id, role: 'starting', leader: null, term: 0 },
        believesLeader: false,
        highestTerm: 0,
      };
      this.byId.set(id, node);
      return node;
    });
    for (const node of this.nodes) this.start(node);
    this.settle();
  }

  run(): SimResult {
    this.stepUntil(this.durationMs);
    return this.finish();
  }

  // ---- the stepping API (SimRun) ------------------------------------------------------------------

  get nowMs(): number {
    return this.now;
  }

  step(): boolean {
    const event = this.heap.pop();
    if (!event) return false;
    this.now = event.time;
    this.dispatch(event);
    if (this.dirty) this.settle();
    return true;
  }

  stepUntil(timeMs: number): void {
    for (;;) {
      const event = this.heap.peek();
      if (!event || event.time > timeMs) break;
      this.step();
    }
    this.now = Math.max(this.now, timeMs);
  }

  inject(action: Action): void {
    this.pushAction({ ...action, atMs: this.now }, false);
  }

  snapshot(): RunSnapshot {
    const inFlight: InFlight[] = [];
    for (const event of this.heap.all()) {
      if (event.kind !== 'deliver' || event.incarnation !== event.to.incarnation) continue;
      inFlight.push({ from: event.from, to: event.to.id, type: event.message.type, sentMs: event.sentMs, deliverMs: event.time });
    }
    inFlight.sort((a, b) => a.deliverMs - b.deliverMs);
    return {
      nowMs: this.now,
      nodes: this.nodes.map((n) => ({ node: n.id, up: n.up, role: n.status.role, leader: n.status.leader, term: n.status.term })),
      inFlight,
      components: this.network.components().map((group) => [...group]),
      agreedLeader: this.agreement?.leader ?? null,
      leaders: this.leaders,
      elections: this.elections,
      violations: this.violations,
      timeline: this.timeline,
    };
  }

  finish(): SimResult {
    if (this.dualSince >= 0) this.dualLeaderMs += this.now - this.dualSince;
    this.dualSince = -1;
    this.checkConvergence();
    return this.result();
  }

  // ---- events -------------------------------------------------------------------------------------

  private dispatch(event: SimEvent): void {
    switch (event.kind) {
      case 'timer': {
        const node = event.node;
        if (!node.up || node.incarnation !== event.incarnation || node.timerAt !== event.time) return; // stale
        node.timerAt = Infinity;
        node.core!.step(this.now, { type: 'tick' });
        this.drain(node);
        return;
      }
      case 'deliver': {
        const node = event.to;
        if (!node.up || node.incarnation !== event.incarnation) return; // the receiver crashed meanwhile
        if (!this.network.connected(event.from, node.id)) return; // a partition also drops what is in flight
        node.core!.step(this.now, { type: 'message', from: event.from, message: event.message });
        this.drain(node);
        return;
      }
      case 'action':
        this.apply(event.action);
        if (event.nemesis) this.pushNemesis(this.now);
        return;
    }
  }

  /** Carries out what a core node asked for: persist, then send, then observe its new status. */
  private drain(node: SimNode): void {
    const core = node.core!;
    const output = core.takeOutput();
    if (output.persist !== null) node.durable = output.persist;
    for (const { to, message } of output.messages) this.send(node, to, message);
    for (const event of output.events) {
      if (event.type === 'election-started') {
        this.electionsStarted++;
        this.startsByNode.set(node.id, (this.startsByNode.get(node.id) ?? 0) + 1);
      }
    }
    this.observe(node, core.status());
    const deadline = core.nextDeadline();
    if (deadline !== node.timerAt) {
      node.timerAt = deadline;
      if (deadline !== Infinity) {
        this.heap.push({ time: Math.max(deadline, this.now), seq: this.seq++, kind: 'timer', node, incarnation: node.incarnation });
      }
    }
  }

  private send(from: SimNode, to: NodeId, message: Message): void {
    this.messagesSent++;
    this.byType.set(message.type, (this.byType.get(message.type) ?? 0) + 1);
    const problem = this.algorithm.checkSend?.(from.id, to, message, { voters: this.voters, observers: this.observerIds });
    if (problem) this.violate('message', `node ${from.id} -> ${to} ${message.type}: ${problem}`);
    const target = this.byId.get(to);
    if (!target) {
      this.violate('message', `node ${from.id} sent ${message.type} to unknown node ${to}`);
      return;
    }
    for (const delay of this.network.transmit(from.id, to)) {
      this.heap.push({
        time: this.now + delay,
        seq: this.seq++,
        kind: 'deliver',
        sentMs: this.now,
        from: from.id,
        to: target,
        incarnation: target.incarnation,
        message,
      });
    }
  }

  /** Queues the nemesis's next faults; the first of them, when it runs, asks for the ones after. */
  private pushNemesis(afterMs: number): void {
    const actions = this.nemesis?.next(afterMs);
    actions?.forEach((action, index) => this.pushAction(action, index === 0));
  }

  private pushAction(action: Action, nemesis: boolean): void {
    this.heap.push({ time: action.atMs, seq: this.seq++, kind: 'action', action, nemesis });
  }

  // ---- faults -------------------------------------------------------------------------------------

  private apply(action: Action): void {
    this.lastDisturbanceMs = this.now;
    const resolved = this.resolveAction(action);
    if (resolved === null) {
      this.note(`${describeAction(action)}: no leader now, skipped`);
      return;
    }
    switch (resolved.do) {
      case 'crash': {
        const node = this.byId.get(resolved.node)!;
        if (!node.up) return;
        this.note(`crash ${node.id}`);
        this.crash(node);
        return;
      }
      case 'restart': {
        const targets = resolved.node === 'all' ? this.nodes : [this.byId.get(resolved.node)!];
        for (const node of targets) {
          if (node.up) continue;
          this.note(`restart ${node.id}`);
          this.start(node);
        }
        return;
      }
      case 'partition':
        this.network.partition(resolved.groups);
        this.note(`partition ${this.network.components().map((g) => `[${g.join(',')}]`).join(' ')}`);
        break;
      case 'split': {
        const leader = this.currentLeader();
        if (leader === null) {
          this.note('split: no leader now, skipped');
          return;
        }
        const others = this.nodes.map((n) => n.id).filter((id) => id !== leader);
        this.network.partition([[leader, ...others.slice(0, resolved.minority - 1)]]);
        this.note(`partition ${this.network.components().map((g) => `[${g.join(',')}]`).join(' ')}`);
        break;
      }
      case 'isolate':
        this.network.isolate(resolved.node);
        this.note(`isolate ${resolved.node}`);
        break;
      case 'cut':
        this.network.cut(resolved.from, resolved.to);
        this.note(`cut ${resolved.from} -> ${resolved.to}`);
        break;
      case 'heal':
        if (!this.network.faulty) return;
        this.network.heal();
        this.note('heal');
        break;
      case 'loss':
        if (this.network.loss === resolved.p) return;
        this.network.loss = resolved.p;
        this.note(`loss ${resolved.p}`);
        return;
      case 'duplicate':
        if (this.network.duplicate === resolved.p) return;
        this.network.duplicate = resolved.p;
        this.note(`duplicate ${resolved.p}`);
        return;
      case 'latency':
        this.network.latency = { minMs: resolved.minMs, maxMs: resolved.maxMs };
        this.note(describeAction(resolved));
        return;
    }
    this.dirty = true; // the network changed: who is on the leader's side may have changed
  }

  /** Replaces "leader" references by the current leader's id; null when there is none to name. */
  private resolveAction(action: Action): ResolvedAction | null {
    const leader = this.currentLeader();
    const ref = (r: NodeRef): NodeId | null => (r === 'leader' ? leader : r);
    switch (action.do) {
      case 'crash':
      case 'isolate': {
        const node = ref(action.node);
        return node === null ? null : { do: action.do, node };
      }
      case 'cut': {
        const from = ref(action.from);
        const to = ref(action.to);
        return from === null || to === null ? null : { do: 'cut', from, to };
      }
      case 'partition': {
        const groups: NodeId[][] = [];
        for (const group of action.groups) {
          const ids = group.map(ref);
          if (ids.some((id) => id === null)) return null;
          groups.push(ids as NodeId[]);
        }
        return { do: 'partition', groups };
      }
      case 'restart':
      case 'split':
      case 'heal':
      case 'loss':
      case 'duplicate':
      case 'latency':
        return action;
    }
  }

  /** The agreed leader, else the live self-believed leader with the highest term, else null. */
  private currentLeader(): NodeId | null {
    if (this.agreement) return this.agreement.leader;
    let best: SimNode | null = null;
    for (const node of this.nodes) {
      if (node.up && node.believesLeader && (!best || node.status.term > best.status.term)) best = node;
    }
    return best?.id ?? null;
  }

  private start(node: SimNode): void {
    node.up = true;
    node.core = this.algorithm.create(node.config, node.durable, node.random, this.now);
    node.timerAt = Infinity;
    this.drain(node);
  }

  private crash(node: SimNode): void {
    node.up = false;
    node.core = null;
    node.incarnation++;
    node.timerAt = Infinity;
    this.setBelief(node, false);
    // node.status keeps the last status it reported: `final` shows it beside up: false.
    this.dirty = true;
  }

  // ---- invariants and metrics ---------------------------------------------------------------------

  private observe(node: SimNode, status: Status): void {
    const previous = node.status;
    if (
      previous.role === status.role &&
      previous.leader === status.leader &&
      previous.term === status.term &&
      previous.id === status.id
    ) {
      return;
    }
    node.status = status;
    this.dirty = true;
    // Terms (epochs, generations) are durable: they never go backwards on a node, even across a crash.
    if (status.term < node.highestTerm) {
      this.violate('term-monotonic', `node ${node.id} went from term ${node.highestTerm} back to ${status.term}`);
    }
    node.highestTerm = Math.max(node.highestTerm, status.term);
    const believes = status.leader === node.id;
    if (believes && !node.believesLeader) {
      this.leaders.push({ atMs: round(this.now), node: node.id, term: status.term });
      this.note(`${node.id} becomes leader, term ${status.term}`);
      // Election safety: at most one leader per term (Raft), epoch (ZAB) or generation (Bully).
      const holder = this.leaderOfTerm.get(status.term);
      if (holder !== undefined && holder !== node.id) {
        this.violate('election-safety', `nodes ${holder} and ${node.id} both led term ${status.term}`);
      } else {
        this.leaderOfTerm.set(status.term, node.id);
      }
    }
    this.setBelief(node, believes);
  }

  private setBelief(node: SimNode, believes: boolean): void {
    if (node.believesLeader === believes) return;
    node.believesLeader = believes;
    const before = this.believers;
    this.believers += believes ? 1 : -1;
    // Two self-believed leaders at once is measured (dualLeaderMs), not a violation: Raft's deposed
    // leader may not know it yet, and Bully promises nothing under a partition (split brain). The
    // timeline says when it starts and ends, so it is seen, not hidden.
    if (before < 2 && this.believers >= 2) {
      this.dualSince = this.now;
      if (this.wantTimeline) {
        const leaders = this.nodes.filter((n) => n.believesLeader).map((n) => `${n.id} (term ${n.status.term})`);
        this.note(`dual leaders: ${leaders.join(' and ')} each believe they lead`);
      }
    }
    if (before >= 2 && this.believers < 2) {
      this.dualLeaderMs += this.now - this.dualSince;
      this.note(`one leader again, after ${round(this.now - this.dualSince)} ms of dual leaders`);
      this.dualSince = -1;
    }
  }

  /**
   * Recomputes whether the cluster agrees on a leader and opens or closes election periods.
   * An election runs from the loss of the agreed leader (it crashed, stepped down, or was cut off from
   * the largest group of live nodes), or from the start, until every live node of the largest group
   * names the same live leader that believes it leads. A leader change with no such loss (Bully's
   * takeover by a recovered higher id) is an election from the moment agreement was lost.
   */
  private settle(): void {
    this.dirty = false;
    const previous = this.agreement;
    const next = this.computeAgreement();
    if (previous?.leader === next?.leader && previous?.term === next?.term) return;
    this.agreement = next;
    const here: ElectionStart = {
      startMs: this.now,
      messages: this.messagesSent,
      rounds: this.electionsStarted,
      byType: new Map(this.byType),
      starts: new Map(this.startsByNode),
    };
    if (previous && !next) {
      this.agreementLost = here;
      const leader = this.byId.get(previous.leader)!;
      const lost = !leader.up || !leader.believesLeader || !this.largestGroup().includes(leader);
      if (lost && !this.open) {
        this.open = here;
        this.note(`leader ${previous.leader} lost`);
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
        startMs: round(open.startMs),
        endMs: round(this.now),
        leader: next.leader,
        term: next.term,
        messages: this.messagesSent - open.messages,
        rounds: this.electionsStarted - open.rounds,
        messagesByType: this.countsSince(open.byType),
        candidates: this.startersSince(open.starts),
      });
      this.note(`all agree on leader ${next.leader} (term ${next.term}) after ${round(this.now - open.startMs)} ms`);
      this.open = null;
    }
    this.lastAgreedLeader = next.leader;
  }

  /** Messages sent by type since `before` (a snapshot of `byType`), in the algorithm's type order. */
  private countsSince(before: ReadonlyMap<string, number>): Record<string, number> {
    const counts: Record<string, number> = {};
    const add = (type: string) => {
      const count = (this.byType.get(type) ?? 0) - (before.get(type) ?? 0);
      if (count > 0) counts[type] = count;
    };
    for (const type of this.algorithm.messageTypes) add(type);
    for (const type of this.byType.keys()) if (!(type in counts)) add(type);
    return counts;
  }

  /** How many nodes have started an election since `before` (a snapshot of `startsByNode`). */
  private startersSince(before: ReadonlyMap<NodeId, number>): number {
    let starters = 0;
    for (const [id, count] of this.startsByNode) if (count > (before.get(id) ?? 0)) starters++;
    return starters;
  }

  /** The largest partition group counted in live nodes (ties: the one with the smallest id). */
  private largestGroup(): SimNode[] {
    let best: SimNode[] = [];
    for (const component of this.network.components()) {
      const live = component.map((id) => this.byId.get(id)!).filter((n) => n.up);
      if (live.length > best.length) best = live;
    }
    return best;
  }

  private computeAgreement(): Agreement | null {
    const group = this.largestGroup();
    if (group.length === 0) return null;
    const leaderId = group[0]!.status.leader;
    if (leaderId === null) return null;
    for (const node of group) if (node.status.leader !== leaderId) return null;
    const leader = this.byId.get(leaderId);
    if (!leader || !leader.up || !leader.believesLeader || !group.includes(leader)) return null;
    return { leader: leaderId, term: leader.status.term };
  }

  /**
   * Liveness, checked once at the end: when faults stopped long enough ago on a connected network and
   * enough voters are up, every live node must name one leader (for Bully: the highest live id).
   */
  private checkConvergence(): void {
    const boundMs = Math.max(3000, 10 * this.timing.electionTimeoutMaxMs);
    if (this.network.faulty || this.network.loss > 0 || this.now - this.lastDisturbanceMs < boundMs) return;
    const liveVoters = this.nodes.filter((n) => n.up && this.voters.includes(n.id)).map((n) => n.id);
    if (!this.algorithm.canElect(liveVoters.length, this.voters.length)) return;
    const agreement = this.computeAgreement();
    const live = this.nodes.filter((n) => n.up);
    if (!agreement || live.some((n) => n.status.leader !== agreement.leader)) {
      const views = live.map((n) => `${n.id}:${n.status.role}/${n.status.leader ?? '-'}`).join(' ');
      this.violate('convergence', `no single leader ${round(this.now - this.lastDisturbanceMs)} ms after the last fault (${views})`);
      return;
    }
    const expected = this.algorithm.expectedLeader?.(liveVoters);
    if (expected !== undefined && agreement.leader !== expected) {
      this.violate('convergence', `leader is ${agreement.leader}, expected ${expected}`);
    }
  }

  private violate(invariant: string, detail: string): void {
    this.violations.push({ atMs: round(this.now), invariant, detail });
    this.note(`VIOLATION ${invariant}: ${detail}`);
  }

  private note(text: string): void {
    if (this.wantTimeline) this.timeline.push({ atMs: round(this.now), text });
  }

  private result(): SimResult {
    const byType: Record<string, number> = {};
    for (const type of this.algorithm.messageTypes) {
      const count = this.byType.get(type);
      if (count) byType[type] = count;
    }
    for (const [type, count] of this.byType) if (!(type in byType)) byType[type] = count;
    return {
      algorithm: this.algorithm.name,
      ...(this.algorithm.variant !== undefined ? { variant: this.algorithm.variant } : {}),
      nodes: this.voters,
      observers: this.observerIds,
      seed: this.seed,
      scenario: this.scenarioName,
      durationMs: round(this.durationMs),
      leaders: this.leaders,
      elections: this.elections,
      messages: { total: this.messagesSent, byType },
      dualLeaderMs: round(this.dualLeaderMs),
      final: this.nodes.map((n) => ({
        node: n.id,
        up: n.up,
        role: n.status.role,
        leader: n.status.leader,
        term: n.status.term,
        durableBytes: utf8.encode(JSON.stringify(n.durable)).length,
      })),
      violations: this.violations,
      ...(this.wantTimeline ? { timeline: this.timeline } : {}),
    };
  }
}

type ResolvedAction =
  | { readonly do: 'crash' | 'isolate'; readonly node: NodeId }
  | { readonly do: 'cut'; readonly from: NodeId; readonly to: NodeId }
  | { readonly do: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | Exclude<Action, { do: 'crash' | 'isolate' | 'cut' | 'partition' }>;
