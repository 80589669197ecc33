import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Status } from '../core/types.js';
import { checkStatusSamples, type StatusSample } from './election.js';

function sample(node: number, askedMs: number, answeredMs: number, status: Partial<Status> & { term: number }): StatusSample {
  return { node, askedMs, answeredMs, status: { id: node, role: 'follower', leader: null, ...status } };
}
const leads = (node: number, term: number, lease = false): Partial<Status> & { term: number } => ({ role: 'leader', leader: node, term, lease });

test('a history with one leader per term, terms going up and leases one after the other passes', () => {
  const samples = [
    sample(1, 0, 5, leads(1, 3, true)),
    sample(2, 0, 5, { term: 3, leader: 1 }),
    sample(1, 100, 105, { term: 3, leader: 1, role: 'follower', lease: false }),
    sample(2, 200, 210, leads(2, 4, true)),
    sample(1, 300, 305, { term: 4, leader: 2 }),
  ];
  assert.deepEqual(checkStatusSamples(samples), []);
});

test('two nodes claiming leadership in one term are an election-safety violation, reported once per term', () => {
  const samples = [sample(1, 0, 5, leads(1, 7)), sample(2, 10, 15, leads(2, 7)), sample(2, 20, 25, leads(2, 7)), sample(3, 30, 35, leads(3, 8))];
  const violations = checkStatusSamples(samples);
  assert.equal(violations.length, 1);
  assert.equal(violations[0]!.check, 'election-safety');
  assert.match(violations[0]!.message, /nodes 1 .* and 2 .* both claimed leadership in term 7/);
});

test("a node's term going back is a term-monotonic violation", () => {
  const violations = checkStatusSamples([sample(3, 0, 5, { term: 9 }), sample(3, 50, 55, { term: 8 })]);
  assert.deepEqual(violations.map((v) => v.check), ['term-monotonic']);
});

test('a lease in a lower term reported after a lease in a higher term had been reported is a lease overlap', () => {
  const samples = [sample(2, 100, 110, leads(2, 5, true)), sample(1, 120, 130, leads(1, 4, true))];
  const violations = checkStatusSamples(samples);
  assert.deepEqual(violations.map((v) => v.check), ['lease-overlap']);
  assert.match(violations[0]!.message, /node 1 reported a lease in term 4 at 120 ms–130 ms, after node 2 had reported one in the higher term 5/);
});

test('lease reports whose polls overlap in time prove nothing and pass', () => {
  // Node 1's lease answer could hold before node 2's: the polls overlap.
  const samples = [sample(2, 100, 110, leads(2, 5, true)), sample(1, 105, 130, leads(1, 4, true))];
  assert.deepEqual(checkStatusSamples(samples), []);
});
