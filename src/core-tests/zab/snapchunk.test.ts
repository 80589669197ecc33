/**
 * ZAB's chunked SNAP: a snapshot too large for one frame follows NEWLEADER in SnapChunks, one window
 * per SnapRequest of the learner (src/core/chunks.ts), which a learner accepts in any order (and
 * twice), only of its leader's current epoch, and acknowledges NEWLEADER only once it holds all of
 * them. A lost piece is asked for again from where the learner stands; a re-sent NEWLEADER resumes
 * there too. Transcript tests on the test network, and a lone ZabNode fed messages by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zabNet } from './net.test.util.js';
import { FRAME_BYTES, MAX_WHOLE_SNAPSHOT_BYTES, utf8Length } from '../../core/limits.js';
import type { AnyAlgorithm, Input, NodeId, ReplicationEvent } from '../../core/types.js';
import { simulate } from '../../sim/simulation.js';
import type { Action } from '../../sim/schedule.js';
import { zab } from '../../core/zab/index.js';
import { MAX_EPOCH } from '../../core/bounds.js';
import {
  makeZxid,
  MAX_SNAPSHOT_LENGTH,
  SNAPSHOT_CHUNK_CHARS,
  type NewLeader,
  type Notification,
  type SnapChunk,
  type ZabMessage,
  type ZabDurable,
} from '../../core/zab/messages.js';
import { SNAPSHOT_CHUNK_WINDOW } from '../../core/limits.js';
import type { Output } from '../../core/types.js';
import type { ZabNet } from './net.test.util.js';
import { ZabNode } from '../../core/zab/zab.js';

/** A snapshot of `length` characters that differs at every chunk, so a piece out of place shows. */
function bigState(length: number): string {
  let text = '';
  for (let k = 0; text.length < length; k++) text += `{"k${k}":"${'v'.repeat(40)}"},`;
  return text.slice(0, length);
}

function pieces(epoch: number, index: number, data: string): SnapChunk[] {
  const out: SnapChunk[] = [];
  for (let offset = 0; offset < data.length; offset += SNAPSHOT_CHUNK_CHARS) {
    out.push({ type: 'SnapChunk', epoch, index, total: data.length, offset, data: data.slice(offset, offset + SNAPSHOT_CHUNK_CHARS) });
  }
  return out;
}

/** Three voters agreed on a leader; one follower (`lagging`) crashed; `propose` asks the leader. */
function followerDown() {
  const c = zabNet({ voters: 3 });
  const leader = c.runUntilAgreed(2000);
  c.run(20);
  const lagging = c.voters.find((id) => id !== leader)!;
  c.crash(lagging);
  let request = 1;
  const propose = (command: string) => c.driver(leader).step(c.now, { type: 'propose', id: request++, command } satisfies Input);
  return { c, leader, lagging, propose };
}

/**
 * Three voters; one (`lagging`) is down while the leader logs a, b, c and compacts a 200 KB state at
 * position 2, so that it must be sent in chunks when `lagging` comes back.
 */
function behindLargeSnapshot() {
  const { c, leader, lagging, propose } = followerDown();
  for (const command of ['a', 'b', 'c']) propose(command);
  c.run(10);
  const state = bigState(200_000);
  c.driver(leader).step(c.now, { type: 'compact', index: 2, snapshot: state });
  assert.equal(c.node(leader).history.snapshot.index, 2, 'a state beyond 40 KiB is compacted');
  const events = (since: number): ReplicationEvent[] =>
    c.events.flatMap((e) => (e.node === lagging && e.at >= since && e.event.type === 'core' && (e.event.event.type === 'snapshot-installed' || e.event.event.type === 'committed') ? [e.event.event] : []));
  return { c, leader, lagging, state, propose, events };
}

/** The offsets of the SnapChunks sent to `to` since `since`. */
const chunkOffsets = (c: ZabNet, to: NodeId, since: number): number[] => c.sentOfType('SnapChunk', since).filter((s) => s.to === to).map((s) => s.message.offset);

