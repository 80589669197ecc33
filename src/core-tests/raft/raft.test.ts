/**
 * Raft election rules, one test per rule, written as transcripts: build nodes, deliver messages by
 * hand, check what comes out. Section numbers refer to Ongaro & Ousterhout 2014. These transcripts are
 * the paper's Raft (PreVote and CheckQuorum off); extensions.test.ts has the thesis's extensions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeConfig, Random } from '../../core/types.js';
import { raft } from '../../core/raft/index.js';
import type { RaftDurable, RaftMessage } from '../../core/raft/messages.js';
import { RaftNode, defaultRaftOptions } from '../../core/raft/raft.js';
import { NodeDriver, type DriverEvent } from '../../core/driver.js';

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
/** A Random that always returns the same fraction: timeouts become predictable. */
const fixed = (fraction: number): Random => ({ next: () => fraction });
const paper = { ...defaultRaftOptions, preVote: false, checkQuorum: false };

function config(id: number, voters = [1, 2, 3, 4, 5], observers: number[] = []): NodeConfig {
  return { id, voters, observers, timing };
}

function node(id: number, durable: Partial<RaftDurable> = {}, now = 0, random = fixed(0)): RaftNode {
  return new RaftNode(config(id), { ...raft.initialDurable(0), ...durable }, random, now, paper);
}

/** Runs the node's timer to its deadline and returns what it emitted. */
function timeout(n: RaftNode) {
  n.tick(n.nextDeadline());
  return n.takeOutput();
}

/**
 * Hosts `n` in the one host loop from now on, collecting what it sends and the events the driver
 * derives: leadership is reported by the driver (from status), not by the core.
 */
function hosted(n: RaftNode) {
  const messages: { to: number; message: RaftMessage }[] = [];
  const events: DriverEvent[] = [];
  const driver = new NodeDriver<RaftMessage, RaftDurable>(n, { persist() {}, send: (to, message) => messages.push({ to, message }), publish: (e) => events.push(e) }, 0);
  return { driver, messages, events };
}

const sent = (output: { messages: readonly { to: number; message: RaftMessage }[] }, type: RaftMessage['type']) =>
  output.messages.filter((m) => m.message.type === type);

describe('raft §5.2 leader election', () => {
  test('a follower that hears nothing within its timeout becomes a candidate of the next term and asks every other voter', () => {
    const n = node(1);
    assert.equal(n.status().role, 'follower');
    assert.equal(n.nextDeadline(), 150); // fixed(0): the shortest timeout
    const out = timeout(n);
    assert.deepEqual(n.status(), { id: 1, role: 'candidate', leader: null, term: 1 });
    assert.deepEqual(out.persist, { currentTerm: 1, votedFor: 1, log: [] }, 'votes for itself, durably');
    assert.deepEqual(sent(out, 'RequestVote').map((m) => m.to), [2, 3, 4, 5]);
    assert.ok(out.events.some((e) => e.type === 'election-started' && e.term === 1));
  });

  test('the election timeout is drawn anew in [min, max] each time (split votes resolve)', () => {
    let k = 0;
    const draws = [0.1, 0.9, 0.5];
    const n = node(1, {}, 0, { next: () => draws[k++ % draws.length]! });
    assert.equal(n.nextDeadline(), 150 + 0.1 * 150);
    const first = n.nextDeadline();
    timeout(n); // candidate of term 1, new timeout drawn
    assert.equal(n.nextDeadline(), first + 150 + 0.9 * 150);
    timeout(n); // split vote: no majority, time out again → term 2
    assert.equal(n.status().term, 2);
    assert.equal(n.status().role, 'candidate');
  });

  test('a candidate with votes from a majority becomes leader and heartbeats at once', () => {
    const n = node(1);
    timeout(n);
    const { driver, messages, events } = hosted(n);
    driver.receive(160, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    assert.equal(n.status().role, 'candidate', 'two of five is not a majority');
    driver.receive(161, 3, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    assert.deepEqual(n.status(), { id: 1, role: 'leader', leader: 1, term: 1 });
    assert.deepEqual(sent({ messages }, 'AppendEntries').map((m) => m.to), [2, 3, 4, 5]);
    assert.ok(events.some((e) => e.type === 'became-leader' && e.term === 1));
    assert.equal(n.nextDeadline(), 161 + 50, 'next heartbeat one interval later');
  });

  test('refusals do not count, and votes for an older term are ignored', () => {
    const n = node(1);
    timeout(n);
    n.receive(160, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: false, promiseMs: 0 });
    n.receive(160, 3, { type: 'RequestVoteResponse', term: 1, voteGranted: false, promiseMs: 0 });
    n.receive(160, 4, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    assert.equal(n.status().role, 'candidate');
    timeout(n); // term 2
    n.receive(400, 5, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 }); // stale
    n.receive(400, 4, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 }); // stale
    assert.equal(n.status().role, 'candidate');
  });

  test('a leader of a single-node cluster elects itself', () => {
    const n = new RaftNode(config(1, [1]), raft.initialDurable(0), fixed(0), 0);
    timeout(n);
    assert.equal(n.status().role, 'leader');
  });

  test('a candidate that hears a heartbeat of its own term returns to follower and follows the sender', () => {
    const n = node(1);
    timeout(n);
    n.receive(170, 2, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: 2, term: 1 });
    assert.deepEqual(sent(n.takeOutput(), 'AppendEntriesResponse')[0]?.message, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 0 });
  });

  test('heartbeats reset the election timer', () => {
    const n = node(1);
    n.receive(100, 2, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.equal(n.nextDeadline(), 250);
    n.tick(200);
    assert.equal(n.status().role, 'follower');
  });
});

