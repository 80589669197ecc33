/**
 * Bully's chunked snapshots (src/core/bully/bully.ts, SnapshotChunk): a snapshot too large for one Sync
 * travels in pieces of at most MAX_BULLY_CHUNK_CHARS characters, a window per SyncRequest; the backup
 * assembles them in any order and installs the snapshot only once it holds every piece.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId, Output } from '../../core/types.js';
import { FRAME_BYTES, MAX_WHOLE_SNAPSHOT_BYTES, encodedLength, utf8Length } from '../../core/limits.js';
import {
  bully,
  MAX_BULLY_CHUNK_CHARS,
  MAX_BULLY_SNAPSHOT_CHARS,
  SNAPSHOT_CHUNK_WINDOW,
  type BullyDurable,
  type BullyMessage,
  type SnapshotChunk,
} from '../../core/bully/index.js';
import { TestNet } from '../../core/testnet.js';

/** A snapshot of `length` characters, with multi-byte characters and surrogate pairs that pieces may split. */
function bigSnapshot(length: number, seed = 'k'): string {
  let text = '';
  for (let i = 0; text.length < length; i++) text += `${seed}${i}=é😀"\\;`;
  return text.slice(0, length);
}

/** Every piece of `data` as the coordinator of `generation` cuts it. */
function pieces(generation: number, index: number, term: number, data: string): SnapshotChunk[] {
  const all: SnapshotChunk[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_BULLY_CHUNK_CHARS) {
    all.push({ type: 'SnapshotChunk', generation, index, term, length: data.length, offset, data: data.slice(offset, offset + MAX_BULLY_CHUNK_CHARS) });
  }
  return all;
}

/** Node 1 of {1, 2}, following 2 in generation `generation` (2, the highest of two, owns the odd ones). */
function backup(generation = 1) {
  const node = bully.create({ id: 1, voters: [1, 2], observers: [], timing: bully.defaultTiming }, { generation: 0 }, { next: () => 0.5 }, 0);
  node.step(0, { type: 'message', from: 2, message: { type: 'Victory', generation } });
  node.takeOutput();
  const deliver = (now: number, message: BullyMessage): Output<BullyMessage, BullyDurable> => {
    node.step(now, { type: 'message', from: 2, message });
    return node.takeOutput();
  };
  return { node, deliver };
}

const installed = (output: Output<BullyMessage, BullyDurable>) => output.events.filter((e) => e.type === 'snapshot-installed');

test('a backup synced with a 200 KB snapshot installs it exactly and applies the entries after it; every piece fits a frame', () => {
  const net = new TestNet<BullyMessage, BullyDurable>({ algorithm: bully, voters: 5, latencyMs: 1 });
  net.runUntilAgreed();
  net.crash(1);
  for (let i = 1; i <= 3; i++) net.driver(5).step(net.now, { type: 'propose', id: i, command: `c${i}` });
  const state = bigSnapshot(200_000);
  assert.ok(encodedLength(state) > MAX_WHOLE_SNAPSHOT_BYTES);
  net.driver(5).step(net.now, { type: 'compact', index: 2, snapshot: state });
  // Compaction now takes a state larger than one Sync carries.
  assert.equal(net.durable.get(5)!.snapshot?.data, state);
  net.driver(5).step(net.now, { type: 'propose', id: 4, command: 'c4' });
  const mark = net.events.length;
  const since = net.now;
  net.restart(1);
  net.run(2000);
  const seen = net.events.slice(mark).flatMap(({ node, event }) => (node === 1 && event.type === 'core' ? [event.event] : []));
  const replicated = seen.flatMap((e) => (e.type === 'snapshot-installed' ? [`snapshot ${e.index}`] : e.type === 'committed' ? [`${e.index}:${e.command}`] : []));
  assert.deepEqual(replicated, ['snapshot 2', '3:c3', '4:c4']);
  const snapshot = seen.find((e) => e.type === 'snapshot-installed');
  assert.ok(snapshot?.type === 'snapshot-installed' && snapshot.snapshot === state, 'the installed snapshot is the coordinator\'s, character for character');
  assert.equal(net.durable.get(1)!.snapshot?.data, state);
  const chunks = net.sentOfType('SnapshotChunk', since);
  assert.ok(chunks.length >= Math.ceil(state.length / MAX_BULLY_CHUNK_CHARS), `${chunks.length} pieces sent`);
  for (const { message } of chunks) assert.ok(utf8Length(JSON.stringify(message)) <= FRAME_BYTES);
  // No SyncRequest is answered with more than one window of pieces.
  const requests = net.sentOfType('SyncRequest', since).length;
  assert.ok(chunks.length <= requests * SNAPSHOT_CHUNK_WINDOW);
});

