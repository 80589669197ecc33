import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeDriver, type DriverEvent } from '../core/driver.js';
import { createRaft, defaultRaftOptions, type RaftDurable, type RaftMessage } from '../core/raft/index.js';
import type { Message, NodeId } from '../core/types.js';

// The paper's Raft (no PreVote, no CheckQuorum): the transcript below is §5.2's.
const raft = createRaft({ ...defaultRaftOptions, preVote: false, checkQuorum: false });
const timing = raft.defaultTiming;
const fixed = { next: () => 0.5 };

function driven(voters: NodeId[], persist: (state: unknown) => void = () => {}) {
  const events: DriverEvent[] = [];
  const sent: { to: NodeId; message: Message }[] = [];
  const order: string[] = [];
  const core = raft.create({ id: 1, voters, observers: [], timing }, raft.initialDurable(0), fixed, 0);
  const driver = new NodeDriver<RaftMessage, RaftDurable>(core, {
    persist: (state) => {
      order.push('persist');
      persist(state);
    },
    send: (to, message) => {
      order.push(`send ${message.type}`);
      sent.push({ to, message });
    },
    publish: (event) => {
      if (event.type === 'core') {
        if (event.event.type === 'election-started') order.push('core');
      }
      else if (event.type !== 'input' && event.type !== 'persisted') order.push(event.type);
      events.push(event);
    },
  }, 0);
  return { driver, events, sent, order };
}

test('the driver persists, then sends, then reports, and derives leadership once from status', () => {
  const { driver, order, events } = driven([1, 2, 3]);
  assert.deepEqual(order, ['status']); // starting -> follower, drained at creation
  order.length = 0;
  driver.tick(driver.nextDeadline()); // election timeout: candidate of term 1
  assert.deepEqual(order, ['persist', 'send RequestVote', 'send RequestVote', 'core', 'status']);
  assert.deepEqual(events.find((e) => e.type === 'input'), { type: 'input', atMs: 225, input: { type: 'tick' } });
  order.length = 0;
  driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  // The new leader's no-op entry (thesis §6.4) is durable before the heartbeats that carry it leave.
  assert.deepEqual(order, ['persist', 'send AppendEntries', 'send AppendEntries', 'status', 'leader-changed', 'became-leader']);
  assert.deepEqual(events.at(-1), { type: 'became-leader', atMs: 230, term: 1, again: false });
  assert.deepEqual(driver.status(), { id: 1, role: 'leader', leader: 1, term: 1 });
  order.length = 0;
  driver.receive(240, 3, { type: 'AppendEntries', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 }); // a newer leader
  assert.deepEqual(order, ['persist', 'send AppendEntriesResponse', 'status', 'lost-leadership', 'leader-changed']);
});

test('a persist that throws stops the batch: none of its messages leave', () => {
  const { driver, sent } = driven([1, 2, 3], () => {
    throw new Error('disk full');
  });
  assert.throws(() => driver.tick(driver.nextDeadline()), /disk full/);
  assert.equal(sent.length, 0);
});

test('a cluster of one elects itself while the driver drains its creation', () => {
  const { driver } = driven([1]);
  driver.tick(driver.nextDeadline());
  assert.equal(driver.status().leader, 1);
});

test('stepAll (group commit): several inputs, ONE persist of the last state, then every message, then each input’s reports in order', () => {
  const persisted: unknown[] = [];
  const { driver, order, events } = driven([1, 2, 3], (state) => persisted.push(structuredClone(state)));
  order.length = 0;
  // Two inputs that each change durable state: an election timeout (term 1, own vote), then a newer
  // leader's heartbeat (term 2). Stepped one by one they would persist twice.
  driver.stepAll(driver.nextDeadline(), [
    { type: 'tick' },
    { type: 'message', from: 2, message: { type: 'AppendEntries', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 } },
  ]);
  assert.deepEqual(order, ['persist', 'send RequestVote', 'send RequestVote', 'send AppendEntriesResponse', 'core', 'status', 'status', 'leader-changed']);
  assert.equal(persisted.length, 1);
  assert.equal((persisted[0] as RaftDurable).currentTerm, 2, 'the state after the last input');
  assert.equal(events.filter((event) => event.type === 'input').length, 2, 'each input is published (and so recorded)');
  assert.deepEqual(driver.status(), { id: 1, role: 'follower', leader: 2, term: 2 });
});

