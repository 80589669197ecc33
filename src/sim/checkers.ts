/**
 * The invariants the simulator checks, each its own Checker (events.ts) following the event stream:
 * election safety, term monotonicity, the algorithm's own message check, and convergence (liveness,
 * checked once at the end), for every algorithm; and each algorithm's own rules, in checkers/raft.ts,
 * checkers/zab.ts and checkers/bully.ts. docs/invariants.md lists them all, with the rule each cites
 * and the broken cores (src/sim/mutants.test.ts) each catches; the replicated log's own
 * (checkers/replication.ts) run for every algorithm that declares `replication: 'consensus'`. A new
 * invariant is one more class and one more line in `defaultCheckers`.
 */
import type { AlgorithmName } from '../core/algorithms.js';
import type { AnyAlgorithm, NodeId, Timing } from '../core/types.js';
import { BullyComponents, BullyVictory } from './checkers/bully.js';
import { AfterFaults } from './checkers/quiet.js';
import { LeaderCompleteness, OneVotePerTerm, VoteDurability } from './checkers/raft.js';
import { ZabEpochPromise, ZabHistory } from './checkers/zab.js';
import { ZabSyncLimit } from './checkers/zab-sync-limit.js';
import { ConfigurationSafety } from './checkers/configuration.js';
import { roundMs, type Engine } from './engine.js';
import { NO_VIOLATIONS, startsReign, type Checker, type SimEvent, type SimEventType } from './events.js';
import { LeaseSafety } from './checkers/lease-safety.js';
import { AckedDurable, KvLinearizable, LogAgreement } from './checkers/replication.js';
import type { Workload } from './workload.js';

/**
 * Election safety: at most one leader per term (Raft), epoch (ZAB) or generation (Bully), checked at
 * every reign (a re-declaration under a new term is a reign of its own).
 */
export class ElectionSafety implements Checker {
  readonly name = 'election-safety';
  readonly wants = ['status'] as const;
  private readonly leaderOfTerm = new Map<number, NodeId>();

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'status' || !startsReign(event)) return NO_VIOLATIONS;
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
 * Liveness with a number: when faults stopped at least `convergenceBoundMs` before the end on a
 * connected, loss-free network and enough voters are up, every live node must name one leader (for
 * preempting Bully: the highest live id) at the end, and the cluster must have agreed on that leader
 * within the bound of the last fault — not merely by the end of the run. The agreement's moment is the
 * metrics' `agreed` event (the one agreement rule, src/core/agreement.ts); an agreement that held
 * through the last fault counts from before it.
 */
export class Convergence extends AfterFaults {
  readonly name = 'convergence';
  override readonly wants: readonly SimEventType[] = ['fault', 'agreed'];
  /** When the cluster last came to agree on a leader (an `agreed` event), or -1. */
  private agreedAtMs = -1;

  override observe(event: SimEvent): readonly string[] {
    if (event.type === 'agreed') this.agreedAtMs = this.engine.now;
    return super.observe(event);
  }

  finish(): readonly string[] {
    const { engine } = this;
    const { algorithm, network, now } = engine;
    const boundMs = convergenceBoundMs(engine.timing);
    if (network.faulty || !this.quietFor(boundMs)) return NO_VIOLATIONS;
    const liveVoters = (voters: readonly NodeId[]) => engine.nodes.filter((n) => n.up && voters.includes(n.id)).map((n) => n.id);
    // The voters of the configuration in force: the newest committed one, and, while a change is still
    // uncommitted, also the newest any live node uses (a leader needs a majority of it to commit).
    const configurations = engine.dynamic ? [engine.configurations.committed.membership.voters, newestVoters(engine)] : [engine.voters];
    if (configurations.some((voters) => !algorithm.canElect(liveVoters(voters).length, voters.length))) return NO_VIOLATIONS;
    const agreement = engine.agreement();
    // Nodes outside the committed configuration (spares not added, members removed) have no say.
    const live = engine.nodes.filter((n) => n.up && engine.isMember(n));
    if (!agreement || live.some((n) => n.status.leader !== agreement.leader)) {
      const views = live.map((n) => `${n.id}:${n.status.role}/${n.status.leader ?? '-'}`).join(' ');
      return [`no single leader ${roundMs(now - this.lastDisturbanceMs)} ms after the last fault (${views})`];
    }
    const expected = algorithm.expectedLeader?.(liveVoters(engine.voters));
    if (expected !== undefined && agreement.leader !== expected) return [`leader is ${agreement.leader}, expected ${expected}`];
    const lateMs = this.agreedAtMs - this.lastDisturbanceMs;
    const since = this.sawFault ? 'the last fault' : 'the start';
    if (lateMs > boundMs) return [`agreed on leader ${agreement.leader} only ${roundMs(lateMs)} ms after ${since} (bound ${boundMs} ms)`];
    return NO_VIOLATIONS;
  }
}

