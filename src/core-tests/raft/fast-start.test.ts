/**
 * Raft's fast start (RaftOptions.fastStart; docs/algorithms/raft.md, "Fast start") as transcripts: a
 * node of durable term 0 keeps no quiet period (it has never acknowledged anyone), and a fresh follower
 * connected to a quorum ('peer-up' inputs) campaigns within T_max − T_min instead of a full timeout.
 * Off, the core is the one the simulator runs. The simulator sweeps its safety (src/sim/fast-start.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRaft, defaultRaftOptions, raft, raftOptionsOfVariant, realNodeRaftOptions, RaftNode, type RaftOptions } from '../../core/raft/index.js';
import type { RaftDurable, RaftMessage } from '../../core/raft/messages.js';
import type { NodeConfig, Random } from '../../core/types.js';

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
const fast: RaftOptions = { ...defaultRaftOptions, fastStart: true };
/** Every draw is 0.5: a full timeout is 225 ms, an early one 75 ms. */
const half: Random = { next: () => 0.5 };

function config(id: number, voters = [1, 2, 3, 4, 5], observers: number[] = []): NodeConfig {
  return { id, voters, observers, timing };
}

function node(options: RaftOptions, durable: Partial<RaftDurable> = {}, now = 0, nodeConfig = config(1)): RaftNode {
  return new RaftNode(nodeConfig, { ...raft.initialDurable(0), ...durable }, half, now, options);
}

const answers = (n: RaftNode) => n.takeOutput().messages.map((m) => m.message as RaftMessage);
const peerUp = (n: RaftNode, now: number, ...peers: number[]) => peers.forEach((peer) => n.step(now, { type: 'peer-up', peer }));

