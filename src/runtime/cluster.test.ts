/**
 * Real processes on 127.0.0.1, for every algorithm of the registry: five `ballot node` processes elect
 * one leader that all report; garbage on a peer port is refused and counted without harm; kill -9 of
 * the leader gives a new leader all survivors report; the killed node, restarted with the same
 * arguments, rejoins with its term intact; with 3 of 5 killed, the survivors elect only if the
 * algorithm can (Raft, ZAB: no quorum, no leader; Bully: the highest survivor). Then SIGTERM stops
 * every node cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { agreedLeader } from '../core/agreement.js';
import { algorithms } from '../core/algorithms.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import type { LocalCluster, NodeStatus } from './local-cluster.js';
import { testCluster } from './test-cluster.js';
import { PROTOCOL_VERSION } from './schema.js';
import { frame, metricValue, sendAndAwaitClose, sleep, waitFor } from './testing.js';


interface Agreement {
  readonly leader: NodeId;
  readonly term: number;
  readonly views: Map<NodeId, NodeStatus | null>;
}

/** Resolves once every one of `members` answers and names the same leader, which names itself (core/agreement.ts). */
function agreement(cluster: LocalCluster, members: readonly NodeId[], timeoutMs: number, what: string): Promise<Agreement> {
  let last = '';
  return waitFor(
    what,
    timeoutMs,
    async () => {
      const views = new Map<NodeId, NodeStatus | null>();
      await Promise.all(members.map(async (id) => views.set(id, await cluster.status(id, 500))));
      last = JSON.stringify([...views.values()]);
      const agreed = agreedLeader(views.values());
      return agreed === null ? undefined : { leader: agreed.leader, term: views.get(agreed.leader)!.term, views };
    },
    25,
    () => last,
  );
}

function handshake(algorithm: string, from: NodeId, to: NodeId, cluster = 'ballot'): object {
  return { ballot: PROTOCOL_VERSION, cluster, algorithm, from, to };
}

async function garbageIsRefused(cluster: LocalCluster, algorithm: AnyAlgorithm, target: NodeId, peerPort: number, other: NodeId): Promise<void> {
  const wrongAlgorithm = algorithm.name === 'raft' ? 'zab' : 'raft';
  const oversized = Buffer.alloc(4);
  oversized.writeUInt32BE(0xffffffff);
  const valid = frame(handshake(algorithm.name, other, target));
  const cases: { bytes: Buffer; end?: boolean; reason: string | null }[] = [
    { bytes: randomBytes(512), end: true, reason: null }, // oversized, bad-utf8, bad-json or truncated
    { bytes: valid.subarray(0, valid.length - 5), end: true, reason: 'truncated' },
    { bytes: oversized, reason: 'oversized' },
    { bytes: frame({ hello: 'world', n: [1, 2, 3] }), reason: 'bad-handshake' },
    { bytes: frame(handshake(algorithm.name, other, target, 'another-cluster')), reason: 'wrong-cluster' },
    { bytes: frame(handshake(wrongAlgorithm, other, target)), reason: 'wrong-algorithm' },
    { bytes: frame(handshake(algorithm.name, 99, target)), reason: 'unknown-sender' },
    { bytes: frame(handshake(algorithm.name, target, target)), reason: 'unknown-sender' },
    { bytes: frame(handshake(algorithm.name, other, target === 1 ? 2 : 1)), reason: 'wrong-recipient' },
    // A good handshake, then valid JSON of the wrong shape.
    { bytes: Buffer.concat([valid, frame({ type: algorithm.messageTypes[0], term: 'one', extra: true })]), reason: 'bad-message' },
    { bytes: Buffer.concat([valid, frame({ type: 'NoSuchMessage' })]), reason: 'bad-message' },
  ];
  const before = await (await fetch(`http://127.0.0.1:${cluster.httpPort(target)}/metrics`)).text();
  const total = (text: string): number => metricValue(text, 'ballot_frames_rejected_total') ?? 0;
  // All at once, as a burst: one peer's garbage must not stall the node or the other connections.
  const outcomes = await Promise.all(cases.map((c) => sendAndAwaitClose(peerPort, c.bytes, { end: c.end ?? false })));
  assert.deepEqual(outcomes, cases.map(() => 'closed'), 'the node closes every connection that sent garbage');
  const after = await (await fetch(`http://127.0.0.1:${cluster.httpPort(target)}/metrics`)).text();
  assert.equal(total(after) - total(before), cases.length, 'one rejected frame per garbage connection');
  const expected = new Map<string, number>();
  for (const c of cases) if (c.reason) expected.set(c.reason, (expected.get(c.reason) ?? 0) + 1);
  for (const [reason, count] of expected) {
    const sample = `ballot_frames_rejected_by_reason_total{reason="${reason}"}`;
    assert.ok((metricValue(after, sample) ?? 0) - (metricValue(before, sample) ?? 0) >= count, `${sample} counts ${count} more`);
  }
}

