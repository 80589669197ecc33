/**
 * The key-value API of issue 15 on real processes: three Raft nodes on loopback (`ballot node`, fsync),
 * driven over HTTP. The errors of the API, the redirect of a follower, and crash safety: every write
 * acknowledged before a kill -9 of the WHOLE cluster is there after it restarts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../core/types.js';
import { MAX_VALUE_LENGTH } from '../kv/store.js';
import { MAX_KV_BODY_BYTES } from './kv-http.js';
import type { LocalCluster } from './local-cluster.js';
import { callLeader, httpCall as call, testCluster, writeLoad, type TestCluster, type WriteLoad } from './test-cluster.js';
import { metricValue, waitFor } from './testing.js';

async function startCluster(name: string): Promise<TestCluster> {
  const started = await testCluster({ name, algorithm: 'raft', voters: 3, logs: true, advertiseUrls: true });
  started.cluster.startAll();
  return started;
}

async function leaderOf(cluster: LocalCluster): Promise<NodeId> {
  const statuses = await cluster.agreed('three nodes to agree on a leader', (all) => all.length === 3, 60_000);
  return statuses[0]!.leader!;
}

test('the /kv API on three real Raft nodes: writes, reads, cas, redirects and every error', { timeout: 150_000 }, async () => {
  const { cluster, close } = await startCluster('kv');
  try {
    await leaderOf(cluster);
    // Through whichever node leads (a loaded machine may change leaders mid-test): callLeader follows.
    const put = await callLeader(cluster, 'PUT', '/kv/greeting', 'hello', 60_000);
    assert.deepEqual([put.status, put.body], [200, { key: 'greeting', version: 1 }]);
    assert.deepEqual((await callLeader(cluster, 'GET', '/kv/greeting')).body, { key: 'greeting', value: 'hello', version: 1 });
    assert.deepEqual(await callLeader(cluster, 'GET', '/kv/absent').then((a) => [a.status, a.body]), [404, { key: 'absent', value: null, version: 0 }]);
    // Compare-and-set: only at the version it names.
    assert.deepEqual((await callLeader(cluster, 'POST', '/kv/greeting?cas=0', 'no')).body, { key: 'greeting', ok: false, version: 1 });
    assert.deepEqual((await callLeader(cluster, 'POST', '/kv/greeting?cas=1', 'hi')).body, { key: 'greeting', ok: true, version: 2 });
    assert.deepEqual((await callLeader(cluster, 'DELETE', '/kv/greeting')).body, { key: 'greeting', version: 3 });
    assert.equal((await callLeader(cluster, 'GET', '/kv/greeting')).status, 404);
    await callLeader(cluster, 'PUT', '/kv/unicode', 'ünïcødé ✓');
    assert.equal((await callLeader(cluster, 'GET', '/kv/unicode')).body.value, 'ünïcødé ✓');

    const leader = await leaderOf(cluster);
    const follower = cluster.members.find((id) => id !== leader)!;
    const at = cluster.httpPort(leader);
    // A follower redirects to the leader's advertised url; a stale read it serves itself.
    const redirected = await call(cluster.httpPort(follower), 'PUT', '/kv/x?y=1', 'v');
    assert.equal(redirected.status, 307);
    assert.equal(redirected.location, `http://127.0.0.1:${at}/kv/x?y=1`);
    assert.equal(redirected.body.leader, leader);
    assert.equal((await call(cluster.httpPort(follower), 'GET', '/kv/unicode')).status, 307, 'a linearizable read goes to the leader');
    const stale = await waitFor('the follower to apply the write', 10_000, async () => {
      const answer = await call(cluster.httpPort(follower), 'GET', '/kv/unicode?stale=1');
      return answer.status === 200 ? answer : undefined;
    });
    assert.equal(stale.body.value, 'ünïcødé ✓');

    // Mistakes: one clear line each.
    const mistakes: [string, string, string | Buffer | undefined, number, RegExp][] = [
      ['PUT', '/kv/', 'v', 400, /bad key: the key is empty/],
      ['PUT', '/kv/a/b', 'v', 400, /bad key: a key is printable ASCII/],
      ['PUT', '/kv/%41', 'v', 400, /bad key/],
      ['PUT', `/kv/${'k'.repeat(257)}`, 'v', 400, /longer than 256/],
      ['PUT', '/kv/big', 'v'.repeat(MAX_VALUE_LENGTH + 1), 413, /value too long/],
      ['PUT', '/kv/huge', Buffer.alloc(MAX_KV_BODY_BYTES + 1, 0x61), 413, /body is longer than/],
      ['PUT', '/kv/bytes', Buffer.from([0xff, 0xfe]), 400, /not UTF-8/],
      ['POST', '/kv/a', 'v', 400, /needs \?cas=VERSION/],
      ['POST', '/kv/a?cas=-1', 'v', 400, /bad cas version "-1"/],
      ['POST', '/kv/a?cas=1.5', 'v', 400, /bad cas version/],
      ['PATCH', '/kv/a', 'v', 405, /not allowed/],
    ];
    for (const [method, path, body, status, error] of mistakes) {
      const answer = await call(at, method, path, body);
      assert.equal(answer.status, status, `${method} ${path}`);
      assert.match(String(answer.body.error), error, `${method} ${path}`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${at}/metrics`)).text();
    assert.ok((metricValue(metrics, 'ballot_kv_applied_index') ?? 0) >= 5, 'the store applied the writes');
    assert.ok((metricValue(metrics, 'ballot_storage_appends_total') ?? 0) >= 5, 'writes were appended to state.log, not rewritten');
  } finally {
    await close();
  }
});

/**
 * kill -9 of every node at once (no node survives to hold what the others lost), then a restart: every
 * write acknowledged before the kill must read back.
 */
