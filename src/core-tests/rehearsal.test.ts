import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { rehearse } from '../core/rehearsal.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';

for (const [name, algorithm] of Object.entries(algorithms) as [string, AnyAlgorithm][]) {
  test(`${name}: a rehearsal round elects, survives its leader's crash and takes it back, persisting as a node would`, () => {
    for (let round = 0; round < 5; round++) {
      const persisted: { before: unknown; after: unknown }[] = [];
      const { leaders } = rehearse({ algorithm, voters: 5, timing: algorithm.defaultTiming, round, persisted: (before, after) => void persisted.push({ before, after }) });
      assert.equal(leaders.length, 4, 'first, after the hand-off, after the crash, after the return');
      const [, handedTo, afterCrash] = leaders as [NodeId, NodeId, NodeId, NodeId];
      assert.notEqual(afterCrash, handedTo, 'the crashed leader is replaced');
      assert.ok(persisted.length > 0);
      assert.ok(persisted.every(({ before }) => typeof before === 'object' && before !== null), 'each state comes after one the node held');
      assert.ok(persisted.some(({ before }, i) => persisted.slice(0, i).some(({ after }) => after === before)), 'later states come after the state persisted before');
    }
  });
}

test('raft: the rehearsal hands leadership over (TimeoutNow), so a real hand-off finds that code compiled', () => {
  const raft = algorithms.raft as AnyAlgorithm;
  for (let round = 0; round < 5; round++) {
    const [first, handedTo] = rehearse({ algorithm: raft, voters: 3, timing: raft.defaultTiming, round }).leaders;
    assert.notEqual(handedTo, first, `round ${round}: the leader handed over`);
  }
});

test('a rehearsal of a cluster of one still rehearses elections among three', () => {
  const raft = algorithms.raft as AnyAlgorithm;
  const { leaders } = rehearse({ algorithm: raft, voters: 1, timing: raft.defaultTiming, round: 0 });
  assert.equal(leaders.length, 4);
  assert.ok(leaders.every((leader) => leader >= 1 && leader <= 3));
});
