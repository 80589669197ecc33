/**
 * The preferred-leader policy (leadership.ts, PreferredLeader) on its own, with a hand-driven clock:
 * when a leader hands over, to whom, and when it holds back (a new reign, a peer just connected, an
 * attempt just made, a target that just failed, equal priorities). The real processes are in
 * priority-processes.test.ts; the configuration's refusals here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId, Status } from '../core/types.js';
import { ConfigError, resolveConfig } from './config.js';
import { PreferredLeader, preferenceTiming } from './leadership.js';

const timing = preferenceTiming({ electionTimeoutMaxMs: 100 }); // settle 200, retry 500, cooldown 1000
const leading = (term: number, lease = true): Status => ({ id: 1, role: 'leader', leader: 1, term, lease });
const following = (term: number): Status => ({ id: 1, role: 'follower', leader: 2, term });
const peers = (entries: [NodeId, number][]): Map<NodeId, number> => new Map(entries);

test('a leader hands over to the connected voter of the highest priority, only after it and the peer have settled', () => {
  const policy = new PreferredLeader(1, 0, () => [1, 2, 3, 4], timing);
  const live = peers([[2, 1], [3, 5], [4, 5]]);
  assert.equal(policy.target(0, leading(4), live), null, 'a new reign: not yet');
  assert.equal(policy.target(199, leading(4), live), null, 'still settling');
  assert.equal(policy.target(200, leading(4), live), 3, 'the highest priority; among equals (3 and 4) the lowest id');
  assert.equal(policy.target(300, leading(4), live), null, 'at most one attempt per retry interval');
});

test('equal or lower priorities never move leadership; learners never lead', () => {
  const policy = new PreferredLeader(1, 5, () => [1, 2, 3], timing);
  assert.equal(policy.target(0, leading(1), peers([[2, 5], [3, 1], [9, 100]])), null);
  assert.equal(policy.target(10_000, leading(1), peers([[2, 5], [3, 1], [9, 100]])), null, 'node 9 is not a voter');
  const plain = new PreferredLeader(1, 0, () => [1, 2, 3], timing);
  assert.equal(plain.target(0, leading(1), peers([[2, 0], [3, 0]])), null);
  assert.equal(plain.target(10_000, leading(1), peers([[2, 0], [3, 0]])), null, 'no priorities anywhere: nothing ever moves');
});

test('a follower decides nothing; a leader without its lease holds back; a new term is a new reign', () => {
  const policy = new PreferredLeader(1, 0, () => [1, 2, 3], timing);
  const live = peers([[3, 1]]);
  assert.equal(policy.target(0, following(1), live), null);
  assert.equal(policy.target(0, leading(2), live), null);
  assert.equal(policy.target(300, leading(2, false), live), null, 'no lease: this node may not be hearing a quorum');
  assert.equal(policy.target(300, leading(3), live), null, 'a new term restarts the settling');
  assert.equal(policy.target(500, leading(3), live), 3);
});

test('a peer that reconnects settles again; a target that failed is passed over, longer after each failure', () => {
  const policy = new PreferredLeader(1, 0, () => [1, 2, 3], timing);
  policy.target(0, leading(1), peers([[3, 2], [2, 1]]));
  assert.equal(policy.target(150, leading(1), peers([[2, 1]])), null, 'node 3 dropped');
  assert.equal(policy.target(250, leading(1), peers([[3, 2], [2, 1]])), 2, 'node 3 just came back: the settled node 2 (priority 1 > 0)');
  policy.finished(260, 2, false);
  assert.equal(policy.target(800, leading(1), peers([[3, 2], [2, 1]])), 3, 'node 3 has settled');
  policy.finished(810, 3, false);
  // Node 2 is passed over until 260 + 1000, node 3 until 810 + 1000.
  assert.equal(policy.target(1300, leading(1), peers([[3, 2], [2, 1]])), 2);
  policy.finished(1310, 2, false);
  // Node 2's second failure in a row: passed over for twice as long (until 1310 + 2000).
  assert.equal(policy.target(1820, leading(1), peers([[3, 2], [2, 1]])), 3);
  policy.finished(1830, 3, true);
  assert.equal(policy.target(2400, leading(1), peers([[2, 1]])), null, 'node 2 still passed over');
  assert.equal(policy.target(3310, leading(1), peers([[2, 1]])), 2);
});

test('the voters in force, not those at the start: a removed voter is never a target, an added and promoted one may be', () => {
  let voters: readonly NodeId[] = [1, 2, 3];
  const policy = new PreferredLeader(1, 0, () => voters, timing);
  // Node 4 is connected from the start as a learner of priority 9; node 3 is a voter of priority 5.
  const live = peers([[2, 1], [3, 5], [4, 9]]);
  assert.equal(policy.target(0, leading(1), live), null, 'a new reign: not yet');
  assert.equal(policy.handOverTarget(0, live), 3, 'node 4 is a learner: never a target');
  voters = [1, 2]; // node 3 removed
  assert.equal(policy.target(200, leading(1), live), 2, 'node 3, removed, is passed over for the next voter');
  policy.finished(210, 2, false);
  assert.equal(policy.handOverTarget(220, live), null, 'node 2 just failed; node 3 is no voter now, nor is node 4');
  voters = [1, 2, 4]; // node 4 promoted (node 3 is still connected, still no voter)
  assert.equal(policy.target(800, leading(1), live), 4, 'the promoted learner, connected long enough, has the highest priority');
  assert.equal(policy.handOverTarget(800, live), 4);
});

test('configuration: priority is an integer 0..1000000, for a voter of raft; bully and zab refuse it with a reason', () => {
  const base = { id: 1, algorithm: 'raft' as const, peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' }, dataDir: '/tmp/unused' };
  assert.equal(resolveConfig(base).priority, 0);
  assert.equal(resolveConfig({ ...base, priority: 3 }).priority, 3);
  assert.equal(resolveConfig({ ...base, algorithm: 'zab', priority: 0 }).priority, 0, '0 prefers nothing: accepted everywhere');
  assert.equal(resolveConfig({ ...base, id: 3, join: true, listen: '127.0.0.1:7003', priority: 2 }).priority, 2, 'a joining node becomes a voter once added');
  const refused: [object, RegExp][] = [
    [{ ...base, priority: -1 }, /^priority must be an integer from 0 to 1000000, got -1$/],
    [{ ...base, priority: 1.5 }, /^priority must be an integer/],
    [{ ...base, priority: 2_000_000 }, /^priority must be an integer/],
    [{ ...base, algorithm: 'bully', priority: 1 }, /^priority: bully has no preferred leader to set: the highest live id always leads/],
    [{ ...base, algorithm: 'zab', priority: 1 }, /^priority: zab cannot hand leadership over/],
    [{ ...base, id: 3, observers: { 3: '127.0.0.1:7003' }, priority: 1 }, /^priority: node 3 is not a voter/],
  ];
  for (const [options, expected] of refused) {
    assert.throws(() => resolveConfig(options as Parameters<typeof resolveConfig>[0]), (error: unknown) => error instanceof ConfigError && expected.test(error.message));
  }
});

test('a leader that stops hands over to the live voter of the highest priority (any, even below its own), else lets the core choose', () => {
  const policy = new PreferredLeader(1, 9, () => [1, 2, 3, 4], timing);
  assert.equal(policy.handOverTarget(0, peers([[2, 1], [3, 4], [4, 4], [7, 50]])), 3, 'the highest (3 and 4 tie: the lowest id); 7 is no voter');
  assert.equal(policy.handOverTarget(0, peers([[2, 0], [3, 0]])), null, 'no priorities: the most up-to-date voter, the core decides');
  policy.finished(0, 3, false);
  assert.equal(policy.handOverTarget(10, peers([[2, 1], [3, 4], [4, 4]])), 4, 'not toward a peer that just failed a transfer');
});
