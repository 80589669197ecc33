/**
 * The election-level checks of a torture run, on what the nodes said about themselves: every /status
 * answer, with the harness's times of asking and of the answer (a status holds at some instant between
 * the two). Pure: samples in, violations out.
 *
 * - election-safety: at most one node claims leadership (leader === its own id) in any one term
 *   (Raft §5.2 Election Safety; ZAB: one leader per epoch; Bully: one per generation).
 * - term-monotonic: a node's term never goes back, across restarts (the term is durable: Raft Figure 2).
 * - lease-overlap: a node that says `lease: true` in term T after another node said `lease: true` in a
 *   higher term T' (its answer arrived before the first was asked). The later lease must come from
 *   acknowledgements of T-heartbeats; a majority that elected the T' leader had stopped sending those
 *   before it voted, so the older leader's lease window began before that election, and the lease
 *   promises that nobody is elected until it ends (docs/algorithms/raft.md). Only this order is a
 *   certain overlap: intervals that overlap in time could still be one after the other.
 */
import type { NodeId, Status } from '../core/types.js';

export interface StatusSample {
  readonly node: NodeId;
  /** When the harness asked and when the answer came (ms since the run began). */
  readonly askedMs: number;
  readonly answeredMs: number;
  readonly status: Status;
}

export type ElectionCheck = 'election-safety' | 'term-monotonic' | 'lease-overlap' | 'convergence';

export interface Violation {
  readonly check: ElectionCheck | 'linearizability';
  readonly atMs: number;
  readonly message: string;
}

function claimsLeadership(status: Status): boolean {
  return status.leader === status.id;
}

/** Every violation of election-safety, term-monotonic and lease-overlap in the samples (any order). */
export function checkStatusSamples(samples: readonly StatusSample[]): Violation[] {
  const violations: Violation[] = [];
  const ordered = [...samples].sort((a, b) => a.answeredMs - b.answeredMs);

  const leaderOfTerm = new Map<number, StatusSample>();
  const reported = new Set<string>();
  for (const sample of ordered) {
    if (!claimsLeadership(sample.status)) continue;
    const first = leaderOfTerm.get(sample.status.term);
    if (first === undefined) leaderOfTerm.set(sample.status.term, sample);
    else if (first.node !== sample.node && !reported.has(`${sample.status.term}`)) {
      reported.add(`${sample.status.term}`);
      violations.push({
        check: 'election-safety',
        atMs: sample.answeredMs,
        message: `nodes ${first.node} (at ${ms(first.answeredMs)}) and ${sample.node} (at ${ms(sample.answeredMs)}) both claimed leadership in term ${sample.status.term}`,
      });
    }
  }

  const lastTerm = new Map<NodeId, StatusSample>();
  for (const sample of ordered) {
    const before = lastTerm.get(sample.node);
    if (before !== undefined && sample.status.term < before.status.term) {
      violations.push({
        check: 'term-monotonic',
        atMs: sample.answeredMs,
        message: `node ${sample.node}'s term went back from ${before.status.term} (at ${ms(before.answeredMs)}) to ${sample.status.term} (at ${ms(sample.answeredMs)})`,
      });
    }
    if (before === undefined || sample.status.term >= before.status.term) lastTerm.set(sample.node, sample);
  }

  // For each lease report, the highest-term lease another node reported before it was asked.
  const leases = ordered.filter((sample) => sample.status.lease === true);
  const byAsked = [...leases].sort((a, b) => a.askedMs - b.askedMs);
  const highestBefore = new Map<NodeId, StatusSample>(); // per node, its highest-term lease report answered so far
  let next = 0;
  const flagged = new Set<string>();
  for (const later of byAsked) {
    while (next < leases.length && leases[next]!.answeredMs < later.askedMs) {
      const sample = leases[next++]!;
      const best = highestBefore.get(sample.node);
      if (best === undefined || sample.status.term > best.status.term) highestBefore.set(sample.node, sample);
    }
    for (const [node, earlier] of highestBefore) {
      if (node === later.node || earlier.status.term <= later.status.term) continue;
      const key = `${later.node}:${later.status.term}:${node}:${earlier.status.term}`;
      if (flagged.has(key)) continue;
      flagged.add(key);
      violations.push({
        check: 'lease-overlap',
        atMs: later.answeredMs,
        message:
          `node ${later.node} reported a lease in term ${later.status.term} at ${ms(later.askedMs)}–${ms(later.answeredMs)}, ` +
          `after node ${node} had reported one in the higher term ${earlier.status.term} (answered at ${ms(earlier.answeredMs)})`,
      });
    }
  }
  return violations.sort((a, b) => a.atMs - b.atMs);
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
