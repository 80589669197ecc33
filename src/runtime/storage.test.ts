import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { algorithms } from '../core/algorithms.js';
import { MAX_EPOCH, MAX_TERM, MAX_ZXID } from '../core/bounds.js';
import type { AnyAlgorithm } from '../core/types.js';
import { encodeKvCommand, KvStore } from '../kv/store.js';
import { DurableStore, LOG_FILE, realFileOps, StorageError, STATE_FILE, type FileOps } from './storage.js';
import { crc32, crc32Loop } from './state-format.js';

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
  const before = { currentTerm: 4, votedFor: 2, log: [{ term: 4 }] };
  store.save(before);
  // The temporary file of an interrupted save: ignored, then overwritten by the next save.
  writeFileSync(join(dir, `${STATE_FILE}.tmp`), '{"format":1,"algo');
  assert.deepEqual(DurableStore.open(dir, raft, 1).durable, before);
  const failing: FileOps = { ...realFileOps, rename: () => { throw new Error('EIO'); } };
  const { store: broken } = DurableStore.open(dir, raft, 1, failing);
  // After a close the next save rewrites state.json, whose rename fails.
  broken.close();
  assert.throws(() => broken.save({ currentTerm: 5, votedFor: 3, log: [] }), /EIO/);
  assert.deepEqual(DurableStore.open(dir, raft, 1).durable, before);
});

test('a corrupt or foreign state file is refused, never reset', () => {
  const cases: [string, RegExp][] = [
    ['', /not JSON/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":4,"votedFor":2}}', /corrupt \(state\.log/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":-1,"votedFor":2,"log":[]}}', /corrupt \(state\.currentTerm/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":0,"log":[]}}', /corrupt \(state\.votedFor/],
    ['{"format":1,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[],"extra":1}}', /corrupt/],
    ['{"format":3,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[]}}', /in format 3, newer than this build reads \(1, 2\)/],
    ['{"format":"2","algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[]}}', /corrupt \(format/],
    ['{"format":2,"algorithm":"raft","node":1,"state":{"currentTerm":1,"votedFor":null,"log":[]},"files":{"snapshot":{"name":"../x","bytes":1,"crc32":"00000000"}}}', /corrupt \(files/],
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

// ---- the append-only log (state.log) ---------------------------------------------------------------

/**
 * Raft with a replicated log (the durable shape of issue 15: entries with commands, a snapshot), so these
 * tests do not depend on when the core gains it.
 */
const replicating: AnyAlgorithm = {
  ...raft,
  durableShape: {
    currentTerm: 'term',
    votedFor: 'id-or-null',
    log: { list: { object: { term: 'term', command: { optional: { text: 100_000 } } } }, max: 10_000_000 },
    snapshot: { optional: { object: { index: 'nat', term: 'term', data: { text: 1_000_000 } } } },
  },
};

/** A Raft state with `n` entries of `term`, each a fresh object (as a core that copies would hand over). */
const raftState = (term: number, entries: readonly { term: number; command?: string }[]) => ({ currentTerm: term, votedFor: 1, log: entries });

test('crc32 is the IEEE CRC of zlib', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.alloc(0)), 0);
  // Large inputs go to zlib's own (where this Node.js has it): the two agree, on either side of the bound.
  for (const bytes of [256 * 1024 - 1, 256 * 1024, 3 * 1024 * 1024 + 7]) {
    const data = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 2654435761) >>> 24;
    assert.equal(crc32(data), crc32Loop(data), `${bytes} bytes`);
  }
});

test('a log that grows is appended to state.log, not rewritten; recovery reads the whole state back', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  const log: { term: number; command: string }[] = [];
  store.save(raftState(1, log));
  const baseSize = statSync(join(dir, STATE_FILE)).size;
  for (let i = 0; i < 50; i++) {
    // The same array, pushed to in place: the store must have remembered a copy, not the reference.
    log.push({ term: 1, command: `put ${i}` });
    store.save(raftState(1, log));
  }
  store.save(raftState(2, log)); // a new term only: a small record
  assert.equal(store.rewrites, 1);
  assert.equal(store.appends, 51);
  assert.equal(statSync(join(dir, STATE_FILE)).size, baseSize, 'state.json was not rewritten');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(2, log));
  // Saving what is durable already writes nothing.
  store.save(raftState(2, log));
  assert.equal(store.appends, 51);
});

