/**
 * Chunked snapshots on real processes: three nodes on loopback compact a key-value state of about 550 KB
 * — thirteen times what one frame carries, eighteen windows of pieces — and a member that was down while it
 * grew receives it in pieces over TCP and serves every value after. Both ask for the pieces window by
 * window (src/core/chunks.ts): Bully's backup with SyncRequest (src/core/bully/bully.ts), ZAB's learner
 * with SnapRequest after a SNAP's NewLeader (src/core/zab/learner.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactionPhase } from './kv.js';
import { callLeader, httpCall as call, testCluster } from './test-cluster.js';
import { metricValue, waitFor } from './testing.js';
import { SNAPSHOT_CHUNK_CHARS, SNAPSHOT_CHUNK_WINDOW } from '../core/limits.js';

const cases = [
  { algorithm: 'bully', chunk: 'SnapshotChunk', request: 'SyncRequest' },
  { algorithm: 'zab', chunk: 'SnapChunk', request: 'SnapRequest' },
] as const;
/** The values written while a member is down. */
const WRITES = 86;
const COMPACT_EVERY = 10;

/** The index of member `id`'s last snapshot after WRITES writes: each member compacts at its own phase (kv.ts compactionPhase). */
function lastSnapshotIndex(id: number): number {
  const lead = Math.floor(compactionPhase(id) * COMPACT_EVERY);
  return Math.floor((WRITES + lead) / COMPACT_EVERY) * COMPACT_EVERY - lead;
}

for (const { algorithm, chunk, request } of cases) {
  test(`${algorithm}: a member that was down while the state passed 40 KiB receives the snapshot in pieces and serves it`, { timeout: 180_000 }, async () => {
    const { cluster, close } = await testCluster({ name: `${algorithm}-snap`, algorithm, voters: 3, logs: true, extraArgs: ['--compact-every', String(COMPACT_EVERY)] });
    try {
      cluster.startAll();
      await cluster.agreed('three nodes to agree on a leader', (all) => all.length === 3, 60_000);
      await cluster.kill(1);
      const value = (i: number): string => `${i}:`.padEnd(7_000, String.fromCharCode(97 + (i % 26)));
      // More writes than a link queues for a member that is down (64 frames, src/runtime/links.ts): a
      // Bully backup could otherwise catch up from the queued copies alone when the writes are quick.
      for (let i = 1; i <= WRITES; i++) assert.equal((await callLeader(cluster, 'PUT', `/kv/k${i}`, value(i), 60_000, [2, 3])).status, 200);
      const [{ leader }] = await cluster.agreed('the two live nodes to agree on a leader', (all) => all.length === 2, 60_000);
      cluster.start(1);
      // After the restart 1 follows the leader and is behind its snapshot (at 78 to 84: its phase).
      const last = await waitFor('node 1 to hold the last value', 60_000, async () => {
        const answer = await call(cluster.httpPort(1), 'GET', `/kv/k${WRITES}?stale=1`).catch(() => undefined);
        return answer?.status === 200 ? answer : undefined;
      });
      assert.equal(last.body.value, value(WRITES));
      // It came in pieces: a state this large never fits one frame.
      const metrics = await fetch(`http://127.0.0.1:${cluster.httpPort(1)}/metrics`).then((r) => r.text());
      const pieces = metricValue(metrics, `ballot_messages_received_total{type="${chunk}"}`) ?? 0;
      const needed = Math.ceil((lastSnapshotIndex(leader!) * 7_000) / SNAPSHOT_CHUNK_CHARS);
      assert.ok(pieces >= needed, `${pieces} ${chunk}s received`);
      // Window by window, as asked: a request for each window, and never the whole snapshot over and
      // over (a window re-sent after a heartbeat without progress, on a loaded machine, is allowed).
      const requests = metricValue(metrics, `ballot_messages_sent_total{type="${request}"}`) ?? 0;
      assert.ok(requests >= Math.ceil(needed / SNAPSHOT_CHUNK_WINDOW), `${requests} ${request}s sent for ${needed} pieces`);
      assert.ok(pieces <= 3 * needed, `${pieces} ${chunk}s received for ${needed} pieces`);
      for (const i of [1, 7, 19, 63]) assert.equal((await call(cluster.httpPort(1), 'GET', `/kv/k${i}?stale=1`)).body.value, value(i), `k${i}`);
      // And the entries after the snapshot still arrive as copies.
      assert.equal((await callLeader(cluster, 'PUT', '/kv/after', 'x', 60_000, [2, 3])).status, 200);
      await waitFor('node 1 to apply the write after the snapshot', 30_000, async () => {
        const answer = await call(cluster.httpPort(1), 'GET', '/kv/after?stale=1').catch(() => undefined);
        return answer?.status === 200 && answer.body.value === 'x' ? true : undefined;
      });
    } finally {
      await close();
    }
  });
}
