import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bootstrapInterval, mean, quantile, quantileSorted, summarize } from '../core/stats.js';
import { Prng } from '../core/prng.js';

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

test('known answers of R type 7 / numpy.percentile (linear)', () => {
  // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
  assert.deepEqual([0.25, 0.5, 0.75].map((p) => quantile([4, 3, 2, 1], p)), [1.75, 2.5, 3.25]);
  // Wikipedia, "Percentile", the C = 1 variant: the 40th percentile of 15, 20, 35, 40, 50 is 29; the 75th is 40.
  assert.equal(quantile([15, 20, 35, 40, 50], 0.4), 29);
  assert.equal(quantile([15, 20, 35, 40, 50], 0.75), 40);
  // R: quantile(1:10, 0.99, type = 7) == 9.91; nearest rank would say 10.
  assert.ok(Math.abs(quantile(Array.from({ length: 10 }, (_, i) => i + 1), 0.99) - 9.91) < 1e-12);
  // 200 samples 1..200: the median is 100.5 (nearest rank: 100), p99 is 198.01 (nearest rank: 198).
  const twoHundred = Array.from({ length: 200 }, (_, i) => 200 - i);
  assert.equal(quantile(twoHundred, 0.5), 100.5);
  assert.ok(Math.abs(quantile(twoHundred, 0.99) - 198.01) < 1e-9);
});

test('mean of the samples; NaN of none', () => {
  assert.equal(mean([1, 2, 3, 6]), 3);
  assert.ok(Number.isNaN(mean([])));
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

test('bootstrap: a two-point sample has a known resampling distribution', () => {
  // Resamples of [0, 10] are (0,0), (0,10), (10,0), (10,10), each with chance 1/4: means 0, 5, 5, 10.
  // So the 2.5% and 97.5% points of the bootstrap distribution are 0 and 10.
  const interval = bootstrapInterval([[0, 10]], ([x]) => mean(x!), { random: new Prng(7, 'bootstrap') });
  assert.deepEqual(interval, { estimate: 5, low: 0, high: 10, level: 0.95, resamples: 10_000 });
});

test('bootstrap: the mean of 1..20 gets the normal-theory interval, mean ± 1.96 · σ/√n', () => {
  const sample = Array.from({ length: 20 }, (_, i) => i + 1);
  // The bootstrap's standard error is the sample's population σ over √n: √((n² − 1)/12) / √n = 1.289.
  const half = 1.96 * Math.sqrt((20 * 20 - 1) / 12) / Math.sqrt(20);
  const interval = bootstrapInterval([sample], ([x]) => mean(x!), { random: new Prng(1, 'bootstrap'), resamples: 20_000 });
  assert.equal(interval.estimate, 10.5);
  assert.ok(Math.abs(interval.low - (10.5 - half)) < 0.25, `low ${interval.low} vs ${10.5 - half}`);
  assert.ok(Math.abs(interval.high - (10.5 + half)) < 0.25, `high ${interval.high} vs ${10.5 + half}`);
});

test('bootstrap: a ratio of medians of independent groups; reproducible from the seed', () => {
  const a = [100, 110, 120, 130, 140, 150, 160];
  const b = [200, 220, 240, 260, 280, 300, 320];
  const ratio = ([x, y]: readonly (readonly number[])[]): number => quantile(x!, 0.5) / quantile(y!, 0.5);
  const first = bootstrapInterval([a, b], ratio, { random: new Prng(42, 'bootstrap'), resamples: 2000 });
  const again = bootstrapInterval([a, b], ratio, { random: new Prng(42, 'bootstrap'), resamples: 2000 });
  assert.deepEqual(first, again, 'the same seed gives the same interval');
  assert.equal(first.estimate, 0.5);
  // Every resampled median of a lies in [100, 160], of b in [200, 320].
  assert.ok(first.low >= 100 / 320 && first.high <= 160 / 200, `${first.low}–${first.high}`);
  assert.ok(first.low < 0.5 && first.high > 0.5);
  // Constant groups: no spread at all.
  assert.deepEqual(bootstrapInterval([[2, 2, 2], [4, 4]], ratio, { random: new Prng(1), resamples: 50 }), { estimate: 0.5, low: 0.5, high: 0.5, level: 0.95, resamples: 50 });
});

test('bootstrap: refuses empty groups and bad settings', () => {
  const random = new Prng(1);
  assert.throws(() => bootstrapInterval([[]], ([x]) => mean(x!), { random }), /empty/);
  assert.throws(() => bootstrapInterval([[1]], ([x]) => mean(x!), { random, resamples: 0 }), /resamples/);
  assert.throws(() => bootstrapInterval([[1]], ([x]) => mean(x!), { random, level: 1 }), /level/);
  assert.throws(() => bootstrapInterval([[0]], () => Infinity, { random, resamples: 3 }), /not finite/);
});
