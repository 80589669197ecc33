/**
 * ZAB's atomic broadcast (Junqueira, Reed, Serafini 2011, Phase 3; ZooKeeper's Leader / Follower /
 * LearnerHandler): proposals, quorum acknowledgements, commits in zxid order on every node, the
 * synchronization of a learner by DIFF, TRUNC or SNAP, compaction, and the leader's read barrier.
 * Transcript tests on the test network (fixed 1 ms latency, no randomness).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zabNet, type ZabNet } from './net.test.util.js';
import type { Input, NodeId, ReplicationEvent } from '../../core/types.js';
import { zab } from '../../core/zab/index.js';
import { historyOf, syncPoint, ZabLog } from '../../core/zab/log.js';
import { makeZxid, MAX_SNAPSHOT_LENGTH, type NewLeader, type ZabDurable } from '../../core/zab/messages.js';
import { mutants, withMutant } from '../../testing/mutants.js';

let nextRequest = 1;

/** Hands node `id` a local request (the simulator's engine.local) and returns its id. */
function local(c: ZabNet, id: NodeId, input: { type: 'propose'; command: string } | { type: 'read' } | { type: 'compact'; index: number; snapshot: string }): number {
  const request = nextRequest++;
  const full: Input =
    input.type === 'propose'
      ? { type: 'propose', id: request, command: input.command }
      : input.type === 'read'
        ? { type: 'read', id: request }
        : input;
  c.driver(id).step(c.now, full);
  return request;
}

/** The replication events node `id` reported, in order (optionally only from `since` ms). */
function replication(c: ZabNet, id: NodeId, since = 0): ReplicationEvent[] {
  const out: ReplicationEvent[] = [];
  for (const e of c.events) {
    if (e.node !== id || e.at < since || e.event.type !== 'core') continue;
    const event = e.event.event;
    if (event.type === 'proposed' || event.type === 'request-refused' || event.type === 'committed' || event.type === 'snapshot-installed' || event.type === 'read-ready') {
      out.push(event);
    }
  }
  return out;
}

/** `index:term:command` of every committed event of node `id`. */
function committed(c: ZabNet, id: NodeId, since = 0): string[] {
  return replication(c, id, since).flatMap((e) => (e.type === 'committed' ? [`${e.index}:${e.term}:${e.command}`] : []));
}

const established = (c: ZabNet, ids: readonly NodeId[]) => () => ids.every((id) => c.isUp(id) && c.node(id).status().leader !== null) && c.leaders().length === 1;

/** Restarts `id` and runs until every voter serves the one leader; returns when it restarted. */
function rejoin(c: ZabNet, id: NodeId, settleMs = 20): number {
  const restartAt = c.now;
  c.restart(id);
  c.runUntilTrue(established(c, c.voters), 2000);
  c.run(settleMs);
  return restartAt;
}

function electedNet(voters: number, observers = 0): { c: ZabNet; leader: NodeId } {
  const c = zabNet({ voters, observers });
  c.runUntilTrue(established(c, c.members), 2000);
  return { c, leader: c.leaders()[0]! };
}

for (const [voters, observers] of [[3, 0], [5, 1]] as const) {
  test(`${voters} voters${observers ? ' and an observer' : ''}: every node commits the proposals in zxid order, each once`, () => {
    const { c, leader } = electedNet(voters, observers);
    const epoch = c.node(leader).status().term;
    const ids = ['a', 'b', 'c', 'd'].map((command) => local(c, leader, { type: 'propose', command }));
    assert.deepEqual(
      replication(c, leader).filter((e) => e.type === 'proposed'),
      ids.map((id, i) => ({ type: 'proposed', id, index: i + 1, term: epoch })),
    );
    // Persist before send: the leader's proposals are in the state it persisted with them.
    assert.equal(c.durable.get(leader)!.lastZxid, makeZxid(epoch, 4));
    c.run(20);
    const expected = ['a', 'b', 'c', 'd'].map((command, i) => `${i + 1}:${epoch}:${command}`);
    for (const id of c.members) assert.deepEqual(committed(c, id), expected, `node ${id}`);
    if (observers) {
      const observer = c.observers[0]!;
      assert.ok(c.sent.some((s) => s.to === observer && s.message.type === 'Inform'), 'the observer learns commits by INFORM');
      assert.ok(!c.sent.some((s) => s.to === observer && s.message.type === 'Proposal'), 'and never sees a proposal');
      assert.ok(!c.sent.some((s) => s.from === observer && s.message.type === 'Ack'), 'nor acknowledges one');
    }
    assert.deepEqual(c.sendViolations, []);
  });
}

