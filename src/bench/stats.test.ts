import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { quantile, quantileSorted, summarize } from './stats.js';

test('median of an odd count is the middle sample, of an even count the mean of the middle two', () => {
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
});

test('quantiles interpolate between order statistics (type 7)', () => {
  const samples = Array.from({ length: 11 }, (_, i) => i * 10); // 0, 10, ..., 100
  assert.equal(quantile(samples, 0.9), 90);
  assert.equal(quantile(samples, 0.95), 95);
  assert.equal(quantile(samples, 0), 0);
  assert.equal(quantile(samples, 1), 100);
  // 15 trials: p99 sits between the two largest, near the max.
  const fifteen = Array.from({ length: 15 }, (_, i) => i + 1);
  assert.ok(Math.abs(quantile(fifteen, 0.99) - 14.86) < 1e-9);
});

test('a single sample is every quantile', () => {
  assert.deepEqual(summarize([42]), { count: 1, min: 42, mean: 42, median: 42, p90: 42, p99: 42, max: 42 });
});

test('no samples: no summary; bad input is refused', () => {
  assert.equal(summarize([]), null);
  assert.throws(() => summarize([1, Number.NaN]), RangeError);
  assert.throws(() => quantileSorted([], 0.5), RangeError);
  assert.throws(() => quantile([1, 2], 1.5), RangeError);
});

test('summary is ordered and bounded by the samples, whatever their order', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), (samples) => {
      const s = summarize(samples)!;
      assert.equal(s.count, samples.length);
      assert.ok(s.min <= s.median && s.median <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max);
      assert.equal(s.min, Math.min(...samples));
      assert.equal(s.max, Math.max(...samples));
      assert.ok(s.mean >= s.min - 1e-6 && s.mean <= s.max + 1e-6);
      assert.deepEqual(summarize([...samples].reverse()), s);
    }),
  );
});