describe('raft voting: one vote per term, durable before it is granted', () => {
  test('grants the first candidate of a term and refuses a second one', () => {
    const n = node(3);
    n.receive(10, 1, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    const first = n.takeOutput();
    assert.deepEqual(first.persist, { currentTerm: 1, votedFor: 1, log: [] });
    assert.deepEqual(first.messages, [{ to: 1, message: { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 } }]);
    n.receive(11, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    const second = n.takeOutput();
    assert.equal(second.persist, null, 'nothing new to persist');
    assert.deepEqual(second.messages, [{ to: 2, message: { type: 'RequestVoteResponse', term: 1, voteGranted: false, promiseMs: 0 } }]);
  });

  test('a repeated request from the same candidate is granted again (the first answer may have been lost)', () => {
    const n = node(3);
    n.receive(10, 1, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    n.takeOutput();
    n.receive(12, 1, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.deepEqual(n.takeOutput().messages, [{ to: 1, message: { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 } }]);
  });

  test('a node restarted from its durable state does not vote twice in a term', () => {
    const before = node(3);
    before.receive(10, 1, { type: 'RequestVote', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    const durable = before.takeOutput().persist!;
    const after = new RaftNode(config(3), durable, fixed(0), 1000, paper);
    after.receive(1001, 2, { type: 'RequestVote', term: 4, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    const out = after.takeOutput();
    assert.deepEqual(out.messages[0]?.message, { type: 'RequestVoteResponse', term: 4, voteGranted: false, promiseMs: 0 });
    assert.equal(after.status().term, 4, 'the term survives the restart');
  });

  test('granting a vote resets the election timer; refusing does not', () => {
    const n = node(3);
    const deadline = n.nextDeadline();
    n.receive(100, 1, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.equal(n.nextDeadline(), 250);
    n.receive(120, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    assert.equal(n.nextDeadline(), 250);
    assert.notEqual(deadline, 250);
  });

  test('learners (non-voters) never campaign, but vote when asked (thesis §4.1; etcd TestLearnerCanVote)', () => {
    // A candidate asks only the voters of its configuration: a learner asked has been promoted by an
    // entry it may not hold yet, and the cluster may need its vote to elect anyone.
    const n = new RaftNode(config(6, [1, 2, 3, 4, 5], [6]), raft.initialDurable(0), fixed(0), 0, paper);
    assert.equal(n.status().role, 'learner');
    assert.equal(n.nextDeadline(), Infinity);
    n.receive(5, 1, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
    const out = n.takeOutput();
    assert.deepEqual(out.messages[0]?.message, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    assert.deepEqual(out.persist, { currentTerm: 1, votedFor: 1, log: [] }, 'its vote is durable like any voter\'s');
    assert.equal(n.nextDeadline(), Infinity, 'and it still never campaigns');
    n.receive(6, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.deepEqual(n.status(), { id: 6, role: 'learner', leader: 1, term: 1 });
  });
});

describe('raft §5.4.1 election restriction: only an up-to-date candidate gets a vote', () => {
  const history = (terms: number[]) => ({ currentTerm: Math.max(0, ...terms), log: terms.map((term) => ({ term })) });
  const cases: [string, number[], { lastLogIndex: number; lastLogTerm: number }, boolean][] = [
    ['longer log, same last term', [1, 1], { lastLogIndex: 3, lastLogTerm: 1 }, true],
    ['equal logs', [1, 1], { lastLogIndex: 2, lastLogTerm: 1 }, true],
    ['shorter log, same last term', [1, 1, 1], { lastLogIndex: 2, lastLogTerm: 1 }, false],
    ['shorter log but a later last term', [1, 1, 1], { lastLogIndex: 1, lastLogTerm: 2 }, true],
    ['longer log but an earlier last term', [2], { lastLogIndex: 5, lastLogTerm: 1 }, false],
    ['empty candidate log against a non-empty one', [1], { lastLogIndex: 0, lastLogTerm: 0 }, false],
  ];
  for (const [name, voterLog, candidate, granted] of cases) {
    test(`${name}: ${granted ? 'granted' : 'refused'}`, () => {
      const n = node(2, history(voterLog));
      n.receive(10, 1, { type: 'RequestVote', term: 5, ...candidate, transfer: 0 });
      const out = n.takeOutput();
      assert.deepEqual(out.messages[0]?.message, { type: 'RequestVoteResponse', term: 5, voteGranted: granted, promiseMs: 0 });
      assert.equal(n.status().term, 5, 'a refused vote still moves the voter to the higher term (§5.1)');
    });
  }
});

describe('raft §5.1 terms', () => {
  test('a leader that sees a higher term steps down and reports it', () => {
    const n = node(1);
    timeout(n);
    n.receive(160, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    n.receive(160, 3, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    n.takeOutput();
    const { driver, events } = hosted(n);
    n.receive(200, 4, { type: 'AppendEntriesResponse', term: 3, success: false, round: 1, matchIndex: 0 });
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: null, term: 3 });
    const out = n.takeOutput();
    assert.deepEqual(out.persist, { currentTerm: 3, votedFor: null, log: [{ term: 1, command: '' }] }, 'its no-op of term 1 stays');
    driver.tick(200); // the host's next step observes the new status: the leader of term 1 lost it, in term 3
    assert.ok(events.some((e) => e.type === 'lost-leadership' && e.term === 1));
    assert.ok(events.some((e) => e.type === 'leader-changed' && e.leader === null && e.term === 3));
    assert.ok(Number.isFinite(n.nextDeadline()), 'a deposed leader arms an election timer');
  });

  test('a heartbeat of a higher term makes the receiver follow its sender in that term', () => {
    const n = node(1);
    n.receive(10, 4, { type: 'AppendEntries', term: 7, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: 4, term: 7 });
  });

  test('messages of an older term are answered with the current term and change nothing', () => {
    const n = node(1, { currentTerm: 5 });
    n.receive(10, 2, { type: 'AppendEntries', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.deepEqual(n.takeOutput().messages, [{ to: 2, message: { type: 'AppendEntriesResponse', term: 5, success: false, round: 1, matchIndex: 0 } }]);
    n.receive(11, 3, { type: 'RequestVote', term: 4, lastLogIndex: 9, lastLogTerm: 4, transfer: 0 });
    assert.deepEqual(n.takeOutput().messages, [{ to: 3, message: { type: 'RequestVoteResponse', term: 5, voteGranted: false, promiseMs: 0 } }]);
    assert.deepEqual(n.status(), { id: 1, role: 'follower', leader: null, term: 5 });
  });

  test('a second leader of the same term (only possible after lost durable state) is ignored, not obeyed', () => {
    const n = node(1);
    timeout(n);
    n.receive(160, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    n.receive(160, 3, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    n.takeOutput();
    n.receive(170, 4, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.equal(n.status().role, 'leader');
  });
});
