/**
 * Joining a leader's contiguous AppendEntries to one follower (src/core/raft/coalesce.ts): the joined
 * message must mean to a real follower exactly what the two meant in order — the same log, the same
 * commit, the same answer — and must stay within one message's bounds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesceAppendEntries } from '../../core/raft/coalesce.js';
import { raft } from '../../core/raft/index.js';
import { MAX_APPEND_CHARS, MAX_APPEND_ENTRIES, type AppendEntries, type LogEntry, type RaftDurable, type RaftMessage } from '../../core/raft/messages.js';
import type { ElectionEvent } from '../../core/types.js';

const timing = raft.defaultTiming;
const entry = (term: number, command: string): LogEntry => ({ term, command });

function append(prevLogIndex: number, prevLogTerm: number, entries: LogEntry[], leaderCommit: number, round = 1, term = 2): AppendEntries {
  return { type: 'AppendEntries', term, prevLogIndex, prevLogTerm, entries, leaderCommit, round };
}

/** A follower (node 2 of 3) holding `log`, stepped through `messages` from leader 1; what it ends with. */
function follow(log: LogEntry[], messages: AppendEntries[]) {
  const durable: RaftDurable = { ...raft.initialDurable(0), currentTerm: 2, log };
  const node = raft.create({ id: 2, voters: [1, 2, 3], observers: [], timing }, durable, { next: () => 0.5 }, 0);
  node.takeOutput();
  let persisted: unknown = null;
  const answers: RaftMessage[] = [];
  const committed: ElectionEvent[] = [];
  for (const message of messages) {
    node.step(10, { type: 'message', from: 1, message });
    const output = node.takeOutput();
    if (output.persist !== null) persisted = output.persist;
    for (const { message: answer } of output.messages) answers.push(answer as RaftMessage);
    for (const event of output.events) if (event.type === 'committed') committed.push(event);
  }
  return { persisted, lastAnswer: answers.at(-1), committed };
}

test('two contiguous AppendEntries join into one that a follower takes exactly as the two in order', () => {
  const log = [entry(1, 'a'), entry(2, '')];
  const first = append(2, 2, [entry(2, 'b'), entry(2, 'c')], 1, 3);
  const second = append(4, 2, [entry(2, 'd')], 3, 4);
  const joined = coalesceAppendEntries(first, second);
  assert.deepEqual(joined, append(2, 2, [entry(2, 'b'), entry(2, 'c'), entry(2, 'd')], 3, 4));
  const apart = follow(log, [first, second]);
  const together = follow(log, [joined!]);
  assert.deepEqual(together.persisted, apart.persisted, 'the same log and term on disk');
  assert.deepEqual(together.committed, apart.committed, 'the same entries committed, in order');
  assert.deepEqual(together.lastAnswer, apart.lastAnswer, 'the same answer (matchIndex 5, round 4)');
});

test('a heartbeat joins the entries that follow it; a repeated heartbeat is dropped', () => {
  const heartbeat = append(3, 2, [], 2, 5);
  assert.deepEqual(coalesceAppendEntries(heartbeat, append(3, 2, [entry(2, 'x')], 2, 5)), append(3, 2, [entry(2, 'x')], 2, 5));
  assert.equal(coalesceAppendEntries(heartbeat, append(3, 2, [], 2, 5)), heartbeat);
  assert.deepEqual(coalesceAppendEntries(heartbeat, append(3, 2, [], 3, 6)), append(3, 2, [], 3, 6));
});

test('messages that do not continue one another, or of another term, stay apart', () => {
  const first = append(2, 2, [entry(2, 'b')], 1);
  assert.equal(coalesceAppendEntries(first, append(4, 2, [entry(2, 'd')], 1)), null, 'a gap');
  assert.equal(coalesceAppendEntries(first, append(2, 2, [entry(2, 'b')], 1)), null, 'a resend from the same point');
  assert.equal(coalesceAppendEntries(first, append(3, 1, [entry(2, 'c')], 1)), null, 'a different previous term');
  assert.equal(coalesceAppendEntries(first, append(3, 2, [entry(3, 'c')], 1, 1, 3)), null, 'another term');
});

test('a joined message stays within one message’s bounds (entries, characters), as the core’s own batches', () => {
  const many = (from: number, count: number, size = 1): LogEntry[] => Array.from({ length: count }, (_, i) => entry(2, 'x'.repeat(size) + String(from + i)));
  assert.equal(coalesceAppendEntries(append(0, 0, many(1, MAX_APPEND_ENTRIES - 1), 0), append(MAX_APPEND_ENTRIES - 1, 2, many(MAX_APPEND_ENTRIES, 1), 0))?.entries.length, MAX_APPEND_ENTRIES);
  assert.equal(coalesceAppendEntries(append(0, 0, many(1, MAX_APPEND_ENTRIES), 0), append(MAX_APPEND_ENTRIES, 2, many(MAX_APPEND_ENTRIES + 1, 1), 0)), null);
  const half = MAX_APPEND_CHARS / 2;
  assert.equal(coalesceAppendEntries(append(0, 0, many(1, 1, half), 0), append(1, 2, many(2, 1, half), 0)), null, 'over MAX_APPEND_CHARS');
});