function commitsOnlyWithQuorum(): void {
  const { c, leader } = electedNet(5);
  const [first, ...rest] = c.voters.filter((id) => id !== leader);
  // Only one follower hears the proposal: with the leader, 2 of 5.
  for (const id of rest) c.cut(leader, id);
  local(c, leader, { type: 'propose', command: 'x' });
  c.run(40);
  assert.ok(c.sentOfType('Ack').some((s) => s.from === first && s.message.zxid === c.node(leader).history.lastZxid), 'the one follower acknowledged');
  assert.deepEqual(committed(c, leader).filter((e) => e.endsWith(':x')), [], 'no commit with 2 acknowledgements of 5');
  assert.equal(c.sentOfType('Commit').length, 0);
  c.heal();
  // The proposal is sent again at the next ping to the followers that lack it.
  c.run(100);
  const epoch = c.node(leader).status().term;
  for (const id of c.voters) assert.deepEqual(committed(c, id), [`1:${epoch}:x`], `node ${id}`);
}

test('the leader commits only once a quorum of voters (itself included) logged the proposal', commitsOnlyWithQuorum);

function truncatesDivergentTail(): void {
  const { c, leader: old } = electedNet(3);
  local(c, old, { type: 'propose', command: 'A' });
  c.run(20);
  // The old leader logs B, which no follower receives, and crashes.
  for (const id of c.voters) if (id !== old) c.cut(old, id);
  local(c, old, { type: 'propose', command: 'B' });
  c.crash(old);
  c.heal();
  c.runUntilTrue(() => c.leaders().length === 1 && c.leaders()[0] !== old, 3000);
  const leader = c.leaders()[0]!;
  const epoch = c.node(leader).status().term;
  local(c, leader, { type: 'propose', command: 'C' });
  c.run(20);
  const restartAt = rejoin(c, old);
  const sync = c.sentOfType('NewLeader', restartAt).filter((s) => s.to === old);
  assert.equal(sync[0]?.message.sync, 'trunc');
  assert.deepEqual(committed(c, old, restartAt), [`1:1:A`, `2:${epoch}:C`], 'B is gone: index 2 is C everywhere');
  for (const id of c.voters) assert.deepEqual(c.node(id).history.slice().commands, ['A', 'C'], `node ${id}`);
}

test('a follower holding a proposal the new leader lacks is truncated (TRUNC) and commits the leader history', truncatesDivergentTail);

// The mutants of src/testing/mutants.ts fail the tests above (the proposal sweep catches them too).
for (const [name, scenario] of [['zab-commit-before-quorum', commitsOnlyWithQuorum], ['zab-skip-trunc', truncatesDivergentTail]] as const) {
  test(`mutant ${name} fails its test`, () => {
    const mutant = mutants.find((m) => m.name === name)!;
    assert.throws(() => withMutant(mutant, scenario), assert.AssertionError);
    scenario(); // and the core is correct again
  });
}

test('a lagging follower gets the missing suffix (DIFF) and commits it in order', () => {
  const { c, leader } = electedNet(3);
  const lagging = c.voters.find((id) => id !== leader)!;
  local(c, leader, { type: 'propose', command: 'one' });
  c.run(10);
  c.crash(lagging);
  for (const command of ['two', 'three']) local(c, leader, { type: 'propose', command });
  c.run(10);
  const restartAt = rejoin(c, lagging, 0);
  const sync = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  const epoch = c.node(leader).status().term;
  assert.equal(sync.sync, 'diff');
  assert.equal(sync.base, makeZxid(epoch, 1), 'from the zxid it held');
  assert.deepEqual(sync.commands, ['two', 'three']);
  // A restarted node reports what it learns committed afresh (once per incarnation).
  assert.deepEqual(committed(c, lagging, restartAt), [`1:${epoch}:one`, `2:${epoch}:two`, `3:${epoch}:three`]);
});