/** The voters of the newest configuration a live node uses (the committed one when none is newer). */
function newestVoters(engine: Engine): readonly NodeId[] {
  let newest = engine.configurations.committed;
  for (const node of engine.nodes) {
    const latest = node.up ? engine.configurations.latest(node.id) : null;
    if (latest !== null && latest.index > newest.index) newest = latest;
  }
  return newest.membership.voters;
}

/**
 * How long after the last fault a connected cluster must agree on one leader (and keep it), for every
 * algorithm: ten election timeouts (at the maximum), and at least 3 s. Raft: each term after a split
 * vote is a fresh draw of randomized timeouts, and ten in a row is vanishingly rare at 5 nodes; ZAB:
 * a learner's silence detection plus FLE's finalize wait and the initLimit fit in two or three; Bully:
 * detection plus T and T' per lower id that notices first fit in two.
 */
export function convergenceBoundMs(timing: Timing): number {
  return Math.max(3000, 10 * timing.electionTimeoutMaxMs);
}

/**
 * Each registered algorithm's own invariants (docs/invariants.md), by name: a new algorithm must say
 * which it has (the record is over every AlgorithmName). An algorithm not in the registry (a test's
 * variant under another name) gets only the common ones.
 */
const ownCheckers: Readonly<Record<AlgorithmName, (engine: Engine) => Checker[]>> = {
  raft: (engine) => [new LeaderCompleteness(engine), new OneVotePerTerm(), new VoteDurability(engine)],
  zab: (engine) => [new ZabHistory(engine), new ZabEpochPromise(engine), new ZabSyncLimit(engine)],
  // The component promise is preempting Bully's only ('stable' names no expected leader).
  bully: (engine) => [new BullyVictory(), ...(engine.algorithm.expectedLeader ? [new BullyComponents(engine, convergenceBoundMs(engine.timing))] : [])],
};

function algorithmCheckers(engine: Engine): Checker[] {
  const name = engine.algorithm.name;
  return Object.hasOwn(ownCheckers, name) ? ownCheckers[name as AlgorithmName](engine) : [];
}

/**
 * The replicated log's checkers (checkers/replication.ts), for the algorithms that promise consensus
 * (`Algorithm.replication`); a primary–backup algorithm's losses are measured by the workload instead.
 */
function replicationCheckers(engine: Engine): Checker[] {
  return engine.algorithm.replication === 'consensus' ? [new LogAgreement(), new AckedDurable()] : [];
}

/**
 * With a workload (`--workload kv`): for an algorithm that promises consensus, the clients' history
 * must be linearizable. A primary–backup algorithm's history is checked and reported (`kv`), not flagged.
 */
export function workloadCheckers(engine: Engine, workload: Workload): Checker[] {
  return engine.algorithm.replication === 'consensus' ? [new KvLinearizable(workload)] : [];
}

/** Every checker the simulator runs, in the order their violations are reported for one event (term-monotonic first). */
export function defaultCheckers(engine: Engine): Checker[] {
  return [
    new TermMonotonic(),
    new ElectionSafety(),
    new MessageCheck(engine.algorithm, engine.voters, engine.observers),
    new Convergence(engine),
    new LeaseSafety(engine),
    ...algorithmCheckers(engine),
    ...replicationCheckers(engine),
    // Only where the configuration may change (src/sim/membership.ts): the rules of changing it.
    ...(engine.dynamic && engine.algorithm.membershipChange ? [new ConfigurationSafety(engine.configurations)] : []),
  ];
}
