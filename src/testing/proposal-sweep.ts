/**
 * Random-nemesis runs with clients, for the cores that replicate (issue 15), until the key-value
 * workload drives `ballot sim` itself: the real engine (random latency, so messages reorder; loss and
 * duplication for some seeds), the real fault injector, the sweep's options (src/sim/sweep.ts: 3 to 9
 * voters, histories of several terms), and the simulator's checkers — the replicated-log checkers of
 * src/sim/checkers/replication.ts among them. Every few milliseconds each running node is handed a
 * proposal through `engine.local` (only a leader accepts it), and now and then a compaction up to what
 * it has applied. Convergence is left to the plain sweep: clients do not change when leaders agree.
 */
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { defaultCheckers } from '../sim/checkers.js';
import { Engine } from '../sim/engine.js';
import type { Checker, SimEvent } from '../sim/events.js';
import { Faults } from '../sim/faults.js';
import { Prng } from '../sim/prng.js';
import { sweepOptions } from '../sim/sweep.js';

export interface ProposalRun {
  readonly seed: number;
  /** `checker: detail`, in the order found. */
  readonly violations: readonly string[];
  /** The highest index any node reported committed. */
  readonly committed: number;
}

export interface ProposalRunOptions {
  readonly durationMs?: number;
  /** How often each node is offered a proposal, ms. */
  readonly everyMs?: number;
}

/** One seeded run: the sweep's options for `seed`, some loss or duplication, clients proposing. */
export function proposalRun(algorithm: AnyAlgorithm, seed: number, options: ProposalRunOptions = {}): ProposalRun {
  const violations: string[] = [];
  let checkers: Checker[] = [];
  let highest = 0;
  /** Per node: the last index its state machine holds in this incarnation (what it may compact). */
  const applied = new Map<NodeId, number>();
  const publish = (event: SimEvent) => {
    if (event.type === 'crash') applied.delete(event.node);
    if (event.type === 'driver' && event.event.type === 'core') {
      const core = event.event.event;
      if (core.type === 'committed' || core.type === 'snapshot-installed') {
        applied.set(event.node, core.index);
        highest = Math.max(highest, core.index);
      }
    }
    for (const checker of checkers) {
      if (!(checker.wants as readonly string[]).includes(event.type)) continue;
      for (const detail of checker.observe(event)) violations.push(`${checker.name}: ${detail}`);
    }
  };
  const simOptions = {
    ...sweepOptions(algorithm, seed),
    ...(seed % 3 === 0 ? { observers: 1 } : {}),
    loss: seed % 4 === 1 ? 0.02 : 0,
    duplicate: seed % 4 === 2 ? 0.02 : 0,
  };
  let faults: Faults | null = null;
  const engine = new Engine(simOptions, { publish, act: (action, nemesis) => faults!.apply(action, nemesis), wants: () => true });
  checkers = defaultCheckers(engine).filter((checker) => checker.name !== 'convergence');
  faults = new Faults(engine, { seed, scenario: 'random' }, () => engine.agreement()?.leader ?? null, publish);
  engine.startAll();
  const random = new Prng(seed, 'clients');
  const everyMs = options.everyMs ?? 7;
  const durationMs = options.durationMs ?? 3000;
  let request = 0;
  for (let at = everyMs; at <= durationMs; at += everyMs) {
    while (engine.nextTime() <= at) engine.step();
    engine.now = Math.max(engine.now, at);
    for (const id of [...engine.voters, ...engine.observers]) {
      const node = engine.node(id)!;
      if (!node.up || node.driver === null) continue;
      request += 1;
      engine.local(node, { type: 'propose', id: request, command: `${id}/${request}` });
      const index = applied.get(id) ?? 0;
      if (index > 0 && random.chance(0.03)) engine.local(node, { type: 'compact', index, snapshot: `applied ${index}` });
    }
  }
  return { seed, violations, committed: highest };
}
