import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zabNet, type ZabNet } from './net.test.util.js';
import { LeaderSession, type PhaseHost } from '../../core/zab/establishment.js';
import { LearnerSession } from '../../core/zab/learner.js';
import { historyOf } from '../../core/zab/log.js';
import { makeZxid, type Notification, type ZabDurable, type ZabMessage } from '../../core/zab/messages.js';
import { ZabNode } from '../../core/zab/zab.js';
import { zab } from '../../core/zab/index.js';
import type { ElectionEvent } from '../../core/types.js';

const serving = (c: ZabNet, ids: readonly number[]) => () =>
  ids.every((id) => c.isUp(id) && c.node(id).status().leader !== null) && c.leaders().length === 1;

test('seed 003: three servers starting together with equal zxids elect server 3; 1 and 2 re-vote for 3 and follow', () => {
  const c = zabNet({ voters: 3 });
  // Round 1: everyone votes for itself and tells the others: n·(n−1) = 6 notifications.
  const first = c.sentOfType('Notification');
  assert.equal(first.length, 6);
  assert.ok(first.every((s) => s.message.leader === s.from && s.message.electionEpoch === 1 && s.message.zxid === 0));

  c.run(1); // every first vote arrives: equal epochs and zxids, so the higher id wins
  const revotes = c.sentOfType('Notification', 1).map((s) => `${s.from}->${s.to}:${s.message.leader}`);
  assert.deepEqual(revotes, ['1->2:2', '1->3:2', '1->2:3', '1->3:3', '2->1:3', '2->3:3']);
  assert.ok(!c.sent.some((s) => s.from === 3 && s.message.type === 'Notification' && s.message.leader !== 3), 'server 3 never changes its vote');

  // Everyone now agrees on 3, but nobody settles before finalizeWait (200 ms) has passed quietly.
  c.runUntil(199);
  assert.deepEqual([1, 2, 3].map((id) => c.node(id).state), ['looking', 'looking', 'looking']);

  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  assert.deepEqual([1, 2, 3].map((id) => c.node(id).status()), [
    { id: 1, role: 'following', leader: 3, term: 1 },
    { id: 2, role: 'following', leader: 3, term: 1 },
    { id: 3, role: 'leading', leader: 3, term: 1 },
  ]);
  assert.ok(c.now < 230, `established at ${c.now} ms`);
  assert.deepEqual(c.sendViolations, []);
});

test('with histories the most up-to-date server leads, whatever its id (epoch, then zxid, then id)', () => {
  const c = zabNet({ voters: 3, history: { 1: 5, 2: 3 } });
  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  assert.deepEqual(c.leaders(), [1]);
  // Synchronization gives every follower the leader's history, in the new epoch.
  for (const id of [1, 2, 3]) assert.deepEqual(c.durable.get(id), { acceptedEpoch: 2, currentEpoch: 2, lastZxid: makeZxid(1, 5) });
});

test('the leader is established only once a quorum acknowledged NEWLEADER, and reports itself only then', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(() => c.node(3).stage === 'leading/synchronization', 1000);
  assert.equal(c.node(3).status().leader, null, 'LEADING but not yet established');
  assert.deepEqual(c.leaders(), []);
  c.runUntilTrue(() => c.node(3).status().leader === 3, 100);
  const firstAck = c.sentOfType('Ack')[0]!;
  assert.equal(c.now, firstAck.at + 1, 'established when the first follower ACK arrives: with itself, a quorum of 3');
  const became = c.events.filter((e) => e.event.type === 'became-leader');
  assert.deepEqual(became.map((e) => [e.node, e.at]), [[3, c.now]]);
});

test('a leader that gets no NEWLEADER quorum is never established and goes back to LOOKING', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(() => c.node(3).stage === 'leading/synchronization', 1000);
  // The followers' ACKs never arrive.
  c.drop((m) => m.message.type === 'Ack');
  c.isolate(3, [1, 2]);
  const since = c.now;
  c.runUntilTrue(() => c.node(3).state === 'looking', 1000);
  assert.ok(!c.events.some((e) => e.event.type === 'became-leader' && e.at >= since));
  // initLimit: the leader's session timeout (the election-timeout maximum) plus finalizeWait.
  assert.ok(c.now - since <= zab.defaultTiming.electionTimeoutMaxMs + 200 + 1, `gave up after ${c.now - since} ms`);
});

