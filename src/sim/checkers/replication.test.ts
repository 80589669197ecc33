/**
 * The replicated log's checkers on hand-written event streams: what any core speaking the replication
 * interface reports (proposed, committed, snapshot-installed), crashes between incarnations. The
 * broken cores they catch in whole runs are in src/testing/mutants.ts (docs/invariants.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bully } from '../../core/bully/index.js';
import type { AnyAlgorithm, NodeId, ReplicationEvent } from '../../core/types.js';
import { bullyAsConsensus } from '../../testing/mutants.js';
import { simulate } from '../simulation.js';
import type { Checker, SimEvent } from '../events.js';
import { AckedDurable, LogAgreement } from './replication.js';

type Step = readonly [NodeId, ReplicationEvent] | readonly ['crash', NodeId];

const committed = (index: number, term: number, command: string): ReplicationEvent => ({ type: 'committed', index, term, command });
const proposed = (id: number, index: number, term: number): ReplicationEvent => ({ type: 'proposed', id, index, term });
const snapshot = (index: number, term: number): ReplicationEvent => ({ type: 'snapshot-installed', index, term, snapshot: '{}' });

/** Feeds the steps to `checker` as the simulator would; returns every violation detail, in order. */
function run(checker: Checker, steps: readonly Step[]): string[] {
  const found: string[] = [];
  for (const step of steps) {
    const event: SimEvent = step[0] === 'crash'
      ? { type: 'crash', node: step[1], wasLeader: false }
      : { type: 'driver', node: step[0], event: { type: 'core', atMs: 0, event: step[1] } };
    found.push(...checker.observe(event));
  }
  return found;
}

test('log-agreement: the same entries on every node, in order, with restarts and snapshots, is no violation', () => {
  const found = run(new LogAgreement(), [
    [1, committed(1, 1, 'a')], [1, committed(2, 1, 'b')],
    [2, committed(1, 1, 'a')],
    ['crash', 2],
    [2, committed(1, 1, 'a')], [2, committed(2, 1, 'b')], // a new incarnation applies its log again
    [3, snapshot(2, 1)], [3, committed(3, 2, 'c')],
    [1, committed(3, 2, 'c')],
  ]);
  assert.deepEqual(found, []);
});

test('log-agreement: two nodes committing different commands, or terms, at one index are flagged', () => {
  const found = run(new LogAgreement(), [
    [1, committed(1, 1, 'a')],
    [2, committed(1, 1, 'b')],
    [3, committed(1, 2, 'a')],
  ]);
  assert.equal(found.length, 2);
  assert.match(found[0]!, /index 1: \(term 1, "b"\) on node 2 but \(term 1, "a"\) on node 1/);
  assert.match(found[1]!, /index 1: \(term 2, "a"\) on node 3/);
});

test('log-agreement: a snapshot whose last entry has another term than the committed one is flagged', () => {
  const found = run(new LogAgreement(), [[1, committed(1, 1, 'a')], [2, snapshot(1, 3)]]);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /from a snapshot/);
});

test('log-agreement: a gap, a repeat and a snapshot that goes back are flagged per node', () => {
  const gap = run(new LogAgreement(), [[1, committed(1, 1, 'a')], [1, committed(3, 1, 'c')]]);
  assert.match(gap.join(), /node 1 committed index 3 after index 1/);
  const repeat = run(new LogAgreement(), [[1, committed(1, 1, 'a')], [1, committed(1, 1, 'a')]]);
  assert.match(repeat.join(), /node 1 committed index 1 after index 1/);
  const back = run(new LogAgreement(), [[1, committed(1, 1, 'a')], [1, committed(2, 1, 'b')], [1, snapshot(1, 1)]]);
  assert.match(back.join(), /snapshot at index 1 after applying index 2/);
  // After a restart without a snapshot, the log is applied from index 1 again: no gap.
  assert.deepEqual(run(new LogAgreement(), [[1, committed(1, 1, 'a')], ['crash', 1], [1, committed(1, 1, 'a')]]), []);
});

test('acked-durable: a proposal committed by its leader at the proposed (index, term), then another entry there, is a lost acknowledged write', () => {
  const found = run(new AckedDurable(), [
    [1, proposed(7, 1, 1)], [1, committed(1, 1, 'put x')], // acknowledged
    [2, committed(1, 2, 'put y')], // another leader's entry at that index
  ]);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /node 2 committed index 1 \(term 2, "put y"\) after node 1 acknowledged \(term 1, "put x"\)/);
  const bySnapshot = run(new AckedDurable(), [[1, proposed(7, 1, 1)], [1, committed(1, 1, 'put x')], [2, snapshot(1, 2)]]);
  assert.match(bySnapshot.join(), /snapshot ending at index 1 in term 2/);
});

test('acked-durable: a proposal that was not acknowledged may be replaced', () => {
  // The leader's proposal at index 1 lost to another term's entry (its client is told so), and a proposal
  // whose leader crashed before committing it was never acknowledged.
  assert.deepEqual(run(new AckedDurable(), [
    [2, committed(1, 1, 'other')],
    [1, proposed(1, 1, 2)], [1, committed(1, 1, 'other')],
    [3, proposed(2, 2, 3)], ['crash', 3], [3, committed(2, 4, 'z')],
    [1, committed(2, 4, 'z')],
  ]), []);
});

test("Bully's real losses, if it promised consensus: a split brain is flagged by acked-durable, log-agreement and linearizable", () => {
  const result = simulate({ algorithm: bullyAsConsensus, nodes: 5, seed: 1, scenario: 'partition', workload: { rate: 50 } });
  const flagged = new Set(result.violations.map((v) => v.invariant));
  for (const name of ['acked-durable', 'log-agreement', 'linearizable']) assert.ok(flagged.has(name), `${name} among ${[...flagged].join(', ')}`);
  // Declared as what it is (primary-backup), the same run is measured, not flagged.
  const measured = simulate({ algorithm: bully as unknown as AnyAlgorithm, nodes: 5, seed: 1, scenario: 'partition', workload: { rate: 50 } });
  assert.deepEqual(measured.violations, []);
  assert.ok(measured.kv!.lostAcked > 0);
});