describe('raft fast start: no quiet period for a node that never acknowledged anyone', () => {
  test('off (the simulator): a fresh node refuses pre-votes and votes for T_min after it starts', () => {
    const n = node(defaultRaftOptions);
    n.receive(10, 2, { type: 'PreVote', term: 1, lastLogIndex: 0, lastLogTerm: 0 });
    n.receive(11, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(answers(n), [{ type: 'PreVoteResponse', term: 0, voteGranted: false }], 'the RequestVote is dropped whole (it hears "a leader")');
  });

  test('on: a node of term 0 grants a pre-vote and a vote at once, promising nothing (promiseMs 0)', () => {
    const n = node(fast);
    n.receive(10, 2, { type: 'PreVote', term: 1, lastLogIndex: 0, lastLogTerm: 0 });
    n.receive(11, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(answers(n), [
      { type: 'PreVoteResponse', term: 1, voteGranted: true },
      { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 },
    ]);
  });

  test('on: a node that has adopted a term keeps its quiet period (a lease may rest on it)', () => {
    const n = node(fast, { currentTerm: 1 });
    n.receive(10, 2, { type: 'PreVote', term: 2, lastLogIndex: 0, lastLogTerm: 0 });
    assert.deepEqual(answers(n), [{ type: 'PreVoteResponse', term: 1, voteGranted: false }]);
    n.receive(150, 2, { type: 'PreVote', term: 2, lastLogIndex: 0, lastLogTerm: 0 });
    assert.deepEqual(answers(n), [{ type: 'PreVoteResponse', term: 2, voteGranted: true }], 'T_min after its start');
  });

  test('on: acknowledging a heartbeat persists a term ≥ 1 before the answer leaves (what the argument rests on)', () => {
    const n = node(fast);
    n.receive(5, 2, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    const out = n.takeOutput();
    assert.equal((out.persist as RaftDurable | null)?.currentTerm, 1);
    assert.deepEqual(out.messages.map((m) => m.message), [{ type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 0 }]);
  });
});

describe('raft fast start: campaigning early once a quorum is connected', () => {
  test('off: peer-up inputs change nothing', () => {
    const n = node(defaultRaftOptions);
    assert.equal(n.nextDeadline(), 225);
    peerUp(n, 20, 2, 3, 4, 5);
    assert.equal(n.nextDeadline(), 225);
  });

  test('on: connected to a quorum (itself and 2 of 4 peers), the deadline moves to now + uniform [0, T_max − T_min)', () => {
    const n = node(fast);
    assert.equal(n.nextDeadline(), 225, 'a full timeout until then');
    peerUp(n, 20, 2);
    assert.equal(n.nextDeadline(), 225, 'two of five are no quorum');
    peerUp(n, 30, 2, 6); // a repeated peer and a stranger count once and not at all
    assert.equal(n.nextDeadline(), 225);
    peerUp(n, 40, 3);
    assert.equal(n.nextDeadline(), 40 + 75);
    n.tick(115);
    assert.equal(n.status().role, 'candidate', 'from term 0 it asks for votes at once, without pre-votes (skipsPreVote)');
    const out = n.takeOutput();
    assert.equal((out.persist as RaftDurable | null)?.currentTerm, 1, 'its term and own vote are durable before the request leaves');
    assert.equal((out.persist as RaftDurable | null)?.votedFor, 1);
    assert.deepEqual(out.messages[0]?.message, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  });

  test('on: only the first campaign from term 0 skips the pre-vote; a split vote in term 1 is retried with pre-votes (thesis §9.6)', () => {
    const n = node(fast);
    peerUp(n, 0, 2, 3);
    n.tick(75);
    assert.equal(n.status().role, 'candidate');
    answers(n);
    n.tick(75 + 225); // no majority answered: the election timed out
    assert.equal(n.status().role, 'precandidate');
    assert.deepEqual(answers(n)[0], { type: 'PreVote', term: 2, lastLogIndex: 0, lastLogTerm: 0 });
  });

  test('off: a fresh node times out into a pre-vote as before', () => {
    const n = node(defaultRaftOptions);
    n.tick(225);
    assert.equal(n.status().role, 'precandidate');
    assert.deepEqual(answers(n)[0], { type: 'PreVote', term: 1, lastLogIndex: 0, lastLogTerm: 0 });
  });

  test('on: only once, and never earlier than the deadline it had', () => {
    const n = node(fast, {}, 0);
    peerUp(n, 200, 2, 3);
    assert.equal(n.nextDeadline(), 225, '200 + 75 is later than the full timeout');
    peerUp(n, 210, 4, 5);
    assert.equal(n.nextDeadline(), 225);
  });

  test('on: a closed connection uncounts its peer', () => {
    const n = node(fast);
    peerUp(n, 10, 2);
    n.step(12, { type: 'peer-down', peer: 2 });
    peerUp(n, 14, 3);
    assert.equal(n.nextDeadline(), 225, 'only 3 is connected');
    peerUp(n, 16, 4);
    assert.equal(n.nextDeadline(), 16 + 75);
  });

  test('on: not for a node that has adopted a term, knows a leader, or is a learner', () => {
    const restarted = node(fast, { currentTerm: 3 });
    peerUp(restarted, 10, 2, 3, 4, 5);
    assert.equal(restarted.nextDeadline(), 225);
    const follower = node(fast);
    follower.receive(5, 2, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    peerUp(follower, 10, 2, 3, 4, 5);
    assert.equal(follower.nextDeadline(), 5 + 225, 'the heartbeat reset the timer; connections do not');
    const learner = node(fast, {}, 0, config(6, [1, 2, 3], [6]));
    peerUp(learner, 10, 1, 2, 3);
    assert.equal(learner.nextDeadline(), Infinity);
  });

  test('on: a lone voter is its own quorum and campaigns at once', () => {
    const n = node(fast, {}, 0, config(1, [1]));
    assert.equal(n.nextDeadline(), 0);
    n.tick(0);
    assert.deepEqual(n.status(), { id: 1, role: 'leader', leader: 1, term: 1, lease: true });
  });
});

test('the option is a variant: named in a record, read back for replay; real nodes run it, the registry does not', () => {
  assert.equal(raft.variant, undefined);
  assert.equal(createRaft(fast).variant, 'fast-start on');
  assert.deepEqual(raftOptionsOfVariant('fast-start on'), fast);
  assert.deepEqual(raftOptionsOfVariant('pre-vote off, fast-start on'), { ...fast, preVote: false });
  assert.equal(realNodeRaftOptions.fastStart, true);
  assert.equal(defaultRaftOptions.fastStart, undefined);
});
