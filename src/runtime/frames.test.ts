import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, KEEPALIVE, KEEPALIVE_FRAME, MAX_FRAME_BYTES, rejectReasons } from './frames.js';

/** Feeds `bytes` to a fresh decoder in the given chunk sizes; collects values and the first error. */
function decodeInChunks(bytes: Uint8Array, cuts: number[], max = MAX_FRAME_BYTES): { values: unknown[]; error: string | null } {
  const decoder = new FrameDecoder(max);
  const values: unknown[] = [];
  let error: string | null = null;
  let offset = 0;
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  for (const point of [...points, bytes.length]) {
    const result = decoder.push(bytes.subarray(offset, Math.max(offset, point)));
    offset = Math.max(offset, point);
    values.push(...result.values);
    error ??= result.error;
  }
  error ??= decoder.end();
  return { values, error };
}

test('random bytes never throw: they give frames or one reject reason', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
      const { error } = decodeInChunks(bytes, cuts, 128);
      assert.ok(error === null || rejectReasons.includes(error as never));
    }),
    { numRuns: 2000 },
  );
});

test('frames survive any split into chunks, in order', () => {
  const json = fc.jsonValue({ maxDepth: 3 }).filter((value) => value !== undefined);
  fc.assert(
    fc.property(fc.array(json, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (values, cuts) => {
      const frames = values.map((value) => encodeFrame(value)!);
      const { values: decoded, error } = decodeInChunks(Buffer.concat(frames), cuts);
      assert.equal(error, null);
      // Compare as JSON: -0 becomes 0 on the wire.
      assert.deepEqual(decoded, values.map((value) => JSON.parse(JSON.stringify(value))));
    }),
    { numRuns: 500 },
  );
});

test('an oversized length is refused at once, before its body arrives, even when its header comes in pieces', () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_FRAME_BYTES + 1);
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(header), { values: [], error: 'oversized' });
  assert.deepEqual(decoder.push(Buffer.from('more')), { values: [], error: null }, 'a broken stream takes nothing more');
  const split = new FrameDecoder();
  const ok = encodeFrame('x')!;
  assert.deepEqual(split.push(Buffer.concat([ok, header.subarray(0, 2)])), { values: ['x'], error: null });
  assert.deepEqual(split.push(header.subarray(2, 3)), { values: [], error: null });
  assert.deepEqual(split.push(header.subarray(3)), { values: [], error: 'oversized' });
  assert.equal(encodeFrame('x'.repeat(MAX_FRAME_BYTES)), null, 'the encoder refuses what the decoder would');
});

test('a truncated frame, bad UTF-8 and bad JSON each have their reason', () => {
  const whole = encodeFrame({ type: 'AppendEntries', term: 1, leaderCommit: 0 })!;
  const truncated = new FrameDecoder();
  assert.deepEqual(truncated.push(whole.subarray(0, whole.length - 3)).values, []);
  assert.equal(truncated.end(), 'truncated');
  const shortHeader = new FrameDecoder();
  shortHeader.push(Buffer.from([0, 0]));
  assert.equal(shortHeader.end(), 'truncated');
  const badUtf8 = Buffer.from([0, 0, 0, 2, 0xc3, 0x28]);
  assert.equal(new FrameDecoder().push(badUtf8).error, 'bad-utf8');
  const badJson = Buffer.concat([whole, Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')]);
  const result = new FrameDecoder().push(badJson);
  assert.equal(result.values.length, 1, 'frames before the broken one are delivered');
  assert.equal(result.error, 'bad-json');
});

test('a zero-length frame is the keepalive, in its place among the values, however it is cut', () => {
  const a = encodeFrame({ a: 1 })!;
  const bytes = Buffer.concat([KEEPALIVE_FRAME, a, KEEPALIVE_FRAME, KEEPALIVE_FRAME, a]);
  assert.deepEqual(new FrameDecoder().push(bytes), { values: [KEEPALIVE, { a: 1 }, KEEPALIVE, KEEPALIVE, { a: 1 }], error: null });
  fc.assert(
    fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
      assert.deepEqual(decodeInChunks(bytes, cuts), { values: [KEEPALIVE, { a: 1 }, KEEPALIVE, KEEPALIVE, { a: 1 }], error: null });
    }),
  );
  const half = new FrameDecoder();
  half.push(KEEPALIVE_FRAME.subarray(0, 3));
  assert.equal(half.end(), 'truncated', 'a keepalive cut short is a truncated frame');
});

test('one-byte chunks are decoded in linear time: each byte is copied a bounded number of times', () => {
  // A frame near the maximum, fed one byte at a time. Joining the buffer on every chunk copies
  // n²/2 bytes (about 2·10⁹ here); gathering copies each byte twice. Counted through Buffer.concat's
  // total argument, not timed, so a loaded machine cannot make this flaky.
  const big = encodeFrame('y'.repeat(MAX_FRAME_BYTES - 2))!;
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    copied += total ?? list.reduce((sum, piece) => sum + piece.length, 0);
    return concat(list, total);
  }) as typeof Buffer.concat;
  const values: unknown[] = [];
  try {
    const decoder = new FrameDecoder();
    for (let i = 0; i < big.length; i++) {
      const result = decoder.push(big.subarray(i, i + 1));
      assert.equal(result.error, null);
      values.push(...result.values);
    }
  } finally {
    Buffer.concat = concat;
  }
  assert.equal(values.length, 1);
  assert.equal((values[0] as string).length, MAX_FRAME_BYTES - 2);
  assert.ok(copied <= 2 * big.length, `joined ${copied} bytes for a ${big.length}-byte frame`);
});
