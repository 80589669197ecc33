/**
 * Membership change on real processes (issue 15, item 6; docs/membership.md): Raft nodes on loopback
 * (`ballot node`, fsync), changed with the real `ballot member` command while clients write through
 * /kv. A node started with --join is added (learner, caught up, promoted), the leader is removed, every
 * acknowledged write reads back from the new configuration, and the removed node cannot disturb it. A
 * removed node learns it — a follower too, which no entry tells (a member's not-a-member answer does) —
 * and exits with status 3, again when it is started once more on its data dir.
 * ZAB refuses with its documented answer. Quorum-loss recovery: two of three nodes lost for good, the
 * third made the sole voter with `ballot member recover`, serves writes and takes a new member. With
 * mutual TLS, a member added later is admitted on its certificate and refused once removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeId } from '../core/types.js';
import { generateClusterCertificates } from './certificates.js';
import type { LocalCluster, MemberExit } from './local-cluster.js';
import { mainJs } from './local-cluster.js';
import { callLeader, httpCall, testCluster, writeLoad, type WriteLoad } from './test-cluster.js';
import { metricValue, sleep, waitFor } from './testing.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `ballot ARGS` as a real process. */
function ballot(args: readonly string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { timeout: timeoutMs }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, out, err });
    });
  });
}

const url = (cluster: LocalCluster, id: NodeId): string => `http://127.0.0.1:${cluster.httpPort(id)}`;

/** One member's /status: its role and where it stands in its configuration (`member`). */
async function standing(cluster: LocalCluster, id: NodeId): Promise<[unknown, unknown]> {
  const { body } = await httpCall(cluster.httpPort(id), 'GET', '/status');
  return [body.role, body.member];
}

/** Every exit of the cluster's members from now on, by member (the latest), with when it was seen (performance.now()). */
function exitsOf(cluster: LocalCluster): Map<NodeId, MemberExit & { readonly at: number }> {
  const exits = new Map<NodeId, MemberExit & { readonly at: number }>();
  cluster.onExit((exit) => exits.set(exit.id, { ...exit, at: performance.now() }));
  return exits;
}

/** The status a removed node exits with, and the line it logs (docs/membership.md, docs/reference.md). */
const REMOVED_EXIT = 3;
const removedLine = (id: NodeId): RegExp => new RegExp(`"event":"removed-from-cluster","index":\\d+,"by":\\d+.*\\n?[\\s\\S]*ballot node: node ${id} was removed from the cluster \\(node \\d+ says so: configuration index \\d+\\)`);

/** GET /members of one member. */
async function members(cluster: LocalCluster, id: NodeId): Promise<Record<string, unknown>> {
  return (await httpCall(cluster.httpPort(id), 'GET', '/members')).body;
}