test('the epoch is on disk before the ACKEPOCH that promises it leaves, and the history before the ACK', () => {
  const voters = [1, 2, 3];
  const node = new ZabNode({ id: 1, voters, observers: [], timing: zab.defaultTiming }, zab.initialDurable(0), { next: () => 0 }, 0);
  node.takeOutput();
  const vote = (leader: number, state: Notification['state'] = 'looking'): Notification => ({
    type: 'Notification',
    leader,
    zxid: 0,
    electionEpoch: 1,
    peerEpoch: 0,
    state,
  });
  node.receive(1, 3, vote(3));
  node.receive(1, 2, vote(3));
  assert.deepEqual(node.takeOutput().messages.map((m) => [m.to, m.message.type]), [[2, 'Notification'], [3, 'Notification']]);
  node.tick(201);
  assert.equal(node.state, 'following');
  assert.deepEqual(node.takeOutput().messages.map((m) => [m.to, m.message.type]), [[3, 'FollowerInfo']]);
  node.receive(202, 3, { type: 'LeaderInfo', epoch: 1 });
  const afterEpoch = node.takeOutput();
  assert.deepEqual(afterEpoch.persist, { acceptedEpoch: 1, currentEpoch: 0, lastZxid: 0 });
  assert.deepEqual(afterEpoch.messages.map((m) => m.message.type), ['AckEpoch']);
  const runs = [{ epoch: 1, first: 1, count: 4 }];
  node.receive(203, 3, { type: 'NewLeader', epoch: 1, zxid: makeZxid(1, 4), sync: 'diff', base: 0, baseIndex: 0, snapshot: '', runs, commands: [] });
  const afterSync = node.takeOutput();
  // A history without commands, of one epoch from its first zxid, is all in its last zxid (as before replication).
  assert.deepEqual(afterSync.persist, { acceptedEpoch: 1, currentEpoch: 1, lastZxid: makeZxid(1, 4) });
  assert.deepEqual(afterSync.messages.map((m) => m.message.type), ['Ack']);
  assert.equal(node.status().leader, null, 'a follower names its leader once the leader is established (UPTODATE)');
  node.receive(204, 3, { type: 'UpToDate', epoch: 1, zxid: makeZxid(1, 4) });
  assert.deepEqual(node.status(), { id: 1, role: 'following', leader: 3, term: 1 });
});

test('a restarted server joins the established leader from FOLLOWING/LEADING notifications, without an election', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  c.run(500);
  c.crash(1);
  c.run(300);
  const restartAt = c.now;
  c.start(1);
  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  assert.equal(c.node(1).lastDecision?.how, 'joined');
  assert.equal(c.node(1).status().leader, 3);
  assert.equal(c.node(1).status().term, 1, 'same epoch: the leader did not change');
  assert.ok(c.now - restartAt < 50, `joined in ${c.now - restartAt} ms, without finalizeWait`);
  const othersLooked = c.events.filter((e) => e.at >= restartAt && e.node !== 1 && e.event.type === 'core' && e.event.event.type === 'election-started');
  assert.deepEqual(othersLooked, [], 'nodes 2 and 3 never left their roles');
});

test('a follower that loses its leader goes LOOKING after the election-timeout minimum, and a new epoch begins', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  c.run(1000);
  const crashAt = c.now;
  c.crash(3);
  c.runUntilTrue(() => c.node(1).state === 'looking' && c.node(2).state === 'looking', 500);
  const { electionTimeoutMinMs, heartbeatMs } = zab.defaultTiming;
  assert.ok(c.now - crashAt <= electionTimeoutMinMs + heartbeatMs, `LOOKING ${c.now - crashAt} ms after the crash`);
  assert.ok(c.now - crashAt >= electionTimeoutMinMs - heartbeatMs, `LOOKING ${c.now - crashAt} ms after the crash`);
  c.runUntilTrue(serving(c, [1, 2]), 1000);
  assert.deepEqual(c.leaders(), [2]);
  assert.equal(c.node(2).status().term, 2, 'epoch 2: one more than every accepted epoch');
});

