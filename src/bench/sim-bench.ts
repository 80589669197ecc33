/**
 * `npm run bench`: the simulator's speed and Raft's simulated failover, printed, never asserted.
 *   1. throughput: message deliveries per second of wall time, one core, a fault-free 9-node Raft run
 *      (every message sent is delivered, but for the few in flight when the run ends);
 *   2. the wall time of 10,000 leader-crash trials of a 5-node cluster, and their failover median/p99
 *      (src/core/stats.ts: type-7 quantiles, as everywhere else).
 * Targets (issue 2): >= 500,000 deliveries/s; <= 20 s for the 10,000 trials on a 2-core machine.
 */
import { performance } from 'node:perf_hooks';
import { raft, summarize } from '../core/index.js';
import { simulate } from '../sim/index.js';

function throughput(): { deliveries: number; seconds: number } {
  // Warm up the JIT first, then measure the median of three runs.
  simulate({ algorithm: raft, nodes: 9, seed: 1, durationMs: 20_000 });
  const runs: { deliveries: number; seconds: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const result = simulate({ algorithm: raft, nodes: 9, seed: 1 + i, durationMs: 3_000_000 });
    runs.push({ deliveries: result.messages.total, seconds: (performance.now() - start) / 1000 });
  }
  runs.sort((a, b) => a.deliveries / a.seconds - b.deliveries / b.seconds);
  return runs[1]!;
}

function failoverTrials(trials: number): { seconds: number; failovers: number[]; missing: number } {
  const start = performance.now();
  const failovers: number[] = [];
  let missing = 0;
  for (let seed = 0; seed < trials; seed++) {
    const result = simulate({ algorithm: raft, nodes: 5, seed, scenario: 'leader-crash', durationMs: 4000 });
    const failover = result.elections.find((e) => e.startMs >= 2000); // the crash: 2 s plus a random heartbeat phase
    if (failover) failovers.push(failover.endMs - failover.startMs);
    else missing++;
    if (process.stderr.isTTY && seed % 500 === 0) process.stderr.write(`\r  trial ${seed}/${trials}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\r' + ' '.repeat(30) + '\r');
  return { seconds: (performance.now() - start) / 1000, failovers, missing };
}

const t = throughput();
const rate = t.deliveries / t.seconds;
console.log('simulator throughput (raft, 9 nodes, fault-free, 3000 s virtual, median of 3 runs)');
console.log(`  ${t.deliveries} deliveries in ${t.seconds.toFixed(2)} s = ${Math.round(rate).toLocaleString('en-US')} deliveries/s  (target >= 500,000)`);

const trials = Number(process.env['BALLOT_BENCH_TRIALS'] ?? 10_000);
const f = failoverTrials(trials);
console.log(`\n${trials} leader-crash trials (raft, 5 nodes, 150-300 ms timeouts, 50 ms heartbeat, 1-5 ms latency, 4 s virtual each)`);
console.log(`  wall time ${f.seconds.toFixed(2)} s  (target <= 20 s)`);
const s = summarize(f.failovers);
console.log(
  (s === null
    ? '  simulated failover: none measured'
    : `  simulated failover: median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`) +
    (f.missing > 0 ? `, ${f.missing} trials without a failover` : ''),
);