test('compaction drops the entries a snapshot covers; a follower behind the snapshot gets SNAP', () => {
  const { c, leader } = electedNet(3);
  const lagging = c.voters.find((id) => id !== leader)!;
  c.crash(lagging);
  for (const command of ['a', 'b', 'c']) local(c, leader, { type: 'propose', command });
  c.run(10);
  assert.equal(c.node(leader).committedIndex, 3);
  local(c, leader, { type: 'compact', index: 2, snapshot: 'state@2' });
  const persisted = c.durable.get(leader)!;
  assert.deepEqual(persisted.snapshot, { index: 2, zxid: c.node(leader).history.zxidAt(2), data: 'state@2' });
  assert.deepEqual(persisted.commands, ['c'], 'the entries the snapshot covers are dropped');
  const restartAt = rejoin(c, lagging, 10);
  const sync = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  assert.equal(sync.sync, 'snap');
  assert.equal(sync.snapshot, 'state@2');
  const epoch = c.node(leader).status().term;
  assert.deepEqual(replication(c, lagging, restartAt).filter((e) => e.type === 'snapshot-installed' || e.type === 'committed'), [
    { type: 'snapshot-installed', index: 2, term: epoch, snapshot: 'state@2' },
    { type: 'committed', index: 3, term: epoch, command: 'c' },
  ]);
});

test('a node restarting from its durable snapshot installs it first, then reports commits after it', () => {
  const { c, leader } = electedNet(3);
  const follower = c.voters.find((id) => id !== leader)!;
  for (const command of ['a', 'b', 'c']) local(c, leader, { type: 'propose', command });
  c.run(20);
  local(c, follower, { type: 'compact', index: 3, snapshot: 'S3' });
  c.crash(follower);
  local(c, leader, { type: 'propose', command: 'd' });
  c.run(10);
  const restartAt = rejoin(c, follower, 10);
  const epoch = c.node(leader).status().term;
  const events = replication(c, follower, restartAt);
  assert.deepEqual(events[0], { type: 'snapshot-installed', index: 3, term: epoch, snapshot: 'S3' });
  assert.deepEqual(committed(c, follower, restartAt), [`4:${epoch}:d`]);
});

test('a linearizable read waits for a quorum to answer a ping round sent after it arrived; others refuse', () => {
  const { c, leader } = electedNet(3);
  const [f1, f2] = c.voters.filter((id) => id !== leader) as [NodeId, NodeId];
  local(c, leader, { type: 'propose', command: 'w' });
  c.run(10);
  c.drop(() => true);
  c.cut(f1, leader);
  c.cut(f2, leader);
  const since = c.now;
  const read = local(c, leader, { type: 'read' });
  const round = c.sentOfType('Ping', since);
  assert.equal(round.length, 2, 'a ping round leaves at once');
  c.run(20);
  assert.ok(!replication(c, leader, since).some((e) => e.type === 'read-ready'), 'no answer, no read');
  c.heal();
  // A reply to a ping sent before the read proves nothing: only the round after it counts.
  c.run(60);
  const ready = replication(c, leader, since).filter((e) => e.type === 'read-ready');
  assert.deepEqual(ready, [{ type: 'read-ready', id: read, index: 1 }]);
  const readyAt = c.events.find((e) => e.node === leader && e.event.type === 'core' && e.event.event.type === 'read-ready')!.at;
  const firstReplyAfter = c.sentOfType('PingReply', since).find((s) => s.message.round > round[0]!.message.round - 1)!;
  assert.ok(readyAt >= firstReplyAfter.at + 1);

  // A follower and a voter refuse, naming the leader; a read on one leader of a cluster of one is ready at once.
  const refusedRead = local(c, f1, { type: 'read' });
  const refusedWrite = local(c, f1, { type: 'propose', command: 'x' });
  assert.deepEqual(replication(c, f1).filter((e) => e.type === 'request-refused'), [
    { type: 'request-refused', id: refusedRead, leader },
    { type: 'request-refused', id: refusedWrite, leader },
  ]);
  const alone = electedNet(1);
  const quick = local(alone.c, alone.leader, { type: 'read' });
  assert.deepEqual(replication(alone.c, alone.leader).filter((e) => e.type === 'read-ready'), [{ type: 'read-ready', id: quick, index: 0 }]);
});

