/**
 * A graceful stop hands leadership over (issue 13; Raft TimeoutNow, thesis §3.10): three real
 * `ballot node` processes over TCP on 127.0.0.1; SIGTERM to the leader makes it transfer its leadership
 * before it closes. The survivors then agree on the node it named in its `transfer-started` log line, in
 * exactly one new term — an election after a timeout could not promise either (any survivor could win,
 * and a split vote costs a term). Timing is slow (election timeout 1-2 s) so that a loaded machine's
 * stalls do not depose anyone; the test asserts who and which term, not how fast (ballot bench failover
 * --kind graceful measures that: docs/bench.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testCluster } from './test-cluster.js';
const slow = ['--election-timeout', '1000-2000', '--heartbeat', '100', '--log', 'info'];

test('raft processes: SIGTERM to the leader hands leadership to the node it names, in exactly one new term', { timeout: 120_000 }, async () => {
  const { cluster, close } = await testCluster({ name: 'transfer', algorithm: 'raft', voters: 3, extraArgs: slow });
  try {
    cluster.startAll();
    const before = await cluster.agreed('a first leader holding its lease', (s) => s.find((x) => x.id === x.leader)?.lease === true);
    const { leader, term } = before[0]!;
    const exit = await cluster.kill(leader!, 'SIGTERM');
    assert.ok(exit, 'the leader exited');
    assert.equal(exit.code, 0, `a clean exit: ${exit.stderr.join('')}`);
    const line = exit.stderr.find((l) => l.includes('"transfer-started"'));
    assert.ok(line, `the leader logged its transfer: ${exit.stderr.join('')}`);
    const target = (JSON.parse(line) as { to: number }).to;
    assert.notEqual(target, leader);
    const after = await cluster.agreed('the survivors agree on a new leader', (s) => s.every((x) => x.leader !== leader));
    for (const status of after) {
      assert.equal(status.leader, target, `the target leads: ${JSON.stringify(after)}`);
      assert.equal(status.term, term + 1, `exactly one new term: ${JSON.stringify(after)}`);
    }
  } finally {
    await close(3000);
  }
});
