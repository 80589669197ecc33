/**
 * The deterministic discrete-event simulator. Virtual time in milliseconds, one event queue, one seed
 * from which every random stream is derived. It hosts the very same core nodes as the real runtime,
 * through the same host loop (NodeDriver), checks safety invariants as events happen and measures
 * elections as CONTRACT.md defines them.
 *
 * This file only wires the parts together (docs/architecture.md): the engine (engine.ts) runs the
 * nodes and the network, faults (faults.ts) applies the scenario, and the election metrics
 * (metrics.ts), the invariant checkers (checkers.ts) and the timeline (timeline.ts) follow one event
 * stream (events.ts); result.ts builds the `ballot sim` result.
 */
import { defaultCheckers, workloadCheckers } from './checkers.js';
import { Engine, roundMs } from './engine.js';
import type { Checker, SimEvent, SimEventType, Subscriber } from './events.js';
import { Faults } from './faults.js';
import { MembershipChanges, MembershipNemesis } from './membership.js';
import { ElectionMetrics } from './metrics.js';
import { simResult } from './result.js';
import { defaultDurationMs } from './scenarios.js';
import type { Action } from './schedule.js';
import { Timeline } from './timeline.js';
import { Workload } from './workload.js';
import type { SimOptions, Violation, SimResult, RunSnapshot, SimRun } from './types.js';

export type {
  SimOptions,
  LeaderRecord,
  ElectionRecord,
  Violation,
  FinalStatus,
  TimelineEntry,
  TimelineKind,
  SimResult,
  InFlight,
  NodeView,
  NodeTimer,
  RunSnapshot,
  SimRun,
} from './types.js';

export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

export function createRun(options: SimOptions): SimRun {
  return new Simulation(options);
}

/** A checker on the stream: what it finds is recorded as a violation and published. */
class CheckerSubscriber implements Subscriber {
  readonly wants: readonly SimEventType[];

  constructor(
    readonly checker: Checker,
    private readonly report: (checker: Checker, details: readonly string[]) => void,
  ) {
    this.wants = checker.wants;
  }

  observe(event: SimEvent): void {
    const details = this.checker.observe(event);
    if (details.length > 0) this.report(this.checker, details);
  }
}

class Simulation implements SimRun {
  readonly durationMs: number;
  private readonly engine: Engine;
  private readonly faults: Faults;
  private readonly metrics: ElectionMetrics;
  private readonly timeline: Timeline | null;
  private readonly checkers: CheckerSubscriber[];
  /** The key-value clients and the nodes' stores (`options.workload`), or null. */
  private readonly workload: Workload | null;
  /** The membership changes asked for and answered, where the configuration may change; else null. */
  private readonly membership: MembershipChanges | null;
  /** Event type → the subscribers that read it, in the order they are called (see the constructor). */
  private readonly routes = new Map<SimEventType, Subscriber[]>();
  private readonly violations: Violation[] = [];

  constructor(private readonly options: SimOptions) {
    this.engine = new Engine(options, {
      publish: (event) => this.publish(event),
      act: (action, nemesis) => this.faults.apply(action, nemesis),
      wants: (type) => this.routes.has(type),
    });
    const engine = this.engine;
    this.durationMs = options.durationMs ?? defaultDurationMs(engine.timing);
    this.metrics = new ElectionMetrics(engine, (event) => this.publish(event));
    this.timeline = options.timeline ? new Timeline(engine) : null;
    const report = (checker: Checker, details: readonly string[]) => this.report(checker.name, details);
    this.workload = options.workload ? new Workload(engine, options.seed, options.workload) : null;
    this.checkers = [...defaultCheckers(engine), ...(this.workload ? workloadCheckers(engine, this.workload) : [])].map((checker) => new CheckerSubscriber(checker, report));
    // The order is part of the text output, as it was when all this was one class: for a node's new
    // status, a term going back is reported before the line "N becomes leader", election safety after
    // it; the metrics come last, so what they derive (dual leaders, a lost leader) follows the cause.
    const [termMonotonic, ...otherCheckers] = this.checkers;
    // The workload's hosts come last: they act on what the nodes reported after every checker saw it.
    // Where the configuration may change (an algorithm without membership change answers a schedule's
    // change with 'unsupported', counted like any refusal).
    this.membership = engine.dynamic ? new MembershipChanges(engine.configurations) : null;
    const ordered = [
      termMonotonic!, ...(this.timeline ? [this.timeline] : []), ...otherCheckers, this.metrics, ...(this.workload ? [this.workload] : []), ...(this.membership ? [this.membership] : []),
    ];
    for (const subscriber of ordered) {
      for (const type of subscriber.wants) {
        const route = this.routes.get(type);
        if (route) route.push(subscriber);
        else this.routes.set(type, [subscriber]);
      }
    }
    this.faults = new Faults(
      engine,
      { seed: options.seed, scenario: options.scenario ?? 'cold-start', ...(options.schedule ? { schedule: options.schedule } : {}),
        ...(options.maxClockDrift !== undefined ? { maxClockDrift: options.maxClockDrift } : {}),
        ...(options.closedConnections !== undefined ? { closedConnections: options.closedConnections } : {}),
        membership: this.membership ? { nemesis: new MembershipNemesis(options.seed, engine.timing, options.membership ?? null), changes: this.membership } : null },
      () => this.currentLeader(),
      (event) => this.publish(event),
    );
    engine.startAll();
    this.metrics.settle();
  }

