/**
 * RaftLog (src/core/raft/log.ts): positions around a snapshot, §5.3's merge and refusal hint, the
 * bounds of one AppendEntries, and that a log handed out as durable state never changes afterwards.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftLog } from '../../core/raft/log.js';
import type { LogEntry } from '../../core/raft/messages.js';

const terms = (...ts: number[]): LogEntry[] => ts.map((term) => ({ term, command: `t${term}` }));

test('positions: index 0 has term 0, the snapshot answers for its index, compacted entries are not held', () => {
  const log = new RaftLog({ log: terms(3, 4), snapshot: { index: 5, term: 2, data: 's' } });
  assert.equal(log.lastIndex(), 7);
  assert.equal(log.lastTerm(), 4);
  assert.equal(log.termAt(5), 2);
  assert.equal(log.termAt(4), undefined);
  assert.equal(log.termAt(6), 3);
  assert.equal(log.termAt(8), undefined);
  assert.equal(new RaftLog({ log: [] }).termAt(0), 0);
  assert.throws(() => log.entryAt(5), /no entry 5/);
});

test('merge keeps matching entries, deletes a conflicting one and all after it, and appends the rest (§5.3)', () => {
  const log = new RaftLog({ log: terms(1, 1, 2, 2) });
  assert.deepEqual(log.merge(1, terms(1, 2)), { changed: false, deletedFrom: null }, 'an older, reordered message changes nothing');
  assert.deepEqual(log.merge(2, terms(3)), { changed: true, deletedFrom: 3 });
  assert.deepEqual(log.durable().log, terms(1, 1, 3));
  assert.deepEqual(log.merge(3, terms(3, 3)), { changed: true, deletedFrom: null });
  assert.equal(log.lastIndex(), 5);
});

test('the refusal hint skips the whole conflicting term, or points at the last entry when prevLogIndex is beyond it', () => {
  const log = new RaftLog({ log: terms(1, 1, 2, 2, 2) });
  assert.equal(log.conflictHint(5), 2, 'below every term-2 entry');
  assert.equal(log.conflictHint(9), 5);
  const compacted = new RaftLog({ log: terms(2, 2), snapshot: { index: 3, term: 2, data: '' } });
  assert.equal(compacted.conflictHint(5), 3, 'never below the snapshot, which matches');
});

test('batchFrom bounds entries and characters, and lets one long entry go alone', () => {
  const log = new RaftLog({ log: [{ term: 1, command: 'x'.repeat(10) }, { term: 1, command: 'y'.repeat(10) }, { term: 1, command: '' }] });
  assert.equal(log.batchFrom(1, 64, 15).length, 1);
  assert.equal(log.batchFrom(1, 2, 100).length, 2);
  assert.equal(log.batchFrom(1, 64, 5).length, 1, 'a longer entry goes alone');
  assert.equal(log.batchFrom(2, 64, 10).length, 2, 'an empty command costs nothing');
  assert.deepEqual(log.batchFrom(4, 64, 10), []);
});

test('what durable() handed out never changes: appends, merges, compaction and installs work on a copy', () => {
  const log = new RaftLog({ log: terms(1, 1) });
  const handed = log.durable();
  const before = JSON.stringify(handed);
  log.append(2, 'a');
  log.merge(1, terms(3));
  log.compact(2, 'state');
  log.install({ index: 9, term: 4, data: 'theirs' });
  assert.equal(JSON.stringify(handed), before);
  assert.deepEqual(log.durable(), { log: [], snapshot: { index: 9, term: 4, data: 'theirs' } });
});

test('install keeps the entries after the snapshot when the log holds its last entry (Figure 13, step 6)', () => {
  const log = new RaftLog({ log: terms(1, 2, 2, 3) });
  log.install({ index: 3, term: 2, data: 'd' });
  assert.deepEqual(log.durable(), { log: terms(3), snapshot: { index: 3, term: 2, data: 'd' } });
  log.install({ index: 5, term: 5, data: 'e' });
  assert.deepEqual(log.durable(), { log: [], snapshot: { index: 5, term: 5, data: 'e' } });
});