test('a learner behind a 200 KB snapshot is synchronized by chunked SNAP, installs it exactly and commits on', () => {
  const { c, leader, lagging, state, propose, events } = behindLargeSnapshot();
  const restartAt = c.now;
  c.restart(lagging);
  c.runUntilTrue(() => c.isUp(lagging) && c.node(lagging).status().leader === leader, 2000);
  c.run(10);
  const offsets = chunkOffsets(c, lagging, restartAt);
  const pieceCount = Math.ceil(200_000 / SNAPSHOT_CHUNK_CHARS);
  assert.deepEqual(offsets, Array.from({ length: pieceCount }, (_, k) => k * SNAPSHOT_CHUNK_CHARS), 'sent once, in chunks, in order');
  // Window by window: one SnapRequest for each window (the first answers NEWLEADER).
  const requests = c.sentOfType('SnapRequest', restartAt).filter((s) => s.from === lagging);
  assert.deepEqual(
    requests.map((s) => s.message.offset),
    Array.from({ length: Math.ceil(pieceCount / SNAPSHOT_CHUNK_WINDOW) }, (_, w) => w * SNAPSHOT_CHUNK_WINDOW * SNAPSHOT_CHUNK_CHARS),
  );
  const sync = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  assert.equal(sync.sync, 'snap');
  assert.equal(sync.snapshot, '');
  assert.equal(sync.snapshotLength, 200_000);
  const epoch = c.node(leader).status().term;
  assert.deepEqual(events(restartAt), [
    { type: 'snapshot-installed', index: 2, term: epoch, snapshot: state },
    { type: 'committed', index: 3, term: epoch, command: 'c' },
  ]);
  assert.equal(c.durable.get(lagging)!.snapshot!.data, state, 'the installed snapshot is on disk');
  const later = c.now;
  propose('d');
  c.run(10);
  assert.deepEqual(events(later), [{ type: 'committed', index: 4, term: epoch, command: 'd' }]);
});

/** A follower of leader 3 that promised epoch 1 (ACKEPOCH sent), waiting for NEWLEADER. */
function epochAckedFollower(): ZabNode {
  const node = new ZabNode({ id: 1, voters: [1, 2, 3], observers: [], timing: zab.defaultTiming }, zab.initialDurable(0), { next: () => 0 }, 0);
  node.takeOutput();
  const vote = (leader: number): Notification => ({ type: 'Notification', leader, zxid: 0, electionEpoch: 1, peerEpoch: 0, state: 'looking' });
  node.receive(1, 3, vote(3));
  node.receive(1, 2, vote(3));
  node.tick(201);
  node.receive(202, 3, { type: 'LeaderInfo', epoch: 1 });
  assert.equal(node.takeOutput().messages.at(-1)?.message.type, 'AckEpoch');
  return node;
}

const STATE = bigState(5 * SNAPSHOT_CHUNK_CHARS + 1234);
const newLeader = (epoch = 1): NewLeader => ({
  type: 'NewLeader',
  epoch,
  zxid: makeZxid(1, 7),
  sync: 'snap',
  base: makeZxid(1, 7),
  baseIndex: 7,
  snapshot: '',
  snapshotLength: STATE.length,
  runs: [],
  commands: [],
});

/** What a lone follower sent, as SnapRequest offsets in chunks (other messages by type). */
const asked = (out: Output<ZabMessage, ZabDurable>): (number | string)[] =>
  out.messages.map(({ message }) => (message.type === 'SnapRequest' && message.epoch === 1 && message.index === 7 ? message.offset / SNAPSHOT_CHUNK_CHARS : message.type));