test('a truncated log is a record that keeps the common prefix and replaces the tail', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, [{ term: 1 }]));
  store.save(raftState(1, [{ term: 1 }, { term: 1, command: 'a' }, { term: 1, command: 'b' }]));
  // A new leader of term 2 overwrote entries 2 and 3 with one of its own.
  store.save(raftState(2, [{ term: 1 }, { term: 2, command: 'c' }]));
  assert.equal(store.rewrites, 1);
  assert.equal(store.appends, 2);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(2, [{ term: 1 }, { term: 2, command: 'c' }]));
  // The tail only: ZAB's last run counting one more entry is one small record, not a rewrite.
  const zabLike = (count: number) => ({ ...raftState(2, [{ term: 1 }, { term: 2, command: `c${count}` }]) });
  for (let count = 1; count <= 5; count++) store.save(zabLike(count));
  assert.equal(store.rewrites, 1);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, zabLike(5));
});

test('a rewrite of state.json is under a new generation; records of the old one are ignored', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, [{ term: 1 }]));
  store.save(raftState(1, [{ term: 1 }, { term: 1, command: 'a' }]));
  const stale = readFileSync(join(dir, LOG_FILE));
  assert.ok(stale.length > 0);
  // A new leader of term 2 overwrote entry 2 with an entry too large for a record.
  const large = [{ term: 1 }, { term: 2, command: 'b'.repeat(70_000) }];
  store.save(raftState(2, large));
  assert.equal(store.rewrites, 2);
  assert.equal(statSync(join(dir, LOG_FILE)).size, 0);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(2, large));
  // A crash between the rename and the emptying of state.log: its records are of the old generation.
  writeFileSync(join(dir, LOG_FILE), stale);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(2, large));
});

test('a torn last record (a crash mid-write) is cut off, and the node appends after the last good one', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  store.save(raftState(1, [{ term: 1, command: 'a' }]));
  store.save(raftState(1, [{ term: 1, command: 'a' }, { term: 1, command: 'b' }]));
  const path = join(dir, LOG_FILE);
  const size = statSync(path).size;
  for (const cut of [1, 5, 12]) {
    // Every proper prefix of the last record: without its newline, or with a bad checksum.
    truncateSync(path, size - cut);
    const reopened = DurableStore.open(dir, replicating, 1);
    assert.deepEqual(reopened.durable, raftState(1, [{ term: 1, command: 'a' }]), `cut ${cut}`);
    assert.ok(statSync(path).size < size - cut || cut === 0, 'the torn bytes are gone');
    reopened.store.save(raftState(1, [{ term: 1, command: 'a' }, { term: 1, command: 'b' }]));
    assert.equal(statSync(path).size, size);
    assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(1, [{ term: 1, command: 'a' }, { term: 1, command: 'b' }]));
  }
  // Garbage whose last line ends with a newline but fails its checksum is torn as well.
  appendFileSync(path, '00000000 {"g":1}\n');
  assert.equal((DurableStore.open(dir, replicating, 1).durable as { log: unknown[] }).log.length, 2);
});

test('a bad record followed by good ones is corruption, never a silent reset', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  store.save(raftState(1, [{ term: 1 }]));
  store.save(raftState(1, [{ term: 1 }, { term: 1 }]));
  const path = join(dir, LOG_FILE);
  const bytes = readFileSync(path);
  bytes[3] = bytes[3] === 0x30 ? 0x31 : 0x30; // the first record's checksum
  writeFileSync(path, bytes);
  assert.throws(() => DurableStore.open(dir, replicating, 1), (error: unknown) => error instanceof StorageError && /state\.log is corrupt \(a bad record at byte 0, followed by others\); refusing to start/.test(error.message));
});

test('a record that does not fit the schema is refused when the state is validated', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  store.save(raftState(2, []));
  const json = JSON.stringify({ g: 1, s: { currentTerm: -3 } });
  appendFileSync(join(dir, LOG_FILE), `${crc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`);
  assert.throws(() => DurableStore.open(dir, replicating, 1), /corrupt \(state\.currentTerm/);
});