test('the largest piece a coordinator can send fits one frame (6 bytes per character, largest numbers)', () => {
  const worst: SnapshotChunk = {
    type: 'SnapshotChunk',
    generation: 2 ** 53 - 1,
    index: 2 ** 53 - 1,
    term: 2 ** 53 - 1,
    length: MAX_BULLY_SNAPSHOT_CHARS,
    offset: MAX_BULLY_SNAPSHOT_CHARS - MAX_BULLY_CHUNK_CHARS,
    data: '\u0001'.repeat(MAX_BULLY_CHUNK_CHARS),
  };
  assert.ok(utf8Length(JSON.stringify(worst)) <= FRAME_BYTES, `${utf8Length(JSON.stringify(worst))} bytes`);
});

test('pieces out of order and duplicated still install the snapshot, exactly once', () => {
  const { deliver } = backup();
  const data = bigSnapshot(3 * MAX_BULLY_CHUNK_CHARS + 17);
  const [a, b, c, d] = pieces(1, 7, 1, data);
  const outputs = [d!, b!, d!, a!, b!, c!, a!].map((piece) => deliver(1, piece));
  assert.deepEqual(outputs.map((o) => installed(o).length), [0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(installed(outputs[5]!), [{ type: 'snapshot-installed', index: 7, term: 1, snapshot: data }]);
  assert.deepEqual(outputs[5]!.persist?.snapshot, { index: 7, term: 1, data });
});

test('a missing piece never installs; the backup asks again from the first piece it lacks', () => {
  const { deliver } = backup();
  const data = bigSnapshot(3 * MAX_BULLY_CHUNK_CHARS);
  const [a, , c] = pieces(1, 7, 1, data);
  assert.deepEqual(installed(deliver(1, a!)), []);
  assert.deepEqual(installed(deliver(1, c!)), []);
  // The coordinator's heartbeat names its last entry, which this backup lacks: it asks, saying where its pieces stop.
  const out = deliver(100, { type: 'Heartbeat', generation: 1, lastIndex: 7, lastTerm: 1 });
  assert.deepEqual(installed(out), []);
  assert.deepEqual(out.messages.map((m) => m.message), [{ type: 'SyncRequest', generation: 1, index: 0, term: 0, snapshotOffset: MAX_BULLY_CHUNK_CHARS }]);
});

test('pieces of an older generation are ignored, and a new reign\'s pieces replace a half-built snapshot', () => {
  const { deliver } = backup(1);
  const old = bigSnapshot(2 * MAX_BULLY_CHUNK_CHARS, 'old');
  const fresh = bigSnapshot(2 * MAX_BULLY_CHUNK_CHARS, 'new');
  const [oldA, oldB] = pieces(1, 5, 1, old);
  assert.deepEqual(installed(deliver(1, oldA!)), []);
  deliver(2, { type: 'Victory', generation: 3 }); // 2 declares a new reign
  assert.deepEqual(installed(deliver(3, oldB!)), [], 'the old reign\'s last piece completes nothing');
  const [freshA, freshB] = pieces(3, 5, 3, fresh);
  assert.deepEqual(installed(deliver(4, freshB!)), []);
  assert.deepEqual(installed(deliver(5, oldA!)), []);
  assert.deepEqual(installed(deliver(6, freshA!)), [{ type: 'snapshot-installed', index: 5, term: 3, snapshot: fresh }]);
});

test('pieces whose fields disagree are dropped', () => {
  const { deliver } = backup();
  const data = bigSnapshot(2 * MAX_BULLY_CHUNK_CHARS);
  const [a, b] = pieces(1, 7, 1, data);
  const forged: SnapshotChunk[] = [
    { ...b!, offset: 100 }, // not a piece boundary
    { ...b!, data: b!.data.slice(1) }, // shorter than its place
    { ...a!, length: MAX_BULLY_SNAPSHOT_CHARS + MAX_BULLY_CHUNK_CHARS }, // beyond the bound
    { ...b!, offset: 2 * MAX_BULLY_CHUNK_CHARS }, // past the end
  ];
  for (const piece of forged) assert.deepEqual(installed(deliver(1, piece)), []);
  assert.deepEqual(installed(deliver(1, a!)), []);
  assert.equal(installed(deliver(1, b!)).length, 1);
});

test('the coordinator answers a SyncRequest with one window of pieces from the offset asked', () => {
  const net = new TestNet<BullyMessage, BullyDurable>({ algorithm: bully, voters: 2, latencyMs: 1 });
  net.runUntilAgreed();
  for (let i = 1; i <= 2; i++) net.driver(2).step(net.now, { type: 'propose', id: i, command: `c${i}` });
  const state = bigSnapshot(10 * MAX_BULLY_CHUNK_CHARS + 5);
  net.driver(2).step(net.now, { type: 'compact', index: 2, snapshot: state });
  net.deliverAll();
  const since = net.sent.length;
  const generation = net.status(2).term;
  net.driver(2).step(net.now, { type: 'message', from: 1 as NodeId, message: { type: 'SyncRequest', generation, index: 0, term: 0, snapshotOffset: 8 * MAX_BULLY_CHUNK_CHARS } });
  const offsets = net.sent.slice(since).flatMap(({ message }) => (message.type === 'SnapshotChunk' ? [message.offset] : []));
  assert.deepEqual(offsets, [8, 9, 10].map((k) => k * MAX_BULLY_CHUNK_CHARS));
});

test('200 seeds of a lossy network: a backup behind a ~100 KB snapshot always ends with the coordinator\'s state and log', () => {
  let chunkedSyncs = 0;
  let piecesLost = 0;
  for (let seed = 1; seed <= 200; seed++) {
    let x = seed * 2_654_435_761;
    const random = (): number => {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      return x / 2_147_483_648;
    };
    const net = new TestNet<BullyMessage, BullyDurable>({ algorithm: bully, voters: 3, latencyMs: 1 + (seed % 5) });
    net.runUntilAgreed();
    net.crash(1);
    // Large values, so the state outgrows one Sync: 12 commands of 8,000 characters.
    const commands = Array.from({ length: 12 }, (_, i) => bigSnapshot(8_000, `s${seed}c${i}`));
    commands.forEach((command, i) => net.driver(3).step(net.now, { type: 'propose', id: i + 1, command }));
    const state = commands.slice(0, 10).join('|');
    net.driver(3).step(net.now, { type: 'compact', index: 10, snapshot: state });
    net.restart(1);
    const lossRate = random() * 0.5;
    let installs = 0;
    for (let t = 0; t < 3000; t += 5) {
      // Lose pieces at random (never the rest of the traffic: the backup must keep its coordinator).
      const lost = (m: { message: BullyMessage }): boolean => m.message.type === 'SnapshotChunk' && random() < lossRate;
      const before = net.pending().length;
      net.drop(lost);
      piecesLost += before - net.pending().length;
      net.run(5);
    }
    for (const { node, event } of net.events) if (node === 1 && event.type === 'core' && event.event.type === 'snapshot-installed' && event.event.index === 10) installs++;
    assert.equal(installs, 1, `seed ${seed}: installed once`);
    const durable = net.durable.get(1)!;
    assert.equal(durable.snapshot?.data, state, `seed ${seed}: the snapshot, exactly`);
    assert.deepEqual(durable.log?.map((e) => e.command), commands.slice(10), `seed ${seed}: the entries after it`);
    chunkedSyncs += installs;
  }
  assert.equal(chunkedSyncs, 200);
  assert.ok(piecesLost > 0);
});
