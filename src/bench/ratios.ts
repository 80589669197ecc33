/**
 * ballot ÷ the system it is compared with, from one run: Raft ÷ etcd and ZAB ÷ ZooKeeper, per cluster
 * size and kind of failure, for the median and the p99 of the failover time, each with a percentile
 * bootstrap 95% interval (src/core/stats.ts). With 20 trials a side, a ratio alone says little: the
 * interval says whether it is distinguishable from 1.
 *
 * The resampling is seeded (src/core/prng.ts), one stream per ratio, named after it: the same file gives
 * the same intervals on every `ballot bench report`, whatever other rows it holds.
 */
import { bootstrapInterval, quantile, type Interval } from '../core/index.js';
import { Prng } from '../core/prng.js';
import type { FailoverKind, FailoverReport } from './failover.js';

/** Which of ballot's algorithms is compared with which system (matched timing: docs/bench.md). */
export const comparedPairs = [
  { ballot: 'ballot-raft', other: 'etcd', label: 'Raft ÷ etcd' },
  { ballot: 'ballot-zab', other: 'zookeeper', label: 'ZAB ÷ ZooKeeper' },
] as const;

export const BOOTSTRAP_SEED = 12;
export const BOOTSTRAP_RESAMPLES = 10_000;

export interface FailoverRatio {
  readonly label: string;
  readonly ballot: string;
  readonly other: string;
  readonly nodes: number;
  readonly kind: FailoverKind;
  /** Successful trials on each side. */
  readonly trials: readonly [number, number];
  readonly median: Interval;
  readonly p99: Interval;
}

/** ballot ÷ other of the cold start, per cluster size, over every trial of the run (each starts a fresh cluster). */
export interface ColdStartRatio {
  readonly label: string;
  readonly ballot: string;
  readonly other: string;
  readonly nodes: number;
  /** Cold starts on each side (trials of every kind that reached a first agreement). */
  readonly trials: readonly [number, number];
  readonly median: Interval;
  readonly p99: Interval;
}

/** Every cold start of `system` at `nodes` in the reports: each trial of each kind starts a fresh cluster. */
export function coldStartTimes(reports: readonly FailoverReport[], system: string, nodes: number): number[] {
  return reports
    .filter((r) => r.system === system && r.nodes === nodes)
    // (typeof: files saved before cold starts were kept per trial have none)
    .flatMap((r) => r.trials.flatMap((t) => (typeof t.coldStartMs === 'number' ? [t.coldStartMs] : [])));
}

/** The cold-start ratios the reports allow: for each compared pair and size with cold starts on both sides. */
export function coldStartRatios(reports: readonly FailoverReport[], seed = BOOTSTRAP_SEED): ColdStartRatio[] {
  const ratios: ColdStartRatio[] = [];
  const sizes = [...new Set(reports.map((r) => r.nodes))].sort((a, b) => a - b);
  for (const pair of comparedPairs) {
    for (const nodes of sizes) {
      const a = coldStartTimes(reports, pair.ballot, nodes);
      const b = coldStartTimes(reports, pair.other, nodes);
      if (a.length === 0 || b.length === 0) continue;
      const stream = `${pair.ballot}/${pair.other}/${nodes}/cold-start`;
      ratios.push({
        label: pair.label,
        ballot: pair.ballot,
        other: pair.other,
        nodes,
        trials: [a.length, b.length],
        median: ratioInterval(a, b, 0.5, `${stream}/median`, seed),
        p99: ratioInterval(a, b, 0.99, `${stream}/p99`, seed),
      });
    }
  }
  return ratios;
}

/** The failover times of a report's successful trials. */
function failoverTimes(report: FailoverReport): number[] {
  return report.trials.flatMap((t) => (t.ok && t.failoverMs !== null ? [t.failoverMs] : []));
}

/** ballot ÷ other of quantile `p`, with its interval. */
export function ratioInterval(ballot: readonly number[], other: readonly number[], p: number, stream: string, seed = BOOTSTRAP_SEED): Interval {
  return bootstrapInterval([ballot, other], ([a, b]) => quantile(a!, p) / quantile(b!, p), { random: new Prng(seed, stream), resamples: BOOTSTRAP_RESAMPLES });
}

/**
 * Every ratio the reports allow: for each compared pair, size and kind present on both sides with at
 * least one successful trial each. Reports saved before kinds existed are kill -9 runs.
 */
export function failoverRatios(reports: readonly FailoverReport[], seed = BOOTSTRAP_SEED): FailoverRatio[] {
  const ratios: FailoverRatio[] = [];
  const kindOf = (report: FailoverReport): FailoverKind => report.kind ?? 'kill';
  for (const ballotReport of reports) {
    const pair = comparedPairs.find((p) => p.ballot === ballotReport.system);
    if (!pair) continue;
    const otherReport = reports.find((r) => r.system === pair.other && r.nodes === ballotReport.nodes && kindOf(r) === kindOf(ballotReport));
    if (!otherReport) continue;
    const a = failoverTimes(ballotReport);
    const b = failoverTimes(otherReport);
    if (a.length === 0 || b.length === 0) continue;
    const stream = `${pair.ballot}/${pair.other}/${ballotReport.nodes}/${kindOf(ballotReport)}`;
    ratios.push({
      label: pair.label,
      ballot: pair.ballot,
      other: pair.other,
      nodes: ballotReport.nodes,
      kind: kindOf(ballotReport),
      trials: [a.length, b.length],
      median: ratioInterval(a, b, 0.5, `${stream}/median`, seed),
      p99: ratioInterval(a, b, 0.99, `${stream}/p99`, seed),
    });
  }
  return ratios;
}

const two = (x: number): string => x.toFixed(2);
const interval = (i: Interval): string => `${two(i.estimate)} (95% CI ${two(i.low)}–${two(i.high)})`;

/** One line per ratio, e.g. "Raft ÷ etcd, N=5: median 0.81 (95% CI 0.70–0.95), p99 0.46 (95% CI 0.31–0.80); 20 and 20 cold starts". */
export function formatColdStartRatios(ratios: readonly ColdStartRatio[]): string {
  if (ratios.length === 0) return '';
  const lines = ratios.map((r) => `${r.label}, N=${r.nodes}: median ${interval(r.median)}, p99 ${interval(r.p99)}; ${r.trials[0]} and ${r.trials[1]} cold starts`);
  return `\nballot ÷ other, cold start (every trial of the run; percentile bootstrap, ${BOOTSTRAP_RESAMPLES} resamples, seed ${BOOTSTRAP_SEED}; below 1: ballot faster):\n${lines.join('\n')}\n`;
}

/** One line per ratio, e.g. "Raft ÷ etcd, N=5, kill: median 0.81 (95% CI 0.70–0.95), p99 0.46 (0.31–0.80); 20 and 20 trials". */
export function formatRatios(ratios: readonly FailoverRatio[]): string {
  if (ratios.length === 0) return '';
  const lines = ratios.map(
    (r) =>
      `${r.label}, N=${r.nodes}, ${r.kind}: median ${two(r.median.estimate)} (95% CI ${two(r.median.low)}–${two(r.median.high)}), ` +
      `p99 ${two(r.p99.estimate)} (${two(r.p99.low)}–${two(r.p99.high)}); ${r.trials[0]} and ${r.trials[1]} trials`,
  );
  return `\nballot ÷ other, failover time (percentile bootstrap, ${BOOTSTRAP_RESAMPLES} resamples, seed ${BOOTSTRAP_SEED}; below 1: ballot faster):\n${lines.join('\n')}\n`;
}
