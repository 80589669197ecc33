import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreedLeader, leaderViewsOf } from '../core/agreement.js';

const view = (id: number, leader: number | null, term?: number, up?: boolean) => ({ id, leader, ...(term === undefined ? {} : { term }), ...(up === undefined ? {} : { up }) });

test('every node naming the same leader that names itself is agreement, with the leader\'s own term', () => {
  assert.deepEqual(agreedLeader([view(1, 3, 4), view(2, 3, 4), view(3, 3, 5)]), { leader: 3, term: 5 });
  assert.deepEqual(agreedLeader([view(1, 1)]), { leader: 1, term: undefined }, 'a single node leading itself');
});

test('no agreement: a split, a node naming none, a missing answer, nobody asked', () => {
  assert.equal(agreedLeader([view(1, 3), view(2, 2), view(3, 3)]), null);
  assert.equal(agreedLeader([view(1, 3), view(2, null), view(3, 3)]), null);
  assert.equal(agreedLeader([view(1, 3), null, view(3, 3)]), null, 'a node that did not answer');
  assert.equal(agreedLeader([view(1, 3), undefined, view(3, 3)]), null);
  assert.equal(agreedLeader([]), null);
});

test('the leader must be among the views, up, and believe it leads', () => {
  assert.equal(agreedLeader([view(1, 3), view(2, 3)]), null, 'survivors still naming the killed leader');
  assert.equal(agreedLeader([view(1, 9), view(2, 9)]), null, 'a leader that is not a member');
  assert.equal(agreedLeader([view(1, 3), view(2, 3), view(3, 2)]), null, 'the named leader follows someone else');
  assert.equal(agreedLeader([view(1, 3), view(2, 3), view(3, 3, 1, false)]), null, 'a leader known to be down');
});

test('nodes known to be down have no say', () => {
  assert.deepEqual(agreedLeader([view(1, 2, 7), view(2, 2, 7), view(3, 3, 6, false)]), { leader: 2, term: 7 });
  assert.equal(agreedLeader([view(1, 1, 1, false)]), null, 'nobody up');
});

test('leaderViewsOf: a member missing from the map did not answer; members outside the list are ignored', () => {
  const named = new Map<number, number | null>([[1, 2], [2, 2], [3, 1]]);
  assert.deepEqual(leaderViewsOf(named, [1, 2]), [{ id: 1, leader: 2 }, { id: 2, leader: 2 }]);
  assert.equal(agreedLeader(leaderViewsOf(named, [1, 2]))?.leader, 2);
  assert.equal(agreedLeader(leaderViewsOf(named, [1, 2, 3])), null);
  assert.deepEqual(leaderViewsOf(new Map([[1, 1]]), [1, 2]), [{ id: 1, leader: 1 }, null]);
  assert.equal(agreedLeader(leaderViewsOf(new Map([[1, 1]]), [1, 2])), null);
});