test('a leader that loses its quorum goes back to LOOKING; healed, it follows the new leader', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(serving(c, [1, 2, 3]), 1000);
  c.run(1000);
  const cutAt = c.now;
  c.isolate(3);
  c.runUntilTrue(() => c.node(3).state === 'looking', 1000);
  const { electionTimeoutMaxMs, heartbeatMs } = zab.defaultTiming;
  assert.ok(c.now - cutAt <= electionTimeoutMaxMs + heartbeatMs, `stepped down ${c.now - cutAt} ms after the cut`);
  assert.ok(c.events.some((e) => e.node === 3 && e.event.type === 'lost-leadership'));
  c.runUntilTrue(serving(c, [1, 2]), 1000);
  assert.deepEqual(c.leaders(), [2]);
  c.heal();
  c.runUntilTrue(serving(c, [1, 2, 3]), 3000);
  assert.deepEqual(c.node(3).status(), { id: 3, role: 'following', leader: 2, term: 2 });
});

test('observers learn the leader but never vote: no vote on the wire, and no quorum counted from them', () => {
  const c = zabNet({ voters: 3, observers: 2 });
  c.runUntilTrue(serving(c, [1, 2, 3, 4, 5]), 1000);
  assert.deepEqual(c.node(4).status(), { id: 4, role: 'observing', leader: 3, term: 1 });
  assert.deepEqual(c.node(5).status(), { id: 5, role: 'observing', leader: 3, term: 1 });
  const fromObservers = c.sent.filter((s) => s.from >= 4);
  assert.ok(fromObservers.length > 0);
  for (const s of fromObservers) {
    assert.ok(['Notification', 'ObserverInfo', 'PingReply'].includes(s.message.type), s.message.type);
    if (s.message.type === 'Notification') assert.deepEqual([s.message.state, s.message.leader], ['observing', null]);
  }
  assert.ok(!c.sent.some((s) => s.message.type === 'Notification' && (s.message.leader ?? 0) >= 4), 'nobody votes for an observer');
  assert.deepEqual(c.sendViolations, []);

  // Two voters go: one voter and two observers are three of five members, but one of three voters.
  c.crash(3);
  c.crash(2);
  c.run(3000);
  assert.deepEqual(c.leaders(), []);
  assert.equal(c.node(1).status().leader, null);
  assert.ok(!c.events.some((e) => e.event.type === 'became-leader' && e.at > 1000));
});

test('an established leader whose voters are gone steps down even while its observers answer pings', () => {
  const c = zabNet({ voters: 3, observers: 2 });
  c.runUntilTrue(serving(c, [1, 2, 3, 4, 5]), 1000);
  c.crash(1);
  c.crash(2);
  c.runUntilTrue(() => c.node(3).state === 'looking', 1000);
  assert.ok(c.sentOfType('PingReply').some((s) => s.from === 4 && s.at > 300), 'the observers kept answering');
});

// ---- the phases on their own ------------------------------------------------------------------

function phaseHost(
  id: number,
  durable: ZabDurable,
): PhaseHost & { sent: { to: number; message: ZabMessage }[]; state: ZabDurable; events: ElectionEvent[] } {
  const host = {
    id,
    voters: [1, 2, 3],
    state: durable,
    sent: [] as { to: number; message: ZabMessage }[],
    durable: () => host.state,
    update: (changes: Partial<ZabDurable>) => {
      host.state = { ...host.state, ...changes };
    },
    log: historyOf(durable),
    logChanged: () => undefined,
    committed: 0,
    committedIndex: () => host.committed,
    commit: (index: number) => {
      host.committed = Math.max(host.committed, index);
    },
    installSnapshot: () => undefined,
    send: (to: number, message: ZabMessage) => host.sent.push({ to, message }),
    events: [] as ElectionEvent[],
    emit: (event: ElectionEvent) => host.events.push(event),
  };
  return host;
}

const phaseTiming = { heartbeatMs: 50, sessionTimeoutMs: 200, initTimeoutMs: 400 };

