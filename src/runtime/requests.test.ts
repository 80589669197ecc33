import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingRequests, RequestIds } from './requests.js';

type Outcome = { readonly type: 'done' } | { readonly type: 'lost' } | { readonly type: 'unknown' } | { readonly type: 'stopped' };

function tracker(timeoutMs = 60_000, answered: number[] = []): PendingRequests<Outcome, { readonly name: string }> {
  return new PendingRequests<Outcome, { readonly name: string }>(new RequestIds(), timeoutMs, { type: 'unknown' }, { type: 'stopped' }, (request) => answered.push(request.id));
}

test('a proposal is done when its own entry commits at its index, lost when another term’s does', async () => {
  const requests = tracker();
  const ids: number[] = [];
  const first = requests.start({ name: 'a' }, (id) => ids.push(id));
  const second = requests.start({ name: 'b' }, (id) => ids.push(id));
  assert.deepEqual(ids, [1, 2]);
  requests.proposed(1, 5, 2);
  requests.proposed(2, 6, 2);
  const mine = requests.committed(5, 2)!;
  assert.equal(mine.same, true);
  assert.equal(mine.request.name, 'a');
  requests.finish(mine.request, { type: 'done' });
  const other = requests.committed(6, 3)!;
  assert.equal(other.same, false);
  requests.finish(other.request, { type: 'lost' });
  assert.deepEqual([await first, await second], [{ type: 'done' }, { type: 'lost' }]);
  assert.equal(requests.committed(5, 2), undefined, 'nothing waits at an index answered');
  assert.equal(requests.size, 0);
  assert.deepEqual([...requests.outcomes], [['done', 1], ['lost', 1]]);
});

test('a snapshot covering a proposal, a deadline and a stop answer unknown, unknown and stopped — each request once', async () => {
  const answered: number[] = [];
  const requests = tracker(20, answered);
  const covered = requests.start({ name: 'covered' }, () => undefined);
  const beyond = requests.start({ name: 'beyond' }, () => undefined);
  requests.proposed(1, 3, 1);
  requests.proposed(2, 9, 1);
  requests.coveredBy(4);
  assert.deepEqual(await covered, { type: 'unknown' });
  assert.deepEqual(await beyond, { type: 'unknown' }, 'the deadline answers what nothing else did');
  const waiting = requests.start({ name: 'waiting' }, () => undefined);
  const request = requests.get(3)!;
  requests.close();
  requests.finish(request, { type: 'done' }); // already answered: ignored
  assert.deepEqual(await waiting, { type: 'stopped' });
  assert.deepEqual(await requests.start({ name: 'late' }, () => assert.fail('a stopped node submits nothing')), { type: 'stopped' });
  assert.deepEqual(answered, [1, 2, 3]);
  assert.deepEqual([...requests.outcomes], [['unknown', 2], ['stopped', 2]]);
});
