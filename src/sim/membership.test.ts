/** The simulator's view of configurations, and the membership nemesis's choices (src/sim/membership.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import type { Membership, NodeId } from '../core/types.js';
import { raft } from '../core/raft/index.js';
import { Configurations, majoritiesCanBeDisjoint, MembershipNemesis } from './membership.js';
import { simulate } from './simulation.js';

const config = (voters: NodeId[], observers: NodeId[] = []): Membership => ({ voters, observers, addresses: {} });

test('majorities of two voter sets can be disjoint exactly when they differ by more than one voter (or are unrelated)', () => {
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1, 2, 3]), false);
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1, 2, 3, 4]), false, 'one added');
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1, 2]), false, 'one removed');
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1, 2, 3, 4, 5]), true, 'two added: {1,2} of 3 and {3,4,5} of 5');
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3, 4, 5], [1, 2, 3]), true, 'two removed');
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1]), true, 'two removed: {2,3} and {1}');
  assert.equal(majoritiesCanBeDisjoint([1, 2], [3, 4]), true);
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3], [1, 2, 4]), true, 'one swapped for another: {1,3} and {2,4}');
  assert.equal(majoritiesCanBeDisjoint([1, 2, 3, 4], [1, 2, 3, 5]), false, 'a swap among four: a majority of either takes two of 1, 2, 3');
  assert.equal(majoritiesCanBeDisjoint([], [1]), false, 'no voters: no majority at all');
});

test('configurations: each node\'s entries, truncation by a conflicting leader, and the newest committed configuration', () => {
  const configurations = new Configurations(config([1, 2, 3]));
  configurations.observe(1, { type: 'membership-changed', index: 0, membership: config([1, 2, 3]) });
  configurations.observe(1, { type: 'membership-changed', index: 4, membership: config([1, 2, 3], [4]) });
  assert.equal(configurations.latest(1)?.index, 4);
  assert.equal(configurations.previous(1)?.index, 0);
  assert.equal(configurations.committed.index, 0, 'not committed yet');
  configurations.observe(2, { type: 'membership-changed', index: 4, membership: config([1, 2, 3], [4]) });
  configurations.observe(2, { type: 'committed', index: 4, term: 2, command: '' });
  assert.deepEqual(configurations.committed.membership.observers, [4], 'committed on node 2');
  assert.equal(configurations.committedAt(1)?.index, 0, 'node 1 has not committed it itself');
  // Node 1's entry 5 is replaced by a conflicting leader: it reports entry 4 again.
  configurations.observe(1, { type: 'membership-changed', index: 5, membership: config([1, 2, 3, 4]) });
  configurations.observe(1, { type: 'membership-changed', index: 4, membership: config([1, 2, 3], [4]) });
  assert.equal(configurations.latest(1)?.index, 4);
  assert.deepEqual(configurations.commitment(1), { index: 0, term: 0 });
  configurations.observe(1, { type: 'snapshot-installed', index: 9, term: 3, snapshot: '' });
  assert.equal(configurations.committedAt(1)?.index, 4);
  configurations.crashed(1);
  assert.equal(configurations.latest(1), null, 'a new incarnation reports afresh');
  assert.equal(configurations.committed.index, 4, 'what was committed stays committed');
});

test('the membership nemesis asks for plausible changes only, never removes the last voter, and draws its times from the seed', () => {
  const nodes = [1, 2, 3, 4, 5];
  for (let seed = 1; seed <= 200; seed++) {
    const nemesis = new MembershipNemesis(seed, raft.defaultTiming, {});
    assert.deepEqual(nemesis.actions, new MembershipNemesis(seed, raft.defaultTiming, {}).actions);
    assert.ok(nemesis.actions.every((a) => a.atMs >= 2 * raft.defaultTiming.electionTimeoutMaxMs && a.atMs < 6000));
    const single = nemesis.pick(config([1]), nodes, 3, {});
    assert.ok(single !== null && single.type === 'add-learner' && single.peer !== 1, JSON.stringify(single));
    const change = nemesis.pick(config([1, 2, 3], [4]), nodes, 3, {});
    assert.ok(change !== null);
    if (change.type === 'add-learner') assert.equal(change.peer, 5);
    if (change.type === 'promote') assert.equal(change.peer, 4);
    if (change.type === 'remove') assert.ok([1, 2, 3, 4].includes(change.peer));
  }
  const nemesis = new MembershipNemesis(1, raft.defaultTiming, null);
  assert.deepEqual(nemesis.actions, [], 'off: only the picking for a schedule');
  assert.equal(nemesis.pick(config([1]), [1], 1, {}), null, 'a lone voter and nobody else: nothing fits');
  assert.deepEqual(nemesis.pick(config([1, 2]), [1, 2, 3], 2, { node: 3 }), { type: 'add-learner', peer: 3, address: '' });
  assert.deepEqual(nemesis.pick(config([1, 2], [3]), [1, 2, 3], 2, { node: 3 }), { type: 'promote', peer: 3 });
  assert.deepEqual(nemesis.pick(config([1, 2], [3]), [1, 2, 3], 2, { change: 'remove', node: 2 }), { type: 'remove', peer: 2 });
  const backToBack = new MembershipNemesis(7, raft.defaultTiming, { backToBack: 1 }).actions;
  for (let i = 0; i + 1 < backToBack.length; i += 2) assert.ok(backToBack[i + 1]!.atMs - backToBack[i]!.atMs <= 2, 'each change has a second one right behind it');
});

test('spares are nodes of the network like any other: the random nemesis crashes and restarts them, and a leader added reaches them', () => {
  let faulted = 0;
  let joined = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const result = simulate({ algorithm: algorithms.raft, nodes: 3, spares: 2, seed, scenario: 'random', membership: {}, timeline: true });
    assert.deepEqual(result.spares, [4, 5]);
    assert.deepEqual(result.violations, [], `seed ${seed}`);
    if (result.timeline!.some((e) => (e.kind === 'crash' || e.kind === 'restart' || e.kind === 'pause') && e.node >= 4)) faulted++;
    const { configuration } = result.membership!;
    // A spare the committed configuration names has heard from the leader: it names one.
    for (const spare of [4, 5]) {
      if (![...configuration.voters, ...configuration.observers].includes(spare)) continue;
      joined++;
      const final = result.final.find((f) => f.node === spare)!;
      if (final.up) assert.notEqual(final.leader, null, `seed ${seed}: spare ${spare} joined but names no leader`);
    }
  }
  assert.ok(faulted >= 5, `spares were faulted in ${faulted} of 20 runs`);
  assert.ok(joined >= 10, `spares joined ${joined} times in 20 runs`);
});
