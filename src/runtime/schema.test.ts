import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { algorithms } from '../core/algorithms.js';
import { MAX_EPOCH, MAX_TERM, MAX_ZXID } from '../core/bounds.js';
import { makeZxid } from '../core/zab/messages.js';
import type { FieldShape, ShapeOf } from '../core/shapes.js';
import type { AnyAlgorithm } from '../core/types.js';
import { encodeFrame, FrameDecoder } from './frames.js';
import { MAX_ANSWER_BYTES } from './links.js';
import { durableSchema, fieldSchema, handshakeSchema, messageValidator, notMemberSchema, objectSchema, RECOGNIZED, recognizedSchema, sampleMessages } from './schema.js';

/** Values of a shape, for property tests. */
function arbitrary(shape: FieldShape): fc.Arbitrary<unknown> {
  if (typeof shape === 'string') {
    switch (shape) {
      case 'nat':
        return fc.maxSafeNat();
      case 'term':
        return fc.oneof(fc.integer({ min: 0, max: MAX_TERM }), fc.constant(MAX_TERM));
      case 'epoch':
        return fc.oneof(fc.integer({ min: 0, max: MAX_EPOCH }), fc.constant(MAX_EPOCH));
      case 'zxid':
        return fc.oneof(fc.integer({ min: 0, max: MAX_ZXID }), fc.constant(MAX_ZXID));
      case 'id':
        return fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
      case 'id-or-null':
        return fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null });
      case 'bool':
        return fc.boolean();
    }
  }
  if ('oneOf' in shape) return fc.constantFrom(...shape.oneOf);
  if ('list' in shape) return fc.array(arbitrary(shape.list), { maxLength: Math.min(shape.max, 5) });
  if ('text' in shape) return fc.string({ maxLength: Math.min(shape.text, 20) });
  if ('optional' in shape) return fc.option(arbitrary(shape.optional), { nil: undefined });
  if ('record' in shape) return fc.dictionary(fc.integer({ min: 1, max: 1_000_000 }).map(String), arbitrary(shape.record), { maxKeys: Math.min(shape.max, 5) });
  return objectArbitrary(shape.object);
}

function objectArbitrary(shape: ShapeOf<object>): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, field] of Object.entries(shape as Record<string, FieldShape>)) fields[key] = arbitrary(field);
  return fc.record(fields);
}

function messageArbitrary(algorithm: AnyAlgorithm): fc.Arbitrary<Record<string, unknown>> {
  const shapes = algorithm.messageShapes as unknown as Record<string, ShapeOf<object>>;
  return fc.oneof(...algorithm.messageTypes.map((type) => objectArbitrary(shapes[type]!).map((fields) => ({ type, ...fields }))));
}

/** A wrong value for any shape: a string is the wrong kind for every shape but oneOf, where it is unknown, and text. */
const WRONG = '\u0000not-a-value';
/** A text field takes any short string: a fraction is wrong for it. */
const wrongFor = (shape: FieldShape | undefined): unknown => (typeof shape === 'object' && 'text' in shape ? 0.5 : WRONG);

