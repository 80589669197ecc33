import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kvModel, type KvInput } from '../check/kv.js';
import { decodeKvCommand, encodeKvCommand, KvStore, keyProblem, MAX_KEY_LENGTH, MAX_VALUE_LENGTH, valueProblem } from './store.js';
import { MAX_COMMAND_LENGTH } from '../core/limits.js';

const key = fc.constantFrom('a', 'b', 'c');
const input: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value: fc.string({ maxLength: 4 }) }),
  fc.record({ op: fc.constant('get' as const), key }),
  fc.record({ op: fc.constant('delete' as const), key }),
  fc.record({ op: fc.constant('cas' as const), key, expect: fc.nat(4), value: fc.string({ maxLength: 4 }) }),
);

test('the store gives the results the checker\'s specification accepts, for any sequence of operations', () => {
  fc.assert(
    fc.property(fc.array(input, { maxLength: 40 }), (inputs) => {
      const store = new KvStore();
      const states = new Map<string, ReturnType<typeof kvModel.init>>();
      for (const op of inputs) {
        const output = store.apply(op);
        const next = kvModel.step(states.get(op.key) ?? kvModel.init(), op, output);
        assert.notEqual(next, undefined, `the model refuses ${kvModel.describeOperation(op, output)}`);
        states.set(op.key, next!);
      }
    }),
  );
});

test('commands round-trip; malformed and no-op commands decode to null and are skipped in order', () => {
  const ops: KvInput[] = [
    { op: 'put', key: 'x', value: 'a "quoted"\nvalue' },
    { op: 'cas', key: 'x', expect: 1, value: '2' },
    { op: 'delete', key: 'x' },
  ];
  for (const op of ops) assert.deepEqual(decodeKvCommand(encodeKvCommand(op)), op);
  for (const bad of ['', 'not json', '5', '{"op":"put","key":"x"}', '{"op":"cas","key":"x","value":"v","expect":-1}', '{"op":"drop","key":"x"}', '{"op":"put","key":"a/b","value":""}']) {
    assert.equal(decodeKvCommand(bad), null, bad);
  }
  const store = new KvStore();
  assert.equal(store.applyCommitted(1, ''), null, 'a no-op');
  assert.deepEqual(store.applyCommitted(2, encodeKvCommand(ops[0]!)), { op: 'put', version: 1 });
  assert.equal(store.applyCommitted(2, encodeKvCommand(ops[0]!)), null, 'an index applied already is a duplicate');
  assert.equal(store.applied, 2);
  assert.deepEqual(store.get('x'), { op: 'get', value: 'a "quoted"\nvalue', version: 1 });
});

test('a snapshot restores the same store, deleted keys keep their versions', () => {
  const store = new KvStore();
  store.applyCommitted(1, encodeKvCommand({ op: 'put', key: 'k', value: 'v' }));
  store.applyCommitted(2, encodeKvCommand({ op: 'delete', key: 'k' }));
  store.applyCommitted(3, encodeKvCommand({ op: 'put', key: 'j', value: 'w' }));
  const copy = new KvStore();
  copy.restore(3, store.snapshot());
  assert.equal(copy.applied, 3);
  assert.deepEqual(copy.get('k'), { op: 'get', value: null, version: 2 }, 'a re-created key cannot be mistaken for the old one by cas');
  assert.deepEqual(copy.get('j'), { op: 'get', value: 'w', version: 1 });
  assert.equal(copy.size, 1);
  assert.equal(copy.snapshot(), store.snapshot());
  assert.throws(() => copy.restore(4, '{"entries":[["k",1]]}'), /malformed/);
});