test('stepAll: a persist that throws sends nothing of the whole batch', () => {
  const { driver, sent } = driven([1, 2, 3], () => {
    throw new Error('disk full');
  });
  assert.throws(() => driver.stepAll(driver.nextDeadline(), [{ type: 'tick' }, { type: 'peer-down', peer: 2 }]), /disk full/);
  assert.equal(sent.length, 0);
});

/**
 * A driver whose host persists off its event loop (persistAsync, as a real node does): `complete()`
 * plays the disk finishing the pending write.
 */
function pipelined(voters: NodeId[], { campaignsEarly = true, inline = false, flushes = false } = {}) {
  const order: string[] = [];
  const sent: { to: NodeId; message: Message }[] = [];
  let pending: (() => void) | null = null;
  let settled = 0;
  let failInline = false;
  const core = raft.create({ id: 1, voters, observers: [], timing }, raft.initialDurable(0), fixed, 0);
  const driver = new NodeDriver<RaftMessage, RaftDurable>(core, {
    persist: () => {
      order.push('persist');
      if (failInline) throw new Error('disk full');
    },
    persistAsync: (_state, durable) => {
      order.push('persist started');
      pending = durable;
    },
    settled: () => settled++,
    persistsInlineWhenNothingOverlaps: inline,
    sendsBeforePersist: new Set(raft.replicatesBeforePersist),
    ...(campaignsEarly ? { campaignsBeforePersist: new Set<string>(raft.campaignsBeforePersist) } : {}),
    coalesce: (earlier, later) => raft.coalesce!(earlier, later),
    send: (to, message) => {
      order.push(`send ${message.type} to ${to}`);
      sent.push({ to, message });
    },
    ...(flushes ? { flushSends: () => void order.push('written out') } : {}),
    publish: (event) => {
      if (event.type === 'persisted') order.push('durable');
      else if (event.type === 'core') {
        if (event.event.type === 'committed') order.push(`committed ${event.event.index}`);
      } else if (event.type !== 'input') order.push(event.type);
    },
  }, 0);
  const complete = (): void => {
    const durable = pending;
    assert.ok(durable, 'a persist is in flight');
    pending = null;
    durable();
  };
  return { driver, order, sent, complete, settledCount: () => settled, failNextInline: () => void (failInline = true) };
}

/** A pipelined driver whose node 1 has just been elected leader of term 1 (and written its blank entry). */
function pipelinedLeader() {
  const node = pipelined([1, 2, 3]);
  node.driver.tick(node.driver.nextDeadline());
  node.complete();
  node.driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  node.complete();
  return node;
}

test('pipelined persist without campaignsBeforePersist: a candidate’s RequestVotes wait for its term and vote to be durable (§5.2)', () => {
  const { driver, order, complete, settledCount } = pipelined([1, 2, 3], { campaignsEarly: false });
  order.length = 0;
  driver.tick(driver.nextDeadline());
  assert.deepEqual(order, ['persist started'], 'nothing leaves, nothing is reported while the write runs');
  assert.equal(driver.busy, true);
  assert.deepEqual(driver.status().role, 'follower', 'status() says what is durable');
  assert.throws(() => driver.stepAll(300, [{ type: 'tick' }]), /in flight/, 'no input is stepped while the write runs');
  complete();
  assert.deepEqual(order, ['persist started', 'durable', 'send RequestVote to 2', 'send RequestVote to 3', 'status']);
  assert.equal(driver.busy, false);
  assert.equal(settledCount(), 1);
});