for (const algorithm of Object.values(algorithms) as AnyAlgorithm[]) {
  const validate = messageValidator(algorithm);
  const schema = { safeParse: (value: unknown) => ({ success: validate(value) !== null }) };

  test(`${algorithm.name}: every message the shapes allow is accepted, after a JSON round trip`, () => {
    fc.assert(
      fc.property(messageArbitrary(algorithm), (message) => {
        assert.equal(schema.safeParse(JSON.parse(JSON.stringify(message))).success, true);
      }),
      { numRuns: 300 },
    );
  });

  test(`${algorithm.name}: a missing, extra or mistyped field, or an unknown type, is refused`, () => {
    fc.assert(
      fc.property(messageArbitrary(algorithm), fc.nat(), (message, pick) => {
        const keys = Object.keys(message).filter((key) => key !== 'type');
        assert.equal(schema.safeParse({ ...message, extra: 1 }).success, false, 'extra field');
        assert.equal(schema.safeParse({ ...message, type: 'NoSuchMessage' }).success, false, 'unknown type');
        const { type: _type, ...untyped } = message;
        assert.equal(schema.safeParse(untyped).success, false, 'no type');
        if (keys.length === 0) return;
        const key = keys[pick % keys.length]!;
        const shape = (algorithm.messageShapes as unknown as Record<string, Record<string, FieldShape>>)[message.type as string]?.[key];
        const { [key]: _dropped, ...missing } = message;
        // An optional field (Raft's InstallSnapshot.membership) may be missing.
        if (typeof shape !== 'object' || !('optional' in shape)) assert.equal(schema.safeParse(missing).success, false, `missing ${key}`);
        assert.equal(schema.safeParse({ ...message, [key]: wrongFor(shape) }).success, false, `mistyped ${key}`);
      }),
      { numRuns: 200 },
    );
    // JSON.parse makes "__proto__" an own key; strict objects refuse it like any unknown key.
    const [valid] = fc.sample(messageArbitrary(algorithm), 1);
    const polluted = JSON.stringify(valid).replace(/^\{/, '{"__proto__":{"isLeader":true},');
    assert.equal(schema.safeParse(JSON.parse(polluted)).success, false, '__proto__ key');
  });

  test(`${algorithm.name}: the sample messages (used to warm up the receive path) are valid`, () => {
    const samples = sampleMessages(algorithm);
    assert.equal(samples.length, algorithm.messageTypes.length);
    for (const sample of samples) assert.notEqual(validate(sample), null, JSON.stringify(sample));
  });

  test(`${algorithm.name}: the initial durable state matches the durable shape`, () => {
    const durable = durableSchema(algorithm);
    for (const length of [0, 1, 7]) assert.equal(durable.safeParse(JSON.parse(JSON.stringify(algorithm.initialDurable(length)))).success, true);
    assert.equal(durable.safeParse({}).success, false);
  });
}

test('field shapes: naturals, ids, lists, choices and objects are bounded and strict', () => {
  const accept = (shape: FieldShape, value: unknown): boolean => fieldSchema(shape).safeParse(value).success;
  assert.equal(accept('nat', 0), true);
  assert.equal(accept('nat', -1), false);
  assert.equal(accept('nat', 1.5), false);
  assert.equal(accept('nat', 2 ** 53), false, 'beyond safe integers');
  assert.equal(accept('nat', '1'), false);
  assert.equal(accept('id', 0), false);
  assert.equal(accept('id-or-null', null), true);
  assert.equal(accept('bool', 0), false);
  assert.equal(accept({ oneOf: ['LOOKING', 'FOLLOWING'] }, 'LEADING'), false);
  assert.equal(accept({ oneOf: ['LOOKING', 'FOLLOWING'] }, 'LOOKING'), true);
  assert.equal(accept({ list: 'nat', max: 2 }, [1, 2]), true);
  assert.equal(accept({ list: 'nat', max: 2 }, [1, 2, 3]), false);
  assert.equal(accept({ record: { text: 3 }, max: 2 }, { 1: 'a', 22: 'bcd' }), true);
  assert.equal(accept({ record: { text: 3 }, max: 2 }, { 1: 'a', 2: 'b', 3: 'c' }), false, 'at most max keys');
  assert.equal(accept({ record: { text: 3 }, max: 2 }, { 1: 'abcd' }), false, 'each value has the shape');
  for (const key of ['0', '01', '-1', '1.5', 'x', '9007199254740993', '__proto__']) {
    assert.equal(accept({ record: 'bool', max: 2 }, JSON.parse(`{${JSON.stringify(key)}:true}`)), false, `key ${key} is not a node id`);
  }
  assert.equal(accept({ record: 'bool', max: 2 }, [true]), false);
  const object = objectSchema({ a: 'nat', b: { object: { c: 'bool' } } });
  assert.equal(object.safeParse({ a: 1, b: { c: true } }).success, true);
  assert.equal(object.safeParse({ a: 1, b: { c: true, d: 1 } }).success, false, 'nested objects are strict too');
});

test('the handshake names version, cluster, algorithm, sender and receiver (and fresh: true), nothing else', () => {
  const good = { ballot: 4, cluster: 'prod-1', algorithm: 'raft', from: 2, to: 1 };
  assert.equal(handshakeSchema.safeParse(good).success, true);
  assert.equal(handshakeSchema.safeParse({ ...good, fresh: true }).success, true);
  assert.equal(handshakeSchema.safeParse({ ...good, fresh: false }).success, false, 'fresh is present only when true');
  assert.equal(handshakeSchema.safeParse({ ...good, ballot: 1 }).success, false, 'a version-1 peer is refused');
  assert.equal(handshakeSchema.safeParse({ ...good, ballot: 2 }).success, false, 'a version-2 peer is refused (its Raft messages lack round, promiseMs, transfer)');
  assert.equal(handshakeSchema.safeParse({ ...good, cluster: 'a b' }).success, false);
  assert.equal(handshakeSchema.safeParse({ ...good, cluster: 'x'.repeat(65) }).success, false);
  assert.equal(handshakeSchema.safeParse({ ...good, from: 0 }).success, false);
  assert.equal(handshakeSchema.safeParse({ ...good, role: 'leader' }).success, false);
});

test('bounds: terms, epochs and zxids above their ceiling are refused at the edge (src/core/bounds.ts)', () => {
  const accept = (shape: FieldShape, value: unknown): boolean => fieldSchema(shape).safeParse(value).success;
  assert.equal(accept('term', MAX_TERM), true);
  assert.equal(accept('term', MAX_TERM + 1), false);
  assert.equal(accept('term', Number.MAX_SAFE_INTEGER), false);
  assert.equal(accept('epoch', MAX_EPOCH), true);
  assert.equal(accept('epoch', MAX_EPOCH + 1), false);
  assert.equal(accept('zxid', makeZxid(MAX_EPOCH, 2 ** 32 - 1)), true, 'the largest zxid: both halves at their bound');
  assert.equal(makeZxid(MAX_EPOCH, 2 ** 32 - 1), Number.MAX_SAFE_INTEGER);
  assert.equal(accept('zxid', 2 ** 53), false);
  assert.equal(accept('zxid', -1), false);
});

test('bounds: each algorithm refuses a frame whose term, generation, epoch, round or zxid is out of bounds', () => {
  const refused = (algorithm: AnyAlgorithm, message: Record<string, unknown>): boolean => messageValidator(algorithm)(message) === null;
  const raft = algorithms.raft;
  const bully = algorithms.bully;
  const zab = algorithms.zab;
  for (const term of [MAX_TERM + 1, Number.MAX_SAFE_INTEGER]) {
    assert.ok(refused(raft, { type: 'RequestVote', term, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 }));
    assert.ok(refused(raft, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: term, transfer: 0 }));
    assert.ok(refused(raft, { type: 'AppendEntries', term, leaderCommit: 0 }));
    assert.ok(refused(bully, { type: 'Victory', generation: term }));
    assert.ok(refused(zab, { type: 'Notification', leader: 1, zxid: 0, electionEpoch: term, peerEpoch: 0, state: 'looking' }));
  }
  assert.ok(!refused(raft, { type: 'RequestVote', term: MAX_TERM, lastLogIndex: 0, lastLogTerm: MAX_TERM, transfer: 0 }));
  assert.ok(!refused(bully, { type: 'Victory', generation: MAX_TERM }));
  assert.ok(refused(zab, { type: 'LeaderInfo', epoch: MAX_EPOCH + 1 }));
  assert.ok(refused(zab, { type: 'FollowerInfo', acceptedEpoch: MAX_EPOCH + 1 }));
  assert.ok(refused(zab, { type: 'NewLeader', epoch: 1, zxid: 2 ** 53 }));
  assert.ok(refused(zab, { type: 'Notification', leader: 1, zxid: 0, electionEpoch: 0, peerEpoch: MAX_EPOCH + 1, state: 'looking' }));
  assert.ok(!refused(zab, { type: 'LeaderInfo', epoch: MAX_EPOCH }));
  assert.ok(!refused(zab, { type: 'NewLeader', epoch: MAX_EPOCH, zxid: MAX_ZXID, sync: 'diff', base: 0, baseIndex: 0, snapshot: '', runs: [], commands: [] }));
});

