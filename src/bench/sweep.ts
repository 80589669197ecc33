/**
 * The invariant sweep at scale (issue 11), printed with its wall time:
 *
 *   node dist/bench/sweep.js --runs 100000            the correct cores, N random-nemesis runs each
 *                                                     (3-9 voters, multi-term histories for half),
 *                                                     plus the targeted schedules; exit 1 on any violation
 *   node dist/bench/sweep.js --mutants --runs 500     (npm run mutants) each broken core of the catalog
 *                                                     (src/testing/mutants.ts): in how many runs it is
 *                                                     caught, and by which checker (docs/invariants.md)
 *   --algorithm raft|zab|bully                        only one algorithm
 *   --membership                                      the membership nemesis and 0-3 spare nodes in every run of
 *                                                     the algorithms with membership change (Raft; the others
 *                                                     are skipped): configuration-safety and every checker
 *                                                     follow the configuration (docs/invariants.md)
 *   --from SEED                                       random seeds SEED..SEED+N-1 (a shard; targeted runs only with 1)
 *   --workload kv[:RATE]                              key-value clients in every run (src/sim/workload.ts): the
 *                                                     consensus checkers judge Raft and ZAB; every algorithm's
 *                                                     losses, stale reads and non-linearizable runs are counted;
 *                                                     with --mutants, the clients of the mutants that need them
 *                                                     (workload 'kv') and of the Bully proof runs (default kv:50)
 *   --value-size N                                    with the kv workload (implied): every written value padded to
 *                                                     N characters (1..4096) over 32 keys, so states pass one
 *                                                     frame and snapshots travel in chunks (ZAB's SnapChunk,
 *                                                     Raft's InstallSnapshot); prints how many were sent
 *
 * A failing run prints the options to replay it.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { algorithmNames, algorithms } from '../core/algorithms.js';
import { mutantSweepOptions, replicationProofRuns, sweep, sweepRuns, type SweepReport } from '../sim/sweep.js';
import { bullyAsConsensus, mutants, replicationMutants, withMutant } from '../testing/mutants.js';
import { DEFAULT_KV_RATE, parseWorkload } from '../sim/workload.js';

/** --value-size: the largest padding (a kv command holds key and value within MAX_KV_COMMAND_LENGTH), and the keys it spreads over. */
const MAX_SWEEP_VALUE_CHARS = 4096;
const LARGE_STATE_KEYS = 32;