async function killAllThenCheck(cluster: LocalCluster, load: WriteLoad): Promise<void> {
  await Promise.all(cluster.members.map((id) => cluster.kill(id, 'SIGKILL')));
  const before = await load.stop();
  cluster.startAll();
  await leaderOf(cluster);
  const missing = await missingWrites(cluster, before);
  assert.deepEqual(missing, [], `${missing.length} of ${before.size} acknowledged writes lost`);
}

/** Every acknowledged write that does not read back from the leader, as `key: answer`. */
async function missingWrites(cluster: LocalCluster, acknowledged: ReadonlyMap<string, string>): Promise<string[]> {
  // The new leader commits an entry of its term first (§5.4.2), then every acknowledged write reads back.
  assert.equal((await callLeader(cluster, 'PUT', '/kv/after', '1', 60_000)).status, 200);
  const missing: string[] = [];
  for (const [key, value] of acknowledged) {
    const answer = await callLeader(cluster, 'GET', `/kv/${key}`);
    if (answer.body.value !== value) missing.push(`${key}: ${JSON.stringify(answer.body)}`);
  }
  return missing;
}

test('kill -9 of every node during writes: every acknowledged write is there after the restart', { timeout: 180_000 }, async () => {
  const { cluster, close } = await startCluster('kv-crash');
  try {
    await leaderOf(cluster);
    assert.equal((await callLeader(cluster, 'PUT', '/kv/first', '0', 60_000)).status, 200);
    const load = writeLoad(cluster, 16);
    await load.more(200, 'the first');
    await killAllThenCheck(cluster, load);
  } finally {
    await close();
  }
});

/**
 * The leader sends its AppendEntries while its own fdatasync runs (thesis §10.2.1, NodeDriver.pipeline)
 * and counts itself toward a commit only once that write returned. Killing the LEADER alone, mid-write,
 * is the crash that would lose an acknowledged write if it counted itself too early: its entries may be
 * on no disk but a follower's, and a majority without it elects the next leader. Three times, each time
 * the leader of the moment, with the killed one restarted before the next kill; then the whole cluster.
 */
test('kill -9 of the leader alone, three times during writes, then of every node: every acknowledged write is there', { timeout: 300_000 }, async () => {
  const { cluster, close } = await startCluster('kv-leader-crash');
  try {
    let leader = await leaderOf(cluster);
    assert.equal((await callLeader(cluster, 'PUT', '/kv/first', '0', 60_000)).status, 200);
    const load = writeLoad(cluster, 16);
    for (let cycle = 1; cycle <= 3; cycle++) {
      await load.more(100, `cycle ${cycle}:`);
      await cluster.kill(leader, 'SIGKILL');
      cluster.start(leader);
      leader = await leaderOf(cluster);
    }
    await load.more(100, 'the last');
    await killAllThenCheck(cluster, load);
  } finally {
    await close();
  }
});
