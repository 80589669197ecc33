/**
 * Raft leadership transfer (Ongaro's thesis §3.10; etcd's MsgTimeoutNow and campaignTransfer) as
 * transcripts, with the lease rules that keep leases from overlapping (docs/algorithms/raft.md,
 * "Leadership transfer"). The simulator sweeps it with lease-safety (src/sim/transfer.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeConfig, Random } from '../../core/types.js';
import { raft, RaftNode } from '../../core/raft/index.js';
import type { RaftMessage } from '../../core/raft/messages.js';

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
const fixed = (fraction: number): Random => ({ next: () => fraction });

function config(id: number, voters = [1, 2, 3]): NodeConfig {
  return { id, voters, observers: [], timing };
}

function node(id: number, now = 0): RaftNode {
  return new RaftNode(config(id), raft.initialDurable(0), fixed(0), now);
}

const messages = (n: RaftNode, type?: RaftMessage['type']) => n.takeOutput().messages.filter((m) => type === undefined || m.message.type === type);

/** Node 1 leads term 1, and both followers acknowledged its first heartbeat (round 1): it holds its lease. */
function leader(): RaftNode {
  const n = node(1);
  n.tick(150);
  n.receive(151, 2, { type: 'PreVoteResponse', term: 1, voteGranted: true });
  n.receive(152, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.equal(n.status().role, 'leader');
  n.receive(153, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
  n.receive(153, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
  assert.equal(n.status().lease, true);
  n.takeOutput();
  return n;
}

/** Node `id`, a follower of leader 1 in term 1 that acknowledged its heartbeats up to `round`, at time 200. */
function follower(id: number, round = 1): RaftNode {
  const n = node(id);
  for (let r = 1; r <= round; r++) n.receive(150 + r, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: r });
  n.takeOutput();
  return n;
}

describe('raft leadership transfer (thesis §3.10)', () => {
  test('the leader gives up its lease at once and sends TimeoutNow with its last round to the target', () => {
    const n = leader();
    n.step(160, { type: 'transfer-leadership', to: 3 });
    const out = n.takeOutput();
    assert.equal(n.status().lease, false, 'the lease is dropped in the same step that sends TimeoutNow');
    assert.equal(n.status().role, 'leader', 'it still leads until the target wins');
    assert.deepEqual(out.messages, [{ to: 3, message: { type: 'TimeoutNow', term: 1, round: 1 } }]);
    assert.deepEqual(out.events, [{ type: 'transfer-started', term: 1, to: 3, deadline: 160 + 150 }]);
  });

  test('without a target it picks the voter that acknowledged the newest round', () => {
    const n = leader();
    n.tick(203); // round 2
    n.receive(204, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 2, matchIndex: 1 });
    n.takeOutput();
    n.step(205, { type: 'transfer-leadership', to: null });
    assert.deepEqual(messages(n, 'TimeoutNow').map((m) => m.to), [3]);
  });

  test('during the transfer heartbeats repeat the given-up round, and their acknowledgements bring no lease back', () => {
    const n = leader();
    n.step(160, { type: 'transfer-leadership', to: 2 });
    n.takeOutput();
    n.tick(203);
    assert.deepEqual(
      messages(n, 'AppendEntries').map((m) => m.message),
      [2, 3].map(() => ({ type: 'AppendEntries', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 1, round: 1 })),
    );
    n.receive(204, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    n.receive(204, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, false);
  });

  test('a transfer not done within the minimum election timeout is abandoned; a lease rests only on later rounds', () => {
    const n = leader();
    n.step(160, { type: 'transfer-leadership', to: 2 });
    n.takeOutput();
    // The old lease would have ended at 152 + 135.7: CheckQuorum waits for the transfer's end instead.
    for (const at of [200, 250, 300]) n.tick(at);
    assert.equal(n.status().role, 'leader');
    n.takeOutput();
    assert.equal(n.nextDeadline(), 310);
    n.tick(310);
    const out = n.takeOutput();
    assert.equal(n.status().role, 'leader');
    assert.deepEqual(out.events[0], { type: 'transfer-abandoned', term: 1, to: 2 });
    const round = out.messages.find((m) => m.message.type === 'AppendEntries')!.message as { round: number };
    assert.equal(round.round, 2, 'a new round after the given-up one');
    n.receive(311, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, false, 'the given-up round counts no more');
    n.receive(311, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 2, matchIndex: 1 });
    assert.equal(n.status().lease, true);
    // Without a new quorum round it steps down one lease after resuming.
    const lonely = leader();
    lonely.step(160, { type: 'transfer-leadership', to: 2 });
    lonely.tick(310);
    lonely.tick(310 + 136);
    assert.equal(lonely.status().role, 'follower');
  });

  test('a leader that is not leading, or is asked to hand over to itself or a non-member, ignores the request', () => {
    const f = follower(2);
    f.step(200, { type: 'transfer-leadership', to: 3 });
    assert.deepEqual(f.takeOutput().messages, []);
    for (const to of [1, 9]) {
      const n = leader();
      n.step(160, { type: 'transfer-leadership', to });
      assert.deepEqual(n.takeOutput().messages, []);
      assert.equal(n.status().lease, true);
    }
  });

  test('the target campaigns at once on TimeoutNow: no PreVote, a RequestVote of term + 1 that names the transfer', () => {
    const t = follower(2, 3);
    t.receive(200, 1, { type: 'TimeoutNow', term: 1, round: 3 });
    const out = t.takeOutput();
    assert.equal(t.status().role, 'candidate');
    assert.equal(t.status().term, 2);
    assert.deepEqual(out.events, [{ type: 'election-started', term: 2 }]);
    assert.deepEqual(
      out.messages.map((m) => m.message),
      [1, 3].map(() => ({ type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 3 })),
    );
  });

  test('a target that acknowledged a later round, or hears another leader, ignores a stale TimeoutNow', () => {
    const late = follower(2, 4);
    late.receive(200, 1, { type: 'TimeoutNow', term: 1, round: 3 });
    assert.equal(late.status().role, 'follower');
    const other = follower(2);
    other.receive(200, 3, { type: 'TimeoutNow', term: 1, round: 1 });
    assert.equal(other.status().role, 'follower');
    const staleTerm = follower(2);
    staleTerm.receive(200, 1, { type: 'TimeoutNow', term: 0, round: 1 });
    assert.equal(staleTerm.status().role, 'follower');
  });

  test('a follower hearing the leader votes for the transfer (etcd campaignTransfer); an ordinary candidate is still dropped', () => {
    const v = follower(3, 2);
    v.receive(200, 2, { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(v.takeOutput().messages, [], 'stickiness: no answer');
    assert.equal(v.status().term, 1);
    v.receive(201, 2, { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 2 });
    assert.deepEqual(messages(v), [{ to: 2, message: { type: 'RequestVoteResponse', term: 2, voteGranted: true, promiseMs: 0 } }]);
  });

  test('a follower that acknowledged a round after the transfer\'s refuses it whole (a lease may rest on that round)', () => {
    const v = follower(3, 3);
    v.receive(200, 2, { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 2 });
    assert.deepEqual(v.takeOutput().messages, []);
    assert.equal(v.status().term, 1);
    assert.equal(v.status().leader, 1);
  });

  test('a transfer vote reports promises to leaders of earlier terms (promiseMs), not the one to the handing-over leader', () => {
    // Started at 100: the restart's quiet period (it may have acknowledged a lease before) runs to 250.
    const v = node(3, 100);
    v.receive(151, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    v.takeOutput();
    v.receive(200, 2, { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 1 });
    assert.deepEqual(messages(v).map((m) => m.message), [{ type: 'RequestVoteResponse', term: 2, voteGranted: true, promiseMs: 50 }]);
  });

  test('the handing-over leader votes for its target and follows it; once it sent a later round it refuses', () => {
    const n = leader();
    n.step(160, { type: 'transfer-leadership', to: 2 });
    n.takeOutput();
    n.receive(165, 2, { type: 'RequestVote', term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: 1 }); // the target holds the leader's no-op
    assert.equal(n.status().role, 'follower');
    assert.equal(n.status().term, 2);
    assert.deepEqual(messages(n, 'RequestVoteResponse').map((m) => (m.message as { voteGranted: boolean }).voteGranted), [true]);

    const resumed = leader();
    resumed.tick(203); // round 2
    resumed.takeOutput();
    resumed.receive(205, 2, { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: 1 });
    assert.equal(resumed.status().role, 'leader');
    assert.deepEqual(resumed.takeOutput().messages, []);
  });

  test('end to end in three nodes: the target leads term 2 with votes answered in one round trip', () => {
    const [l, a, b] = [leader(), follower(2), follower(3)];
    l.step(160, { type: 'transfer-leadership', to: 2 });
    const timeoutNow = messages(l)[0]!;
    a.receive(161, 1, timeoutNow.message);
    for (const { to, message } of messages(a)) {
      const voter = to === 1 ? l : b;
      voter.receive(162, 2, message);
      for (const answer of messages(voter, 'RequestVoteResponse')) a.receive(163, to, answer.message);
    }
    assert.deepEqual([l, a, b].map((n) => n.status().term), [2, 2, 2]);
    assert.equal(a.status().role, 'leader');
    assert.equal(l.status().role, 'follower');
  });
});
