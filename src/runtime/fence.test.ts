/** The resource side of fencing (fence.ts): tokens ordered by term then node; lower ones refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTokens, createFence, FencedOut } from './fence.js';

test('tokens order reigns by term, then node id (Bully\'s same-generation coordinators are told apart)', () => {
  assert.ok(compareTokens({ term: 3, node: 9 }, { term: 4, node: 1 }) < 0);
  assert.ok(compareTokens({ term: 4, node: 2 }, { term: 4, node: 1 }) > 0);
  assert.equal(compareTokens({ term: 4, node: 2 }, { term: 4, node: 2 }), 0);
});

test('a fence admits the highest token so far and equal ones, and refuses any lower token', () => {
  const fence = createFence();
  assert.equal(fence.highest, null);
  assert.equal(fence.admit({ term: 2, node: 1 }), true);
  assert.equal(fence.admit({ term: 2, node: 1 }), true, 'one reign writes many times');
  assert.equal(fence.admit({ term: 3, node: 2 }), true);
  assert.deepEqual(fence.highest, { term: 3, node: 2 });
  assert.equal(fence.admit({ term: 2, node: 1 }), false, 'the deposed leader');
  assert.equal(fence.admit({ term: 3, node: 1 }), false, 'same term, lower node: a split-brain twin');
  assert.throws(() => fence.check({ term: 1, node: 5 }), (error: unknown) => error instanceof FencedOut && error.highest.term === 3 && /older than term 3 node 2/.test(error.message));
  assert.deepEqual(fence.highest, { term: 3, node: 2 }, 'a refusal changes nothing');
});

test('a fence starts from a persisted highest token, and refuses tokens it cannot order', () => {
  const fence = createFence({ term: 7, node: 1 });
  assert.equal(fence.admit({ term: 6, node: 3 }), false);
  for (const bad of [{ term: -1, node: 1 }, { term: 1.5, node: 1 }, { term: 1, node: 0 }, { term: Number.NaN, node: 1 }, { term: 2 ** 53, node: 1 }]) {
    assert.throws(() => fence.admit(bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => createFence({ term: 1, node: -3 }), TypeError);
});