test('bounds: the durable state refuses what the wire refuses, and accepts every state at the ceiling', () => {
  const raft = durableSchema(algorithms.raft);
  assert.equal(raft.safeParse({ currentTerm: MAX_TERM, votedFor: 1, log: [{ term: MAX_TERM }] }).success, true);
  assert.equal(raft.safeParse({ currentTerm: MAX_TERM + 1, votedFor: 1, log: [] }).success, false);
  assert.equal(raft.safeParse({ currentTerm: 2 ** 53, votedFor: 1, log: [] }).success, false);
  // Replication (protocol 4): entries gain an optional command, the state an optional snapshot; a file
  // written before (entries of a term only, no snapshot) still reads.
  assert.equal(raft.safeParse({ currentTerm: 3, votedFor: null, log: [{ term: 2, command: 'put' }, { term: 3 }], snapshot: { index: 9, term: 2, data: '{}' } }).success, true);
  assert.equal(raft.safeParse({ currentTerm: 3, votedFor: null, log: [{ term: 2, command: 7 }] }).success, false);
  assert.equal(raft.safeParse({ currentTerm: 3, votedFor: null, log: [{ term: 2, command: 'x'.repeat(8_193) }] }).success, false, 'a command is bounded');
  assert.equal(raft.safeParse({ currentTerm: 3, votedFor: null, log: [], snapshot: { index: 9, term: 2 } }).success, false);
  const bully = durableSchema(algorithms.bully);
  assert.equal(bully.safeParse({ generation: MAX_TERM }).success, true);
  assert.equal(bully.safeParse({ generation: MAX_TERM + 1 }).success, false);
  const zab = durableSchema(algorithms.zab);
  assert.equal(zab.safeParse({ acceptedEpoch: MAX_EPOCH, currentEpoch: MAX_EPOCH, lastZxid: MAX_ZXID }).success, true);
  assert.equal(zab.safeParse({ acceptedEpoch: MAX_EPOCH + 1, currentEpoch: 0, lastZxid: 0 }).success, false);
});