test('chunks out of order and duplicated still install; the ACK waits for the last one', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  const shuffled = [all[3]!, all[0]!, all[5]!, all[3]!, all[1]!, all[0]!];
  let at = 210;
  for (const chunk of shuffled) node.receive(at++, 3, chunk);
  node.receive(at++, 3, newLeader());
  assert.deepEqual(asked(node.takeOutput()), [2], 'no ACK while a chunk is missing: it asks from the first one missing');
  node.receive(at++, 3, all[4]!);
  node.receive(at++, 3, all[4]!);
  assert.deepEqual(node.takeOutput().messages, [], 'still one missing');
  node.receive(at++, 3, all[2]!);
  const out = node.takeOutput();
  assert.deepEqual(out.messages.map((m) => m.message), [{ type: 'Ack', epoch: 1, zxid: makeZxid(1, 7) }]);
  assert.equal(out.persist!.snapshot!.data, STATE, 'installed exactly, on disk before the ACK');
  assert.deepEqual(
    out.events.filter((e) => e.type === 'snapshot-installed'),
    [{ type: 'snapshot-installed', index: 7, term: 1, snapshot: STATE }],
  );
});

test('a missing chunk never installs: the learner asks again while no chunk arrives, then gives up like any failed sync', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  for (const chunk of all.slice(1)) node.receive(210, 3, chunk);
  node.receive(211, 3, newLeader());
  node.takeOutput();
  node.tick(211 + zab.defaultTiming.heartbeatMs);
  assert.deepEqual(node.takeOutput().messages.map((m) => m.message.type), [], 'chunks just arrived: the leader is still sending');
  node.tick(211 + 2 * zab.defaultTiming.heartbeatMs);
  assert.deepEqual(
    node.takeOutput().messages.map((m) => m.message),
    [{ type: 'SnapRequest', epoch: 1, index: 7, offset: 0 }],
    'nothing new: ask again for the window from the first piece missing',
  );
  // The leader re-sends NEWLEADER, still without the first chunk: that does not keep the sync alive.
  for (let at = 300; at < 1000; at += 50) {
    node.receive(at, 3, newLeader());
    node.tick(at + 1);
    if (node.state === 'looking') break;
  }
  assert.equal(node.state, 'looking', 'the sync timed out');
  assert.equal(node.takeOutput().persist?.snapshot, undefined, 'nothing installed');
});

test('chunks of another epoch are ignored; a NEWLEADER installs only from its own epoch\'s chunks', () => {
  const node = epochAckedFollower();
  for (const chunk of pieces(0, 7, STATE)) node.receive(210, 3, chunk);
  for (const chunk of pieces(2, 7, STATE)) node.receive(210, 3, chunk);
  node.receive(211, 3, newLeader());
  assert.deepEqual(node.takeOutput().messages.map((m) => m.message), [{ type: 'SnapRequest', epoch: 1, index: 7, offset: 0 }], 'none of its pieces held: from the start');
  // A chunk off the grid, or of the wrong length, is refused too.
  const all = pieces(1, 7, STATE);
  node.receive(212, 3, { ...all[0]!, offset: 1 });
  node.receive(212, 3, { ...all[0]!, data: all[0]!.data.slice(1) });
  node.receive(212, 3, { ...all[0]!, total: MAX_SNAPSHOT_LENGTH + 1 });
  for (const chunk of all.slice(1)) node.receive(213, 3, chunk);
  assert.deepEqual(node.takeOutput().messages, []);
  node.receive(214, 3, all[0]!);
  assert.deepEqual(node.takeOutput().messages.map((m) => m.message.type), ['Ack']);
});

test('the largest SnapChunk fits a peer frame', () => {
  const chunk: SnapChunk = {
    type: 'SnapChunk',
    epoch: MAX_EPOCH,
    index: Number.MAX_SAFE_INTEGER,
    total: Number.MAX_SAFE_INTEGER,
    offset: Number.MAX_SAFE_INTEGER,
    data: '\u0001'.repeat(SNAPSHOT_CHUNK_CHARS), // 6 bytes each in JSON
  };
  const bytes = utf8Length(JSON.stringify(chunk));
  assert.ok(bytes <= FRAME_BYTES - 1024, `SnapChunk: ${bytes} bytes`);
});

