import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Input, Message } from '../core/types.js';
import { encodeKvCommand, type SnapshotText } from '../kv/store.js';
import { KvService, compactionPhase } from './kv.js';

/** A service whose submitted inputs are collected, as a core would receive them. */
function service(options: ConstructorParameters<typeof KvService>[1] = {}) {
  const inputs: Input<Message>[] = [];
  const kv = new KvService((input) => inputs.push(input), { requestTimeoutMs: 2_000, ...options });
  return { kv, inputs };
}

const idOf = (input: Input<Message> | undefined): number => (input && 'id' in input ? input.id : -1);

test('a write is answered when the store applies its (index, term), with the store’s result', async () => {
  const { kv, inputs } = service();
  const answer = kv.write({ op: 'put', key: 'a', value: '1' });
  assert.deepEqual(inputs[0], { type: 'propose', id: 1, command: encodeKvCommand({ op: 'put', key: 'a', value: '1' }) });
  kv.onEvent({ type: 'proposed', id: 1, index: 1, term: 3 });
  kv.onEvent({ type: 'committed', index: 1, term: 3, command: encodeKvCommand({ op: 'put', key: 'a', value: '1' }) });
  assert.deepEqual(await answer, { type: 'done', output: { op: 'put', version: 1 } });
  assert.deepEqual(kv.readStale('a'), { op: 'get', value: '1', version: 1 });
});

test('another term’s entry at the proposed index: the write was lost, not applied', async () => {
  const { kv, inputs } = service();
  const answer = kv.write({ op: 'put', key: 'a', value: 'mine' });
  kv.onEvent({ type: 'proposed', id: idOf(inputs[0]), index: 1, term: 3 });
  kv.onEvent({ type: 'committed', index: 1, term: 4, command: encodeKvCommand({ op: 'put', key: 'a', value: 'theirs' }) });
  assert.deepEqual(await answer, { type: 'lost' });
  assert.deepEqual(kv.readStale('a'), { op: 'get', value: 'theirs', version: 1 });
});

test('a refused request is answered not-leader with the leader the core knows', async () => {
  const { kv, inputs } = service();
  const write = kv.write({ op: 'delete', key: 'a' });
  const read = kv.read('a');
  kv.onEvent({ type: 'request-refused', id: idOf(inputs[0]), leader: 2 });
  kv.onEvent({ type: 'request-refused', id: idOf(inputs[1]), leader: null });
  assert.deepEqual(await write, { type: 'not-leader', leader: 2 });
  assert.deepEqual(await read, { type: 'not-leader', leader: null });
});

test('a read is served once the store has applied read-ready’s index, not before', async () => {
  const { kv, inputs } = service();
  kv.onEvent({ type: 'committed', index: 1, term: 1, command: encodeKvCommand({ op: 'put', key: 'k', value: 'old' }) });
  let served = false;
  const read = kv.read('k').then((outcome) => ((served = true), outcome));
  kv.onEvent({ type: 'read-ready', id: idOf(inputs[0]), index: 2 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(served, false, 'index 2 is not applied yet');
  kv.onEvent({ type: 'committed', index: 2, term: 1, command: encodeKvCommand({ op: 'put', key: 'k', value: 'new' }) });
  assert.deepEqual(await read, { type: 'done', output: { op: 'get', value: 'new', version: 2 } });
});

test('no answer in time is "unknown"; stopping answers every waiting client', async () => {
  const { kv } = service({ requestTimeoutMs: 20 });
  assert.deepEqual(await kv.write({ op: 'put', key: 'a', value: 'x' }), { type: 'unknown' });
  const slow = service({ requestTimeoutMs: 60_000 });
  const pending = slow.kv.read('a');
  slow.kv.close();
  assert.deepEqual(await pending, { type: 'stopped' });
  assert.deepEqual(await slow.kv.write({ op: 'put', key: 'a', value: 'x' }), { type: 'stopped' });
  assert.equal(slow.kv.numbers().pending, 0);
});

test('every compactEvery applied entries the core is handed the store’s snapshot; an installed snapshot replaces the store', async () => {
  const { kv, inputs } = service({ compactEvery: 3 });
  for (let index = 1; index <= 7; index++) kv.onEvent({ type: 'committed', index, term: 1, command: encodeKvCommand({ op: 'put', key: `k${index}`, value: 'v' }) });
  const compacts = inputs.filter((input) => input.type === 'compact');
  assert.deepEqual(compacts.map((input) => input.type === 'compact' && input.index), [3, 6]);
  const snapshot = compacts[1]!.type === 'compact' ? compacts[1]!.snapshot : '';
  // A write waiting at index 8 when a leader's snapshot up to 9 arrives: whether it is in it is unknown.
  const write = kv.write({ op: 'put', key: 'w', value: 'v' });
  kv.onEvent({ type: 'proposed', id: idOf(inputs.at(-1)), index: 8, term: 1 });
  kv.onEvent({ type: 'snapshot-installed', index: 9, term: 2, snapshot });
  assert.deepEqual(await write, { type: 'unknown' });
  assert.equal(kv.store.applied, 9);
  assert.equal(kv.numbers().keys, 6);
  assert.equal(kv.numbers().snapshotsInstalled, 1);
});

test('a compaction phase moves this node\'s compactions earlier in the cycle, also after an installed snapshot; members\' phases differ', () => {
  const { kv, inputs } = service({ compactEvery: 10, compactionPhase: 0.5 });
  const commit = (index: number): void => kv.onEvent({ type: 'committed', index, term: 1, command: encodeKvCommand({ op: 'put', key: `k${index}`, value: 'v' }) });
  for (let index = 1; index <= 26; index++) commit(index);
  const compacted = (): (number | false)[] => inputs.filter((input) => input.type === 'compact').map((input) => input.type === 'compact' && input.index);
  assert.deepEqual(compacted(), [5, 15, 25], 'half a cycle early');
  kv.onEvent({ type: 'snapshot-installed', index: 40, term: 2, snapshot: kv.store.snapshot() });
  for (let index = 41; index <= 46; index++) commit(index);
  assert.deepEqual(compacted(), [5, 15, 25, 45], 'still half a cycle early after a leader\'s snapshot');
  const phases = [1, 2, 3, 4, 5, 6, 7].map(compactionPhase);
  assert.equal(phases[0], 0);
  for (const phase of phases) assert.ok(phase >= 0 && phase < 1);
  const sorted = [...phases].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]! - sorted[i - 1]! > 0.05, `phases of 7 members apart: ${sorted.join(', ')}`);
});

