/**
 * Preferred leader (issue 13, item 4) on three real `ballot node` processes over TCP on 127.0.0.1,
 * node 3 started with --priority 1: leadership reaches node 3 by one transfer (never by node 3
 * disrupting a term), stays there, moves to another node when node 3 is killed (kill -9), and comes
 * back to node 3 by one transfer when it is started again. The terms count the elections: every hand
 * over costs exactly one term, so no election happened that the policy did not ask for. Timing is slow
 * (election timeout 1-2 s) so that a loaded machine's stalls do not depose anyone; the test asserts
 * who and which term, not how fast. After membership changes the policy goes by the voters in force: a
 * node started with --join and --priority leads once it has been added and promoted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeId } from '../core/types.js';
import type { NodeStatus } from './local-cluster.js';
import { httpCall, testCluster } from './test-cluster.js';
import { sleep, waitFor } from './testing.js';

const slow = ['--election-timeout', '1000-2000', '--heartbeat', '100', '--log', 'info'];
const PREFERRED = 3;

/** The log lines of `event` that member `id` wrote, parsed. */
function logged(logDir: string, id: NodeId, event: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(join(logDir, `node-${id}.log`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.includes(`"${event}"`)).map((line) => JSON.parse(line) as Record<string, unknown>);
}

const describe = (statuses: readonly NodeStatus[]): string => statuses.map((s) => `${s.id}→${s.leader}@${s.term}`).join(' ');

test('raft processes: leadership goes to the node of higher priority by one transfer, and returns to it by one transfer after it restarts', { timeout: 180_000 }, async () => {
  const { cluster, dataDir: logDir, close } = await testCluster({
    name: 'priority',
    algorithm: 'raft',
    voters: 3,
    logs: true,
    extraArgs: slow,
    memberArgs: (id) => (id === PREFERRED ? ['--priority', '1'] : []),
  });
  try {
    cluster.startAll();
    const first = await cluster.agreed('a first leader', () => true, 60_000);
    const { leader: firstLeader, term: firstTerm } = first[0]!;
    const settled = await cluster.agreed(`node ${PREFERRED} leads`, (s) => s[0]!.leader === PREFERRED, 60_000);
    if (firstLeader !== PREFERRED) {
      // Exactly one new term: the transfer's election, which node 3 won at once (no split vote, no
      // disruption by node 3 campaigning on its own).
      assert.equal(settled[0]!.term, firstTerm + 1, `one transfer from node ${firstLeader} (term ${firstTerm}): ${describe(settled)}`);
      const asked = logged(logDir, firstLeader!, 'preferred-leader');
      assert.ok(asked.some((line) => line.to === PREFERRED), `node ${firstLeader} handed over on purpose: ${JSON.stringify(asked)}`);
    }
    // No flapping: node 3 keeps leading in the same term (the leader of the highest priority never hands over).
    await sleep(3000);
    const steady = await cluster.agreed('still node 3', () => true, 30_000);
    assert.equal(steady[0]!.leader, PREFERRED, describe(steady));
    assert.equal(steady[0]!.term, settled[0]!.term, `no election since: ${describe(steady)}`);

    // kill -9 the preferred node: another one leads.
    await cluster.kill(PREFERRED, 'SIGKILL');
    const without = await cluster.agreed('the survivors agree on a new leader', (s) => s[0]!.leader !== PREFERRED, 60_000);
    const { leader: interim, term: interimTerm } = without[0]!;

    // Start it again: leadership returns to it by exactly one transfer.
    cluster.start(PREFERRED);
    const back = await cluster.agreed(`node ${PREFERRED} leads again`, (s) => s.length === 3 && s[0]!.leader === PREFERRED, 90_000);
    assert.equal(back[0]!.term, interimTerm + 1, `one transfer from node ${interim} (term ${interimTerm}): ${describe(back)}`);
    const handedBack = logged(logDir, interim!, 'preferred-leader').filter((line) => line.term === interimTerm);
    assert.deepEqual(handedBack.map((line) => line.to), [PREFERRED], `node ${interim} handed over once, to node ${PREFERRED}`);
    const transfers = logged(logDir, interim!, 'transfer-started').filter((line) => line.term === interimTerm);
    assert.equal(transfers.length, 1, `one transfer in term ${interimTerm}: ${JSON.stringify(transfers)}`);
  } finally {
    await close(3000);
  }
});

test('raft processes: a node added with --priority, once promoted to voter, gets the leadership by one transfer', { timeout: 180_000 }, async () => {
  const JOINER = 4;
  const { cluster, close } = await testCluster({
    name: 'priority-join',
    algorithm: 'raft',
    voters: 3,
    joiners: 1,
    extraArgs: slow,
    memberArgs: (id) => (id === JOINER ? ['--priority', '5'] : []),
  });
  try {
    cluster.startAll();
    cluster.start(JOINER);
    // Node 4 knows no leader until it is added: the three voters' agreement is what counts.
    const voters = async (): Promise<NodeStatus[] | undefined> => {
      const views = await Promise.all([1, 2, 3].map((id) => cluster.status(id)));
      const leader = views[0]?.leader ?? null;
      return leader !== null && views.every((view) => view !== null && view.leader === leader && view.term === views[0]!.term) ? (views as NodeStatus[]) : undefined;
    };
    const agreed = await waitFor('the three voters agree on a leader', 60_000, voters, 50);
    const { leader: firstLeader, term: firstTerm } = agreed[0]!;
    const standing = async (): Promise<unknown> => (await httpCall(cluster.httpPort(JOINER), 'GET', '/status')).body.member;
    assert.equal(await standing(), 'joining');

    const added = await httpCall(cluster.httpPort(firstLeader!), 'POST', '/members', JSON.stringify({ action: 'add', id: JOINER, address: cluster.peerAddress(JOINER) }));
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const moved = await cluster.agreed(`node ${JOINER}, promoted, leads`, (s) => s.length === 4 && s[0]!.leader === JOINER, 90_000);
    assert.equal(moved[0]!.term, firstTerm + 1, `one transfer from node ${firstLeader} (term ${firstTerm}): ${describe(moved)}`);
    assert.equal(await standing(), 'voter');
  } finally {
    await close(3000);
  }
});