test('compaction accepts a state beyond one frame, up to MAX_SNAPSHOT_LENGTH', () => {
  const c = zabNet({ voters: 3 });
  const leader: NodeId = c.runUntilAgreed(2000);
  c.run(20);
  for (let id = 1; id <= 2; id++) c.driver(leader).step(c.now, { type: 'propose', id, command: `c${id}` });
  c.run(10);
  c.driver(leader).step(c.now, { type: 'compact', index: 1, snapshot: 'x'.repeat(MAX_SNAPSHOT_LENGTH + 1) });
  assert.equal(c.node(leader).history.snapshot.index, 0, 'beyond the bound: ignored');
  c.driver(leader).step(c.now, { type: 'compact', index: 1, snapshot: 'é'.repeat(MAX_WHOLE_SNAPSHOT_BYTES) });
  assert.equal(c.node(leader).history.snapshot.index, 1, 'beyond one frame: kept (sent in chunks)');
  assert.deepEqual(zab.heartbeatTypes.includes('SnapChunk'), false, 'synchronization, not steady traffic');
});

test('in the simulator, with large values: a follower bounced past compaction is synchronized by chunked SNAP; every checker passes', () => {
  const algorithm = zab as unknown as AnyAlgorithm;
  const workload = { rate: 50, valueChars: 4096, keys: 32 };
  let chunked = 0;
  for (const seed of [1, 2, 3, 4]) {
    const schedule: Action[] = [{ atMs: 3000, do: 'crash', node: 1 }, { atMs: 5000, do: 'restart', node: 1 }];
    const result = simulate({ algorithm, nodes: 3, seed, schedule, scheduleName: 'follower-bounce', workload });
    assert.deepEqual(result.violations, [], `seed ${seed}`);
    assert.equal(result.kv?.lostAcked, 0);
    assert.equal(result.kv?.linearizable, true);
    if ((result.messages.byType['SnapChunk'] ?? 0) > 0) chunked++;
  }
  assert.ok(chunked > 0, 'no run sent a SnapChunk: the states were too small');
});

test('a piece lost on the way is asked for again from where the learner stands, never the whole snapshot', () => {
  const { c, lagging, state, events } = behindLargeSnapshot();
  const restartAt = c.now;
  c.restart(lagging);
  const lost = (m: { to: NodeId; message: ZabMessage }) => m.to === lagging && m.message.type === 'SnapChunk' && m.message.offset === 2 * SNAPSHOT_CHUNK_CHARS;
  c.runUntilTrue(() => c.pending(lost).length > 0, 2000);
  c.drop(lost);
  c.runUntilTrue(() => events(restartAt).some((e) => e.type === 'snapshot-installed'), 2000);
  const installed = events(restartAt).find((e) => e.type === 'snapshot-installed');
  assert.ok(installed?.type === 'snapshot-installed' && installed.snapshot === state, 'installed exactly');
  const offsets = chunkOffsets(c, lagging, restartAt);
  assert.equal(offsets.filter((o) => o === 0).length, 1, 'never started over');
  assert.equal(offsets.filter((o) => o === 2 * SNAPSHOT_CHUNK_CHARS).length, 2, 'the lost piece was sent again');
  assert.ok(offsets.length <= Math.ceil(state.length / SNAPSHOT_CHUNK_CHARS) + SNAPSHOT_CHUNK_WINDOW, `${offsets.length} pieces sent`);
  const offsetsAsked = c.sentOfType('SnapRequest', restartAt).filter((s) => s.from === lagging).map((s) => s.message.offset);
  assert.ok(offsetsAsked.includes(2 * SNAPSHOT_CHUNK_CHARS), `asked for ${offsetsAsked.join(', ')}`);
});