test('a leader not yet established refuses proposals; one that steps down refuses its pending reads', () => {
  const c = zabNet({ voters: 3 });
  c.runUntilTrue(() => c.node(3).stage === 'leading/synchronization', 1000);
  const early = local(c, 3, { type: 'propose', command: 'early' });
  assert.deepEqual(replication(c, 3).at(-1), { type: 'request-refused', id: early, leader: null });
  c.runUntilTrue(established(c, c.voters), 1000);
  c.isolate(3);
  const read = local(c, 3, { type: 'read' });
  c.runUntilTrue(() => c.node(3).state === 'looking', 1000);
  assert.deepEqual(replication(c, 3).filter((e) => e.type === 'request-refused' && e.id === read), [{ type: 'request-refused', id: read, leader: null }]);
});

test('the durable state of a node from before replication still reads: its history is its last zxid', () => {
  const old: ZabDurable = { acceptedEpoch: 2, currentEpoch: 2, lastZxid: makeZxid(1, 3) };
  const log = historyOf(old);
  assert.equal(log.lastIndex, 3);
  assert.equal(log.lastZxid, makeZxid(1, 3));
  assert.equal(log.commandAt(2), '');
  assert.deepEqual(Object.keys(zab.durableShape).sort(), ['acceptedEpoch', 'commands', 'currentEpoch', 'lastZxid', 'runs', 'snapshot']);
  for (const field of ['runs', 'commands', 'snapshot'] as const) assert.ok('optional' in (zab.durableShape[field] as object), `${field} is optional`);
  // A history given at start is a few runs, however long; one run without commands is its last zxid alone.
  const big = zab.initialDurable([{ term: 1, entries: 1_000_000 }, { term: 3, entries: 2 }]);
  assert.deepEqual(big.runs, [{ epoch: 1, first: 1, count: 1_000_000 }, { epoch: 3, first: 1, count: 2 }]);
  assert.equal(historyOf(big).lastIndex, 1_000_002);
  assert.deepEqual(zab.initialDurable(5), { acceptedEpoch: 1, currentEpoch: 1, lastZxid: makeZxid(1, 5) });
  assert.deepEqual(zab.initialDurable(0), { acceptedEpoch: 0, currentEpoch: 0, lastZxid: 0 });
});

test('NEWLEADER stays within the frame budget: what does not fit follows as proposals', () => {
  const { c, leader } = electedNet(3);
  const lagging = c.voters.find((id) => id !== leader)!;
  c.crash(lagging);
  const big = 'x'.repeat(8_000); // near the cores' bound on a command (src/core/limits.ts)
  for (let i = 0; i < 8; i++) local(c, leader, { type: 'propose', command: `${i}${big}` });
  c.run(10);
  const restartAt = rejoin(c, lagging, 200);
  const sync: NewLeader = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  assert.ok(JSON.stringify(sync).length < 64 * 1024, `NEWLEADER of ${JSON.stringify(sync).length} bytes`);
  assert.ok(sync.commands.length < 8);
  assert.equal(committed(c, lagging, restartAt).length, 8, 'the rest came as proposals');
  assert.deepEqual(c.node(lagging).history.slice().commands, c.node(leader).history.slice().commands);
});