test('add a node with --join and remove the leader while clients write: nothing acknowledged is lost, the removed node cannot disturb', { timeout: 240_000 }, async (t) => {
  // Slow elections: on a loaded 2-core machine the default 150-300 ms elect now and then by themselves,
  // and the test asks whether the REMOVED node causes one.
  const extraArgs = ['--election-timeout', '1000-2000', '--heartbeat', '100'];
  // Node 4 records what its core receives: a joiner's record, membership changes included, replays.
  const record = join(tmpdir(), `ballot-member-${process.pid}.rec`);
  const memberArgs = (id: NodeId): string[] => (id === 4 ? ['--record', record] : []);
  const { cluster, close } = await testCluster({ name: 'member', algorithm: 'raft', voters: 3, joiners: 1, logs: true, advertiseUrls: true, extraArgs, memberArgs });
  let load: WriteLoad | null = null;
  try {
    cluster.startAll();
    const first = (await cluster.agreed('three nodes to agree on a leader', (all) => all.length === 3, 60_000))[0]!.leader!;
    let serving: readonly NodeId[] = [1, 2, 3];
    const running = (load = writeLoad(cluster, 4, () => serving));
    await waitFor('writes acknowledged', 60_000, () => (running.acknowledged.size >= 20 ? true : undefined), 20);

    // Node 4 runs, in no configuration yet: no member talks to it, it knows no leader.
    cluster.start(4);
    await waitFor('node 4 to serve', 30_000, async () => ((await cluster.status(4)) !== null ? true : undefined), 50);
    await sleep(500);
    assert.equal((await cluster.status(4))!.leader, null, 'a node that is not a member yet follows no one');
    const before = await members(cluster, 4);
    assert.deepEqual([before.index, before.voters, before.observers, before.member], [0, [], [], 'joining']);
    assert.deepEqual(await standing(cluster, 4), ['learner', 'joining'], 'a joiner is a learner not yet added');

    // One call through a follower (307 to the leader): learner, caught up, promoted.
    const follower = [1, 2, 3].find((id) => id !== first)!;
    const added = await ballot(['member', 'add', `4=${cluster.peerAddress(4)}`, '--to', url(cluster, follower)]);
    assert.equal(added.code, 0, `ballot member add: ${added.err}`);
    assert.match(added.out, /^node 4 added as a voter at 127\.0\.0\.1:\d+ \(configuration index \d+: voters 1,2,3,4; learners -\)\n$/);
    serving = [1, 2, 3, 4];
    await waitFor('node 4 to know the leader and the configuration', 30_000, async () => {
      const view = await members(cluster, 4);
      return JSON.stringify(view.voters) === '[1,2,3,4]' && view.committed === true && view.leader !== null ? true : undefined;
    });

    // Remove node 1 (the leader, or not: the first leader is the likelier one) through the CLI.
    const leaderAtRemoval = (await members(cluster, 4)).leader;
    const exits = exitsOf(cluster);
    const removed = await ballot(['member', 'remove', '1', '--to', url(cluster, 4)]);
    assert.equal(removed.code, 0, `ballot member remove: ${removed.err}`);
    assert.match(removed.out, /^node 1 removed \(configuration index \d+: voters 2,3,4; learners -\); stop its process\n$/);
    serving = [2, 3, 4];
    const settled = await waitFor('2, 3 and 4 to agree on a leader among them', 60_000, async () => {
      const views = await Promise.all(serving.map((id) => cluster.status(id)));
      const leader = views[0]?.leader ?? null;
      return leader !== null && leader !== 1 && views.every((view) => view !== null && view.leader === leader && view.term === views[0]!.term) ? views[0]! : undefined;
    });
    for (const id of serving) assert.deepEqual((await members(cluster, id)).voters, [2, 3, 4], `node ${id}'s configuration`);
    for (const id of serving) assert.equal((await standing(cluster, id))[1], 'voter', `node ${id}`);
    // Node 1 learns it, whether it led (it appended the entry itself) or followed (no entry after its
    // removal reaches it): the members refuse its next handshake with a not-a-member answer, and it exits.
    const gone = await waitFor('node 1 to learn its removal and exit', 30_000, () => exits.get(1));
    t.diagnostic(`node 1 was ${leaderAtRemoval === 1 ? 'the leader' : `a follower (leader ${String(leaderAtRemoval)})`} when removed; it exited with ${String(gone.code)}`);
    assert.equal(gone.code, REMOVED_EXIT, gone.stderr.slice(-5).join('\n'));
    assert.match(gone.stderr.join('\n'), removedLine(1));

    await waitFor('more writes in the new configuration', 60_000, () => (running.acknowledged.size >= 60 ? true : undefined), 20);
    // The removed node is gone: for more than two election timeouts the members elect no one.
    assert.ok(!cluster.isRunning(1), 'node 1 stopped itself');
    await sleep(5_000);
    await running.stop();
    const after = await Promise.all(serving.map((id) => cluster.status(id)));
    assert.ok(after.every((status) => status !== null && status.term === settled.term && status.leader === settled.leader), `no election since: ${JSON.stringify(after)}`);
    assert.ok(running.acknowledged.size >= 60);
    const metrics = await (await fetch(`${url(cluster, settled.leader!)}/metrics`)).text();
    assert.equal(metricValue(metrics, 'ballot_membership_voters'), 3);
    assert.equal(metricValue(metrics, 'ballot_membership_committed'), 1);

    // Every acknowledged write reads back, linearizably, from the new configuration.
    const missing: string[] = [];
    for (const [key, value] of running.acknowledged) {
      const answer = await callLeader(cluster, 'GET', `/kv/${key}`, undefined, 30_000, serving);
      if (answer.body.value !== value) missing.push(`${key}: ${JSON.stringify(answer.body)}`);
    }
    assert.deepEqual(missing, [], `${missing.length} of ${running.acknowledged.size} acknowledged writes lost`);

    // Refusals: one line, exit 1 (the cluster refuses), exit 2 (the command is wrong).
    const again = await ballot(['member', 'remove', '1', '--to', url(cluster, 2)]);
    assert.deepEqual([again.code, again.err], [1, 'ballot member remove: node 1 is not a member (not-a-member)\n']);
    const bad = await ballot(['member', 'add', '5=nowhere', '--to', url(cluster, 2)]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^ballot member: add: the address must be HOST:PORT, got "nowhere"\n$/);
    const listed = await ballot(['member', 'list', '--to', url(cluster, 3)]);
    assert.equal(listed.code, 0, listed.err);
    const replayed = await ballot(['replay', record]);
    assert.equal(replayed.code, 0, `ballot replay of the joiner's record: ${replayed.err}`);
    assert.match(listed.out, /^index \d+ \(committed\), leader \d, as node 3 sees it\n\nnode {2}role {3}address\n---- {2}----- {2}-+\n {3}2 {2}voter {2}127\.0\.0\.1:\d+\n {3}3 {2}voter {2}127\.0\.0\.1:\d+\n {3}4 {2}voter {2}127\.0\.0\.1:\d+\n$/);
    // The joiner's replay names the configurations it used, with every member's address.
    assert.match(replayed.out, /configuration \d+: voters 1,2,3, learners 4, at 1=127\.0\.0\.1:\d+,2=127\.0\.0\.1:\d+,3=127\.0\.0\.1:\d+,4=127\.0\.0\.1:\d+\n/);
    assert.match(replayed.out, /configuration \d+: voters 2,3,4, learners -, at 2=127\.0\.0\.1:\d+,3=127\.0\.0\.1:\d+,4=127\.0\.0\.1:\d+\n/);
  } finally {
    await load?.stop();
    await close();
    rmSync(record, { force: true });
  }
});