test('a due compaction is handed to the core only once prepareCompaction says it is ready (the node writes its file ahead)', () => {
  const prepared: { index: number; snapshot: SnapshotText; ready: () => void }[] = [];
  const { kv, inputs } = service({ compactEvery: 3, prepareCompaction: (index, snapshot, ready) => void prepared.push({ index, snapshot, ready }) });
  for (let index = 1; index <= 3; index++) kv.onEvent({ type: 'committed', index, term: 1, command: encodeKvCommand({ op: 'put', key: `k${index}`, value: 'v' }) });
  assert.deepEqual(prepared.map(({ index }) => index), [3]);
  assert.equal(inputs.filter((input) => input.type === 'compact').length, 0, 'not before the file is ready');
  prepared[0]!.ready();
  assert.deepEqual(inputs.filter((input) => input.type === 'compact'), [{ type: 'compact', index: 3, snapshot: prepared[0]!.snapshot.text }]);
});

test('a write that would grow the snapshot past its bound is answered "full" at once, counting the writes in flight; a delete always goes ahead', async () => {
  const { kv, inputs } = service({ maxSnapshotLength: 200 });
  const put = (key: string, value: string) => ({ op: 'put' as const, key, value });
  let index = 0;
  const commit = (input: { op: 'put' | 'delete'; key: string; value?: string }) => {
    const id = idOf(inputs.at(-1));
    kv.onEvent({ type: 'proposed', id, index: ++index, term: 1 });
    kv.onEvent({ type: 'committed', index, term: 1, command: encodeKvCommand(input as Parameters<typeof encodeKvCommand>[0]) });
  };
  const first = kv.write(put('a', 'x'.repeat(60)));
  commit(put('a', 'x'.repeat(60)));
  assert.equal((await first).type, 'done');
  const length = kv.store.snapshotLength; // ~95 characters
  // Two writes of ~75 characters each: the first fits; with it in flight, the second does not.
  const second = kv.write(put('b', 'y'.repeat(60)));
  assert.equal(inputs.length, 2, 'proposed');
  const third = await kv.write(put('c', 'z'.repeat(60)));
  assert.equal(third.type, 'full');
  assert.ok(third.type === 'full' && third.limit === 200 && third.snapshotLength > length, 'what is in flight counts');
  assert.equal(inputs.length, 2, 'not proposed');
  commit(put('b', 'y'.repeat(60)));
  assert.equal((await second).type, 'done');
  // A delete shrinks the snapshot (the key's value becomes null), and goes ahead even when full.
  const deleted = kv.write({ op: 'delete', key: 'a' });
  assert.equal(inputs.length, 3);
  commit({ op: 'delete', key: 'a' });
  assert.equal((await deleted).type, 'done');
  const again = kv.write(put('c', 'z'.repeat(60)));
  assert.equal(inputs.length, 4, 'room again once a value was deleted');
  commit(put('c', 'z'.repeat(60)));
  assert.equal((await again).type, 'done');
  assert.ok(kv.store.snapshotLength <= 200);
  assert.equal(kv.numbers().outcomes.get('full'), 1);
});