test('discovery: the new epoch is one above every epoch a quorum promised, and the leader promises it first', () => {
  const host = phaseHost(1, { acceptedEpoch: 3, currentEpoch: 3, lastZxid: 0 });
  const leader = new LeaderSession(host, [], phaseTiming, 0);
  assert.equal(leader.start(0), null);
  assert.equal(leader.receive(1, 2, { type: 'FollowerInfo', acceptedEpoch: 6 }), null);
  assert.equal(leader.epoch, 7);
  assert.equal(host.state.acceptedEpoch, 7);
  assert.deepEqual(host.sent, [{ to: 2, message: { type: 'LeaderInfo', epoch: 7 } }]);
  // An answer that is no new promise does not complete the epoch quorum.
  assert.equal(leader.receive(2, 2, { type: 'AckEpoch', epoch: 7, currentEpoch: 3, lastZxid: 0, newlyAccepted: false }), null);
  assert.equal(leader.phase, 'discovery');
  assert.equal(leader.receive(3, 3, { type: 'FollowerInfo', acceptedEpoch: 0 }), null);
  assert.equal(leader.receive(4, 3, { type: 'AckEpoch', epoch: 7, currentEpoch: 0, lastZxid: 0, newlyAccepted: true }), null);
  assert.equal(leader.phase, 'synchronization');
  assert.equal(host.state.currentEpoch, 7);
  assert.deepEqual(leader.receive(5, 2, { type: 'Ack', epoch: 7, zxid: 0 }), { kind: 'established' });
});

test('discovery: a leader less up to date than a quorum member gives up ("follower is ahead of the leader")', () => {
  const host = phaseHost(1, { acceptedEpoch: 1, currentEpoch: 1, lastZxid: makeZxid(1, 3) });
  const leader = new LeaderSession(host, [], phaseTiming, 0);
  leader.start(0);
  leader.receive(1, 2, { type: 'FollowerInfo', acceptedEpoch: 1 });
  const step = leader.receive(2, 2, { type: 'AckEpoch', epoch: 2, currentEpoch: 1, lastZxid: makeZxid(1, 5), newlyAccepted: true });
  assert.equal(step?.kind, 'abandon');
});

test('an established leader steps down for a voter that promised a later epoch (it could never follow)', () => {
  const host = phaseHost(1, { acceptedEpoch: 1, currentEpoch: 1, lastZxid: 0 });
  const leader = new LeaderSession(host, [], phaseTiming, 0);
  leader.start(0);
  leader.receive(1, 2, { type: 'FollowerInfo', acceptedEpoch: 1 });
  leader.receive(2, 2, { type: 'AckEpoch', epoch: 2, currentEpoch: 1, lastZxid: 0, newlyAccepted: true });
  assert.deepEqual(leader.receive(3, 2, { type: 'Ack', epoch: 2, zxid: 0 }), { kind: 'established' });
  assert.equal(leader.receive(4, 3, { type: 'FollowerInfo', acceptedEpoch: 2 })?.kind ?? null, null, 'epoch 2 itself is fine');
  assert.equal(leader.receive(5, 3, { type: 'FollowerInfo', acceptedEpoch: 5 })?.kind, 'abandon');
});

test('a follower refuses an epoch below the one it promised, and promises an equal one only once', () => {
  const refusing = phaseHost(2, { acceptedEpoch: 5, currentEpoch: 4, lastZxid: 0 });
  const learner = new LearnerSession(refusing, 1, false, phaseTiming, 0);
  learner.start();
  assert.deepEqual(refusing.sent.map((s) => s.message), [{ type: 'FollowerInfo', acceptedEpoch: 5 }]);
  assert.equal(learner.receive(1, 1, { type: 'LeaderInfo', epoch: 4 })?.kind, 'abandon');

  const again = phaseHost(2, { acceptedEpoch: 5, currentEpoch: 4, lastZxid: 0 });
  const second = new LearnerSession(again, 1, false, phaseTiming, 0);
  second.start();
  assert.equal(second.receive(1, 1, { type: 'LeaderInfo', epoch: 5 }), null);
  assert.deepEqual(again.sent.at(-1)?.message, { type: 'AckEpoch', epoch: 5, currentEpoch: 4, lastZxid: 0, newlyAccepted: false });
});

test('a learner re-sends its unanswered handshake message every heartbeat, and gives up after initLimit', () => {
  const host = phaseHost(2, { acceptedEpoch: 0, currentEpoch: 0, lastZxid: 0 });
  const learner = new LearnerSession(host, 1, false, phaseTiming, 0);
  learner.start();
  for (let t = 50; t < 400; t += 50) assert.equal(learner.tick(t), null);
  assert.equal(host.sent.length, 8);
  assert.ok(host.sent.every((s) => s.message.type === 'FollowerInfo'));
  assert.equal(learner.tick(400)?.kind, 'abandon');
});
