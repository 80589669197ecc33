import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FastLeaderElection, sameVote, totalOrderPredicate, type Proposal, type Vote } from '../../core/zab/election.js';
import { counterOfZxid, epochOfZxid, makeZxid, type Notification } from '../../core/zab/messages.js';

const proposal = fc.record({
  leader: fc.integer({ min: 1, max: 9 }),
  zxid: fc.integer({ min: 0, max: 3 }).map((c) => makeZxid(1, c)),
  peerEpoch: fc.integer({ min: 0, max: 3 }),
});

const same = (a: Proposal, b: Proposal) => a.leader === b.leader && a.zxid === b.zxid && a.peerEpoch === b.peerEpoch;

test('totalOrderPredicate compares the epoch first, then the zxid, then the server id (the FLE predicate)', () => {
  const base = { leader: 5, zxid: makeZxid(1, 7), peerEpoch: 2 };
  // A higher epoch wins even with an older zxid and a lower id.
  assert.equal(totalOrderPredicate({ leader: 1, zxid: 0, peerEpoch: 3 }, base), true);
  // Equal epochs: the higher zxid wins even with a lower id.
  assert.equal(totalOrderPredicate({ leader: 1, zxid: makeZxid(1, 8), peerEpoch: 2 }, base), true);
  assert.equal(totalOrderPredicate({ leader: 9, zxid: makeZxid(1, 6), peerEpoch: 2 }, base), false);
  // Equal epochs and zxids: the higher id wins (seed 003: server 3 over 1 and 2).
  assert.equal(totalOrderPredicate({ leader: 6, zxid: makeZxid(1, 7), peerEpoch: 2 }, base), true);
  assert.equal(totalOrderPredicate({ leader: 4, zxid: makeZxid(1, 7), peerEpoch: 2 }, base), false);
  assert.equal(totalOrderPredicate(base, base), false);
});

test('totalOrderPredicate is a strict total order on (peerEpoch, zxid, leader)', () => {
  fc.assert(
    fc.property(proposal, proposal, proposal, (a, b, c) => {
      assert.equal(totalOrderPredicate(a, a), false); // irreflexive
      if (totalOrderPredicate(a, b)) assert.equal(totalOrderPredicate(b, a), false); // asymmetric
      if (!same(a, b)) assert.equal(totalOrderPredicate(a, b) || totalOrderPredicate(b, a), true); // total
      if (totalOrderPredicate(a, b) && totalOrderPredicate(b, c)) assert.equal(totalOrderPredicate(a, c), true); // transitive
    }),
  );
});

test('a zxid is epoch * 2^32 + counter and splits back, beyond 32 bits', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 21 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (epoch, counter) => {
      const zxid = makeZxid(epoch, counter);
      assert.ok(Number.isSafeInteger(zxid));
      assert.equal(epochOfZxid(zxid), epoch);
      assert.equal(counterOfZxid(zxid), counter);
    }),
  );
  // Ordering by zxid is ordering by (epoch, counter).
  assert.ok(makeZxid(2, 0) > makeZxid(1, 2 ** 32 - 1));
});

test('votes agree like ZooKeeper Vote.equals: everything within a round, (leader, epoch) out of the election', () => {
  const v = (leader: number, electionEpoch: number, peerEpoch: number, state: Vote['state'], zxid = 0): Vote => ({
    leader,
    zxid,
    electionEpoch,
    peerEpoch,
    state,
  });
  assert.equal(sameVote(v(3, 1, 0, 'looking'), v(3, 1, 0, 'looking')), true);
  assert.equal(sameVote(v(3, 1, 0, 'looking'), v(3, 2, 0, 'looking')), false); // other round
  assert.equal(sameVote(v(3, 1, 0, 'looking'), v(3, 1, 0, 'looking', 5)), false); // other zxid
  assert.equal(sameVote(v(3, 1, 0, 'looking'), v(3, 1, 0, 'following')), true);
  assert.equal(sameVote(v(3, 1, 4, 'following', 9), v(3, 7, 4, 'leading')), true); // rounds, zxids ignored
  assert.equal(sameVote(v(3, 1, 4, 'following'), v(3, 1, 5, 'leading')), false); // other epoch
});