test('text and optional shapes: a bounded string; an optional field may be absent but not malformed', () => {
  const check = objectSchema({ command: { text: 5 }, snapshot: { optional: { text: 3 } } });
  const ok = (value: unknown): boolean => check.safeParse(value).success;
  assert.equal(ok({ command: 'abcde' }), true, 'an optional field may be absent');
  assert.equal(ok({ command: 'abcde', snapshot: 'xyz' }), true);
  assert.equal(ok({ command: 'abcdef' }), false, 'longer than the bound');
  assert.equal(ok({ command: 5 }), false, 'not a string');
  assert.equal(ok({ command: '', snapshot: 'wxyz' }), false, 'an optional field present is checked');
  assert.equal(ok({ command: '', extra: 1 }), false, 'still strict about unknown keys');
});

test('the not-a-member frame: a configuration index above 0, nothing else; it fits what a dialer reads', () => {
  assert.equal(notMemberSchema.safeParse({ notMember: true, index: 12 }).success, true);
  assert.equal(notMemberSchema.safeParse({ notMember: true, index: Number.MAX_SAFE_INTEGER }).success, true);
  for (const bad of [
    { notMember: true, index: 0 }, // index 0 is the flags' configuration: never sent
    { notMember: true, index: -1 },
    { notMember: true, index: 1.5 },
    { notMember: true, index: '12' },
    { notMember: true, index: Number.MAX_SAFE_INTEGER + 1 },
    { notMember: false, index: 12 },
    { notMember: true },
    { index: 12 },
    { notMember: true, index: 12, by: 3 },
    JSON.parse('{"notMember":true,"index":12,"__proto__":{"x":1}}') as unknown,
    [true, 12],
    null,
    'notMember',
    RECOGNIZED,
  ]) {
    assert.equal(notMemberSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
  // And it is not mistaken for the other answer an acceptor writes.
  assert.equal(recognizedSchema.safeParse({ notMember: true, index: 12 }).success, false);
  // The largest one decodes within the dialer's answer bound (links.ts), one byte more would not.
  const largest = encodeFrame({ notMember: true, index: Number.MAX_SAFE_INTEGER })!;
  const decoded = new FrameDecoder(MAX_ANSWER_BYTES).push(largest);
  assert.deepEqual([decoded.values, decoded.error], [[{ notMember: true, index: Number.MAX_SAFE_INTEGER }], null]);
  const oversized = new FrameDecoder(MAX_ANSWER_BYTES).push(encodeFrame({ notMember: true, index: 1, pad: 'x'.repeat(MAX_ANSWER_BYTES) })!);
  assert.equal(oversized.error, 'oversized', 'a longer answer is refused before it is parsed');
});
