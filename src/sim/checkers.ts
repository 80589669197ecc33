/**
 * The invariants the simulator checks, each its own Checker (events.ts) following the event stream:
 * election safety, term monotonicity, the algorithm's own message check, and convergence (liveness,
 * checked once at the end). A fifth invariant is one more class here and one more line in
 * `defaultCheckers`.
 */
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { roundMs, type Engine } from './engine.js';
import { NO_VIOLATIONS, type Checker, type SimEvent, type SimEventType } from './events.js';
import { LeaseSafety } from './lease-checker.js';

/** Election safety: at most one leader per term (Raft), epoch (ZAB) or generation (Bully). */
export class ElectionSafety implements Checker {
  readonly name = 'election-safety';
  readonly wants = ['status'] as const;
  private readonly leaderOfTerm = new Map<number, NodeId>();

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'status' || event.wasLeader || event.status.leader !== event.node) return NO_VIOLATIONS;
    const term = event.status.term;
    const holder = this.leaderOfTerm.get(term);
    if (holder !== undefined && holder !== event.node) return [`nodes ${holder} and ${event.node} both led term ${term}`];
    this.leaderOfTerm.set(term, event.node);
    return NO_VIOLATIONS;
  }
}

/** Terms (epochs, generations) are durable: they never go backwards on a node, even across a crash. */
export class TermMonotonic implements Checker {
  readonly name = 'term-monotonic';
  readonly wants = ['status'] as const;
  private readonly highestTerm = new Map<NodeId, number>();

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'status') return NO_VIOLATIONS;
    const highest = this.highestTerm.get(event.node) ?? 0;
    const term = event.status.term;
    if (term >= highest) {
      this.highestTerm.set(event.node, term);
      return NO_VIOLATIONS;
    }
    return [`node ${event.node} went from term ${highest} back to ${term}`];
  }
}

/**
 * The algorithm's own rule for who may send what to whom (`checkSend`), and no message to a stranger.
 * It reads every send only when the algorithm has a rule (a send is the hot path).
 */
export class MessageCheck implements Checker {
  readonly name = 'message';
  readonly wants: readonly SimEventType[];
  private readonly members: { readonly voters: readonly NodeId[]; readonly observers: readonly NodeId[] };

  constructor(
    private readonly algorithm: AnyAlgorithm,
    voters: readonly NodeId[],
    observers: readonly NodeId[],
  ) {
    this.members = { voters, observers };
    this.wants = algorithm.checkSend ? ['sent', 'undeliverable'] : ['undeliverable'];
  }

  observe(event: SimEvent): readonly string[] {
    switch (event.type) {
      case 'sent': {
        const { from, to, message } = event;
        const problem = this.algorithm.checkSend?.(from, to, message, this.members);
        return problem ? [`node ${from} -> ${to} ${message.type}: ${problem}`] : NO_VIOLATIONS;
      }
      case 'undeliverable':
        return [`node ${event.from} sent ${event.message.type} to unknown node ${event.to}`];
      default:
        return NO_VIOLATIONS;
    }
  }
}

/**
 * Liveness, checked once at the end: when faults stopped long enough ago on a connected network and
 * enough voters are up, every live node must name one leader (for Bully: the highest live id).
 */
export class Convergence implements Checker {
  readonly name = 'convergence';
  readonly wants = ['fault'] as const;
  private lastDisturbanceMs = 0;

  constructor(private readonly engine: Engine) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'fault') this.lastDisturbanceMs = this.engine.now;
    return NO_VIOLATIONS;
  }

  finish(): readonly string[] {
    const { engine } = this;
    const { algorithm, network, now } = engine;
    const boundMs = Math.max(3000, 10 * engine.timing.electionTimeoutMaxMs);
    if (network.faulty || network.loss > 0 || now - this.lastDisturbanceMs < boundMs) return NO_VIOLATIONS;
    const liveVoters = engine.nodes.filter((n) => n.up && engine.voters.includes(n.id)).map((n) => n.id);
    if (!algorithm.canElect(liveVoters.length, engine.voters.length)) return NO_VIOLATIONS;
    const agreement = engine.agreement();
    const live = engine.nodes.filter((n) => n.up);
    if (!agreement || live.some((n) => n.status.leader !== agreement.leader)) {
      const views = live.map((n) => `${n.id}:${n.status.role}/${n.status.leader ?? '-'}`).join(' ');
      return [`no single leader ${roundMs(now - this.lastDisturbanceMs)} ms after the last fault (${views})`];
    }
    const expected = algorithm.expectedLeader?.(liveVoters);
    if (expected !== undefined && agreement.leader !== expected) return [`leader is ${agreement.leader}, expected ${expected}`];
    return NO_VIOLATIONS;
  }
}

/** Every checker the simulator runs, in the order their violations are reported for one event (term-monotonic first). */
export function defaultCheckers(engine: Engine): Checker[] {
  return [new TermMonotonic(), new ElectionSafety(), new MessageCheck(engine.algorithm, engine.voters, engine.observers), new Convergence(engine), new LeaseSafety()];
}
