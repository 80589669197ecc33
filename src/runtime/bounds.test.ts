/**
 * Bounds end to end, on real `ballot node` processes over TCP on 127.0.0.1 (src/core/bounds.ts): an
 * outsider that completes a member's handshake sends frames with the largest term, epoch or generation
 * the edge accepts, and with 2^53 − 1, which it refuses. The cluster must go on electing, and every
 * member must survive kill -9 and a restart with the same arguments (before the bounds, one such frame
 * left Raft candidates forever and made state.json unreadable, exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_EPOCH, MAX_EPOCH_STEP, MAX_TERM, MAX_TERM_STEP } from '../core/bounds.js';
import type { NodeId } from '../core/types.js';
import { algorithms } from '../core/algorithms.js';
import type { LocalCluster, MemberExit } from './local-cluster.js';
import { testCluster } from './test-cluster.js';
import { jsonLogger } from './log.js';
import { startNode } from './node.js';
import { DurableStore } from './storage.js';
import { PROTOCOL_VERSION } from './schema.js';
import { frame, freePorts, metricValue, rawConnection, sleep } from './testing.js';

const HUGE = Number.MAX_SAFE_INTEGER; // 2^53 − 1: valid JSON, refused at the edge

interface Trio {
  readonly cluster: LocalCluster;
  readonly peerPorts: readonly number[];
  readonly exits: MemberExit[];
  close(): Promise<void>;
}

async function startTrio(algorithm: string): Promise<Trio> {
  const { cluster, peerPorts, close } = await testCluster({ name: `bounds-${algorithm}`, algorithm, voters: 3 });
  const exits: MemberExit[] = [];
  cluster.onExit((exit) => exits.push(exit));
  cluster.startAll();
  return {
    cluster,
    peerPorts,
    exits,
    close: () => close(3000),
  };
}

/** The leader every running member names, once they all agree and it says so itself. */
async function agreedLeader(cluster: LocalCluster, what: string, timeoutMs = 30_000): Promise<{ leader: NodeId; terms: number[] }> {
  const statuses = await cluster.agreed(what, undefined, timeoutMs);
  return { leader: statuses[0]!.leader!, terms: statuses.map((s) => s.term) };
}

/**
 * Forges frames in the name of a follower (frames it never sent: a bug, or an outsider who knows the
 * cluster id) to the two other members, each message over its own connection (a bad frame closes it),
 * and waits until they have had time to read them; returns the two receivers. While a member's real
 * link is up, the transport lets no second connection in its name deliver anything (admission,
 * docs/runtime.md), so the forger speaks for a member that is down: the follower is killed first and
 * started again afterwards.
 */
async function forge(trio: Trio, algorithm: string, leader: NodeId, messages: readonly object[]): Promise<NodeId[]> {
  const from = [1, 2, 3].find((id) => id !== leader)!;
  const receivers = [1, 2, 3].filter((id) => id !== from);
  await trio.cluster.kill(from);
  // One connection at a time: a second connection in the same name would wait as a candidate while
  // the first is open (admission), so each is closed before the next one speaks.
  for (const message of messages) {
    const sockets = [];
    for (const to of receivers) {
      const socket = await rawConnection(trio.peerPorts[to - 1]!);
      socket.on('error', () => {});
      socket.write(Buffer.concat([frame({ ballot: PROTOCOL_VERSION, cluster: 'ballot', algorithm, from, to }), frame(message)]));
      sockets.push(socket);
    }
    await sleep(150);
    for (const socket of sockets) socket.destroy();
  }
  trio.cluster.start(from);
  return receivers;
}

