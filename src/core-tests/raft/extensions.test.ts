/**
 * Raft's production extensions as transcripts: PreVote (Ongaro's thesis §9.6), leader stickiness and
 * CheckQuorum with a leader lease (§4.2.3, §6.4). The lease's safety argument is in
 * docs/algorithms/raft.md; the simulator sweeps it (src/sim/lease-checker.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeConfig, Random } from '../../core/types.js';
import { defaultRaftOptions, leaseDurationMs, raft, RaftNode, type RaftOptions } from '../../core/raft/index.js';
import type { RaftDurable, RaftMessage } from '../../core/raft/messages.js';

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
const fixed = (fraction: number): Random => ({ next: () => fraction });
const LEASE = leaseDurationMs(150, defaultRaftOptions.maxClockDrift);

function config(id: number, voters = [1, 2, 3, 4, 5]): NodeConfig {
  return { id, voters, observers: [], timing };
}

function node(id: number, durable: Partial<RaftDurable> = {}, now = 0, options: RaftOptions = defaultRaftOptions): RaftNode {
  return new RaftNode(config(id), { ...raft.initialDurable(0), ...durable }, fixed(0), now, options);
}

const sent = (n: RaftNode, type?: RaftMessage['type']) => n.takeOutput().messages.filter((m) => type === undefined || m.message.type === type);

/** Makes node 1 leader of term 1 at time 150 + a little (PreVote, then the vote). */
function leader(): RaftNode {
  const n = node(1);
  n.tick(150); // precandidate
  n.receive(151, 2, { type: 'PreVoteResponse', term: 1, voteGranted: true });
  n.receive(151, 3, { type: 'PreVoteResponse', term: 1, voteGranted: true });
  n.receive(152, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  n.receive(152, 3, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.equal(n.status().role, 'leader');
  n.takeOutput();
  return n;
}

describe('raft PreVote (thesis §9.6)', () => {
  test('a timed-out follower asks for pre-votes for term + 1 without changing its term or its vote', () => {
    const n = node(1, { currentTerm: 4 });
    n.takeOutput(); // what it reports at start (its configuration)
    n.tick(n.nextDeadline());
    const out = n.takeOutput();
    assert.deepEqual(n.status(), { id: 1, role: 'precandidate', leader: null, term: 4, lease: false });
    assert.equal(out.persist, null, 'nothing durable changes');
    assert.deepEqual(out.messages.map((m) => [m.to, m.message]), [2, 3, 4, 5].map((to) => [to, { type: 'PreVote', term: 5, lastLogIndex: 0, lastLogTerm: 0 }]));
    assert.equal(out.events.length, 0, 'a pre-vote round is not an election');
  });

  test('with pre-votes from a majority it becomes a candidate of term + 1; refusals do not count', () => {
    const n = node(1, { currentTerm: 4 });
    n.tick(150);
    n.takeOutput();
    n.receive(151, 2, { type: 'PreVoteResponse', term: 5, voteGranted: true });
    n.receive(151, 3, { type: 'PreVoteResponse', term: 4, voteGranted: false });
    n.receive(151, 4, { type: 'PreVoteResponse', term: 4, voteGranted: false });
    assert.equal(n.status().role, 'precandidate');
    n.receive(152, 5, { type: 'PreVoteResponse', term: 5, voteGranted: true });
    assert.equal(n.status().role, 'candidate');
    assert.equal(n.status().term, 5);
    assert.equal(sent(n, 'RequestVote').length, 4);
  });

  test('a refusal with a higher term teaches the precandidate the term', () => {
    const n = node(1, { currentTerm: 4 });
    n.tick(150);
    n.receive(151, 2, { type: 'PreVoteResponse', term: 9, voteGranted: false });
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: null, term: 9, lease: false });
  });

  test('a voter grants a pre-vote only after the minimum election timeout without a leader, and changes nothing', () => {
    const n = node(2, { currentTerm: 3 });
    n.receive(10, 1, { type: 'AppendEntries', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    n.takeOutput();
    n.receive(159, 4, { type: 'PreVote', term: 4, lastLogIndex: 0, lastLogTerm: 0 });
    assert.deepEqual(sent(n, 'PreVoteResponse')[0]?.message, { type: 'PreVoteResponse', term: 3, voteGranted: false }, 'heard its leader 149 ms ago');
    n.receive(160, 4, { type: 'PreVote', term: 4, lastLogIndex: 0, lastLogTerm: 0 });
    const out = n.takeOutput();
    assert.deepEqual(out.messages[0]?.message, { type: 'PreVoteResponse', term: 4, voteGranted: true });
    assert.equal(out.persist, null);
    assert.deepEqual(n.status(), { id: 2, role: 'follower', leader: 1, term: 3, lease: false });
  });

  test('a pre-vote is refused to a less up-to-date log (§5.4.1) and to a term not above ours', () => {
    const n = node(2, { currentTerm: 3, log: [{ term: 3 }] }, 0);
    n.receive(400, 4, { type: 'PreVote', term: 4, lastLogIndex: 1, lastLogTerm: 2 });
    n.receive(400, 5, { type: 'PreVote', term: 3, lastLogIndex: 1, lastLogTerm: 3 });
    assert.deepEqual(sent(n).map((m) => m.message), [
      { type: 'PreVoteResponse', term: 3, voteGranted: false },
      { type: 'PreVoteResponse', term: 3, voteGranted: false },
    ]);
  });
});

describe('raft leader stickiness (thesis §4.2.3, with CheckQuorum)', () => {
  test('a follower hearing its leader drops a RequestVote of a higher term whole: no answer, no new term, same leader', () => {
    const n = node(2, { currentTerm: 3 });
    n.receive(200, 1, { type: 'AppendEntries', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 7 });
    n.takeOutput();
    n.receive(250, 4, { type: 'RequestVote', term: 9, lastLogIndex: 5, lastLogTerm: 3, transfer: 0 });
    const out = n.takeOutput();
    assert.deepEqual(out.messages, []);
    assert.equal(out.persist, null);
    assert.deepEqual(n.status(), { id: 2, role: 'follower', leader: 1, term: 3, lease: false });
  });

  test('the leader drops it too', () => {
    const n = leader();
    n.receive(160, 4, { type: 'RequestVote', term: 7, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(sent(n), []);
    assert.equal(n.status().leader, 1);
    assert.equal(n.status().term, 1);
  });

  test('a node that just started grants no vote for the minimum election timeout (it may have acknowledged a lease before it crashed)', () => {
    const n = node(2, { currentTerm: 3 }, 1000);
    n.receive(1100, 4, { type: 'RequestVote', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(sent(n), []);
    n.receive(1150, 4, { type: 'RequestVote', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(sent(n)[0]?.message, { type: 'RequestVoteResponse', term: 4, voteGranted: true, promiseMs: 0 });
  });

  test('without CheckQuorum the paper\'s rule holds: the higher term is adopted (and the vote granted)', () => {
    const n = node(2, { currentTerm: 3 }, 0, { ...defaultRaftOptions, checkQuorum: false });
    n.receive(200, 1, { type: 'AppendEntries', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    n.takeOutput();
    n.receive(250, 4, { type: 'RequestVote', term: 9, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.equal(n.status().term, 9);
    assert.equal(n.status().lease, undefined, 'no lease is reported without CheckQuorum');
  });
});

describe('raft CheckQuorum and the leader lease (thesis §6.4)', () => {
  test('lease = min election timeout × (1 − ρ)/(1 + ρ)', () => {
    assert.equal(leaseDurationMs(150, 0.05), (150 * 0.95) / 1.05);
    assert.equal(leaseDurationMs(150, 0), 150);
  });

  test('a new leader holds no lease until a quorum acknowledges a heartbeat; then it runs from that heartbeat\'s send time', () => {
    const n = leader(); // heartbeat round 1 sent at 152
    assert.equal(n.status().lease, false);
    n.receive(154, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, false, 'two of five');
    n.receive(155, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, true);
    assert.equal(n.nextDeadline(), 202, 'the lease from round 1 (sent at 152) ends at 287.7');
    n.tick(202); // round 2
    n.tick(252); // round 3
    n.takeOutput();
    n.receive(260, 4, { type: 'AppendEntriesResponse', term: 1, success: true, round: 3, matchIndex: 1 });
    n.receive(261, 5, { type: 'AppendEntriesResponse', term: 1, success: true, round: 2, matchIndex: 1 });
    // Voters' highest rounds: 1:3 (itself), 2:1, 3:1, 4:3, 5:2 → the third highest is 2, sent at 202.
    assert.equal(n.nextDeadline(), 302, 'the lease now ends at 337.7, after the next heartbeat');
    n.tick(302);
    assert.equal(n.status().lease, true);
    assert.equal(n.nextDeadline(), 202 + LEASE, 'the lease ends before the next heartbeat at 352');
    n.tick(202 + LEASE);
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: null, term: 1, lease: false }, 'stepped down when the lease ended');
  });

  test('a leader cut off from every follower steps down one lease after its candidacy began', () => {
    const n = leader(); // candidacy (pre-vote round) began at 150
    for (let t = 152 + 50; t < 150 + LEASE; t += 50) n.tick(t);
    assert.equal(n.status().leader, 1);
    assert.equal(n.nextDeadline(), 150 + LEASE);
    n.tick(150 + LEASE);
    assert.equal(n.status().leader, null);
    assert.equal(n.status().role, 'follower');
  });

  test('a leader resumed after a pause steps down before it acts on any input', () => {
    const n = leader();
    n.receive(153, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    n.receive(153, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, true);
    n.takeOutput();
    n.receive(5000, 2, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 }); // long after the lease
    assert.equal(n.status().leader, null);
    assert.deepEqual(sent(n, 'AppendEntries'), [], 'no heartbeat of a leadership it no longer holds');
  });

  test('answers of another term and rounds never sent do not count', () => {
    const n = leader();
    // (A refusal of this term — a failed §5.3 log check — does count: the follower heard the leader.)
    n.receive(153, 2, { type: 'AppendEntriesResponse', term: 0, success: false, round: 1, matchIndex: 0 });
    n.receive(153, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 99, matchIndex: 1 });
    n.receive(153, 4, { type: 'AppendEntriesResponse', term: 0, success: true, round: 1, matchIndex: 1 });
    n.receive(153, 5, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
    assert.equal(n.status().lease, false);
  });
});

test('raft: a cluster of one is its own quorum and holds its lease', () => {
  const n = new RaftNode({ id: 1, voters: [1], observers: [], timing }, raft.initialDurable(0), fixed(0), 0);
  n.tick(n.nextDeadline());
  assert.deepEqual(n.status(), { id: 1, role: 'leader', leader: 1, term: 1, lease: true });
  for (let t = 200; t < 2000; t += 50) n.tick(t);
  assert.deepEqual(n.status(), { id: 1, role: 'leader', leader: 1, term: 1, lease: true }, 'it renews it at every heartbeat');
});
