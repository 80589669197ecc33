/**
 * The one place ballot turns samples into summary numbers: the simulator bench, the real-process bench,
 * `ballot compare` and its charts, and the docs generated from them all use these functions, so a
 * simulated median and a real one printed side by side mean the same thing (issue 10, item 6).
 *
 * Quantiles interpolate linearly between the two nearest order statistics — Hyndman & Fan (1996) type 7,
 * the default of R, NumPy and Excel's PERCENTILE.INC:
 *
 *     q(p) = x[h] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]),  h = (n − 1)·p,  x sorted ascending, 0-based.
 *
 * So the median of an even count is the mean of the middle two, q(0) is the minimum and q(1) the maximum.
 * With fewer than 100 samples p99 lies between the two largest: it says little more than max does, which is
 * why every table shows both. docs/comparison.md ("How numbers are computed") states the same.
 *
 * Pure: no I/O, no clock — it lives in src/core so the simulator and the runtime may both import it.
 */
import type { Random } from './types.js';

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The p-quantile (0 <= p <= 1, type 7) of samples that are already sorted ascending. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${p}`);
  const h = (sorted.length - 1) * p;
  const lower = Math.floor(h);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (h - lower) * (sorted[upper]! - sorted[lower]!);
}

/** The p-quantile (0 <= p <= 1, type 7) of samples in any order. */
export function quantile(samples: readonly number[], p: number): number {
  return quantileSorted(sortedAscending(samples), p);
}

/** The arithmetic mean; NaN when there are no samples. */
export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  let sum = 0;
  for (const x of samples) sum += x;
  return sum / samples.length;
}

/** Summary of the samples, or null when there are none (every trial failed). NaN is refused. */
export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  if (samples.some((x) => !Number.isFinite(x))) throw new RangeError('samples must be finite numbers');
  const sorted = sortedAscending(samples);
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: mean(sorted),
    median: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  };
}

/** A sorted copy; numeric order (Array.prototype.sort alone would compare as strings). */
export function sortedAscending(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

/** A statistic with its bootstrap confidence interval. */
export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** Coverage of [low, high], e.g. 0.95. */
  readonly level: number;
  readonly resamples: number;
}

export interface BootstrapOptions {
  /** Seeded (src/core/prng.ts) so that a report is reproducible. */
  readonly random: Random;
  /** Resamples drawn (default 10,000). */
  readonly resamples?: number;
  /** Coverage of the interval (default 0.95). */
  readonly level?: number;
}

/**
 * The percentile bootstrap (Efron & Tibshirani 1993, §13.3): resample each group with replacement (each
 * group on its own, as independent samples), compute the statistic of every resample, and take the
 * (1 − level)/2 and (1 + level)/2 quantiles of those values as the interval. `estimate` is the statistic
 * of the groups themselves. Groups are resampled independently because the bench's samples are: the
 * ratio of two systems' medians is `bootstrapInterval([a, b], ([x, y]) => quantile(x, .5) / quantile(y, .5))`.
 * A resample whose statistic is not finite (a ratio over 0) is dropped; the interval is over the rest.
 */
export function bootstrapInterval(
  groups: readonly (readonly number[])[],
  statistic: (groups: readonly (readonly number[])[]) => number,
  options: BootstrapOptions,
): Interval {
  if (groups.length === 0 || groups.some((group) => group.length === 0)) throw new RangeError('bootstrap of an empty sample');
  const resamples = options.resamples ?? 10_000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const values: number[] = [];
  const drawn = groups.map((group) => new Array<number>(group.length));
  for (let r = 0; r < resamples; r++) {
    groups.forEach((group, g) => {
      const into = drawn[g]!;
      for (let i = 0; i < group.length; i++) into[i] = group[Math.floor(options.random.next() * group.length)]!;
    });
    const value = statistic(drawn);
    if (Number.isFinite(value)) values.push(value);
  }
  if (values.length === 0) throw new RangeError('bootstrap: the statistic is not finite on any resample');
  const sorted = sortedAscending(values);
  return {
    estimate: statistic(groups),
    low: quantileSorted(sorted, (1 - level) / 2),
    high: quantileSorted(sorted, (1 + level) / 2),
    level,
    resamples,
  };
}
