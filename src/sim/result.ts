/** The `ballot sim` result (the `--json` object, CONTRACT.md) of a run, from its parts. */
import { roundMs, type Engine } from './engine.js';
import { countsSince, type ElectionMetrics } from './metrics.js';
import type { KvSummary, MembershipSummary, SimOptions, SimResult, TimelineEntry, Violation } from './types.js';

/** TextEncoder rather than Buffer: the simulator also runs in the browser. */
const utf8 = new TextEncoder();

export function simResult(
  options: SimOptions,
  durationMs: number,
  engine: Engine,
  metrics: ElectionMetrics,
  violations: Violation[],
  timeline: TimelineEntry[] | undefined,
  kv?: KvSummary,
  membership?: MembershipSummary,
): SimResult {
  const { algorithm } = engine;
  // Key order is the output's: `ballot sim --json` is compared byte for byte (src/cli/sim-golden.test.ts).
  return {
    algorithm: algorithm.name,
    ...(algorithm.variant !== undefined ? { variant: algorithm.variant } : {}),
    nodes: engine.voters,
    observers: engine.observers,
    ...(engine.spares.length > 0 ? { spares: engine.spares } : {}),
    seed: options.seed,
    scenario: options.schedule ? (options.scheduleName ?? 'schedule') : (options.scenario ?? 'cold-start'),
    durationMs: roundMs(durationMs),
    leaders: metrics.leaders,
    elections: metrics.elections,
    messages: { total: engine.messagesSent, byType: countsSince(algorithm, engine.sentByType) },
    dualLeaderMs: roundMs(metrics.dualLeaderMs),
    leaseOverlapMs: roundMs(metrics.leaseOverlapMs),
    final: engine.nodes.map((n) => ({
      node: n.id,
      up: n.up,
      role: n.status.role,
      leader: n.status.leader,
      term: n.status.term,
      durableBytes: utf8.encode(JSON.stringify(n.durable)).length,
    })),
    violations,
    ...(kv ? { kv } : {}),
    ...(membership ? { membership } : {}),
    ...(timeline ? { timeline } : {}),
  };
}