test('a snapshot is the JSON of every key in key order, re-encoding only what changed since the last one; its parts join to it', () => {
  const store = new KvStore();
  const model = new Map<string, [string | null, number]>();
  const expected = () => JSON.stringify({ applied: store.applied, entries: [...model].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, [value, version]]) => [key, value, version]) });
  let index = 0;
  const write = (input: KvInput) => {
    const growth = store.growth(input);
    const before = store.snapshotLength;
    store.applyCommitted(++index, encodeKvCommand(input));
    // What growth foretold, but for the header's index (its digits may grow by one).
    assert.equal(store.snapshotLength - before - (String(index).length - String(index - 1).length), growth, `growth of ${JSON.stringify(input)}`);
    const [, version] = model.get(input.key) ?? [null, 0];
    model.set(input.key, [input.op === 'delete' ? null : (input as { value: string }).value, version + 1]);
  };
  for (let round = 0; round < 4; round++) {
    for (let k = 0; k < 12; k++) if ((k + round) % 3 !== 0) write({ op: 'put', key: `key-${(k * 7) % 12}`, value: `"v${round}.${k}"\n` });
    write({ op: 'delete', key: [...model].find(([, [value]]) => value !== null)![0] });
    const { text, parts } = store.snapshotText();
    assert.equal(text, expected(), `round ${round}: a key written since the last snapshot shows its new value`);
    assert.equal(store.snapshotLength, text.length, `round ${round}: the length is kept without a snapshot`);
    assert.equal(parts.join(''), text);
    assert.equal(store.snapshot(), text);
  }
  const copy = new KvStore();
  copy.restore(index, store.snapshot());
  assert.equal(copy.snapshotLength, store.snapshotLength, 'restored, the same length');
  copy.applyCommitted(index + 1, encodeKvCommand({ op: 'put', key: 'key-1', value: 'after' }));
  model.set('key-1', ['after', model.get('key-1')![1] + 1]);
  store.applyCommitted(index + 1, encodeKvCommand({ op: 'put', key: 'key-1', value: 'after' }));
  assert.equal(copy.snapshot(), expected(), 'a restored store encodes its own entries');
  copy.restore(0, '');
  assert.equal(copy.snapshot(), '{"applied":0,"entries":[]}', 'emptied, nothing of the old entries is left');
});

test('bounds: keys and values are checked, and the largest command fits its bound', () => {
  assert.equal(keyProblem('ok-key_1.2'), null);
  assert.match(keyProblem('')!, /empty/);
  assert.match(keyProblem('x'.repeat(MAX_KEY_LENGTH + 1))!, /longer/);
  for (const bad of ['a b', 'a/b', 'a?b', 'a%b', 'é']) assert.notEqual(keyProblem(bad), null, bad);
  assert.match(valueProblem('v'.repeat(MAX_VALUE_LENGTH + 1))!, /longer/);
  assert.match(valueProblem('\u0001'.repeat(MAX_VALUE_LENGTH / 2))!, /once JSON-escaped/, 'control characters count 6');
  // The longest acceptable values of each kind, with the longest, most escaped key: every command fits the cores' bound.
  const key = '"'.repeat(MAX_KEY_LENGTH);
  for (const value of ['v'.repeat(MAX_VALUE_LENGTH), '"'.repeat(MAX_VALUE_LENGTH / 2), '\u0001'.repeat(Math.floor(MAX_VALUE_LENGTH / 6)), 'é'.repeat(MAX_VALUE_LENGTH)]) {
    assert.equal(valueProblem(value), null);
    const command = encodeKvCommand({ op: 'cas', key, expect: Number.MAX_SAFE_INTEGER, value });
    assert.ok(command.length <= MAX_COMMAND_LENGTH, `${command.length} > ${MAX_COMMAND_LENGTH}`);
  }
});

test('the largest command, carried in a message, fits one peer frame (the cores\' FRAME_BYTES is the runtime\'s)', async () => {
  const { encodeFrame, MAX_FRAME_BYTES } = await import('../runtime/frames.js');
  const { FRAME_BYTES } = await import('../core/limits.js');
  assert.equal(FRAME_BYTES, MAX_FRAME_BYTES);
  const command = '\u0001'.repeat(MAX_COMMAND_LENGTH);
  const frame = encodeFrame({ type: 'AppendEntries', term: 1, prevLogIndex: 1, prevLogTerm: 1, leaderCommit: 1, round: 1, entries: [{ term: 1, command }] });
  assert.notEqual(frame, null, 'a message with one largest command must fit a frame');
});
