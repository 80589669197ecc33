import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { algorithms } from '../core/algorithms.js';
import { MAX_EPOCH, MAX_TERM, MAX_ZXID } from '../core/bounds.js';
import type { AnyAlgorithm } from '../core/types.js';
import { DurableStore, realFileOps, StorageError, STATE_FILE, type FileOps } from './storage.js';

const root = mkdtempSync(join(tmpdir(), 'ballot-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);
const raft = algorithms.raft!;

for (const algorithm of Object.values(algorithms) as AnyAlgorithm[]) {
  test(`${algorithm.name}: a fresh dir has no state; what is saved is read back`, () => {
    const dir = freshDir();
    const { store, durable } = DurableStore.open(dir, algorithm, 3);
    assert.equal(durable, null);
    const state = algorithm.initialDurable(2);
    store.save(state);
    assert.deepEqual(DurableStore.open(dir, algorithm, 3).durable, JSON.parse(JSON.stringify(state)));
  });
}

test('a save writes and syncs a temporary file, renames it over the state, then syncs the directory', () => {
  const calls: string[] = [];
  const ops: FileOps = {
    writeFile: (path, data) => {
      calls.push(`write ${path.slice(path.lastIndexOf('/') + 1)}`);
      realFileOps.writeFile(path, data);
    },
    rename: (from, to) => {
      calls.push(`rename ${from.slice(from.lastIndexOf('/') + 1)} ${to.slice(to.lastIndexOf('/') + 1)}`);
      realFileOps.rename(from, to);
    },
    fsyncDir: (path) => {
      calls.push('fsync dir');
      realFileOps.fsyncDir(path);
    },
  };
  const { store } = DurableStore.open(freshDir(), raft, 1, ops);
  store.save({ currentTerm: 4, votedFor: 2, log: [] });
  assert.deepEqual(calls, [`write ${STATE_FILE}.tmp`, `rename ${STATE_FILE}.tmp ${STATE_FILE}`, 'fsync dir']);
  assert.equal(existsSync(`${store.path}.tmp`), false);
});

test('a crash before the rename leaves the previous state intact', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, raft, 1);
  store.save({ currentTerm: 4, votedFor: 2, log: [] });
  // The temporary file of an interrupted save: ignored, then overwritten by the next save.
  writeFileSync(join(dir, `${STATE_FILE}.tmp`), '{"format":1,"algo');
  assert.deepEqual(DurableStore.open(dir, raft, 1).durable, { currentTerm: 4, votedFor: 2, log: [] });
  const failing: FileOps = { ...realFileOps, rename: () => { throw new Error('EIO'); } };
  const { store: broken } = DurableStore.open(dir, raft, 1, failing);
  assert.throws(() => broken.save({ currentTerm: 5, votedFor: 3, log: [] }), /EIO/);
  assert.deepEqual(DurableStore.open(dir, raft, 1).durable, { currentTerm: 4, votedFor: 2, log: [] });
});

test('a corrupt or foreign state file is refused, never reset', () => {
  const cases: [string, RegExp][] = [
    ['', /not JSON/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":4,"votedFor":2}}', /corrupt \(state\.log/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":-1,"votedFor":2,"log":[]}}', /corrupt \(state\.currentTerm/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":0,"log":[]}}', /corrupt \(state\.votedFor/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[],"extra":1}}', /corrupt/],
    ['{"format":2,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[]}}', /corrupt \(format/],
    ['{"format":1,"algorithm":"zab","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[]}}', /state of a zab node/],
    ['{"format":1,"algorithm":"raft","node":2,"state":{"currentTerm":1,"votedFor":null,"log":[]}}', /state of node 2/],
  ];
  for (const [text, expected] of cases) {
    const dir = freshDir();
    DurableStore.open(dir, raft, 1);
    writeFileSync(join(dir, STATE_FILE), text);
    assert.throws(() => DurableStore.open(dir, raft, 1), (error: unknown) => {
      assert.ok(error instanceof StorageError, String(error));
      assert.match(error.message, expected);
      assert.match(error.message, /refusing to start/);
      return true;
    });
    assert.equal(readFileSync(join(dir, STATE_FILE), 'utf8'), text, 'the file is left as it was');
  }
});

test("another algorithm's data dir is named as such, not called corrupt", () => {
  const zab = algorithms.zab!;
  const dir = freshDir();
  const { store } = DurableStore.open(dir, raft, 1);
  store.save(raft.initialDurable(0));
  assert.throws(() => DurableStore.open(dir, zab, 1), (error: unknown) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /is the state of a raft node, not zab; refusing to start/);
    assert.doesNotMatch(error.message, /corrupt/);
    return true;
  });
});

test('a data dir under /proc fails with one error rather than retrying mkdir forever', { skip: existsSync('/proc/self') ? false : 'no /proc here', timeout: 10_000 }, () => {
  // node's mkdirSync(recursive) spins on this path (ENOENT with an existing parent).
  assert.throws(() => DurableStore.open('/proc/ballot-no-such-dir/data', raft, 1), (error: unknown) => error instanceof StorageError && /^cannot use data dir \/proc\/ballot-no-such-dir\/data \(ENOENT\)$/.test(error.message));
  assert.throws(() => DurableStore.open('/proc/ballot-no-such-dir', raft, 1), StorageError);
});

test('a data dir that is a file is unusable', () => {
  const file = join(root, 'plain-file');
  writeFileSync(file, '');
  assert.throws(() => DurableStore.open(file, raft, 1), /cannot use data dir .*plain-file/);
});

test('bounds: a state at every ceiling is saved and read back; one past a ceiling is refused as corrupt', () => {
  const atCeiling: Record<string, unknown> = {
    raft: { currentTerm: MAX_TERM, votedFor: 2, log: [{ term: MAX_TERM }] },
    bully: { generation: MAX_TERM },
    zab: { acceptedEpoch: MAX_EPOCH, currentEpoch: MAX_EPOCH, lastZxid: MAX_ZXID },
  };
  for (const algorithm of Object.values(algorithms) as AnyAlgorithm[]) {
    const dir = freshDir();
    const { store } = DurableStore.open(dir, algorithm, 3);
    store.save(atCeiling[algorithm.name]);
    assert.deepEqual(DurableStore.open(dir, algorithm, 3).durable, atCeiling[algorithm.name], algorithm.name);
  }
  // What an unbounded node used to persist after adopting term 2^53 − 1 and adding one.
  const dir = freshDir();
  DurableStore.open(dir, raft, 1).store.save({ currentTerm: 2 ** 53, votedFor: 1, log: [] });
  assert.throws(() => DurableStore.open(dir, raft, 1), (error: unknown) => error instanceof StorageError && /corrupt/.test(error.message));
});