test('an append after state.log was removed fails rather than writing to a file no restart finds', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  rmSync(join(dir, LOG_FILE));
  assert.throws(() => store.save(raftState(2, [])), /state\.log was removed/);
});

/** saveAsync as a promise: resolves once the callback says durable, rejects with its error. */
function saveAsync(store: DurableStore, state: unknown): Promise<void> {
  return new Promise((resolve, reject) => store.saveAsync(state, (error) => (error === null ? resolve() : reject(error as Error))));
}

test('saveAsync: appends with the fdatasync off the event loop; what it called durable is read back; a rewrite or no change calls back at once', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  const log: { term: number; command: string }[] = [];
  let sync = false;
  store.saveAsync(raftState(1, log), (error) => {
    assert.equal(error, null);
    sync = true;
  });
  assert.ok(sync, 'the first save rewrites state.json, synchronously');
  for (let i = 0; i < 20; i++) {
    log.push({ term: 1, command: `put ${i}` });
    let called = false;
    const done = saveAsync(store, raftState(1, log)).then(() => (called = true));
    assert.equal(called, false, 'an append calls back only after its fdatasync returned, in a later turn');
    await done;
  }
  assert.equal(store.appends, 20);
  assert.equal(store.rewrites, 1);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(1, log));
  let same = false;
  store.saveAsync(raftState(1, log), () => (same = true));
  assert.ok(same, 'nothing changed: durable already');
});

test('saveAsync: a close while the fdatasync runs waits for it (the descriptor stays the store’s until then)', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  const done = saveAsync(store, raftState(1, [{ term: 1, command: 'x' }]));
  store.close();
  await done;
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(1, [{ term: 1, command: 'x' }]));
});

test('saveAsync: an append after state.log was removed calls back with the error, and the next save rewrites', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  rmSync(join(dir, LOG_FILE));
  await assert.rejects(saveAsync(store, raftState(2, [])), /state\.log was removed/);
  await saveAsync(store, raftState(3, []));
  assert.equal(store.rewrites, 2);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(3, []));
});

// ---- the snapshot in a file of its own (snapshot.N.json) --------------------------------------------

const snapshotFiles = (dir: string): string[] => readdirSync(dir).filter((name) => /^snapshot\.\d+\.json/.test(name)).sort();
/** A snapshot of `chars` characters taken at `index` (a fresh object each time, as a core may hand over). */
const snapshotAt = (index: number, chars = 200_000) => ({ index, term: 1, data: `${index}:`.padEnd(chars, 'v') });
/** A compacted Raft state: the snapshot at `index`, then `after` entries. */
const compacted = (index: number, after: number) => ({
  ...raftState(1, Array.from({ length: after }, (_, i) => ({ term: 1, command: `put ${index + i + 1}` }))),
  snapshot: snapshotAt(index),
});

test('the snapshot is written to its own file once per compaction, never per append; state.json stays small', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  for (let compaction = 1; compaction <= 3; compaction++) {
    const index = compaction * 50;
    for (let after = 0; after <= 20; after++) store.save(compacted(index, after)); // the snapshot copied anew each time
  }
  assert.equal(store.fileWrites, 3, 'one snapshot file per compaction');
  assert.equal(store.rewrites, 1, 'neither a compaction nor an append rewrites state.json');
  assert.equal(store.appends, 3 * 21);
  assert.ok(statSync(join(dir, STATE_FILE)).size < 1_000);
  assert.ok(statSync(join(dir, LOG_FILE)).size < 3 * 21 * 1_000, 'no record holds the snapshot');
  assert.deepEqual(snapshotFiles(dir), ['snapshot.3.json'], 'the files it replaced are removed');
  const reopened = DurableStore.open(dir, replicating, 1);
  assert.deepEqual(reopened.durable, compacted(150, 20));
  // A fold of state.json (here: after a close) refers to the file it has, without writing it again.
  reopened.store.close();
  reopened.store.save(compacted(150, 21));
  assert.equal(reopened.store.fileWrites, 0);
  assert.equal(reopened.store.rewrites, 1);
  const state = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as { format: number; files: Record<string, { name: string }> };
  assert.equal(state.format, 2);
  assert.equal(state.files.snapshot!.name, 'snapshot.3.json');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, compacted(150, 21));
});

