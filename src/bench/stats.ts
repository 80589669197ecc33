/**
 * Summary statistics of benchmark samples (milliseconds).
 *
 * Quantiles interpolate linearly between the two nearest order statistics (Hyndman & Fan type 7, the
 * default of R and NumPy): q(p) = x[h] + (h - floor h)(x[h+1] - x[h]) with h = (n - 1)p, 0-based. So the
 * median of an even count is the mean of the middle two, q(0) is the minimum and q(1) the maximum. With
 * fewer than 100 samples p99 lies between the two largest samples: it says little more than max does,
 * which is why the table shows both.
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

/** The p-quantile (0 <= p <= 1) of samples that are already sorted ascending. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${p}`);
  const h = (sorted.length - 1) * p;
  const lower = Math.floor(h);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (h - lower) * (sorted[upper]! - sorted[lower]!);
}

/** The p-quantile of samples in any order. */
export function quantile(samples: readonly number[], p: number): number {
  return quantileSorted([...samples].sort((a, b) => a - b), p);
}

/** Summary of the samples, or null when there are none (every trial failed). NaN is refused. */
export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  if (samples.some((x) => !Number.isFinite(x))) throw new RangeError('samples must be finite numbers');
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: sum / sorted.length,
    median: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  };
}
