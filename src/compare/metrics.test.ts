import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft } from '../core/raft/index.js';
import type { SimResult } from '../sim/simulation.js';
import { firstFaultMs, measuredElections, round, summarize, summarizeCell, trialMetrics } from './metrics.js';

function fakeResult(overrides: Partial<SimResult> = {}): SimResult {
  const election = (startMs: number, endMs: number, byType: Record<string, number>, candidacies = 1, candidates = candidacies, terms = 1) => ({
    startMs,
    endMs,
    leader: 1,
    term: 1,
    messages: Object.values(byType).reduce((a, b) => a + b, 0),
    rounds: candidacies,
    candidates,
    messagesByType: byType,
    candidacies,
    terms,
  });
  return {
    algorithm: 'raft',
    nodes: [1, 2, 3],
    observers: [],
    seed: 7,
    scenario: 'leader-crash',
    durationMs: 10_000,
    leaders: [
      { atMs: 100, node: 1, term: 1 },
      { atMs: 2200, node: 2, term: 2 },
      { atMs: 4200, node: 3, term: 3 },
    ],
    elections: [
      election(0, 100, { RequestVote: 2, RequestVoteResponse: 2, AppendEntries: 2 }),
      election(2000, 2200, { RequestVote: 4, RequestVoteResponse: 3, AppendEntries: 2, AppendEntriesResponse: 1 }, 3, 2, 2),
      election(4000, 4200, { RequestVote: 2, RequestVoteResponse: 1, AppendEntries: 2 }),
    ],
    messages: { total: 100, byType: {} },
    dualLeaderMs: 12.5,
    leaseOverlapMs: 0,
    final: [
      { node: 1, up: false, role: 'leader', leader: 1, term: 1, durableBytes: 40 },
      { node: 2, up: true, role: 'follower', leader: 3, term: 3, durableBytes: 43 },
      { node: 3, up: true, role: 'leader', leader: 3, term: 3, durableBytes: 41 },
    ],
    violations: [],
    ...overrides,
  };
}

test("a metric's summary uses core's type-7 quantiles, rounded to microseconds; NaN when empty", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  assert.deepEqual(summarize(values), { count: 100, mean: 50.5, p50: 50.5, p99: 99.01, max: 100 });
  assert.deepEqual(summarize([3, 1, 2]), { count: 3, mean: 2, p50: 2, p99: 2.98, max: 3 });
  assert.deepEqual(summarize([1 / 3, 2 / 3]), { count: 2, mean: 0.5, p50: 0.5, p99: 0.663, max: 2 / 3 });
  const empty = summarize([]);
  assert.equal(empty.count, 0);
  for (const v of [empty.mean, empty.p50, empty.p99, empty.max]) assert.ok(Number.isNaN(v));
});

test('the scenarios measure elections from their first fault; cold-start measures the first election', () => {
  assert.equal(firstFaultMs('cold-start', 5, raft), 0);
  for (const scenario of ['leader-crash', 'flapping', 'partition', 'leader-isolate'] as const) {
    assert.equal(firstFaultMs(scenario, 5, raft), 2000, scenario);
  }
  assert.equal(firstFaultMs('partition', 1, raft), Infinity, 'one node cannot be partitioned: nothing to measure');
  const result = fakeResult();
  assert.deepEqual(measuredElections(result, 0).map((e) => e.startMs), [0]);
  assert.deepEqual(measuredElections(result, 2000).map((e) => e.startMs), [2000, 4000]);
  assert.deepEqual(measuredElections(result, 5000), []);
  assert.deepEqual(measuredElections(result, Infinity), []);
});

test('trial metrics: election messages leave out the steady-state types', () => {
  const metrics = trialMetrics(fakeResult(), 2000, new Set(['AppendEntries', 'AppendEntriesResponse']));
  assert.deepEqual(metrics.elections, [
    { ms: 200, messages: 10, electionMessages: 7, candidacies: 3, candidates: 2, terms: 2 },
    { ms: 200, messages: 5, electionMessages: 3, candidacies: 1, candidates: 1, terms: 1 },
  ]);
  assert.equal(metrics.leaderChanges, 2);
  assert.equal(metrics.dualLeaderMs, 12.5);
  assert.equal(metrics.durableBytes, 43);
  assert.equal(metrics.unfinished, false);
  assert.equal(metrics.seed, 7);
  assert.equal(metrics.leaderChangesAfterHeal, null, 'no heal in the scenario');
  assert.equal(trialMetrics(fakeResult(), 2000, new Set(), 4000).leaderChangesAfterHeal, 1, 'the reign begun at 4200, after a heal at 4000');
});

test('a failover scenario without a completed election is unfinished; flapping without one is not', () => {
  const none = { elections: [] };
  assert.equal(trialMetrics(fakeResult(none), 2000, new Set()).unfinished, true);
  assert.equal(trialMetrics(fakeResult({ ...none, scenario: 'flapping' }), 2000, new Set()).unfinished, false);
});

test('a cell sums its trials: extra candidacies, new rounds, shares, violations and their seeds', () => {
  const steady = new Set(['AppendEntries', 'AppendEntriesResponse']);
  const a = trialMetrics(fakeResult(), 2000, steady);
  const b = trialMetrics(
    fakeResult({ seed: 8, dualLeaderMs: 0, violations: [{ atMs: 1, invariant: 'election-safety', detail: 'x' }] }),
    2000,
    steady,
  );
  const cell = summarizeCell({ algorithm: 'raft', nodes: 3, scenario: 'leader-crash' }, [a, b]);
  assert.equal(cell.trials, 2);
  assert.equal(cell.elections, 4);
  assert.equal(cell.extraCandidacies.mean, 1); // candidacies 3, 1, 3, 1
  assert.equal(cell.extraCandidacyShare, 0.5);
  assert.equal(cell.newRounds.mean, 0.5); // terms − 1: 1, 0, 1, 0
  assert.equal(cell.newRoundShare, 0.5);
  assert.equal(cell.dualLeaderShare, 0.5);
  assert.equal(cell.dualLeaderMs.mean, 6.25);
  assert.equal(cell.electionMessagesPerCandidacy.mean, round(((7 / 3) + 3 + (7 / 3) + 3) / 4));
  assert.equal(cell.violations, 1);
  assert.deepEqual(cell.violationSeeds, [8]);
  assert.equal(cell.durableBytes, 43);
});
