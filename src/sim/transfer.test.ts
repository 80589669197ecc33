/**
 * Leadership transfer (Raft's TimeoutNow, thesis §3.10) in the simulator: the `transfer` schedule action
 * hands leadership to the named node within a round trip, in exactly one new term, with no lease
 * overlap (the lease-safety checker, src/sim/checkers/lease-safety.ts) — alone and among random faults.
 * The big sweep: node dist/bench/sweep.js --runs 10000 --algorithm raft (docs/algorithms/raft.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { parseSchedule } from './schedule.js';

const { bully, raft, zab } = algorithms;
import { simulate } from './simulation.js';

test('raft: a transfer hands leadership to its target in one new term within a few round trips, leases never overlapping', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const before = simulate({ algorithm: raft, nodes: 5, seed, scenario: 'cold-start', durationMs: 2000 });
    const old = before.final.find((f) => f.leader === f.node)!;
    const target = old.node === 5 ? 4 : 5;
    const result = simulate({ algorithm: raft, nodes: 5, seed, schedule: [{ atMs: 2000, do: 'transfer', to: target }], durationMs: 4000 });
    assert.deepEqual(result.violations, [], `seed ${seed}`);
    assert.equal(result.leaseOverlapMs, 0, `seed ${seed}`);
    const handedOver = result.elections.find((e) => e.startMs >= 2000);
    assert.ok(handedOver, `seed ${seed}: a new leader after the transfer`);
    assert.equal(handedOver.leader, target, `seed ${seed}: the target leads`);
    assert.equal(handedOver.term, old.term + 1, `seed ${seed}: exactly one new term`);
    // Latency 1-10 ms by default: TimeoutNow, RequestVote and its answer are three one-way trips.
    assert.ok(handedOver.endMs - 2000 <= 40, `seed ${seed}: handed over in ${handedOver.endMs - 2000} ms`);
    assert.ok(result.final.every((f) => f.leader === target), `seed ${seed}: every node follows the target`);
  }
});

test('raft: transfers among random faults (pauses, drift, resets, crashes) never overlap leases', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const result = simulate({ algorithm: raft, nodes: 5, seed, scenario: 'random', durationMs: 8000 });
    assert.deepEqual(result.violations, [], `seed ${seed}: replay with ballot sim --algorithm raft --seed ${seed}`);
    assert.equal(result.leaseOverlapMs, 0, `seed ${seed}`);
  }
});

test('bully and zab ignore a transfer (docs/embedding.md, "Graceful restart"): leadership stays put', () => {
  for (const algorithm of [bully, zab]) {
    const before = simulate({ algorithm, nodes: 5, seed: 3, scenario: 'cold-start', durationMs: 3000 });
    const after = simulate({ algorithm, nodes: 5, seed: 3, schedule: [{ atMs: 2000, do: 'transfer', to: 1 }], durationMs: 3000 });
    assert.deepEqual(after.final, before.final, algorithm.name);
  }
});

test('the transfer action parses with and without a target; a target must be a member', () => {
  assert.deepEqual(parseSchedule(JSON.parse('[{"atMs":5,"do":"transfer"},{"atMs":6,"do":"transfer","to":2}]'), [1, 2, 3]), [
    { atMs: 5, do: 'transfer' },
    { atMs: 6, do: 'transfer', to: 2 },
  ]);
  assert.throws(() => parseSchedule(JSON.parse('[{"atMs":5,"do":"transfer","to":9}]'), [1, 2, 3]));
  assert.throws(() => parseSchedule(JSON.parse('[{"atMs":5,"do":"transfer","to":"leader"}]'), [1, 2, 3]));
});
