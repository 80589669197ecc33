#!/usr/bin/env node
// A member restarted behind a large compacted state: node scripts/large-snapshot.mjs ALGORITHM VALUES
// (3 nodes, --compact-every 50; node 1 down while VALUES writes of 7,000 characters land, then restarted).
// Prints how long it took to write them, and how long node 1 took to hold the last one and in how many
// snapshot pieces (SnapChunk for zab, SnapshotChunk for bully). Run after npm run build.
import { callLeader, httpCall as call, testCluster } from '../dist/runtime/test-cluster.js';
import { metricValue, waitFor } from '../dist/runtime/testing.js';
const algorithm = process.argv[2];
const n = Number(process.argv[3]);
if (!['bully', 'raft', 'zab'].includes(algorithm) || !Number.isSafeInteger(n) || n < 1) {
  console.error('usage: node scripts/large-snapshot.mjs bully|raft|zab VALUES');
  process.exit(2);
}
const { cluster, close } = await testCluster({ name: `${algorithm}-big`, algorithm, voters: 3, logs: true, extraArgs: ['--compact-every', '50'] });
const t0 = performance.now();
try {
  cluster.startAll();
  await cluster.agreed('agree', (all) => all.length === 3, 60_000);
  await cluster.kill(1);
  const value = (i) => `${i}:`.padEnd(7_000, String.fromCharCode(97 + (i % 26)));
  for (let i = 1; i <= n; i++) { const r = await callLeader(cluster, 'PUT', `/kv/k${i}`, value(i), 60_000, [2, 3]); if (r.status !== 200) throw new Error('put ' + r.status); }
  console.log('written', n, Math.round(performance.now() - t0));
  cluster.start(1);
  const t1 = performance.now();
  await waitFor('node 1 to hold the last value', 90_000, async () => {
    const answer = await call(cluster.httpPort(1), 'GET', `/kv/k${n}?stale=1`).catch(() => undefined);
    return answer?.status === 200 ? answer : undefined;
  });
  const metrics = await fetch(`http://127.0.0.1:${cluster.httpPort(1)}/metrics`).then((r) => r.text());
  console.log('caught up in', Math.round(performance.now() - t1), 'ms; chunks', metricValue(metrics, 'ballot_messages_received_total{type="SnapChunk"}'), metricValue(metrics, 'ballot_messages_received_total{type="SnapshotChunk"}'), 'dropped', metrics.split('\n').filter(l=>l.startsWith('ballot_messages_dropped')).join(' | '));
} catch (e) { console.log('FAILED', e.message); } finally { await close(); }