test('the leader answers a SnapRequest with one window of the snapshot it announced; garbage is ignored; another snapshot gets NEWLEADER again', () => {
  const { c, leader, lagging } = behindLargeSnapshot();
  const restartAt = c.now;
  c.restart(lagging);
  c.runUntilTrue(() => c.sentOfType('NewLeader', restartAt).some((s) => s.to === lagging), 2000);
  c.crash(lagging); // the leader goes on waiting for it: its snapshot is kept for it
  const epoch = c.node(leader).status().term;
  const ask = (offset: number, index = 2, asked = epoch): ZabMessage[] => {
    const since = c.sent.length;
    c.driver(leader).step(c.now, { type: 'message', from: lagging, message: { type: 'SnapRequest', epoch: asked, index, offset } });
    return c.sent.slice(since).filter((s) => s.to === lagging).map((s) => s.message);
  };
  const window = ask(8 * SNAPSHOT_CHUNK_CHARS);
  assert.deepEqual(
    window.map((m) => (m.type === 'SnapChunk' ? [m.index, m.total, m.offset] : m.type)),
    [8, 9, 10, 11].map((k) => [2, 200_000, k * SNAPSHOT_CHUNK_CHARS]),
  );
  assert.deepEqual(ask(24 * SNAPSHOT_CHUNK_CHARS).map((m) => (m.type === 'SnapChunk' ? m.data.length : m.type)), [200_000 - 24 * SNAPSHOT_CHUNK_CHARS], 'the last window: one short piece');
  for (const garbage of [1, SNAPSHOT_CHUNK_CHARS + 5, 25 * SNAPSHOT_CHUNK_CHARS, 200_000, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(ask(garbage), [], `offset ${garbage}`);
  }
  assert.deepEqual(ask(0, 2, epoch - 1), [], 'another epoch');
  assert.deepEqual(
    ask(0, 1).map((m) => m.type),
    ['NewLeader'],
    'a request for a snapshot it is no longer sent: NEWLEADER again, announcing the one it is',
  );
});

test('a learner asks window by window, and again from the first piece missing when one is lost', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  const heartbeat = zab.defaultTiming.heartbeatMs;
  node.receive(210, 3, newLeader());
  assert.deepEqual(asked(node.takeOutput()), [0], 'the first window, once NEWLEADER announced the snapshot');
  for (const k of [0, 1, 3]) node.receive(211, 3, all[k]!); // piece 2 lost
  assert.deepEqual(asked(node.takeOutput()), [], 'the window is not held yet');
  node.tick(210 + heartbeat);
  assert.deepEqual(asked(node.takeOutput()), [], 'pieces came in this heartbeat: the leader may still be sending');
  node.tick(210 + 2 * heartbeat);
  assert.deepEqual(asked(node.takeOutput()), [2], 'a heartbeat without a piece: from the one missing');
  node.receive(311, 3, all[2]!);
  assert.deepEqual(asked(node.takeOutput()), [4], 'the window is held: the next one at once');
  node.receive(312, 3, all[3]!); // the re-sent window repeats a piece held: nothing new
  node.receive(312, 3, all[4]!);
  assert.deepEqual(asked(node.takeOutput()), []);
  node.receive(313, 3, all[5]!);
  const out = node.takeOutput();
  assert.deepEqual(asked(out), ['Ack']);
  assert.equal(out.persist!.snapshot!.data, STATE);
});