/** One FLE instance among voters 1..3, fed by hand. */
function election(id: number, voters = [1, 2, 3], own: Proposal | null = { leader: id, zxid: 0, peerEpoch: 0 }) {
  const sent: { to: number; n: Notification }[] = [];
  const fle = new FastLeaderElection(
    { id, voters, initialProposal: () => own, send: (to, n) => sent.push({ to, n }), emit: () => {} },
    { finalizeWaitMs: 200, minNotificationIntervalMs: 200, maxNotificationIntervalMs: 800 },
  );
  return { fle, sent };
}

const note = (leader: number, electionEpoch = 1, state: Notification['state'] = 'looking', zxid = 0, peerEpoch = 0): Notification => ({
  type: 'Notification',
  leader,
  zxid,
  electionEpoch,
  peerEpoch,
  state,
});

test('a round starts with a vote for oneself, sent to every other voter', () => {
  const { fle, sent } = election(2);
  fle.start(0);
  assert.equal(fle.round, 1);
  assert.deepEqual(sent.map((s) => [s.to, s.n.leader, s.n.electionEpoch, s.n.state]), [
    [1, 2, 1, 'looking'],
    [3, 2, 1, 'looking'],
  ]);
});

test('a better vote is adopted and re-broadcast; a worse one is only tallied', () => {
  const { fle, sent } = election(2);
  fle.start(0);
  sent.length = 0;
  fle.receive(1, 1, note(1));
  assert.equal(sent.length, 0, 'a vote for 1 does not beat our vote for 2');
  fle.receive(1, 3, note(3));
  assert.deepEqual(sent.map((s) => [s.to, s.n.leader]), [[1, 3], [3, 3]]);
  assert.equal(fle.currentVote()?.leader, 3);
});

test('finalizeWait: a quorum agreeing starts a 200 ms wait; the proposal stands if nothing better comes', () => {
  const { fle } = election(1);
  fle.start(0);
  assert.equal(fle.receive(5, 3, note(3)), null); // adopt 3: {1, 3} agree on 3, a quorum of 3
  assert.equal(fle.finalizing, true);
  assert.equal(fle.nextDeadline(), 205);
  assert.equal(fle.tick(204), null);
  const decision = fle.tick(205);
  assert.equal(decision?.vote.leader, 3);
  assert.equal(decision?.how, 'elected');
  assert.deepEqual(decision?.quorum, [1, 3]);
});

test('finalizeWait: a vote that does not beat the proposal restarts the wait; a better one ends it', () => {
  const { fle, sent } = election(1, [1, 2, 3, 4, 5]);
  fle.start(0);
  fle.receive(1, 3, note(3));
  fle.receive(2, 2, note(3)); // {1, 2, 3} agree on 3: a quorum of 5
  assert.equal(fle.nextDeadline(), 202);
  fle.receive(100, 2, note(3)); // not better: the wait starts over
  assert.equal(fle.nextDeadline(), 300);
  sent.length = 0;
  fle.receive(150, 5, note(5)); // better: the wait ends, 5 is adopted and told
  assert.equal(fle.finalizing, false);
  assert.equal(fle.currentVote()?.leader, 5);
  assert.equal(sent.length, 4);
  assert.equal(fle.tick(300), null, 'no decision: the quorum for 3 is gone');
});

test('a notification of a later round moves the clock and resets the tally', () => {
  const { fle, sent } = election(3);
  fle.start(0);
  fle.receive(1, 2, note(3)); // {2, 3} on 3 in round 1: finalizing
  assert.equal(fle.finalizing, true);
  sent.length = 0;
  fle.receive(2, 1, note(2, 5, 'looking', 0, 1)); // round 5, a vote for 2 of a later epoch
  assert.equal(fle.round, 5);
  assert.equal(fle.currentVote()?.leader, 2, 'epoch 1 beats our epoch 0');
  assert.ok(sent.length === 2 && sent.every((s) => s.n.electionEpoch === 5 && s.n.leader === 2));
  // Node 2's round-1 vote is forgotten; {1, 3} now agree on 2 in round 5: a new finalizeWait.
  assert.equal(fle.finalizing, true);
  assert.equal(fle.tick(202)?.vote.leader, 2);
});