for (const algorithm of Object.values(algorithms) as AnyAlgorithm[]) {
  const { electionTimeoutMaxMs } = algorithm.defaultTiming;
  const convergeMs = Math.max(10_000, 30 * electionTimeoutMaxMs);
  // Five processes load their modules at once before they can answer: on a loaded 2-core machine that
  // alone took over 10 s (load average 16), so the first agreement gets more room than the later ones.
  const startMs = 3 * convergeMs;

  test(`${algorithm.name}: 5 real nodes elect, refuse garbage, fail over after kill -9, rejoin, and respect quorum`, { timeout: 90_000 }, async (t) => {
    const { cluster, peerPorts, close } = await testCluster({ name: `cluster-${algorithm.name}`, algorithm: algorithm.name, voters: 5, logs: true });
    const peerPort = (id: NodeId): number => peerPorts[id - 1]!;
    try {
      cluster.startAll();
      const first = await agreement(cluster, cluster.members, startMs, 'all 5 nodes to name one leader');
      t.diagnostic(`elected ${first.leader} in term ${first.term}`);

      const follower = cluster.members.find((id) => id !== first.leader)!;
      const other = cluster.members.find((id) => id !== first.leader && id !== follower)!;
      await garbageIsRefused(cluster, algorithm, follower, peerPort(follower), other);
      const steady = await agreement(cluster, cluster.members, convergeMs, 'the cluster to agree after the garbage');
      assert.equal((await cluster.status(follower))?.leader, steady.leader, 'the target still reports the leader');

      const killed = steady.leader;
      const termBeforeKill = steady.views.get(killed)!.term;
      await cluster.kill(killed);
      const survivors = cluster.running();
      const second = await waitFor('a new leader among the survivors', convergeMs, async () => {
        const now = await agreement(cluster, survivors, convergeMs, 'survivors to agree');
        return now.leader !== killed ? now : undefined;
      });
      t.diagnostic(`after kill -9 of ${killed}: leader ${second.leader}, term ${second.term}`);
      const promised = algorithm.expectedLeader?.(survivors);
      if (promised !== undefined) assert.equal(second.leader, promised);

      cluster.start(killed);
      const restarted = await waitFor('the restarted node to answer', convergeMs, () => cluster.status(killed).then((s) => s ?? undefined));
      assert.ok(restarted.term >= termBeforeKill, `term ${restarted.term} after restart, ${termBeforeKill} before: never backwards`);
      const third = await agreement(cluster, cluster.members, convergeMs, 'all 5 to agree after the restart');
      assert.ok(third.views.get(killed)!.term >= termBeforeKill);
      t.diagnostic(`after restarting ${killed}: leader ${third.leader}, term ${third.term}`);

      // Three of five down: the leader and the two lowest others.
      const down = [third.leader, ...cluster.members.filter((id) => id !== third.leader).slice(0, 2)];
      await Promise.all(down.map((id) => cluster.kill(id)));
      const left = cluster.running();
      if (algorithm.canElect(left.length, cluster.members.length)) {
        const fourth = await agreement(cluster, left, convergeMs, `the ${left.length} survivors to agree`);
        const expected = algorithm.expectedLeader?.(left);
        if (expected !== undefined) assert.equal(fourth.leader, expected, 'the documented leader of the survivors');
        t.diagnostic(`with ${down.join(',')} down: leader ${fourth.leader}`);
      } else {
        await waitFor('the survivors to name no leader', convergeMs, async () => {
          const views = await Promise.all(left.map((id) => cluster.status(id)));
          return views.every((view) => view !== null && view.leader === null) ? true : undefined;
        });
        // And it stays so: no quorum, no leader, for several election timeouts.
        const until = performance.now() + 4 * electionTimeoutMaxMs;
        while (performance.now() < until) {
          const views = await Promise.all(left.map((id) => cluster.status(id)));
          assert.deepEqual(views.map((view) => (view === null ? 'no answer' : view.leader)), left.map(() => null), 'no leader without a quorum');
          await sleep(50);
        }
        t.diagnostic(`with ${down.join(',')} down: no leader, as expected`);
      }

      const exits = await Promise.all(left.map((id) => cluster.kill(id, 'SIGTERM')));
      assert.deepEqual(exits.map((exit) => [exit?.id, exit?.code]), left.map((id) => [id, 0]), 'SIGTERM stops cleanly');
    } finally {
      cluster.killAllSync();
      await close(1000);
    }
  });
}