async function metrics(trio: Trio, id: NodeId): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${trio.cluster.httpPort(id)}/metrics`);
  return response.text();
}

/** kill -9 of the leader, a new leader; then kill -9 of everyone, a restart with the same arguments, a leader. */
async function crashAndRestart(trio: Trio, leader: NodeId): Promise<void> {
  const { cluster } = trio;
  await cluster.kill(leader);
  await agreedLeader(cluster, 'a new leader after kill -9 of the leader');
  cluster.start(leader);
  for (const id of cluster.members) await cluster.kill(id);
  cluster.startAll();
  await agreedLeader(cluster, 'a leader after every member restarted');
  const failed = trio.exits.filter((exit) => exit.signal !== 'SIGKILL');
  assert.deepEqual(failed, [], 'no member exited by itself (e.g. exit 2, "state.json is corrupt")');
  assert.equal(cluster.running().length, 3, 'every member restarted');
}

// Generous: three processes start, and restart twice, on what may be a loaded 2-core machine.
const options = { timeout: 180_000 };

test('raft over TCP: RequestVote/AppendEntries of term 2^53−1 and of MAX_TERM leave the cluster electing and restartable', options, async () => {
  const trio = await startTrio('raft');
  try {
    const first = await agreedLeader(trio.cluster, 'a first leader');
    const receivers = await forge(trio, 'raft', first.leader, [
      { type: 'RequestVote', term: HUGE, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 },
      { type: 'RequestVote', term: MAX_TERM, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 },
      { type: 'AppendEntries', term: MAX_TERM, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 0 },
    ]);
    for (const id of receivers) {
      const text = await metrics(trio, id);
      assert.ok((metricValue(text, 'ballot_frames_rejected_by_reason_total{reason="bad-message"}') ?? 0) >= 1, `node ${id} refused term 2^53−1 at the edge`);
      assert.ok((metricValue(text, 'ballot_messages_ignored_total{counter="term"}') ?? 0) >= 1, `node ${id} ignored term MAX_TERM in its core`);
    }
    const { leader, terms } = await agreedLeader(trio.cluster, 'a leader after the forged frames');
    for (const term of terms) assert.ok(term < MAX_TERM_STEP, `terms stay sane (${terms.join(', ')})`);
    await crashAndRestart(trio, leader);
  } finally {
    await trio.close();
  }
});

test('zab over TCP: rounds of 2^53−1 and MAX_TERM, epochs of MAX_EPOCH and above, leave the ensemble electing and restartable', options, async () => {
  const trio = await startTrio('zab');
  try {
    const first = await agreedLeader(trio.cluster, 'a first leader');
    const receivers = await forge(trio, 'zab', first.leader, [
      { type: 'Notification', leader: 3, zxid: 0, electionEpoch: HUGE, peerEpoch: 0, state: 'looking' },
      { type: 'Notification', leader: 3, zxid: 0, electionEpoch: MAX_TERM, peerEpoch: 0, state: 'looking' },
      { type: 'Notification', leader: 3, zxid: 0, electionEpoch: 1, peerEpoch: MAX_EPOCH, state: 'leading' },
      { type: 'FollowerInfo', acceptedEpoch: MAX_EPOCH },
      { type: 'FollowerInfo', acceptedEpoch: MAX_EPOCH + 1 },
      { type: 'LeaderInfo', epoch: MAX_EPOCH },
    ]);
    for (const id of receivers) {
      const text = await metrics(trio, id);
      assert.ok((metricValue(text, 'ballot_frames_rejected_by_reason_total{reason="bad-message"}') ?? 0) >= 2, `node ${id} refused round 2^53−1 and epoch 2^21 at the edge`);
      assert.ok((metricValue(text, 'ballot_messages_ignored_total{counter="round"}') ?? 0) >= 1, `node ${id} ignored round MAX_TERM`);
      assert.ok((metricValue(text, 'ballot_messages_ignored_total{counter="epoch"}') ?? 0) >= 1, `node ${id} ignored epoch MAX_EPOCH`);
    }
    const { leader } = await agreedLeader(trio.cluster, 'a leader after the forged frames');
    await crashAndRestart(trio, leader);
    const { terms } = await agreedLeader(trio.cluster, 'the final leader');
    for (const epoch of terms) assert.ok(epoch < MAX_EPOCH_STEP, `epochs stay sane (${terms.join(', ')})`);
  } finally {
    await trio.close();
  }
});

test('bully over TCP: forged Victory frames never leave two leaders, nor two reigns with one generation', options, async () => {
  const trio = await startTrio('bully');
  try {
    const first = await agreedLeader(trio.cluster, 'a first leader');
    // Before the bounds, three Victory frames of 2^53 − 1 made all three members leader at once, two
    // of them with the same generation (2^53 + k rounds to the same float).
    const receivers = await forge(trio, 'bully', first.leader, [{ type: 'Victory', generation: HUGE }, { type: 'Victory', generation: MAX_TERM }]);
    const second = await agreedLeader(trio.cluster, 'a leader after the first forged frames');
    // A believable jump is followed: the generations move up, and must stay distinct per reign. Half the
    // step, so that the member killed for the forgery, which restarts at its old generation, still finds
    // the others believable (a member down while the cluster moved more than the step cannot rejoin:
    // docs/runtime.md, Bounds).
    await forge(trio, 'bully', second.leader, [{ type: 'Victory', generation: Math.max(...second.terms) + MAX_TERM_STEP / 2 }]);
    const { leader, terms } = await agreedLeader(trio.cluster, 'one leader after the forged frames');
    const statuses = [...(await trio.cluster.statuses()).values()];
    assert.deepEqual(statuses.filter((s) => s !== null && s.leader === s.id).map((s) => s!.id), [leader], 'exactly one member believes it leads');
    for (const term of terms) assert.ok(term <= MAX_TERM && Number.isSafeInteger(term), `generations stay exact (${terms.join(', ')})`);
    for (const id of receivers) {
      const text = await metrics(trio, id);
      assert.ok((metricValue(text, 'ballot_messages_ignored_total{counter="generation"}') ?? 0) >= 1, `node ${id} ignored generation MAX_TERM`);
    }
    await crashAndRestart(trio, leader);
  } finally {
    await trio.close();
  }
});

test('a node at the term ceiling stays up, does not campaign, and says so in one log line and a gauge', { timeout: 30_000 }, async () => {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'ballot-bounds-ceiling-'));
  DurableStore.open(dir, algorithms.raft, 1).store.save({ currentTerm: MAX_TERM, votedFor: null, log: [] });
  const lines: { event: string; counter?: string; value?: number }[] = [];
  const logger = jsonLogger('info', (line) => void lines.push(JSON.parse(line) as { event: string }));
  const node = await startNode({ id: 1, algorithm: 'raft', peers: { 1: `127.0.0.1:${port!}` }, dataDir: dir, logger });
  try {
    // A one-member cluster would elect itself within 300 ms; give it several election timeouts.
    await sleep(1500);
    assert.deepEqual(node.status(), { id: 1, role: 'follower', leader: null, term: MAX_TERM, lease: false });
    const ceiling = lines.filter((line) => line.event === 'ceiling-reached');
    assert.equal(ceiling.length, 1, `one line, not one per timeout (${JSON.stringify(lines)})`);
    assert.deepEqual([ceiling[0]!.counter, ceiling[0]!.value], ['term', MAX_TERM]);
    assert.equal(metricValue(await node.metrics(), 'ballot_counter_at_ceiling{counter="term"}'), 1);
    assert.deepEqual(DurableStore.open(dir, algorithms.raft, 1).durable, { currentTerm: MAX_TERM, votedFor: null, log: [] }, 'nothing past the ceiling was written');
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
