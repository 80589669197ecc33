/**
 * ZAB's chunked SNAP: a snapshot too large for one frame travels ahead of NEWLEADER in SnapChunks,
 * which a learner accepts in any order (and twice), only of its leader's current epoch, and
 * acknowledges NEWLEADER only once it holds all of them. Transcript tests on the test network, and a
 * lone ZabNode fed messages by hand.
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
import { makeZxid, MAX_SNAPSHOT_LENGTH, SNAPSHOT_CHUNK_CHARS, type NewLeader, type Notification, type SnapChunk } from '../../core/zab/messages.js';
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

test('a learner behind a 200 KB snapshot is synchronized by chunked SNAP, installs it exactly and commits on', () => {
  const c = zabNet({ voters: 3 });
  const leader = c.runUntilAgreed(2000);
  c.run(20);
  const lagging = c.voters.find((id) => id !== leader)!;
  c.crash(lagging);
  let request = 1;
  const propose = (command: string) => c.driver(leader).step(c.now, { type: 'propose', id: request++, command } satisfies Input);
  for (const command of ['a', 'b', 'c']) propose(command);
  c.run(10);
  const state = bigState(200_000);
  c.driver(leader).step(c.now, { type: 'compact', index: 2, snapshot: state });
  assert.equal(c.node(leader).history.snapshot.index, 2, 'a state beyond 40 KiB is compacted');

  const restartAt = c.now;
  c.restart(lagging);
  c.runUntilTrue(() => c.isUp(lagging) && c.node(lagging).status().leader === leader, 2000);
  c.run(10);
  const chunks = c.sentOfType('SnapChunk', restartAt).filter((s) => s.to === lagging);
  assert.equal(chunks.length, Math.ceil(200_000 / SNAPSHOT_CHUNK_CHARS), 'sent once, in chunks');
  const sync = c.sentOfType('NewLeader', restartAt).find((s) => s.to === lagging)!.message;
  assert.equal(sync.sync, 'snap');
  assert.equal(sync.snapshot, '');
  assert.equal(sync.snapshotLength, 200_000);
  const events = (since: number): ReplicationEvent[] =>
    c.events.flatMap((e) => (e.node === lagging && e.at >= since && e.event.type === 'core' && (e.event.event.type === 'snapshot-installed' || e.event.event.type === 'committed') ? [e.event.event] : []));
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

test('chunks out of order and duplicated still install; the ACK waits for the last one', () => {
  const node = epochAckedFollower();
  const all = pieces(1, 7, STATE);
  const shuffled = [all[3]!, all[0]!, all[5]!, all[3]!, all[1]!, all[0]!];
  let at = 210;
  for (const chunk of shuffled) node.receive(at++, 3, chunk);
  node.receive(at++, 3, newLeader());
  assert.deepEqual(node.takeOutput().messages, [], 'no ACK while a chunk is missing');
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
  assert.deepEqual(node.takeOutput().messages.map((m) => m.message.type), ['AckEpoch'], 'nothing new: ask again (the leader re-sends the SNAP)');
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
  assert.deepEqual(node.takeOutput().messages, []);
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
