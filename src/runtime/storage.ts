/**
 * Durable state on disk, in the node's data directory: `state.json`, the state as of its last rewrite,
 * `state.log`, an append-only log of what changed since, and `snapshot.N.json`, a field too large to
 * rewrite or log at each change — the snapshot — in a file of its own (docs/runtime.md, "Durability").
 *
 * The core hands over its WHOLE durable state at each persist (src/core/types.ts, Output.persist). With
 * a replicated log that grows by a few entries per write, rewriting it all would cost O(log) per write;
 * instead the store remembers what it last made durable and, when the new state keeps a prefix of its
 * arrays (the log: same entries, new ones at the end, or a tail replaced: a Raft log truncated by a new
 * leader, ZAB's last run counting one more) and changes or removes a few small fields, appends ONE record to
 * state.log and fsyncs it (fdatasync): O(change) per persist. Anything else — an array that became something else, a record
 * over 64 KiB — rewrites state.json atomically: write a temporary file, fsync it, rename it over the
 * old file, fsync the directory (so the rename itself survives a power loss), then empty state.log. A
 * crash at any point leaves either the old state or the new one. A log grown past its bound is folded
 * into state.json the same way but in the background (startFold, installFold): the state is written
 * by a worker thread while records go on, and the next save installs it.
 *
 * A field whose JSON is over 64 KiB (the snapshot: megabytes, once a key-value store is large) is in
 * neither: it is written to `FIELD.SEQ.json` (temporary file, fsync, rename, fsync the directory) only
 * when it changes — once per compaction or installed snapshot — and state.json (`files`) or a record
 * (`f`) refers to it by name, length and CRC-32. The file is durable before the reference is written,
 * and the file it replaces is removed only once the new reference is durable, so a crash between the
 * steps leaves the old reference and its file (the new file, unreferenced, is removed at the next start),
 * or the new one and both files (the old one is removed). A referenced file that is missing, or whose
 * length or checksum differs, is corruption: the node refuses to start (see `load`).
 *
 * Each record of state.log is one line, `CRC32 JSON\n`, and carries the generation of the state.json it
 * applies to (a rewrite increments it, so records of an older state.json are ignored if a crash came
 * between the rename and the emptying). Recovery reads state.json, applies the records in order, reads
 * the files they refer to, and validates the result (durableSchema). A record cut short by a crash — the
 * last one, without its newline or with a checksum that does not match — was never acknowledged (its
 * fsync did not return), so it is cut off, never reported as corruption; a bad record FOLLOWED by good
 * ones is corruption.
 *
 * Two ways to save. `save` is synchronous: it returns once the state is on disk. `saveAsync`, which a
 * running node uses, writes the record on the event loop (into the page cache: microseconds) but runs
 * the fdatasync in libuv's thread pool and calls back once it returned, so the node keeps reading and
 * writing its sockets while the disk works. The ordering rule is the host's, not the store's: a node
 * sends nothing that depends on the state before the callback (a Raft vote is on disk before the grant
 * leaves, §5.2 / Figure 2; NodeDriver.pipeline), and starts no second save before it. Rewrites of
 * state.json and writes of a snapshot file (rare: a compaction) stay synchronous in both. The host
 * makes one persist serve many inputs (group commit: the inputs that arrive while a persist runs are
 * stepped together once it completes, src/runtime/node.ts).
 *
 * Reads are strict: a file that is not valid JSON, or does not match the algorithm's durable shape,
 * or belongs to another algorithm or node, is an error, never a silent reset: forgetting a vote would
 * let the node vote twice in one term.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { fieldWriterAvailable, streamText, writeFieldFile, type Streamed } from './field-writer.js';
import type { SnapshotText } from '../kv/store.js';
import { durableSchema, envelopeSchema, type Issue, type Validator } from './schema.js';
import { crc32, encodeRecord, FIELD_FILE, fieldFiles, hex32, parseRecord, type FieldFile, type LogRecord } from './state-format.js';

export const STATE_FILE = 'state.json';
/** The append-only log of changes since state.json was last rewritten. */
export const LOG_FILE = 'state.log';
/**
 * The format this store writes: 2 since large fields moved to files of their own (`files`, records with
 * `f` and `r`). Format 1 (state.json without `files`, records with `s` and `a` only) is read as well: it
 * is a subset. A build that reads only format 1 refuses a format-2 file rather than miss its snapshot.
 */
const FORMAT = 2;
const READABLE_FORMATS: readonly number[] = [1, 2];

