#!/usr/bin/env node
// Leadership while a 3-node cluster writes large values and compacts (docs/runtime.md, Durability):
//   npm run build && node scripts/compaction-churn.mjs [ALGORITHM=raft] [WRITES=1200] [COMPACT_EVERY=200]
// Writes WRITES values of 7,000 characters through the leader, one at a time (about 8 MB of state at
// 1,200), with --compact-every COMPACT_EVERY (0: never), and prints the term every 500 writes and at
// the end: each term change is an election (Raft: a leader that stepped down or was deposed).
import { callLeader, testCluster } from '../dist/runtime/test-cluster.js';

const [algorithm = 'raft', writesArg = '1200', everyArg = '200'] = process.argv.slice(2);
const writes = Number(writesArg);
if (!['bully', 'raft', 'zab'].includes(algorithm) || !Number.isSafeInteger(writes) || writes < 1 || !/^\d+$/.test(everyArg)) {
  console.error('usage: node scripts/compaction-churn.mjs [bully|raft|zab] [WRITES ≥ 1] [COMPACT_EVERY ≥ 0]');
  process.exit(2);
}
const { cluster, close } = await testCluster({ name: `${algorithm}-churn`, algorithm, voters: 3, extraArgs: ['--compact-every', everyArg] });
const agreed = async () => (await cluster.agreed('agreement', (all) => all.length === 3, 60_000))[0];
try {
  cluster.startAll();
  const first = await agreed();
  const value = (i) => `${i}:`.padEnd(7_000, String.fromCharCode(97 + (i % 26)));
  const started = performance.now();
  let slow = 0;
  let worst = 0;
  for (let i = 1; i <= writes; i++) {
    const at = performance.now();
    const answer = await callLeader(cluster, 'PUT', `/kv/k${i}`, value(i), 60_000);
    if (answer.status !== 200) throw new Error(`write ${i}: HTTP ${answer.status}`);
    const ms = performance.now() - at;
    if (ms > 100) slow++;
    worst = Math.max(worst, ms);
    if (i % 500 === 0) console.log(`${i} writes: term ${(await agreed()).term}, ${Math.round(performance.now() - started)} ms`);
  }
  const last = await agreed();
  console.log(`${algorithm}, ${writes} writes, --compact-every ${everyArg}: term ${first.term} -> ${last.term} (${last.term - first.term} elections); writes over 100 ms: ${slow}, slowest ${Math.round(worst)} ms`);
} catch (error) {
  console.error(`failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await close();
}
