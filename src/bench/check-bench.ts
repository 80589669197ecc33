/**
 * `npm run bench:check`: how long the linearizability checker takes, printed, never asserted.
 * Histories of a real sequential key-value store with random concurrency windows (src/check/generate.ts),
 * each checked once after a warm-up; the wall time of the check alone (not the generation).
 * Target (issue 15): a 10,000-operation history over 10 keys in <= 5 s.
 */
import { performance } from 'node:perf_hooks';
import { checkLinearizability, generateKvHistory, kvModel, type KvWorkload } from '../check/index.js';
import { Prng } from '../core/prng.js';

const cases: (KvWorkload & { readonly label: string })[] = [
  { label: '10 clients, every operation answered', operations: 10_000, keys: 10, clients: 10 },
  { label: '50 clients, every operation answered', operations: 10_000, keys: 10, clients: 50 },
  { label: '10 clients, 5% without an answer', operations: 10_000, keys: 10, clients: 10, unknownRate: 0.05 },
  { label: '50 clients, 5% without an answer', operations: 10_000, keys: 10, clients: 50, unknownRate: 0.05 },
  { label: '10 clients, 5% without an answer, no versions reported', operations: 10_000, keys: 10, clients: 10, unknownRate: 0.05, reportVersions: false },
];

// Warm up the JIT on a smaller history.
checkLinearizability(kvModel, generateKvHistory({ operations: 5_000, keys: 5, clients: 10 }, new Prng(0)));
console.log('linearizability checker: 10,000 operations over 10 keys, seed 1');
for (const { label, ...workload } of cases) {
  const history = generateKvHistory(workload, new Prng(1));
  const started = performance.now();
  const limitMs = 10_000;
  const result = checkLinearizability(kvModel, history, { shouldStop: () => performance.now() - started > limitMs });
  const seconds = (performance.now() - started) / 1000;
  console.log(`  ${label.padEnd(56)} ${result.kind.padEnd(16)} ${seconds.toFixed(2).padStart(6)} s  ${result.steps.toLocaleString('en-US')} steps`);
}