test('ZAB refuses membership change with its documented answer, and --join', { timeout: 120_000 }, async () => {
  const { cluster, close, dataDir } = await testCluster({ name: 'member-zab', algorithm: 'zab', voters: 3, advertiseUrls: true });
  try {
    cluster.startAll();
    await cluster.agreed('three ZAB nodes to agree on a leader', (all) => all.length === 3, 60_000);
    const answer = await httpCall(cluster.httpPort(1), 'POST', '/members', JSON.stringify({ action: 'add', id: 4, address: '127.0.0.1:7999' }));
    assert.equal(answer.status, 501);
    assert.equal(answer.body.reason, 'unsupported');
    assert.match(String(answer.body.error), /^zab's membership is fixed at start/);
    const run = await ballot(['member', 'add', '4=127.0.0.1:7999', '--to', url(cluster, 2)]);
    assert.equal(run.code, 2);
    assert.match(run.err, /^ballot member add: zab's membership is fixed at start: .*\(unsupported\)\n$/);
    const view = await members(cluster, 3);
    assert.deepEqual([view.index, view.voters, view.committed], [0, [1, 2, 3], true], 'GET /members still shows the fixed configuration');
    const joined = await ballot(['node', '--join', '--id', '4', '--algorithm', 'zab', '--listen', '127.0.0.1:7999', '--peers', `1=${cluster.peerAddress(1)}`, '--data-dir', join(dataDir, 'n4')]);
    assert.equal(joined.code, 2);
    assert.match(joined.err, /^ballot node: join: zab's membership is fixed at start/);
  } finally {
    await close();
  }
});

test('quorum loss: two of three nodes lost for good, the third recovered as the sole voter, serves writes and takes a new member', { timeout: 240_000 }, async () => {
  const { cluster, close, dataDir } = await testCluster({ name: 'member-recover', algorithm: 'raft', voters: 3, joiners: 1, logs: true, advertiseUrls: true });
  try {
    cluster.startAll();
    await cluster.agreed('three nodes to agree on a leader', (all) => all.length === 3, 60_000);
    for (let i = 0; i < 5; i++) assert.equal((await callLeader(cluster, 'PUT', `/kv/k${i}`, `v${i}`, 60_000, [1, 2, 3])).status, 200);
    // Nodes 2 and 3 are lost for good; node 1 is stopped for the recovery.
    await Promise.all([cluster.kill(2), cluster.kill(3)]);
    await cluster.kill(1, 'SIGTERM');
    const dir = join(dataDir, 'n1');
    const refused = await ballot(['member', 'recover', '--data-dir', dir, '--id', '1', '--address', cluster.peerAddress(1)]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /^ballot member: refusing without --yes-i-know: this makes node 1 the only voter of a new cluster; entries only the lost members held are lost/);
    const recovered = await ballot(['member', 'recover', '--data-dir', dir, '--id', '1', '--address', cluster.peerAddress(1), '--yes-i-know']);
    assert.equal(recovered.code, 0, recovered.err);
    assert.match(recovered.out, /^node 1 is now the only voter of a new cluster at 127\.0\.0\.1:\d+ \(term \d+, configuration at log index \d+\)/);

    // Started with its old command line (--peers 1,2,3): the configuration in its log wins.
    cluster.start(1);
    await waitFor('node 1 to elect itself', 60_000, async () => ((await cluster.status(1))?.leader === 1 ? true : undefined), 50);
    assert.equal((await callLeader(cluster, 'PUT', '/kv/after', 'recovery', 30_000, [1])).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await callLeader(cluster, 'GET', `/kv/k${i}`, undefined, 30_000, [1])).body.value, `v${i}`, 'the writes node 1 held survive');

    cluster.start(4);
    const added = await ballot(['member', 'add', `4=${cluster.peerAddress(4)}`, '--to', url(cluster, 1)]);
    assert.equal(added.code, 0, added.err);
    await waitFor('node 4 to follow node 1 in the configuration 1,4', 60_000, async () => {
      const view = await members(cluster, 4);
      return JSON.stringify(view.voters) === '[1,4]' && view.leader === 1 ? true : undefined;
    });
    const stale = await waitFor('node 4 to apply the writes', 30_000, async () => {
      const answer = await httpCall(cluster.httpPort(4), 'GET', '/kv/after?stale=1');
      return answer.status === 200 ? answer : undefined;
    });
    assert.equal(stale.body.value, 'recovery');
  } finally {
    await close();
  }
});

test('with mutual TLS: a node added later is admitted on its certificate, a removed one is refused', { timeout: 180_000 }, async () => {
  const certificates = await generateClusterCertificates([1, 2, 3, 4]);
  const { cluster, close } = await testCluster({ name: 'member-tls', algorithm: 'raft', voters: 3, joiners: 1, advertiseUrls: true, certificates });
  try {
    cluster.startAll();
    await cluster.agreed('three TLS nodes to agree on a leader', (all) => all.length === 3, 60_000);
    cluster.start(4);
    const exits = exitsOf(cluster);
    const added = await ballot(['member', 'add', `4=${cluster.peerAddress(4)}`, '--to', url(cluster, 1)]);
    assert.equal(added.code, 0, added.err);
    await waitFor('node 4 to follow the leader over TLS', 60_000, async () => {
      const view = await members(cluster, 4);
      return JSON.stringify(view.voters) === '[1,2,3,4]' && view.leader !== null ? true : undefined;
    });
    const refused = async (id: NodeId): Promise<number> => metricValue(await (await fetch(`${url(cluster, id)}/metrics`)).text(), 'ballot_frames_rejected_by_reason_total{reason="unknown-sender"}') ?? 0;
    const removed = await ballot(['member', 'remove', '4', '--to', url(cluster, 1)]);
    assert.equal(removed.code, 0, removed.err);
    // Its certificate is still valid, but it is no member: its handshakes are refused as a stranger's,
    // with the answer that tells it (authenticated: it dialed that member and verified its certificate).
    const gone = await waitFor('node 4 to learn its removal and exit', 30_000, () => exits.get(4));
    assert.equal(gone.code, REMOVED_EXIT, gone.stderr.slice(-5).join('\n'));
    assert.match(gone.stderr.join('\n'), removedLine(4));
    const refusals = await Promise.all([1, 2, 3].map((id) => refused(id)));
    assert.ok(refusals.some((count) => count > 0), `refused as unknown-sender: ${refusals.join(', ')}`);
    assert.deepEqual((await members(cluster, 1)).voters, [1, 2, 3]);
  } finally {
    await close();
  }
});

test('a removed FOLLOWER learns it from a member\'s answer and exits 3; started again on its data dir, it exits 3 again', { timeout: 180_000 }, async (t) => {
  // Slow elections (as above): on a loaded 2-core machine the defaults elect now and then by themselves,
  // and the test asks whether the removed node causes one.
  const extraArgs = ['--election-timeout', '1000-2000', '--heartbeat', '100'];
  const { cluster, close } = await testCluster({ name: 'member-follower', algorithm: 'raft', voters: 3, logs: true, advertiseUrls: true, extraArgs });
  const exits = exitsOf(cluster);
  try {
    cluster.startAll();
    const leader = (await cluster.agreed('three nodes to agree on a leader', (all) => all.length === 3, 60_000))[0]!.leader!;
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const staying = [1, 2, 3].filter((id) => id !== follower);
    assert.equal((await callLeader(cluster, 'PUT', '/kv/before', 'removal', 30_000, [1, 2, 3])).status, 200);
    const view = await members(cluster, follower);
    assert.deepEqual([view.voters, view.member], [[1, 2, 3], 'voter']);
    assert.equal((await cluster.status(follower))?.role, 'follower', 'a follower when removed');

    const asked = performance.now();
    const removed = await ballot(['member', 'remove', String(follower), '--to', url(cluster, leader)]);
    assert.equal(removed.code, 0, `ballot member remove: ${removed.err}`);
    const answered = performance.now();
    const index = Number(/configuration index (\d+)/.exec(removed.out)?.[1]);
    // The leader stopped replicating to it when it appended the entry: no entry tells it. The members'
    // not-a-member answer does, within a redial of the link they cut (a few hundred ms when idle; the
    // bound is for a loaded 2-core machine).
    const gone = await waitFor(`node ${follower} to learn its removal and exit`, 30_000, () => exits.get(follower));
    t.diagnostic(`removed follower ${follower} exited ${Math.round(gone.at - asked)} ms after \`ballot member remove\` started (it answered after ${Math.round(answered - asked)} ms)`);
    assert.equal(gone.code, REMOVED_EXIT, gone.stderr.slice(-5).join('\n'));
    const line = gone.stderr.find((text) => text.includes('"event":"removed-from-cluster"'));
    assert.ok(line !== undefined, gone.stderr.slice(-5).join('\n'));
    const logged = JSON.parse(line) as { index: number; by: number };
    assert.ok(logged.index >= index && staying.includes(logged.by), line);
    assert.match(gone.stderr.join('\n'), removedLine(follower));

    // The rest go on, and write.
    assert.equal((await callLeader(cluster, 'PUT', '/kv/after', 'removal', 30_000, staying)).status, 200);
    for (const id of staying) assert.deepEqual((await members(cluster, id)).voters, staying);
    const settled = await waitFor('the two to agree', 30_000, async () => {
      const views = await Promise.all(staying.map((id) => cluster.status(id)));
      return views.every((view) => view !== null && view.leader !== null && view.leader === views[0]!.leader && view.term === views[0]!.term) ? views[0]! : undefined;
    });

    // Started again with its usual command line and data dir (a supervisor's restart): its log still
    // names it (the entry never reached it), and the members tell it again.
    exits.delete(follower);
    cluster.start(follower);
    const again = await waitFor(`node ${follower}, restarted, to exit again`, 30_000, () => exits.get(follower));
    assert.equal(again.code, REMOVED_EXIT, again.stderr.slice(-5).join('\n'));
    const after = await Promise.all(staying.map((id) => cluster.status(id)));
    assert.ok(after.every((view) => view !== null && view.leader === settled.leader && view.term === settled.term), `the removed node disturbed no one: ${JSON.stringify(after)}`);
  } finally {
    await close();
  }
});
