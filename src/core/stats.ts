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
