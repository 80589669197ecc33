/**
 * Raft's fast start on real `ballot node` processes over TCP on 127.0.0.1 (docs/algorithms/raft.md,
 * "Fast start"): a fresh node connected to a quorum campaigns within T_max − T_min of the connection,
 * long before its minimum election timeout; with `--fast-start off` no node can lead before T_min by
 * its own clock (§5.2), which shows the test can fail. The timeouts are long (T_min 6 s, spread 300 ms)
 * so that processes starting seconds apart on a loaded 2-core machine cannot blur the two.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testCluster } from './test-cluster.js';

const T_MIN_MS = 6000;
const timing = ['--election-timeout', `${T_MIN_MS}-${T_MIN_MS + 300}`, '--heartbeat', '200'];

/** Starts a fresh 3-node cluster, waits for its first agreed leader, and reads from the leader's own log when (its clock) it took office. */
async function firstLeader(extraArgs: readonly string[]): Promise<{ leader: number; atMs: number }> {
  const { cluster, dataDir, close } = await testCluster({ name: 'fast-start', algorithm: 'raft', voters: 3, logs: true, extraArgs: [...timing, ...extraArgs] });
  try {
    cluster.startAll();
    const statuses = await cluster.agreed('a first leader', () => true, 60_000);
    const leader = statuses[0]!.leader!;
    await cluster.stop(3000);
    const took = readFileSync(join(dataDir, `node-${leader}.log`), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event?: string; leader?: number; atMs?: number })
      .find((line) => line.event === 'leader-changed' && line.leader === leader);
    assert.ok(took?.atMs !== undefined, `node ${leader} logged taking office`);
    return { leader, atMs: took.atMs };
  } finally {
    await close(3000);
  }
}

test('raft over TCP: with fast start (the default) a fresh cluster elects long before the minimum election timeout; with --fast-start off, not before it', { timeout: 150_000 }, async (t) => {
  const fast = await firstLeader([]);
  assert.ok(fast.atMs < T_MIN_MS, `fast start: node ${fast.leader} led at ${Math.round(fast.atMs)} ms of its clock, before T_min = ${T_MIN_MS}`);
  t.diagnostic(`fast start: node ${fast.leader} led at ${Math.round(fast.atMs)} ms of its clock`);
  const slow = await firstLeader(['--fast-start', 'off']);
  t.diagnostic(`--fast-start off: node ${slow.leader} led at ${Math.round(slow.atMs)} ms of its clock`);
  assert.ok(slow.atMs >= T_MIN_MS, `--fast-start off: node ${slow.leader} led at ${Math.round(slow.atMs)} ms of its clock, not before T_min = ${T_MIN_MS}`);
});