test('a new leader whose history does not fit one NEWLEADER is established only once a quorum holds all of it', () => {
  const { c, leader: first } = electedNet(3);
  const [behind, keeper] = c.voters.filter((id) => id !== first) as [NodeId, NodeId];
  c.crash(behind);
  const big = 'y'.repeat(8_000);
  for (let i = 0; i < 8; i++) local(c, first, { type: 'propose', command: `${i}${big}` });
  c.run(20);
  c.crash(first);
  const restartAt = c.now;
  c.restart(behind);
  c.runUntilTrue(() => c.leaders().length === 1, 3000);
  assert.equal(c.leaders()[0], keeper, 'the one holding the history leads');
  const sync = c.sentOfType('NewLeader', restartAt).find((s) => s.to === behind)!.message;
  assert.ok(sync.commands.length < 8, 'NEWLEADER carried part of it');
  const became = c.events.find((e) => e.at >= restartAt && e.node === keeper && e.event.type === 'became-leader')!;
  // The follower acknowledged the whole history (persisted before its ACK left) before the leader was established.
  const full = c.node(keeper).history.lastZxid;
  assert.ok(c.sentOfType('Ack', restartAt).some((s) => s.from === behind && s.message.zxid === full && s.at < became.at));
  c.run(20);
  assert.equal(committed(c, behind, restartAt).length, 8);
});

test('syncPoint: DIFF from a zxid the leader holds, TRUNC back to where the histories part, SNAP when that is compacted or unknowable', () => {
  const z = makeZxid;
  // The leader's history: 1:1 1:2 | 3:1 3:2 (epoch 2's leader proposed nothing that survived).
  const log = new ZabLog({ index: 0, zxid: 0, data: '' }, { runs: [{ epoch: 1, first: 1, count: 2 }, { epoch: 3, first: 1, count: 2 }], commands: [] });
  assert.deepEqual(syncPoint(log, z(1, 2), 4), { sync: 'diff', baseIndex: 2 }, 'a prefix: the rest');
  assert.deepEqual(syncPoint(log, 0, 4), { sync: 'diff', baseIndex: 0 }, 'empty: everything');
  assert.deepEqual(syncPoint(log, z(3, 5), 4), { sync: 'trunc', baseIndex: 4 }, 'ahead in the same epoch: truncate to the leader');
  assert.deepEqual(syncPoint(log, z(1, 4), 4), { sync: 'trunc', baseIndex: 2 }, 'an uncommitted tail of epoch 1: back to 1:2, then the rest');
  assert.deepEqual(syncPoint(log, z(2, 1), 4), { sync: 'snap', baseIndex: 0 }, 'epoch 2 is not in this history: where they part is unknown');
  assert.deepEqual(syncPoint(log, z(3, 2), 3), { sync: 'trunc', baseIndex: 3 }, 'an observer is brought to the commit point');
  log.compact(3, 'S');
  assert.deepEqual(syncPoint(log, z(1, 2), 4), { sync: 'snap', baseIndex: 3 }, 'behind the snapshot');
  assert.deepEqual(syncPoint(log, z(3, 1), 4), { sync: 'diff', baseIndex: 3 }, 'at the snapshot');
});

test('compaction keeps a snapshot up to MAX_SNAPSHOT_LENGTH characters, and nothing beyond the commit point', () => {
  const { c, leader } = electedNet(3);
  local(c, leader, { type: 'propose', command: 'a' });
  c.run(10);
  local(c, leader, { type: 'compact', index: 1, snapshot: 'x'.repeat(MAX_SNAPSHOT_LENGTH + 1) });
  assert.equal(c.node(leader).history.snapshot.index, 0, 'too large: ignored');
  local(c, leader, { type: 'compact', index: 1, snapshot: 'x'.repeat(MAX_SNAPSHOT_LENGTH) });
  assert.equal(c.node(leader).history.snapshot.index, 1);
  local(c, leader, { type: 'compact', index: 2, snapshot: 'beyond' });
  assert.equal(c.node(leader).history.snapshot.index, 1, 'nothing beyond what was committed');
});