test('saveAsync: the file a new snapshot replaces is removed only once the record that refers to the new one is durable', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 2));
  assert.deepEqual(snapshotFiles(dir), ['snapshot.1.json']);
  const done = saveAsync(store, compacted(100, 0));
  assert.deepEqual(snapshotFiles(dir), ['snapshot.1.json', 'snapshot.2.json'], 'the new file is written before the record; the old one stays until it is durable');
  await done;
  assert.deepEqual(snapshotFiles(dir), ['snapshot.2.json']);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, compacted(100, 0));
});

/** Every file of `dir`, name → bytes. */
function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

/** Makes `dir` hold exactly `files`. */
function leave(dir: string, files: ReadonlyMap<string, Buffer>): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}

test('a crash at each step of a compaction recovers the state before it or after it, and removes the file left over', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  const before = compacted(50, 3);
  store.save(raftState(1, []));
  store.save(before);
  const old = filesOf(dir);
  const after = compacted(100, 0);
  store.save(after);
  const next = filesOf(dir);
  const oldFile = [...old.keys()].find((name) => name.startsWith('snapshot.'));
  const newFile = snapshotFiles(dir)[0];
  assert.ok(oldFile !== undefined && newFile !== undefined && oldFile !== newFile);
  const record = next.get(LOG_FILE)!.subarray(old.get(LOG_FILE)!.length);
  assert.ok(record.length > 0 && record.length < 1_000, 'the compaction is one small record');
  const crashes: [string, Map<string, Buffer>, unknown, string[]][] = [
    // The new file's temporary file, cut short: before its rename.
    ['mid-way through the temporary file', new Map([...old, [`${newFile}.tmp`, next.get(newFile)!.subarray(0, 1000)]]), before, [oldFile]],
    // Renamed and synced, but no record refers to it yet.
    ['after the file, before the record', new Map([...old, [newFile, next.get(newFile)!]]), before, [oldFile]],
    // The record written in part (its fdatasync never returned).
    ['mid-way through the record', new Map([...old, [newFile, next.get(newFile)!], [LOG_FILE, Buffer.concat([old.get(LOG_FILE)!, record.subarray(0, record.length - 5)])]]), before, [oldFile]],
    // The record durable, the old file not yet removed.
    ['after the record, before the old file is removed', new Map([...next, [oldFile, old.get(oldFile)!]]), after, [newFile]],
  ];
  for (const [when, files, expected, left] of crashes) {
    leave(dir, files);
    const reopened = DurableStore.open(dir, replicating, 1);
    assert.deepEqual(reopened.durable, expected, when);
    assert.deepEqual(snapshotFiles(dir), left, `${when}: the file nothing refers to is removed`);
    // And the node goes on from there: the next compaction takes a name never used before.
    reopened.store.save(compacted(150, 0));
    assert.ok(!snapshotFiles(dir).includes(newFile) || expected === after, when);
    assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, compacted(150, 0), when);
  }
});