test('a re-sent NEWLEADER resumes from the first piece missing and keeps the pieces held; another snapshot starts afresh', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  const heartbeat = zab.defaultTiming.heartbeatMs;
  node.receive(210, 3, newLeader());
  for (const k of [0, 1, 2, 3]) node.receive(211, 3, all[k]!);
  assert.deepEqual(asked(node.takeOutput()), [0, 4]);
  node.tick(210 + heartbeat); // the pieces count as progress for this heartbeat
  node.receive(210 + heartbeat + 1, 3, newLeader());
  assert.deepEqual(asked(node.takeOutput()), [4], 'resumed, not started over');
  node.receive(262, 3, all[4]!);
  node.receive(262, 3, all[5]!);
  const out = node.takeOutput();
  assert.deepEqual(asked(out), ['Ack'], 'the pieces of the first window were kept');
  assert.equal(out.persist!.snapshot!.data, STATE);

  // A NEWLEADER announcing another snapshot (the leader compacted): its pieces from the start.
  const other = epochAckedFollower();
  other.receive(210, 3, newLeader());
  for (const k of [0, 1, 2, 3]) other.receive(211, 3, all[k]!);
  other.takeOutput();
  const fresh = bigState(2 * SNAPSHOT_CHUNK_CHARS + 3);
  other.receive(212, 3, { ...newLeader(), baseIndex: 9, snapshotLength: fresh.length });
  assert.deepEqual(other.takeOutput().messages.map((m) => m.message), [{ type: 'SnapRequest', epoch: 1, index: 9, offset: 0 }]);
  other.receive(213, 3, all[4]!); // a straggler of the snapshot no longer awaited
  for (const piece of pieces(1, 9, fresh)) other.receive(213, 3, piece);
  const done = other.takeOutput();
  assert.deepEqual(done.messages.map((m) => m.message.type), ['Ack']);
  assert.equal(done.persist!.snapshot!.data, fresh);
});

test('a transfer making progress outlives the sync deadline; one that stalls still times out', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  const heartbeat = zab.defaultTiming.heartbeatMs;
  let at = 210;
  node.receive(at, 3, newLeader());
  // One new piece every two heartbeats: slower than the sync deadline (ZooKeeper's initLimit) in all.
  for (let k = 0; k < 5; k++) {
    node.tick((at += heartbeat));
    node.tick((at += heartbeat));
    node.receive(at, 3, all[k]!);
  }
  const state = (): string => node.state;
  assert.equal(state(), 'following', `still synchronizing at ${at} ms`);
  const lastPiece = at;
  // Then nothing new: re-sent NEWLEADERs and pieces already held are no progress.
  while (state() !== 'looking' && at < lastPiece + 2000) {
    at += heartbeat;
    node.receive(at, 3, newLeader());
    node.receive(at, 3, all[0]!);
    node.tick(at);
  }
  assert.equal(state(), 'looking', 'the stalled sync timed out');
  assert.ok(at - lastPiece <= 1000, `timed out ${at - lastPiece} ms after the last new piece`);
});

test('a learner whose NEWLEADER was cut by the budget, acknowledging it after the leader compacted past what it was sent, is synchronized again (the leader does not fail on an entry compacted away)', () => {
  const { c, leader, lagging, propose } = followerDown();
  // More than one NEWLEADER holds (NEWLEADER_BUDGET_BYTES): the rest would follow as proposals.
  for (let k = 0; k < 12; k++) propose(`${k}:`.padEnd(8_000, 'x'));
  c.run(20);
  const restartAt = c.now;
  c.restart(lagging);
  c.runUntilTrue(() => c.sentOfType('NewLeader', restartAt).some((s) => s.to === lagging), 2000);
  const newLeader = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  c.crash(lagging); // its ACK is delivered by hand below, after the compaction
  const epoch = c.node(leader).status().term;
  for (let k = 12; k < 16; k++) propose(`${k}`);
  c.run(20);
  const committed = c.node(leader).history.lastIndex;
  c.driver(leader).step(c.now, { type: 'compact', index: committed, snapshot: 'state' });
  assert.equal(c.node(leader).history.snapshot.index, committed);
  assert.ok(newLeader.zxid < c.node(leader).history.zxidAt(committed)!, 'NEWLEADER was cut short of what is now compacted');
  assert.doesNotThrow(() => c.driver(leader).step(c.now, { type: 'message', from: lagging, message: { type: 'Ack', epoch, zxid: newLeader.zxid } }));
  // It comes back and is synchronized again, by SNAP, and holds the leader's history.
  c.restart(lagging);
  c.runUntilTrue(() => c.node(lagging).history.lastIndex === c.node(leader).history.lastIndex && c.node(lagging).status().role === 'following', 5000);
});