test('notifications of an earlier round are not counted', () => {
  const { fle } = election(1);
  fle.start(0);
  fle.start(10); // round 2
  fle.receive(11, 3, note(3, 1)); // round 1: ignored, so no quorum forms on it
  assert.equal(fle.currentVote()?.leader, 1);
  assert.equal(fle.finalizing, false);
});

test('with no notification the vote is re-sent with exponential backoff, capped', () => {
  const { fle, sent } = election(1);
  fle.start(0);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const at = fle.nextDeadline();
    sent.length = 0;
    fle.tick(at);
    assert.equal(sent.length, 2);
    times.push(at);
  }
  assert.deepEqual(times, [200, 600, 1400, 2200, 3000, 3800]);
});

test('a latecomer joins an established leader once a quorum follows it and the leader says it leads', () => {
  const { fle } = election(1);
  fle.start(0);
  // Node 2 follows 3 (round 4), but 3 has not spoken: not enough (ZooKeeper's checkLeader).
  assert.equal(fle.receive(1, 2, note(3, 4, 'following', 0, 2)), null);
  const decision = fle.receive(2, 3, note(3, 4, 'leading', 0, 2));
  assert.equal(decision?.how, 'joined');
  assert.equal(decision?.vote.leader, 3);
  assert.equal(fle.round, 4, 'the clock takes the round the ensemble was elected in');
});

test('a quorum following a leader that never says LEADING is not joined', () => {
  const { fle } = election(1, [1, 2, 3, 4, 5]);
  fle.start(0);
  fle.receive(1, 2, note(5, 3, 'following', 0, 1));
  fle.receive(1, 3, note(5, 3, 'following', 0, 1));
  assert.equal(fle.receive(1, 4, note(5, 3, 'following', 0, 1)), null);
});

test('an observer has no vote of its own: it asks, adopts the best voter vote, and tallies only voters', () => {
  const { fle, sent } = election(4, [1, 2, 3], null);
  fle.start(0);
  assert.ok(sent.every((s) => s.n.state === 'observing' && s.n.leader === null));
  assert.deepEqual(sent.map((s) => s.to), [1, 2, 3]);
  fle.receive(1, 2, note(3));
  assert.equal(fle.finalizing, false, 'one voter is no quorum, and the observer does not count itself');
  fle.receive(1, 3, note(3));
  assert.equal(fle.finalizing, true);
  assert.equal(fle.tick(201)?.vote.leader, 3);
});

test('a vote for a non-voter is void, and a notification from a non-voter is never tallied', () => {
  const { fle } = election(1, [1, 2, 3]);
  fle.start(0);
  fle.receive(1, 2, note(9)); // 9 is no voter
  assert.equal(fle.currentVote()?.leader, 1);
  fle.receive(1, 4, note(1)); // 4 is no voter: not counted toward a quorum for 1
  assert.equal(fle.finalizing, false);
});

test('within a round the proposal never gets worse and never falls below the own vote', () => {
  const arbitraryNote = fc.record({
    from: fc.integer({ min: 1, max: 5 }),
    leader: fc.integer({ min: 1, max: 5 }),
    counter: fc.integer({ min: 0, max: 3 }),
    peerEpoch: fc.integer({ min: 0, max: 2 }),
    electionEpoch: fc.integer({ min: 1, max: 3 }),
    state: fc.constantFrom('looking', 'following', 'leading', 'observing') as fc.Arbitrary<Notification['state']>,
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.array(arbitraryNote, { maxLength: 30 }), (counter, epoch, notes) => {
      const own = { leader: 1, zxid: makeZxid(1, counter), peerEpoch: epoch };
      const { fle } = election(1, [1, 2, 3, 4, 5], own);
      fle.start(0);
      let previous = fle.currentVote()!;
      let t = 0;
      for (const n of notes) {
        const decision = fle.receive(++t, n.from, note(n.leader, n.electionEpoch, n.state, makeZxid(1, n.counter), n.peerEpoch));
        if (decision) return;
        const current = fle.currentVote()!;
        assert.ok(same(current, own) || totalOrderPredicate(current, own), 'never below the own vote');
        if (current.electionEpoch === previous.electionEpoch) {
          assert.ok(same(current, previous) || totalOrderPredicate(current, previous), 'never worse within a round');
        }
        previous = current;
      }
    }),
  );
});