test('pipelined persist: a new leader’s AppendEntries leave, then its election is reported, while its blank entry is written (thesis §10.2.1)', () => {
  const { driver, order, complete } = pipelined([1, 2, 3]);
  driver.tick(driver.nextDeadline());
  complete();
  order.length = 0;
  driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  // Term 1 and the vote for itself were durable before this input: the heartbeats carrying the no-op
  // go now, and so does the news that it leads term 1 (one leader per term: nothing this write holds),
  // after them and after the write has started (the followers hear of the election before the host's
  // own handlers run; this host has no flushSends, see the next test).
  assert.deepEqual(order, ['send AppendEntries to 2', 'send AppendEntries to 3', 'persist started', 'status', 'leader-changed', 'became-leader']);
  assert.equal(driver.status().leader, 1);
  complete();
  assert.deepEqual(order.slice(6), ['durable']);
});

test('pipelined persist: a follower names its term’s leader at once, but answers only once the entries are durable', () => {
  const { driver, order, complete } = pipelined([1, 2, 3]);
  // Node 1 votes for 2 in term 1 (durable before the grant leaves) …
  driver.receive(10, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  assert.deepEqual(order.slice(-1), ['persist started']);
  complete();
  assert.deepEqual(order.slice(-2), ['send RequestVoteResponse to 2', 'status']);
  order.length = 0;
  // … then hears 2's first AppendEntries, with its blank entry: it names 2 now, and acknowledges later.
  driver.receive(20, 2, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, command: '' }], leaderCommit: 0, round: 1 });
  assert.deepEqual(order, ['persist started', 'status', 'leader-changed']);
  complete();
  assert.deepEqual(order.slice(3), ['durable', 'send AppendEntriesResponse to 2']);
});