/** The data directory cannot be used, or holds state this node must not run from. */
export class StorageError extends Error {}

/** The file-system calls a write is made of, injectable so tests can check their order. */
export interface FileOps {
  writeFile(path: string, data: string | Uint8Array): void;
  rename(from: string, to: string): void;
  fsyncDir(path: string): void;
}

export const realFileOps: FileOps = {
  writeFile(path, data) {
    const fd = openSync(path, 'w', 0o600);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  rename: renameSync,
  fsyncDir(path) {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * `mkdir -p`, bounded. node's own `mkdirSync(dir, { recursive: true })` retries forever where a
 * parent exists but refuses children with ENOENT (any path under /proc): 100% CPU, never an error.
 * Here each level is tried at most twice, so such a path fails with its errno.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return; // accessSync (or the first write) then says whether it is usable
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    makeDirectory(parent);
  }
  mkdirSync(dir);
}

/** A record larger than this rewrites state.json instead (a long vote history, a log replaced whole). */
const MAX_RECORD_BYTES = 64 * 1024;
/** A field (not an array) whose JSON is longer than this lives in a file of its own: the snapshot. */
const MAX_INLINE_FIELD_BYTES = 64 * 1024;
/** state.log is folded into state.json once it is this long and longer than state.json itself. */
const MIN_LOG_BYTES_TO_FOLD = 4 * 1024 * 1024;
/** A fold's state.json, written in the background: `state.SEQ.json` (numbered as field files are). */
const FOLD_FILE = /^state\.(\d{1,15})\.json(\.tmp)?$/;

export interface StoreOptions {
  /** Fold state.log into state.json once it is this long and longer than state.json (default 4 MiB). */
  readonly foldBytes?: number;
}

/**
 * A fold of state.log into state.json, written in the background (startFold) while records go on
 * being appended to state.log under the current generation; installed at the next save once durable.
 */
interface Fold {
  /** The generation of state.json when it began: it is void if another rewrite came first. */
  readonly base: number;
  /** The file it is written to (state.SEQ.json). */
  readonly path: string;
  /** The records appended since the state it holds, in order: they go on under its generation. */
  readonly since: LogRecord[];
  /** Its length in bytes once durable; null while it is written. */
  written: number | null;
}

type Fields = Record<string, unknown>;

/** A field in its own file, durable: where, and the value it holds (to see whether a save changes it). */
interface External {
  readonly file: FieldFile;
  readonly value: unknown;
}

/** A field file to write before the record or state.json that refers to it. */
interface PendingFile {
  readonly key: string;
  readonly file: FieldFile;
  /** Its bytes; null when it is durable already, written ahead in the background (prepareField). */
  readonly data: Buffer | null;
  readonly value: unknown;
}

export class DurableStore {
  readonly path: string;
  readonly logPath: string;
  private readonly state: Validator;
  /** What is durable now: its top-level fields (arrays as this store's own copies), or null before the first save. */
  private persisted: Fields | null = null;
  /** The fields in files of their own, as durable now (kept across a failed save: files are never overwritten). */
  private external = new Map<string, External>();
  /** The next field file's sequence number (never reused: a name always means one content). */
  private nextFile = 1;
  /** Field files written ahead (prepareField), by field, for the save that will hold their value. */
  private ahead = new Map<string, PendingFile>();
  /** The generation of state.json; state.log's records carry it. */
  private generation = 0;
  /** state.log, open for appending (after the first save or load). */
  private logFd: number | null = null;
  private logBytes = 0;
  private baseBytes = 0;
  /** A fold in the background, or null. */
  private fold: Fold | null = null;
  /** A fold in the background failed: the next one is a rewrite, on the event loop. */
  private foldFailed = false;
  private readonly foldBytes: number;
  /** An fdatasync of saveAsync is in flight; close() then waits for it. */
  private syncing = false;
  private closeAfterSync = false;
  /** Counts, for /metrics: records appended, rewrites of state.json, field files written (snapshots). */
  appends = 0;
  rewrites = 0;
  fileWrites = 0;

  private constructor(
    readonly dir: string,
    private readonly algorithm: AnyAlgorithm,
    private readonly node: NodeId,
    private readonly ops: FileOps,
    options: StoreOptions,
  ) {
    this.foldBytes = options.foldBytes ?? MIN_LOG_BYTES_TO_FOLD;
    this.path = join(dir, STATE_FILE);
    this.logPath = join(dir, LOG_FILE);
    this.state = durableSchema(algorithm);
  }

  /**
   * Opens (creating it if needed) a node's data directory and reads back its durable state: null for a
   * node that has never run. Throws StorageError with a one-line explanation.
   */
  static open(dir: string, algorithm: AnyAlgorithm, node: NodeId, ops: FileOps = realFileOps, options: StoreOptions = {}): { store: DurableStore; durable: unknown } {
    try {
      makeDirectory(dir);
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new StorageError(`cannot use data dir ${dir} (${errnoCode(error)})`);
    }
    const store = new DurableStore(dir, algorithm, node, ops, options);
    return { store, durable: store.load() };
  }

  private refuse(why: string, path = this.path): StorageError {
    return new StorageError(`${path} is ${why}; refusing to start from it (a reset could let this node vote twice)`);
  }

  /** The stored durable state (state.json with state.log applied), or null when there is none. */
  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw new StorageError(`cannot read ${this.path} (${errnoCode(error)})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.refuse('corrupt (not JSON)');
    }
    const corrupt = (error: { readonly issues: readonly Issue[] }, under: string): StorageError => {
      const issue = error.issues[0];
      const path = [under, ...(issue?.path ?? [])].filter((part) => part !== '').join('.');
      return this.refuse(`corrupt (${issue ? `${path || 'top level'}: ${issue.message}` : 'invalid'})`);
    };
    // The envelope first: a data dir of another algorithm or node is named as such, not as a state
    // that fails this algorithm's schema. A format this build does not know is named too (a newer build's).
    const format = typeof json === 'object' && json !== null ? (json as { format?: unknown }).format : undefined;
    if (typeof format === 'number' && Number.isSafeInteger(format) && format > FORMAT) {
      throw this.refuse(`in format ${format}, newer than this build reads (${READABLE_FORMATS.join(', ')})`);
    }
    const envelope = envelopeSchema(format === 1 ? 1 : FORMAT).safeParse(json);
    if (!envelope.success) throw corrupt(envelope.error, '');
    const { algorithm, node } = envelope.data;
    if (algorithm !== this.algorithm.name) throw this.refuse(`the state of a ${algorithm} node, not ${this.algorithm.name}`);
    if (node !== this.node) throw this.refuse(`the state of node ${node}, not node ${this.node}`);
    this.generation = envelope.data.generation ?? 0;
    this.baseBytes = Buffer.byteLength(text);
    const fields = envelope.data.state;
    const files = new Map<string, FieldFile>();
    if (envelope.data.files !== undefined) {
      const named = fieldFiles(envelope.data.files);
      if (named === null || envelope.data.format === 1) throw this.refuse('corrupt (files: expected the fields kept in files of their own)');
      for (const [key, file] of Object.entries(named)) files.set(key, file);
    }
    if (typeof fields === 'object' && fields !== null && !Array.isArray(fields)) {
      this.replay(fields as Fields, files);
      // Only the last reference of each field counts: the files of earlier ones may be gone already.
      for (const [key, file] of files) {
        const value = this.readField(file);
        (fields as Fields)[key] = value;
        this.external.set(key, { file, value });
      }
    } else if (files.size > 0) {
      throw this.refuse('corrupt (files beside a state that is not an object)');
    }
    const state = this.state.safeParse(fields);
    if (!state.success) throw corrupt(state.error, 'state');
    this.remember(state.data);
    // A format-1 directory becomes format 2 at the first save, by a rewrite: records of format 2 after a
    // format-1 state.json would be misread (not refused) by a build that reads only format 1.
    if (envelope.data.format !== FORMAT) this.persisted = null;
    this.removeStaleFiles();
    return state.data;
  }

  /** The value a field file holds, checked against the reference's length and checksum. */
  private readField(file: FieldFile): unknown {
    const path = join(this.dir, file.name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw this.refuse(`missing (${STATE_FILE} or ${LOG_FILE} refers to it)`, path);
      throw new StorageError(`cannot read ${path} (${errnoCode(error)})`);
    }
    if (bytes.length !== file.bytes) throw this.refuse(`corrupt (${bytes.length} bytes, not the ${file.bytes} written)`, path);
    if (hex32(crc32(bytes)) !== file.crc32) throw this.refuse('corrupt (its checksum does not match)', path);
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      throw this.refuse('corrupt (not JSON)', path);
    }
  }

  /**
   * After a successful load: removes the field files nothing refers to (written before a crash that came
   * before their reference, or replaced before a crash that came before their removal), and numbers the
   * next file after every one seen.
   */
  private removeStaleFiles(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return; // housekeeping only
    }
    const referenced = new Set([...this.external.values()].map(({ file }) => file.name));
    for (const name of names) {
      // A fold not installed before a crash, its temporary file, or state.log's while it was cut (installFold).
      const fold = FOLD_FILE.exec(name);
      if (fold !== null || name === `${LOG_FILE}.tmp`) {
        if (fold !== null) this.nextFile = Math.max(this.nextFile, Number(fold[1]) + 1);
        removeFile(join(this.dir, name));
        continue;
      }
      const match = FIELD_FILE.exec(name);
      if (!match) continue;
      this.nextFile = Math.max(this.nextFile, Number(match[2]) + 1);
      if (!referenced.has(name)) removeFile(join(this.dir, name));
    }
  }

  /**
   * Applies state.log's records of this generation to `fields` and `files`, cuts a torn last record
   * off, and opens the log for appending after the last good record.
   */
  private replay(fields: Fields, files: Map<string, FieldFile>): void {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.logPath);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return;
      throw new StorageError(`cannot read ${this.logPath} (${errnoCode(error)})`);
    }
    let offset = 0;
    let good = 0;
    while (offset < bytes.length) {
      const newline = bytes.indexOf(0x0a, offset);
      const end = newline === -1 ? bytes.length : newline;
      const record = newline === -1 ? null : parseRecord(bytes.subarray(offset, end));
      if (record === null) {
        // Only the last record may be bad: its write was cut by a crash and never acknowledged.
        if (newline !== -1 && newline + 1 < bytes.length) throw this.refuse(`corrupt (a bad record at byte ${offset}, followed by others)`, this.logPath);
        break;
      }
      offset = end + 1;
      if (record.g !== this.generation) continue; // written against an older state.json
      for (const key of record.d ?? []) {
        delete fields[key];
        files.delete(key);
      }
      for (const [key, value] of Object.entries(record.s ?? {})) {
        fields[key] = value;
        files.delete(key);
      }
      for (const [key, file] of Object.entries(record.f ?? {})) {
        delete fields[key];
        files.set(key, file);
      }
      const array = (key: string): unknown[] => {
        const current = fields[key];
        if (!Array.isArray(current)) throw this.refuse(`corrupt (a record extends ${key}, which is not an array)`, this.logPath);
        return current;
      };
      for (const [key, [length, items]] of Object.entries(record.r ?? {})) {
        const current = array(key);
        if (length > current.length) throw this.refuse(`corrupt (a record keeps ${length} items of ${key}, which has ${current.length})`, this.logPath);
        fields[key] = current.slice(0, length).concat(items);
      }
      for (const [key, items] of Object.entries(record.a ?? {})) fields[key] = array(key).concat(items);
      good = offset;
    }
    try {
      this.logFd = openSync(this.logPath, 'r+');
      if (good < bytes.length) {
        ftruncateSync(this.logFd, good);
        fdatasyncSync(this.logFd);
      }
      closeSync(this.logFd);
      this.logFd = openSync(this.logPath, 'a', 0o600);
    } catch (error) {
      throw new StorageError(`cannot open ${this.logPath} (${errnoCode(error)})`);
    }
    this.logBytes = good;
  }

  /**
   * Makes `state` durable; returns once it is on disk. Appends one record to state.log when the state
   * only extends what is durable (see the top of this file), else rewrites state.json. Throws on any I/O
   * error (and then forgets what it knew, so the next save rewrites everything).
   */
  save(state: unknown): void {
    try {
      const found = this.append(state);
      if (found === null) return;
      fdatasyncSync(found.fd);
      this.appends++;
      this.advance(found.record, state as Fields, found.written);
    } catch (error) {
      this.persisted = null;
      throw error;
    }
  }

  /**
   * Runs the code of one change's record — the difference of `after` from `before`, its encoding and
   * checksum — and writes nothing: a rehearsing node's states (src/core/rehearsal.ts) warm the code a
   * vote's write runs, rarely, on an election's path. Changes nothing in this store.
   */
  rehearse(before: unknown, after: unknown): void {
    if (typeof before !== 'object' || before === null || Array.isArray(before)) return;
    const nextFile = this.nextFile;
    const ahead = this.ahead;
    this.ahead = new Map();
    try {
      const found = this.difference(before as Fields, after as Fields);
      if (found !== null && found !== 'same') encodeRecord(found.record);
    } finally {
      this.nextFile = nextFile;
      this.ahead = ahead;
    }
  }

  /**
   * Writes ahead, in the background, the file of field `key` holding `value` (a snapshot about to be
   * compacted into the state: ElectionNode.compactionPreview), and calls `done(null)` once it is durable
   * — encoded, checksummed, and written to a temporary file, fsynced, renamed, the directory fsynced, all
   * in a worker thread (field-writer.ts) — or `done(error)`; `done(null)` too, writing nothing, when
   * the value is small enough to live inline. The event loop only hands the value over. The save that then holds `value` at
   * `key` refers to this file instead of writing one, so that the compaction's persist, which the
   * node's inputs wait for, stalls nothing for the write (docs/runtime.md, Durability); a save that
   * holds another value there removes it. Until a record refers to it the file is a stray, which a
   * start removes (removeStaleFiles) as it does a file written before a crash. Returns at once.
   * `parted`: a string of `value`'s of megabytes, with the pieces it was joined from, which the worker
   * is sent instead (SnapshotText, field-writer.ts).
   */
  prepareField(key: string, value: unknown, done: (error: unknown) => void, parted?: SnapshotText): void {
    if (!fieldWriterAvailable) return done(null);
    const file = `${key}.${this.nextFile++}.json`;
    const path = join(this.dir, file);
    const streamed = parted === undefined ? null : streamText(value, parted);
    writeFieldFile(path, this.dir, streamed?.value ?? value, MAX_INLINE_FIELD_BYTES, streamed?.streamed).then(
      (written) => {
        if (written === null) return done(null); // small enough to live inline: nothing written ahead
        this.fileWrites++;
        const replaced = this.ahead.get(key);
        if (replaced !== undefined) removeFile(join(this.dir, replaced.file.name));
        this.ahead.set(key, { key, file: { name: file, bytes: written.bytes, crc32: hex32(written.crc32) }, data: null, value });
        done(null);
      },
      (error: unknown) => {
        removeFile(`${path}.tmp`);
        done(error);
      },
    );
  }

  /**
   * Makes `state` durable and calls `durable(null)` once it is on disk, or `durable(error)`: like save,
   * but an append's fdatasync runs in libuv's thread pool (see the top of this file). The callback may
   * come before this returns (nothing to wait for, or a rewrite, which stays synchronous). One save at
   * a time: the caller starts the next only after the callback.
   */
  saveAsync(state: unknown, durable: (error: unknown) => void): void {
    let found: Appended;
    try {
      const appended = this.append(state);
      if (appended === null) return durable(null);
      found = appended;
    } catch (error) {
      this.persisted = null;
      return durable(error);
    }
    this.syncing = true;
    fdatasync(found.fd, (error) => {
      this.syncing = false;
      const closed = this.closeAfterSync;
      if (closed) this.close();
      if (error) {
        this.persisted = null;
        return durable(error);
      }
      this.appends++;
      if (!closed) this.advance(found.record, state as Fields, found.written);
      durable(null);
    });
  }

  /**
   * What save and saveAsync share: a rewrite (done here, synchronously), nothing to do (null), or the
   * record written to state.log — after the field files it refers to, durable — whose fdatasync is the
   * caller's.
   */
  private append(state: unknown): Appended | null {
    this.installFold();
    const found = this.persisted === null || this.logFd === null ? null : this.difference(this.persisted, state as Fields);
    if (found === null) {
      this.rewrite(state);
      return null;
    }
    if (found === 'same') return null;
    const { record, pending } = found;
    const line = encodeRecord(record);
    const foldDue = this.logBytes + line.length > this.foldBytes && this.logBytes > this.baseBytes;
    if (line.length > MAX_RECORD_BYTES || (foldDue && (this.foldFailed || !fieldWriterAvailable))) {
      this.rewrite(state, pending);
      return null;
    }
    // An open file outlives its name: were state.log (or the data dir) removed, the appends would go to
    // a file no restart can find. One fstat per append (a fraction of the fdatasync) says so.
    if (fstatSync(this.logFd!).nlink === 0) throw new Error(`${this.logPath} was removed`);
    // The files first, durable (their rename and the directory synced): a record never refers to a
    // file a crash could take back.
    for (const file of pending) this.writeField(file);
    writeAll(this.logFd!, line);
    this.logBytes += line.length;
    this.fold?.since.push(record);
    if (foldDue && this.fold === null && pending.length === 0) this.startFold(state as Fields);
    return { fd: this.logFd!, record, written: pending };
  }

  /** Removes every file of this store (state.json, state.log, the snapshot files): the data dir as a node that never ran finds it. */
  erase(): void {
    removeFile(this.path);
    removeFile(this.logPath);
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      // nothing to list: nothing left to remove
    }
    for (const name of names) if (FIELD_FILE.test(name)) removeFile(join(this.dir, name));
    this.external.clear();
    this.persisted = null;
  }

  /** Closes state.log (a stopped node; a later save reopens it through a rewrite); after an fdatasync in flight. */
  close(): void {
    this.persisted = null;
    this.dropFold();
    if (this.syncing) {
      // The thread pool still holds the descriptor: closing it now could let a new file take its number.
      this.closeAfterSync = true;
      return;
    }
    this.closeAfterSync = false;
    if (this.logFd !== null) closeSync(this.logFd);
    this.logFd = null;
  }

  /**
   * Writes the state to state.json under a new generation — its large fields in files of their own,
   * written first unless durable already — then empties state.log and removes the files it replaced.
   */
  private rewrite(state: unknown, prepared: readonly PendingFile[] = []): void {
    this.dropFold();
    this.foldFailed = false;
    const generation = this.generation + 1;
    let inline = state;
    const external = new Map<string, External>();
    const pending: PendingFile[] = [];
    if (typeof state === 'object' && state !== null && !Array.isArray(state)) {
      const fields: Fields = {};
      for (const [key, value] of Object.entries(state)) {
        const kept = Array.isArray(value) ? undefined : this.external.get(key);
        if (kept !== undefined && sameValue(kept.value, value)) {
          external.set(key, kept);
          continue;
        }
        const file = Array.isArray(value) ? null : (prepared.find((candidate) => candidate.key === key) ?? this.fieldFile(key, value));
        if (file === null) {
          fields[key] = value;
        } else {
          pending.push(file);
          external.set(key, { file: file.file, value });
        }
      }
      inline = fields;
    }
    const files = Object.fromEntries([...external].map(([key, { file }]) => [key, file]));
    const data = JSON.stringify({ format: FORMAT, algorithm: this.algorithm.name, node: this.node, generation, state: inline, ...(external.size > 0 ? { files } : {}) });
    const temp = `${this.path}.tmp`;
    this.persisted = null;
    for (const file of pending) this.writeField(file);
    this.ops.writeFile(temp, data);
    this.ops.rename(temp, this.path);
    this.ops.fsyncDir(this.dir);
    this.generation = generation;
    this.baseBytes = data.length;
    // Records of the old generation are ignored from now on; emptying the log is housekeeping (its
    // durability comes with the next record's fdatasync, which covers the file's size).
    if (this.logFd === null) this.logFd = openSync(this.logPath, 'a', 0o600);
    ftruncateSync(this.logFd, 0);
    this.logBytes = 0;
    this.rewrites++;
    const replaced = this.external;
    this.external = external;
    this.removeReplaced(replaced);
    this.remember(state);
  }

  /**
   * Folds state.log into state.json without stalling the node: `state` (just appended: the log is past
   * its bound) is written to state.SEQ.json under the next generation by the worker thread (field-writer.ts),
   * its arrays — the log, megabytes — sent a batch per turn; meanwhile saves go on appending to
   * state.log under the current generation, and `since` keeps their records. Written on the event loop,
   * a log of 8 MB stalled every member at once for longer than the leader's lease (they fold at the same
   * index), and the leader stepped down. A state with a field file not yet durable is not folded (the
   * next append starts it).
   */
  private startFold(state: Fields): void {
    const inline: Fields = {};
    const files: Record<string, FieldFile> = {};
    const streamed: Streamed[] = [];
    for (const [key, value] of Object.entries(state)) {
      const kept = Array.isArray(value) ? undefined : this.external.get(key);
      if (kept !== undefined && sameValue(kept.value, value)) {
        files[key] = kept.file;
      } else if (Array.isArray(value)) {
        inline[key] = []; // the items follow in batches; a copy, as the core may push to the array it handed over
        streamed.push({ at: ['state', key], items: value.slice() });
      } else {
        inline[key] = value;
      }
    }
    const envelope = { format: FORMAT, algorithm: this.algorithm.name, node: this.node, generation: this.generation + 1, state: inline, ...(Object.keys(files).length > 0 ? { files } : {}) };
    const fold: Fold = { base: this.generation, path: join(this.dir, `state.${this.nextFile++}.json`), since: [], written: null };
    this.fold = fold;
    writeFieldFile(fold.path, this.dir, envelope, -1, streamed).then(
      (written) => {
        if (this.fold === fold) fold.written = written!.bytes;
        else removeFile(fold.path); // dropped meanwhile
      },
      () => {
        removeFile(`${fold.path}.tmp`);
        if (this.fold !== fold) return;
        this.fold = null;
        this.foldFailed = true; // the next fold is a rewrite, which reports its error as a save's
      },
    );
  }

  /**
   * A fold whose file is durable becomes state.json, before the next record (synchronous; a few small
   * writes). Each step leaves a state a restart reads right:
   * 1. the records since the folded state are appended again under the new generation, and synced:
   *    state.json still is the old one, whose generation's records are all there (the new ones are skipped);
   * 2. the fold is renamed over state.json, the directory synced: from now on its generation's records
   *    count (the old ones are skipped), which are exactly those since the state it holds;
   * 3. state.log is replaced by one holding only those (a temporary file, synced and renamed).
   */
  private installFold(): void {
    const fold = this.fold;
    if (fold === null || fold.written === null) return;
    this.fold = null;
    if (fold.base !== this.generation || this.logFd === null || this.persisted === null) {
      removeFile(fold.path);
      return;
    }
    const generation = fold.base + 1;
    const lines = Buffer.concat(fold.since.map((record) => encodeRecord({ ...record, g: generation })));
    writeAll(this.logFd, lines);
    fdatasyncSync(this.logFd);
    this.ops.rename(fold.path, this.path);
    this.ops.fsyncDir(this.dir);
    this.generation = generation;
    this.baseBytes = fold.written;
    this.rewrites++;
    const temp = `${this.logPath}.tmp`;
    this.ops.writeFile(temp, lines);
    this.ops.rename(temp, this.logPath);
    this.ops.fsyncDir(this.dir);
    closeSync(this.logFd);
    this.logFd = openSync(this.logPath, 'a', 0o600);
    this.logBytes = lines.length;
  }

  /** The fold in the background, if any: 'writing' its file, or 'written' (installed at the next save). */
  get folding(): 'writing' | 'written' | null {
    return this.fold === null ? null : this.fold.written === null ? 'writing' : 'written';
  }

  /** Forgets the fold in the background (a rewrite or a close came first); its file is removed once written. */
  private dropFold(): void {
    const fold = this.fold;
    this.fold = null;
    if (fold !== null && fold.written !== null) removeFile(fold.path);
  }

  /**
   * The file `value` of field `key` goes to when its JSON is too long to keep inline, else null. Its
   * name is new (never reused), so writing it cannot touch a file anything refers to.
   */
  private fieldFile(key: string, value: unknown): PendingFile | null {
    const ahead = this.ahead.get(key);
    if (ahead !== undefined) {
      this.ahead.delete(key);
      // The value it was written for (the same snapshot: comparing is cheap, its string is the same one).
      if (sameValue(ahead.value, value)) return ahead;
      removeFile(join(this.dir, ahead.file.name));
    }
    const json = JSON.stringify(value);
    if (json === undefined || json.length <= MAX_INLINE_FIELD_BYTES / 3) {
      // Fewer UTF-16 units than a third of the bound cannot exceed it in UTF-8: no byte count needed.
      return null;
    }
    const data = Buffer.from(json, 'utf8');
    if (data.length <= MAX_INLINE_FIELD_BYTES) return null;
    const file = { name: `${key}.${this.nextFile++}.json`, bytes: data.length, crc32: hex32(crc32(data)) };
    return { key, file, data, value };
  }

  /** A field file, atomically and durably: temporary file, fsync, rename, fsync the directory. */
  private writeField({ file, data }: PendingFile): void {
    if (data === null) return;
    const path = join(this.dir, file.name);
    this.ops.writeFile(`${path}.tmp`, data);
    this.ops.rename(`${path}.tmp`, path);
    this.ops.fsyncDir(this.dir);
    this.fileWrites++;
  }

  /** Removes the files of `replaced` that the durable state no longer refers to. */
  private removeReplaced(replaced: ReadonlyMap<string, External>): void {
    const current = new Set([...this.external.values()].map(({ file }) => file.name));
    for (const { file } of replaced.values()) if (!current.has(file.name)) removeFile(join(this.dir, file.name));
  }

  /** Remembers `state` as durable: arrays are copied, since a core may push to the array it handed over. */
  private remember(state: unknown): void {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      this.persisted = null;
      return;
    }
    const fields: Fields = {};
    for (const [key, value] of Object.entries(state)) fields[key] = Array.isArray(value) ? value.slice() : value;
    this.persisted = fields;
  }

  /** After an append: the remembered state catches up with `state` without copying what it had. */
  private advance(record: LogRecord, state: Fields, written: readonly PendingFile[]): void {
    const persisted = this.persisted!;
    const replaced = new Map(this.external);
    for (const key of record.d ?? []) {
      delete persisted[key];
      this.external.delete(key);
    }
    for (const key of Object.keys(record.s ?? {})) {
      persisted[key] = Array.isArray(state[key]) ? (state[key] as unknown[]).slice() : state[key];
      this.external.delete(key);
    }
    for (const { key, file, value } of written) {
      persisted[key] = value;
      this.external.set(key, { file, value });
    }
    for (const [key, [length, items]] of Object.entries(record.r ?? {})) {
      const array = persisted[key] as unknown[];
      array.length = length;
      array.push(...items);
    }
    for (const [key, items] of Object.entries(record.a ?? {})) (persisted[key] as unknown[]).push(...items);
    if (written.length > 0 || record.s !== undefined || record.d !== undefined) this.removeReplaced(replaced);
  }

  /**
   * The record that turns `before` into `after`, with the field files it refers to: 'same' when nothing
   * changed, null when only a rewrite can (an array that became something else, a state that is not an
   * object).
   */
  private difference(before: Fields, after: Fields): { readonly record: LogRecord; readonly pending: readonly PendingFile[] } | 'same' | null {
    if (typeof after !== 'object' || after === null || Array.isArray(after)) return null;
    const removed = Object.keys(before).filter((key) => !Object.hasOwn(after, key));
    let replaced: Record<string, unknown> | undefined;
    let appended: Record<string, unknown[]> | undefined;
    let cut: Record<string, [number, unknown[]]> | undefined;
    let filed: Record<string, FieldFile> | undefined;
    const pending: PendingFile[] = [];
    for (const [key, value] of Object.entries(after)) {
      const old = before[key];
      if (Array.isArray(value) && old === undefined) {
        (replaced ??= {})[key] = value; // a new array (a Bully node's first entry)
      } else if (Array.isArray(value)) {
        if (!Array.isArray(old)) return null;
        const kept = commonPrefix(old, value);
        if (kept < old.length) (cut ??= {})[key] = [kept, value.slice(kept)];
        else if (value.length > kept) (appended ??= {})[key] = value.slice(kept);
      } else if (Array.isArray(old)) {
        return null;
      } else if (!sameValue(old, value)) {
        const file = this.fieldFile(key, value);
        if (file === null) (replaced ??= {})[key] = value;
        else {
          pending.push(file);
          (filed ??= {})[key] = file.file;
        }
      }
    }
    if (replaced === undefined && appended === undefined && cut === undefined && filed === undefined && removed.length === 0) return 'same';
    return {
      record: {
        g: this.generation,
        ...(replaced ? { s: replaced } : {}),
        ...(appended ? { a: appended } : {}),
        ...(cut ? { r: cut } : {}),
        ...(filed ? { f: filed } : {}),
        ...(removed.length > 0 ? { d: removed } : {}),
      },
      pending,
    };
  }
}

/** A record written to state.log, not yet synced: its descriptor, and the field files it refers to. */
interface Appended {
  readonly fd: number;
  readonly record: LogRecord;
  readonly written: readonly PendingFile[];
}

/** How many leading elements `next` shares with `prev` (by identity, else by value). */
function commonPrefix(prev: readonly unknown[], next: readonly unknown[]): number {
  const length = Math.min(prev.length, next.length);
  let i = 0;
  while (i < length && (prev[i] === next[i] || sameValue(prev[i], next[i]))) i++;
  return i;
}

/**
 * Equal as JSON values (the durable state is JSON): identity first, then structure. No text is built:
 * a core that hands over a fresh copy of a snapshot of megabytes costs a comparison of its strings
 * (memcmp), not two JSON encodings, at every persist.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  const keysA = Object.keys(a).filter((key) => (a as Fields)[key] !== undefined);
  const keysB = Object.keys(b).filter((key) => (b as Fields)[key] !== undefined);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) if (!Object.hasOwn(b, key) || !sameValue((a as Fields)[key], (b as Fields)[key])) return false;
  return true;
}

/** Removes a file; one already gone is fine (housekeeping: a file left behind is removed at the next start). */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // ENOENT, or anything else: nothing refers to it, and the next start tries again
  }
}

function writeAll(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written);
}