/** Waits until `store`'s fold in the background is written (it is installed at the next save). */
async function folded(store: DurableStore): Promise<void> {
  const until = performance.now() + 10_000;
  while (store.folding !== 'written') {
    if (store.folding === null || performance.now() > until) assert.fail(`no fold written (${store.folding})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A store that folds past 4 KiB, saved up to the save that begins a fold; `grow` saves ~250-byte entries more. */
function folding(ops: FileOps = realFileOps): { dir: string; store: DurableStore; log: { term: number; command: string }[]; grow: (count: number) => void } {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1, ops, { foldBytes: 4096 });
  const log: { term: number; command: string }[] = [];
  store.save(raftState(1, log));
  const grow = (count: number): void => {
    for (let k = 0; k < count; k++) {
      log.push({ term: 1, command: `put ${log.length} `.padEnd(200, '.') });
      store.save(raftState(1, log));
    }
  };
  // Up to the save that begins the fold: the log past 4 KiB, and past state.json's length.
  for (let k = 0; k < 100 && store.folding === null; k++) grow(1);
  assert.notEqual(store.folding, null, 'a fold began');
  assert.equal(store.rewrites, 1, 'not a rewrite on the event loop: only the first save was one');
  return { dir, store, log, grow };
}

/** What a fold leaves behind until it is installed: its file (or temporary file), a temporary state.log. */
const foldFiles = (dir: string): string[] => readdirSync(dir).filter((name) => /^state\.\d+\.json/.test(name) || name === `${LOG_FILE}.tmp`);

test('a log past its bound is folded into state.json in the background: saves go on meanwhile, and the next save installs it', async () => {
  const { dir, store, log, grow } = folding();
  grow(3); // saves while the fold is written
  await folded(store);
  const logBefore = statSync(join(dir, LOG_FILE)).size;
  grow(1);
  assert.equal(store.folding, null);
  assert.equal(store.rewrites, 2, 'installed: state.json is the fold');
  assert.deepEqual(foldFiles(dir), []);
  assert.ok(statSync(join(dir, LOG_FILE)).size < logBefore / 4, 'state.log holds only the records since the folded state');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(1, log), 'the records of the saves during the fold were kept');
  // A fold that a crash cut short, and a temporary state.log, are removed at the next start.
  store.close();
  for (const name of ['state.90.json.tmp', 'state.91.json', `${LOG_FILE}.tmp`]) writeFileSync(join(dir, name), '{"partial');
  const reopened = DurableStore.open(dir, replicating, 1, realFileOps, { foldBytes: 4096 });
  assert.deepEqual(reopened.durable, raftState(1, log));
  assert.deepEqual(foldFiles(dir), []);
  reopened.store.save(raftState(2, log));
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(2, log));
});

test('a crash at each step of installing a fold recovers the last state saved', async () => {
  for (const step of ['state.json renamed', 'state.log written', 'state.log renamed', 'none']) {
    let armed = false;
    const fail = (at: string): void => {
      if (armed && step === at) throw new Error('EIO');
    };
    const ops: FileOps = {
      writeFile: (path, data) => (path.endsWith(`${LOG_FILE}.tmp`) && fail('state.log written'), realFileOps.writeFile(path, data)),
      rename: (from, to) => (to.endsWith(STATE_FILE) && fail('state.json renamed'), to.endsWith(LOG_FILE) && fail('state.log renamed'), realFileOps.rename(from, to)),
      fsyncDir: realFileOps.fsyncDir,
    };
    const { dir, store, log, grow } = folding(ops);
    grow(3);
    await folded(store);
    const saved = raftState(1, log.slice());
    armed = true;
    log.push({ term: 2, command: 'the save that installs the fold' });
    if (step === 'none') store.save(raftState(2, log));
    else assert.throws(() => store.save(raftState(2, log)), /EIO/, step);
    const reopened = DurableStore.open(dir, replicating, 1);
    assert.deepEqual(reopened.durable, step === 'none' ? raftState(2, log) : saved, step);
    assert.deepEqual(foldFiles(dir), [], `${step}: nothing of the fold is left`);
    reopened.store.save(raftState(3, log));
    assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, raftState(3, log), `${step}: and the node goes on from there`);
  }
});

test('a crash while state.json is rewritten with a new snapshot leaves the old state and file', () => {
  const dir = freshDir();
  const failing: FileOps = { ...realFileOps, rename: (from, to) => (to.endsWith(STATE_FILE) ? (() => { throw new Error('EIO'); })() : realFileOps.rename(from, to)) };
  const { store } = DurableStore.open(dir, replicating, 1);
  const before = compacted(50, 1);
  store.save(before);
  const { store: broken } = DurableStore.open(dir, replicating, 1, failing);
  broken.close(); // the next save is a rewrite
  assert.throws(() => broken.save(compacted(100, 1)), /EIO/);
  assert.equal(snapshotFiles(dir).length, 2, 'the new file was written, then the rename of state.json failed');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, before);
  assert.equal(snapshotFiles(dir).length, 1);
});

test('a snapshot file that is missing, cut short or altered is refused, never read as an empty state', () => {
  const setup = (): { dir: string; path: string } => {
    const dir = freshDir();
    DurableStore.open(dir, replicating, 1).store.save(compacted(50, 1));
    return { dir, path: join(dir, snapshotFiles(dir)[0]!) };
  };
  const cases: [string, (path: string) => void, RegExp][] = [
    ['missing', (path) => rmSync(path), /snapshot\.1\.json is missing \(state\.json or state\.log refers to it\); refusing to start/],
    ['cut short', (path) => truncateSync(path, 1000), /snapshot\.1\.json is corrupt \(1000 bytes, not the \d+ written\); refusing to start/],
    [
      'one byte altered',
      (path) => {
        const bytes = readFileSync(path);
        bytes[5000] = bytes[5000] === 0x76 ? 0x77 : 0x76;
        writeFileSync(path, bytes);
      },
      /snapshot\.1\.json is corrupt \(its checksum does not match\); refusing to start/,
    ],
  ];
  for (const [what, damage, expected] of cases) {
    const { dir, path } = setup();
    damage(path);
    const left = filesOf(dir);
    assert.throws(() => DurableStore.open(dir, replicating, 1), (error: unknown) => {
      assert.ok(error instanceof StorageError, String(error));
      assert.match(error.message, expected, what);
      return true;
    });
    assert.deepEqual(filesOf(dir), left, `${what}: nothing is removed or rewritten`);
  }
});

test('a data dir of format 1 (the snapshot inside state.json and its records) still loads, and is written as format 2 from then on', () => {
  const dir = freshDir();
  mkdirSync(dir);
  const snapshot = snapshotAt(50);
  const base = { currentTerm: 1, votedFor: 1, log: [], snapshot };
  writeFileSync(join(dir, STATE_FILE), JSON.stringify({ format: 1, algorithm: 'raft', node: 1, generation: 4, state: base }));
  const records = [{ g: 4, a: { log: [{ term: 1, command: 'put 51' }] } }, { g: 4, s: { currentTerm: 2 } }];
  writeFileSync(join(dir, LOG_FILE), records.map((record) => { const json = JSON.stringify(record); return `${crc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`; }).join(''));
  const expected = { currentTerm: 2, votedFor: 1, log: [{ term: 1, command: 'put 51' }], snapshot };
  const { store, durable } = DurableStore.open(dir, replicating, 1);
  assert.deepEqual(durable, expected);
  store.save({ ...expected, log: [...expected.log, { term: 2, command: 'put 52' }] });
  assert.equal(store.rewrites, 1, 'the first save rewrites: the store does not know which fields of the old file are in files of their own');
  assert.equal(store.fileWrites, 1);
  assert.equal((JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as { format: number }).format, 2);
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, { ...expected, log: [...expected.log, { term: 2, command: 'put 52' }] });
});

test('erase leaves the data dir as a node that never ran finds it: no state, no snapshot file', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 1));
  writeFileSync(join(dir, 'unrelated.txt'), 'kept');
  store.erase();
  assert.deepEqual(readdirSync(dir), ['unrelated.txt']);
  assert.equal(DurableStore.open(dir, replicating, 1).durable, null);
});

test('a field removed (a Bully log emptied by a compaction) is a record, not a rewrite', () => {
  const dir = freshDir();
  const bully = algorithms.bully!;
  const { store } = DurableStore.open(dir, bully, 1);
  const snapshot = snapshotAt(2, 100_000);
  store.save({ generation: 1 });
  store.save({ generation: 1, log: [{ term: 1, command: 'a' }, { term: 1, command: 'b' }] });
  store.save({ generation: 1, snapshot }); // compacted: the log is gone
  store.save({ generation: 1, snapshot: { ...snapshot }, log: [{ term: 1, command: 'c' }] });
  assert.equal(store.rewrites, 1);
  assert.equal(store.fileWrites, 1);
  assert.deepEqual(DurableStore.open(dir, bully, 1).durable, { generation: 1, snapshot, log: [{ term: 1, command: 'c' }] });
  store.save({ generation: 2 }); // and the snapshot removed too: its file goes with it
  assert.deepEqual(snapshotFiles(dir), []);
  assert.deepEqual(DurableStore.open(dir, bully, 1).durable, { generation: 2 });
});

test('rehearse runs a change\'s encoding and changes nothing: no file, no counter, not the next snapshot file\'s name', () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(raftState(1, []));
  const files = (): [string, number][] => readdirSync(dir).sort().map((name) => [name, statSync(join(dir, name)).size]);
  const before = files();
  // A vote's change, an append, and a change with a snapshot too large to log (it would go to a file).
  store.rehearse(raftState(1, []), raftState(2, []));
  store.rehearse(raftState(2, []), raftState(2, [{ term: 2, command: 'put a' }]));
  store.rehearse(raftState(2, []), compacted(50, 1));
  store.rehearse(null, raftState(1, []));
  assert.deepEqual(files(), before, 'nothing written');
  assert.deepEqual([store.appends, store.rewrites, store.fileWrites], [0, 1, 0]);
  store.save(compacted(50, 1));
  assert.deepEqual(snapshotFiles(dir), ['snapshot.1.json'], 'the first snapshot file is still number 1');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, compacted(50, 1));
});

/** prepareField as a promise. */
const prepare = (store: DurableStore, key: string, value: unknown): Promise<void> =>
  new Promise((resolve, reject) => store.prepareField(key, value, (error) => (error === null ? resolve() : reject(error as Error))));

test('prepareField writes a large field\'s file ahead; the save that holds that value refers to it and writes nothing more', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 2));
  assert.deepEqual(snapshotFiles(dir), ['snapshot.1.json']);
  const next = compacted(100, 0);
  await prepare(store, 'snapshot', next.snapshot);
  assert.deepEqual(snapshotFiles(dir), ['snapshot.1.json', 'snapshot.2.json'], 'written ahead, durable, before any save refers to it');
  assert.equal(store.fileWrites, 2);
  await saveAsync(store, next);
  assert.equal(store.fileWrites, 2, 'the save wrote no file of its own');
  assert.deepEqual(snapshotFiles(dir), ['snapshot.2.json'], 'the file it replaced is removed');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, next);
});

test('prepareField: a save holding another value removes the file written ahead; a small value writes nothing; a stray file goes at the next start', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 2));
  await prepare(store, 'snapshot', compacted(100, 0).snapshot);
  store.save(compacted(120, 0)); // another snapshot than the one prepared
  assert.deepEqual(snapshotFiles(dir), ['snapshot.3.json'], 'the one written ahead is gone, the saved one written');
  await prepare(store, 'snapshot', { index: 1, term: 1, data: 'small' });
  assert.deepEqual(snapshotFiles(dir), ['snapshot.3.json'], 'a value that lives inline is not written ahead');
  await prepare(store, 'snapshot', compacted(150, 0).snapshot); // and then the node stops before the compaction
  assert.deepEqual(snapshotFiles(dir), ['snapshot.3.json', 'snapshot.5.json'], 'written ahead (number 4 went to the small value: numbers are never reused)');
  store.close();
  const reopened = DurableStore.open(dir, replicating, 1);
  assert.deepEqual(reopened.durable, compacted(120, 0));
  assert.deepEqual(snapshotFiles(dir), ['snapshot.3.json'], 'nothing referred to it: removed at the start');
});

test('prepareField with a snapshot\'s pieces writes the value\'s JSON; the save that holds it refers to that file', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 2));
  const kv = new KvStore();
  // About 900 KB: four batches of pieces (256 Ki characters each), quotes and newlines to escape.
  for (let index = 1; index <= 220; index++) kv.applyCommitted(index, encodeKvCommand({ op: 'put', key: `key-${index}`, value: `"${index}"\n`.padEnd(4_000, 'xy') }));
  const snapshot = kv.snapshotText();
  const next = { ...raftState(1, []), snapshot: { index: 220, term: 1, data: snapshot.text } };
  await new Promise<void>((resolve, reject) => store.prepareField('snapshot', next.snapshot, (error) => (error === null ? resolve() : reject(error as Error)), snapshot));
  const [file] = snapshotFiles(dir).filter((name) => name !== 'snapshot.1.json');
  assert.equal(readFileSync(join(dir, file!), 'utf8'), JSON.stringify(next.snapshot), 'the file holds the value\'s JSON, the pieces joined where its string was');
  await saveAsync(store, next);
  assert.equal(store.fileWrites, 2, 'the save wrote no file of its own');
  assert.deepEqual(DurableStore.open(dir, replicating, 1).durable, next);
});

test('prepareField reports a write that fails (here: the data dir is gone), never as done', async () => {
  const dir = freshDir();
  const { store } = DurableStore.open(dir, replicating, 1);
  store.save(compacted(50, 2));
  rmSync(dir, { recursive: true, force: true });
  await assert.rejects(prepare(store, 'snapshot', compacted(100, 0).snapshot), /ENOENT/);
  assert.equal(store.fileWrites, 1);
});