test('pipelined persist: a follower that learns its leader from a newer term reports it only once the term is durable', () => {
  const { driver, order, complete } = pipelined([1, 2, 3]);
  order.length = 0;
  driver.receive(20, 2, { type: 'AppendEntries', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
  assert.deepEqual(order, ['persist started']);
  assert.equal(driver.status().term, 0);
  complete();
  assert.deepEqual(order, ['persist started', 'durable', 'send AppendEntriesResponse to 2', 'status', 'leader-changed']);
});

test('pipelined persist: a leader’s answer waits for the write, and so does every later message to the same peer', () => {
  const { driver, order, complete } = pipelinedLeader();
  order.length = 0;
  // A stale candidate of term 1 asks node 1 (the leader of term 1) for its vote: the refusal is an
  // answer and waits; the proposal's AppendEntries to 2 then waits behind it, the one to 3 leaves.
  driver.stepAll(240, [
    { type: 'message', from: 2, message: { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 } },
    { type: 'propose', id: 1, command: 'x' },
  ]);
  assert.deepEqual(order, ['send AppendEntries to 3', 'persist started']);
  complete();
  assert.deepEqual(order.slice(2), ['durable', 'send RequestVoteResponse to 2', 'send AppendEntries to 2']);
});

test('pipelined persist: a leader that learns of a newer term answers only once the new term is durable', () => {
  const { driver, order, complete } = pipelinedLeader();
  order.length = 0;
  driver.receive(240, 3, { type: 'AppendEntries', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
  assert.deepEqual(order, ['persist started']);
  complete();
  assert.deepEqual(order, ['persist started', 'durable', 'send AppendEntriesResponse to 3', 'status', 'lost-leadership', 'leader-changed']);
});

test('pipelined persist: a cluster of one reports nothing its own write holds (its term; a write it commits alone)', () => {
  const { driver, order, complete } = pipelined([1]);
  driver.tick(driver.nextDeadline());
  assert.equal(driver.status().leader, null, 'not reported before the term and vote are durable');
  complete();
  assert.equal(driver.status().leader, 1);
  order.length = 0;
  // Its own copy is the majority: the write is committed in the step that appends it, and reported
  // only once that copy is on disk.
  driver.stepAll(300, [{ type: 'propose', id: 1, command: 'x' }]);
  assert.deepEqual(order, ['persist started']);
  complete();
  assert.deepEqual(order, ['persist started', 'durable', 'committed 2']);
});

test('pipelined persist: a write a majority holds is reported committed at once, while the next proposal is written', () => {
  const { driver, order, complete } = pipelinedLeader();
  driver.stepAll(235, [{ type: 'propose', id: 1, command: 'x' }]); // index 2, after the blank entry
  complete();
  order.length = 0;
  // Node 2 has written (and acknowledged) indexes 1-2, both sent in earlier batches and so already on
  // node 1's disk: committed now. The proposal beside it (index 3) is written meanwhile.
  driver.stepAll(240, [
    { type: 'message', from: 2, message: { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 2 } },
    { type: 'propose', id: 2, command: 'y' },
  ]);
  // The messages that leave at once go first, then the write starts, then the reports.
  assert.deepEqual(order, ['send AppendEntries to 2', 'send AppendEntries to 3', 'persist started', 'committed 1', 'committed 2']);
  complete();
  assert.deepEqual(order.slice(5), ['durable']);
});

test('pipelined persist: the proposals of one batch go to each follower as ONE AppendEntries (raft coalesce)', () => {
  const { driver, order, sent, complete } = pipelinedLeader();
  order.length = 0;
  sent.length = 0;
  driver.stepAll(240, [1, 2, 3].map((id) => ({ type: 'propose', id, command: `w${id}` }) as const));
  assert.deepEqual(order, ['send AppendEntries to 2', 'send AppendEntries to 3', 'persist started']);
  const toTwo = sent[0]!.message as RaftMessage & { type: 'AppendEntries' };
  assert.deepEqual(toTwo.entries.map((entry) => entry.command), ['w1', 'w2', 'w3']);
  assert.equal(toTwo.prevLogIndex, 1, 'after the blank entry');
  complete();
});

test('pipelined persist: a candidate’s RequestVotes leave while its term and self-vote are written; its candidacy is reported once durable', () => {
  const { driver, order, sent, complete } = pipelined([1, 2, 3]);
  order.length = 0;
  driver.tick(driver.nextDeadline());
  assert.deepEqual(order, ['send RequestVote to 2', 'send RequestVote to 3', 'persist started']);
  assert.equal((sent[0]!.message as RaftMessage & { type: 'RequestVote' }).term, 1);
  assert.equal(driver.status().term, 0, 'the new term is reported only once durable');
  // Its own vote counts only once durable: a grant cannot reach the core while the write runs.
  assert.throws(() => driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 }), /in flight/);
  complete();
  assert.deepEqual(order.slice(3), ['durable', 'status']);
  driver.receive(231, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.equal(driver.status().leader, 1);
});

test('pipelined persist: a majority completed by the candidate’s own vote within its batch is acted on only once that vote is durable', () => {
  const { driver, order, complete } = pipelined([1, 2, 3]);
  order.length = 0;
  // A grant of term 1 in the very batch of the candidacy (an answer to the request of an incarnation
  // that crashed before its write): self + node 2 is a majority of 3 in the core at once. Nothing of
  // that leadership may leave or be reported before the self-vote is on disk.
  driver.stepAll(driver.nextDeadline(), [
    { type: 'tick' },
    { type: 'message', from: 2, message: { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 } },
  ]);
  assert.deepEqual(order, ['send RequestVote to 2', 'send RequestVote to 3', 'persist started']);
  assert.equal(driver.status().leader, null);
  complete();
  assert.deepEqual(order.slice(3), ['durable', 'send AppendEntries to 2', 'send AppendEntries to 3', 'status', 'status', 'leader-changed', 'became-leader']);
  assert.equal(driver.status().leader, 1);
});

test('pipelined persist: a RequestVote whose batch first wrote log entries waits for them (it must advertise a durable log)', () => {
  const { driver, order, complete } = pipelined([1, 2, 3]);
  driver.receive(10, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  complete();
  order.length = 0;
  // Leader 2's entry and then its TimeoutNow (a hand-off, thesis §3.10) in one batch: the candidacy's
  // RequestVote names index 1, which this write holds, so it leaves only once the write is durable.
  driver.stepAll(20, [
    { type: 'message', from: 2, message: { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, command: '' }], leaderCommit: 0, round: 1 } },
    { type: 'message', from: 2, message: { type: 'TimeoutNow', term: 1, round: 1 } },
  ]);
  assert.deepEqual(order, ['persist started', 'status', 'leader-changed']);
  complete();
  assert.deepEqual(order.slice(3), ['durable', 'send AppendEntriesResponse to 2', 'send RequestVote to 2', 'send RequestVote to 3', 'status', 'leader-changed']);
});

test('pipelined persist, persistsInlineWhenNothingOverlaps: a batch with nothing to send early (a vote) writes synchronously, then answers', () => {
  const { driver, order } = pipelined([1, 2, 3], { inline: true });
  order.length = 0;
  driver.receive(10, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  // The grant waits for the vote (§5.2) exactly as before; only the write is the synchronous one.
  assert.deepEqual(order, ['persist', 'durable', 'send RequestVoteResponse to 2', 'status']);
  assert.equal(driver.busy, false, 'nothing in flight');
});

test('pipelined persist, persistsInlineWhenNothingOverlaps: a batch that sends early still writes off the loop (a candidate, a leader)', () => {
  const { driver, order, complete } = pipelined([1, 2, 3], { inline: true });
  order.length = 0;
  driver.tick(driver.nextDeadline());
  assert.deepEqual(order, ['send RequestVote to 2', 'send RequestVote to 3', 'persist started']);
  complete();
  order.length = 0;
  driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.deepEqual(order.slice(-4), ['persist started', 'status', 'leader-changed', 'became-leader'], 'the AppendEntries left before the blank entry is written');
  assert.ok(order.includes('send AppendEntries to 2'));
  complete();
});

test('pipelined persist, persistsInlineWhenNothingOverlaps: an inline write that throws sends nothing of the batch', () => {
  const { driver, order, sent, failNextInline } = pipelined([1, 2, 3], { inline: true });
  failNextInline();
  sent.length = 0;
  assert.throws(() => driver.receive(10, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 }), /disk full/);
  assert.equal(sent.length, 0, 'no grant without the vote on disk');
  assert.ok(!order.includes('durable'));
});

test('pipelined persist: flushSends comes after the messages that leave, before the write starts and before the reports (a hand-off\'s messages do not wait)', () => {
  // A new leader: its AppendEntries are written out before its write starts and its election is reported.
  const leader = pipelined([1, 2, 3], { flushes: true });
  leader.driver.tick(leader.driver.nextDeadline());
  assert.deepEqual(leader.order.slice(-4), ['send RequestVote to 2', 'send RequestVote to 3', 'written out', 'persist started'], 'RequestVotes are written out before the candidate\'s write starts');
  leader.complete();
  leader.order.length = 0;
  leader.driver.receive(230, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.deepEqual(leader.order, ['send AppendEntries to 2', 'send AppendEntries to 3', 'written out', 'persist started', 'status', 'leader-changed', 'became-leader']);
  leader.complete();
  assert.ok(!leader.order.slice(7).includes('written out'), 'a release without messages writes nothing out');
  // A voter writing inline: its grant is written out before its new term is reported.
  const voter = pipelined([1, 2, 3], { flushes: true, inline: true });
  voter.order.length = 0;
  voter.driver.receive(10, 2, { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  assert.deepEqual(voter.order, ['persist', 'durable', 'send RequestVoteResponse to 2', 'written out', 'status']);
});
