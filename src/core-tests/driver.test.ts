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
