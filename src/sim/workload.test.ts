/**
 * The key-value workload (src/sim/workload.ts) with Bully's primary–backup replication: histories are
 * recorded and checked in every run, a connected cluster serves a linearizable store, and partitions
 * show what asynchronous copies cost (acknowledged writes lost, stale reads, non-linearizable
 * histories) as measurements, never as violations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvOperation } from '../check/kv-history.js';
import { bully } from '../core/bully/index.js';
import type { AnyAlgorithm } from '../core/types.js';
import { simulate } from './simulation.js';
import { sweep, sweepOptions } from './sweep.js';
import { staleReads } from './workload.js';

const algorithm = bully as unknown as AnyAlgorithm;
const workload = { rate: 50 };

test('Bully over 60 random-nemesis seeds: every run records and checks a history; losses are measured, never flagged', () => {
  const report = sweep(algorithm, 60, { workload });
  assert.equal(report.failed, 0, JSON.stringify(report.firstFailure?.result.violations[0]));
  const kv = report.kv!;
  assert.ok(kv.ops > 60 * 100, `operations recorded: ${kv.ops}`);
  assert.ok(kv.acked > 0 && kv.lostAcked > 0 && kv.lostAckedRuns > 0, `Bully loses acknowledged writes under the nemesis: ${JSON.stringify(kv)}`);
  assert.ok(kv.notLinearizable > 0, 'and some of its histories are not linearizable');
  assert.equal(kv.undecided, 0, 'every history was decided within the step budget');
});

test('Bully in a connected cluster (cold start): a linearizable store, nothing lost, nothing stale', () => {
  for (const seed of [1, 2, 3]) {
    const { kv, violations } = simulate({ algorithm, nodes: 5, seed, workload });
    assert.deepEqual(violations, []);
    assert.ok(kv && kv.ops > 300, JSON.stringify(kv));
    assert.equal(kv.linearizable, true);
    assert.equal(kv.lostAcked, 0);
    assert.equal(kv.staleReads, 0);
    assert.equal(kv.unavailableMs, 0, 'the highest id declares at once');
  }
});

test('Bully split brain (partition scenario): both coordinators acknowledge, the minority side\'s writes are lost at the heal, reads go stale', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const { kv, violations, dualLeaderMs } = simulate({ algorithm, nodes: 5, seed, scenario: 'partition', workload });
    assert.deepEqual(violations, [], 'primary-backup losses are not violations');
    assert.ok(dualLeaderMs > 0);
    assert.ok(kv!.lostAcked > 0, `seed ${seed}: ${JSON.stringify(kv)}`);
    assert.equal(kv!.linearizable, false);
    assert.ok(kv!.staleReads > 0);
  }
});

test('a leader crash leaves time without a writable leader, measured (short: the crash closes its connections, and 4 declares at once)', () => {
  const { kv } = simulate({ algorithm, nodes: 5, seed: 3, scenario: 'leader-crash', workload });
  assert.ok(kv!.unavailableMs > 0 && kv!.unavailableMs < 1000, JSON.stringify(kv));
  const slow = simulate({ algorithm, nodes: 5, seed: 3, scenario: 'leader-crash', workload, closedConnections: false });
  assert.ok(slow.kv!.unavailableMs >= 150, `detected by the heartbeats' silence only: ${JSON.stringify(slow.kv)}`);
});

test('the workload is deterministic, and a run without it is the run it always was', () => {
  const options = sweepOptions(algorithm, 11, workload);
  assert.deepEqual(simulate(options), simulate(options));
  const { workload: _none, ...without } = options;
  const plain = simulate(without);
  assert.equal(plain.kv, undefined);
  assert.deepEqual(plain, simulate(without));
});

test('staleReads: a get that returns a version below one acknowledged before it was invoked', () => {
  const op = (id: number, input: KvOperation['input'], invoke: number, complete: number | null, output: KvOperation['output']): KvOperation => ({ id, client: id, input, invoke, complete, output });
  const history = [
    op(1, { op: 'put', key: 'x', value: 'a' }, 0, 1, { op: 'put', version: 1 }),
    op(2, { op: 'put', key: 'x', value: 'b' }, 2, 3, { op: 'put', version: 2 }),
    op(3, { op: 'get', key: 'x' }, 4, 5, { op: 'get', value: 'a', version: 1 }), // stale: v2 was acknowledged at 3
    op(4, { op: 'get', key: 'x' }, 2.5, 5, { op: 'get', value: 'a', version: 1 }), // concurrent with the write: not stale
    op(5, { op: 'get', key: 'y' }, 4, 5, { op: 'get', value: null, version: 0 }),
  ];
  assert.equal(staleReads(history), 1);
});

test('with clients writing, the sweep gives a majority the longest drawn history (a state Raft can reach), and without them keeps the drawn histories', () => {
  const raftLike = { ...algorithm, name: 'raft' } as AnyAlgorithm;
  const drawn = sweepOptions(raftLike, 18).history!;
  const written = sweepOptions(raftLike, 18, workload).history!;
  const length = (h: unknown) => (Array.isArray(h) ? (h as { entries: number }[]).reduce((sum, run) => sum + run.entries, 0) : Number(h));
  const longest = Math.max(...[...drawn.values()].map(length));
  assert.ok([...drawn.values()].filter((h) => length(h) === longest).length < 4, 'seed 18 draws the longest log on fewer than a majority of its 7 nodes');
  assert.ok([...written.values()].filter((h) => length(h) === longest).length >= 4);
  for (const [id, history] of drawn) if (id > 4) assert.deepEqual(written.get(id), history);
});