  run(): SimResult {
    this.stepUntil(this.durationMs);
    return this.finish();
  }

  // ---- the stepping API (SimRun) ------------------------------------------------------------------

  get nowMs(): number {
    return this.engine.now;
  }

  step(): boolean {
    // A client's action runs before the engine's events of a later instant (at one instant, the engine's first).
    const clientAt = this.workload?.nextTime() ?? Infinity;
    if (clientAt < this.engine.nextTime()) {
      this.engine.now = Math.max(this.engine.now, clientAt);
      this.workload!.step();
    } else if (!this.engine.step()) {
      return false;
    }
    this.metrics.settle();
    return true;
  }

  /** The time of the next event: the engine's or a client's. */
  private nextTime(): number {
    return Math.min(this.engine.nextTime(), this.workload?.nextTime() ?? Infinity);
  }

  stepUntil(timeMs: number): void {
    while (this.nextTime() <= timeMs) this.step();
    this.engine.now = Math.max(this.engine.now, timeMs);
  }

  inject(action: Action): void {
    this.engine.pushAction({ ...action, atMs: this.engine.now }, false);
  }

  snapshot(): RunSnapshot {
    const { engine } = this;
    return {
      nowMs: engine.now,
      nodes: engine.nodes.map((n) => ({
        node: n.id,
        up: n.up,
        role: n.status.role,
        leader: n.status.leader,
        term: n.status.term,
        // What the deadline is for follows from leadership: a leader's one timer is its heartbeat.
        timer: n.up && n.timerAt !== Infinity ? { atMs: n.timerAt, purpose: n.believesLeader ? 'heartbeat' : 'timeout' } : null,
      })),
      messagesSent: engine.messagesSent,
      inFlight: engine.inFlight(),
      components: engine.network.components().map((group) => [...group]),
      agreedLeader: this.metrics.agreement?.leader ?? null,
      leaders: this.metrics.leaders,
      elections: this.metrics.elections,
      violations: this.violations,
      timeline: this.timeline?.entries ?? [],
    };
  }

  finish(): SimResult {
    this.metrics.finish();
    const kv = this.workload?.finish();
    for (const { checker } of this.checkers) {
      const details = checker.finish?.();
      if (details && details.length > 0) this.report(checker.name, details);
    }
    return simResult(this.options, this.durationMs, this.engine, this.metrics, this.violations, this.timeline?.entries, kv, this.membership?.summary());
  }

  // ---- the stream ---------------------------------------------------------------------------------

  private publish(event: SimEvent): void {
    const subscribers = this.routes.get(event.type);
    if (subscribers === undefined) return;
    for (let i = 0; i < subscribers.length; i++) subscribers[i]!.observe(event);
  }

  private report(invariant: string, details: readonly string[]): void {
    for (const detail of details) {
      this.violations.push({ atMs: roundMs(this.engine.now), invariant, detail });
      this.publish({ type: 'violation', invariant, detail });
    }
  }

  /** The agreed leader, else the live self-believed leader with the highest term, else null. */
  private currentLeader(): number | null {
    const agreement = this.metrics.agreement;
    if (agreement) return agreement.leader;
    let best: { id: number; term: number } | null = null;
    for (const node of this.engine.nodes) {
      if (node.up && node.believesLeader && (!best || node.status.term > best.term)) best = { id: node.id, term: node.status.term };
    }
    return best?.id ?? null;
  }
}