function fail(message: string): never {
  process.stderr.write(`sweep: ${message}\n`);
  process.exit(2);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({ options: { runs: { type: 'string' }, from: { type: 'string' }, mutants: { type: 'boolean' }, algorithm: { type: 'string' }, workload: { type: 'string' }, 'value-size': { type: 'string' }, membership: { type: 'boolean' }, help: { type: 'boolean' } } }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write('usage: node dist/bench/sweep.js [--runs N] [--from SEED] [--mutants] [--algorithm raft|zab|bully] [--workload kv[:RATE]] [--value-size N] [--membership]\n');
    return;
  }
  const runs = Number(values.runs ?? (values.mutants ? 500 : 1000));
  if (!Number.isSafeInteger(runs) || runs < 0) fail(`--runs must be a non-negative integer, got ${values.runs}`);
  // --from S: seeds S..S+N-1 (shards of one sweep on several processes; the targeted runs go with --from 1).
  const firstSeed = Number(values.from ?? 1);
  if (!Number.isSafeInteger(firstSeed) || firstSeed < 1) fail(`--from must be a positive integer, got ${values.from}`);
  const parsed = values.workload === undefined ? undefined : parseWorkload(values.workload);
  if (typeof parsed === 'string') fail(parsed);
  const valueSize = values['value-size'] === undefined ? undefined : Number(values['value-size']);
  if (valueSize !== undefined && (!Number.isSafeInteger(valueSize) || valueSize < 1 || valueSize > MAX_SWEEP_VALUE_CHARS)) {
    fail(`--value-size must be an integer from 1 to ${MAX_SWEEP_VALUE_CHARS}, got ${values['value-size']}`);
  }
  const workload = valueSize === undefined ? parsed : { ...(parsed ?? { rate: DEFAULT_KV_RATE }), valueChars: valueSize, keys: LARGE_STATE_KEYS };
  const only = values.algorithm;
  if (only !== undefined && !(algorithmNames as readonly string[]).includes(only)) fail(`--algorithm must be one of ${algorithmNames.join(', ')}`);
  const describe = (report: Pick<SweepReport, 'caughtBy'>) =>
    [...report.caughtBy].sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name} ${count}`).join(', ') || 'nothing';

  let problems = 0;
  if (values.mutants) {
    process.stdout.write(`mutant | caught in (of ${runs} random + targeted runs) | by\n`);
    for (const mutant of mutants) {
      if (only !== undefined && mutant.algorithm.name !== only) continue;
      const start = performance.now();
      // A mutant that shows only when clients write is swept with the key-value workload.
      const report = withMutant(mutant, () => sweep(mutant.algorithm, runs, mutantSweepOptions(mutant, workload)));
      const seconds = ((performance.now() - start) / 1000).toFixed(1);
      process.stdout.write(`${mutant.name} | ${report.failed} of ${report.runs} | ${describe(report)} (${seconds} s)\n`);
      if (report.failed === 0) problems++;
    }
    // The log checkers' Bully mutants, over the runs where Bully keeps the consensus promise.
    const proofRuns = replicationProofRuns(bullyAsConsensus, runs, workload ?? { rate: DEFAULT_KV_RATE });
    for (const mutant of only === undefined || only === 'bully' ? replicationMutants : []) {
      const start = performance.now();
      const report = withMutant(mutant, () => sweepRuns(proofRuns));
      const seconds = ((performance.now() - start) / 1000).toFixed(1);
      process.stdout.write(`${mutant.name} | ${report.failed} of ${report.runs} (follower-bounce runs with the kv workload) | ${describe(report)} (${seconds} s)\n`);
      if (report.failed === 0) problems++;
    }
  } else {
    for (const name of algorithmNames) {
      if (only !== undefined && name !== only) continue;
      if (values.membership && !algorithms[name].membershipChange) continue;
      const start = performance.now();
      const report = sweep(algorithms[name], runs, { firstSeed, targeted: firstSeed === 1, ...(workload ? { workload } : {}), ...(values.membership ? { membership: {} } : {}) });
      const seconds = (performance.now() - start) / 1000;
      process.stdout.write(`${name}: ${report.runs} runs, ${report.failed} with a violation, ${seconds.toFixed(1)} s (${(report.runs / seconds).toFixed(0)} runs/s)\n`);
      process.stdout.write(`  lease overlap: ${report.leaseOverlapMs.toFixed(3)} ms in ${report.leaseOverlapRuns} runs\n`);
      // Without a lease, believing it leads is all a leader-only job has to go on.
      process.stdout.write(`  two self-believed leaders at once: ${report.dualLeaderMs.toFixed(3)} ms in ${report.dualLeaderRuns} runs\n`);
      if (report.kv) {
        const kv = report.kv;
        process.stdout.write(`  kv: ${kv.ops} operations, ${kv.acked} writes acknowledged, ${kv.lostAcked} lost (in ${kv.lostAckedRuns} runs), ${kv.notLinearizable} runs not linearizable (${kv.undecided} undecided), ${kv.staleReads} stale reads, ${kv.unavailableMs.toFixed(1)} ms without a writable leader\n`);
      }
      if (valueSize !== undefined) {
        for (const type of ['SnapChunk', 'InstallSnapshot']) {
          const sent = report.messagesByType.get(type);
          if (sent !== undefined) process.stdout.write(`  ${type}: ${sent} sent, in ${report.runsByType.get(type)} runs\n`);
        }
      }
      if (report.membership) {
        const m = report.membership;
        process.stdout.write(`  membership: ${m.requested} changes asked, ${m.accepted} accepted, ${m.committed} committed, ${m.refused} refused; ${m.changedRuns} runs ended in another configuration\n`);
      }
      if (report.firstFailure) {
        const { options, result } = report.firstFailure;
        process.stdout.write(`  first: seed ${options.seed}, ${options.nodes} nodes, ${options.scheduleName ?? options.scenario}: ${JSON.stringify(result.violations[0])}\n`);
        problems++;
      }
    }
  }
  process.exitCode = problems > 0 ? 1 : 0;
}

main();

