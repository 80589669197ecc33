/**
 * Durable state on disk, in the node's data directory: `state.json`, the whole state as of its last
 * rewrite, and `state.log`, an append-only log of what changed since (docs/runtime.md, "Durable log").
 *
 * The core hands over its WHOLE durable state at each persist (src/core/types.ts, Output.persist). With
 * a replicated log that grows by a few entries per write, rewriting it all would cost O(log) per write;
 * instead the store remembers what it last made durable and, when the new state only extends its arrays
 * (the log: same prefix, new entries at the end) and changes a few small fields, appends ONE record to
 * state.log and fsyncs it (fdatasync): O(change) per persist. Anything else — an array that shrank or
 * was rewritten (a Raft log truncated by a new leader, compacted by a snapshot), a large field, a log
 * grown past its bound — rewrites state.json atomically: write a temporary file, fsync it, rename it
 * over the old file, fsync the directory (so the rename itself survives a power loss), then empty
 * state.log. A crash at any point leaves either the old state or the new one, never a mix.
 *
 * Each record of state.log is one line, `CRC32 JSON\n`, and carries the generation of the state.json it
 * applies to (a rewrite increments it, so records of an older state.json are ignored if a crash came
 * between the rename and the emptying). Recovery reads state.json, applies the records in order, and
 * validates the result (durableSchema). A record cut short by a crash — the last one, without its
 * newline or with a checksum that does not match — was never acknowledged (its fsync did not return),
 * so it is cut off, never reported as corruption; a bad record FOLLOWED by good ones is corruption.
 *
 * Two ways to save. `save` is synchronous: it returns once the state is on disk. `saveAsync`, which a
 * running node uses, writes the record on the event loop (into the page cache: microseconds) but runs
 * the fdatasync in libuv's thread pool and calls back once it returned, so the node keeps reading and
 * writing its sockets while the disk works. The ordering rule is the host's, not the store's: a node
 * sends nothing that depends on the state before the callback (a Raft vote is on disk before the grant
 * leaves, §5.2 / Figure 2; NodeDriver.pipeline), and starts no second save before it. Rewrites of
 * state.json (rare: a truncated or compacted log) stay synchronous in both. The host makes one persist
 * serve many inputs (group commit: the inputs that arrive while a persist runs are stepped together
 * once it completes, src/runtime/node.ts).
 *
 * Reads are strict: a file that is not valid JSON, or does not match the algorithm's durable shape,
 * or belongs to another algorithm or node, is an error, never a silent reset: forgetting a vote would
 * let the node vote twice in one term.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { durableSchema, envelopeSchema, type Issue, type Validator } from './schema.js';

export const STATE_FILE = 'state.json';
/** The append-only log of changes since state.json was last rewritten. */
export const LOG_FILE = 'state.log';
const FORMAT = 1;

/** The data directory cannot be used, or holds state this node must not run from. */
export class StorageError extends Error {}

/** The file-system calls a write is made of, injectable so tests can check their order. */
export interface FileOps {
  writeFile(path: string, data: string): void;
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

/** A record larger than this rewrites state.json instead (a snapshot, a long vote history). */
const MAX_RECORD_BYTES = 64 * 1024;
/** state.log is folded into state.json once it is this long and longer than state.json itself. */
const MIN_LOG_BYTES_TO_FOLD = 4 * 1024 * 1024;

/** One record of state.log: the generation it applies to, fields replaced, arrays extended. */
interface LogRecord {
  readonly g: number;
  readonly s?: Readonly<Record<string, unknown>>;
  readonly a?: Readonly<Record<string, readonly unknown[]>>;
}

type Fields = Record<string, unknown>;

export class DurableStore {
  readonly path: string;
  readonly logPath: string;
  private readonly envelope = envelopeSchema(FORMAT);
  private readonly state: Validator;
  /** What is durable now: its top-level fields (arrays as this store's own copies), or null before the first save. */
  private persisted: Fields | null = null;
  /** The generation of state.json; state.log's records carry it. */
  private generation = 0;
  /** state.log, open for appending (after the first save or load). */
  private logFd: number | null = null;
  private logBytes = 0;
  private baseBytes = 0;
  /** An fdatasync of saveAsync is in flight; close() then waits for it. */
  private syncing = false;
  private closeAfterSync = false;
  /** Counts, for /metrics: records appended, and rewrites of state.json. */
  appends = 0;
  rewrites = 0;

  private constructor(
    readonly dir: string,
    private readonly algorithm: AnyAlgorithm,
    private readonly node: NodeId,
    private readonly ops: FileOps,
  ) {
    this.path = join(dir, STATE_FILE);
    this.logPath = join(dir, LOG_FILE);
    this.state = durableSchema(algorithm);
  }

  /**
   * Opens (creating it if needed) a node's data directory and reads back its durable state: null for a
   * node that has never run. Throws StorageError with a one-line explanation.
   */
  static open(dir: string, algorithm: AnyAlgorithm, node: NodeId, ops: FileOps = realFileOps): { store: DurableStore; durable: unknown } {
    try {
      makeDirectory(dir);
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new StorageError(`cannot use data dir ${dir} (${errnoCode(error)})`);
    }
    const store = new DurableStore(dir, algorithm, node, ops);
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
    // that fails this algorithm's schema.
    const envelope = this.envelope.safeParse(json);
    if (!envelope.success) throw corrupt(envelope.error, '');
    const { algorithm, node } = envelope.data;
    if (algorithm !== this.algorithm.name) throw this.refuse(`the state of a ${algorithm} node, not ${this.algorithm.name}`);
    if (node !== this.node) throw this.refuse(`the state of node ${node}, not node ${this.node}`);
    this.generation = envelope.data.generation ?? 0;
    this.baseBytes = Buffer.byteLength(text);
    const fields = envelope.data.state;
    if (typeof fields === 'object' && fields !== null && !Array.isArray(fields)) {
      this.replay(fields as Fields);
    }
    const state = this.state.safeParse(fields);
    if (!state.success) throw corrupt(state.error, 'state');
    this.remember(state.data);
    return state.data;
  }

  /**
   * Applies state.log's records of this generation to `fields`, cuts a torn last record off, and opens
   * the log for appending after the last good record.
   */
  private replay(fields: Fields): void {
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
      for (const [key, value] of Object.entries(record.s ?? {})) fields[key] = value;
      for (const [key, items] of Object.entries(record.a ?? {})) {
        const current = fields[key];
        if (!Array.isArray(current)) throw this.refuse(`corrupt (a record extends ${key}, which is not an array)`, this.logPath);
        fields[key] = current.concat(items);
      }
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
      this.advance(found.record, state as Fields);
    } catch (error) {
      this.persisted = null;
      throw error;
    }
  }

  /**
   * Makes `state` durable and calls `durable(null)` once it is on disk, or `durable(error)`: like save,
   * but an append's fdatasync runs in libuv's thread pool (see the top of this file). The callback may
   * come before this returns (nothing to wait for, or a rewrite, which stays synchronous). One save at
   * a time: the caller starts the next only after the callback.
   */
  saveAsync(state: unknown, durable: (error: unknown) => void): void {
    let fd: number;
    let record: LogRecord;
    try {
      const found = this.append(state);
      if (found === null) return durable(null);
      ({ fd, record } = found);
    } catch (error) {
      this.persisted = null;
      return durable(error);
    }
    this.syncing = true;
    fdatasync(fd, (error) => {
      this.syncing = false;
      const closed = this.closeAfterSync;
      if (closed) this.close();
      if (error) {
        this.persisted = null;
        return durable(error);
      }
      this.appends++;
      if (!closed) this.advance(record, state as Fields);
      durable(null);
    });
  }

  /**
   * What save and saveAsync share: a rewrite (done here, synchronously), nothing to do (null), or the
   * record written to state.log, whose fdatasync is the caller's.
   */
  private append(state: unknown): { readonly fd: number; readonly record: LogRecord } | null {
    const record = this.persisted === null || this.logFd === null ? null : this.difference(this.persisted, state as Fields);
    if (record === null) {
      this.rewrite(state);
      return null;
    }
    if (record === 'same') return null;
    const line = encodeRecord(record);
    if (line.length > MAX_RECORD_BYTES || (this.logBytes + line.length > MIN_LOG_BYTES_TO_FOLD && this.logBytes > this.baseBytes)) {
      this.rewrite(state);
      return null;
    }
    // An open file outlives its name: were state.log (or the data dir) removed, the appends would go to
    // a file no restart can find. One fstat per append (a fraction of the fdatasync) says so.
    if (fstatSync(this.logFd!).nlink === 0) throw new Error(`${this.logPath} was removed`);
    writeAll(this.logFd!, line);
    this.logBytes += line.length;
    return { fd: this.logFd!, record };
  }

  /** Closes state.log (a stopped node; a later save reopens it through a rewrite); after an fdatasync in flight. */
  close(): void {
    this.persisted = null;
    if (this.syncing) {
      // The thread pool still holds the descriptor: closing it now could let a new file take its number.
      this.closeAfterSync = true;
      return;
    }
    this.closeAfterSync = false;
    if (this.logFd !== null) closeSync(this.logFd);
    this.logFd = null;
  }

  /** Writes the whole state to state.json under a new generation, then empties state.log. */
  private rewrite(state: unknown): void {
    const generation = this.generation + 1;
    const data = JSON.stringify({ format: FORMAT, algorithm: this.algorithm.name, node: this.node, generation, state });
    const temp = `${this.path}.tmp`;
    this.persisted = null;
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
    this.remember(state);
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
  private advance(record: LogRecord, state: Fields): void {
    const persisted = this.persisted!;
    for (const key of Object.keys(record.s ?? {})) persisted[key] = Array.isArray(state[key]) ? (state[key] as unknown[]).slice() : state[key];
    for (const [key, items] of Object.entries(record.a ?? {})) (persisted[key] as unknown[]).push(...items);
  }

  /**
   * The record that turns `before` into `after`: 'same' when nothing changed, null when only a rewrite
   * can (a field removed, an array that is not an extension of the durable one, a state that is not an
   * object).
   */
  private difference(before: Fields, after: Fields): LogRecord | 'same' | null {
    if (typeof after !== 'object' || after === null || Array.isArray(after)) return null;
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) return null;
    let replaced: Record<string, unknown> | undefined;
    let appended: Record<string, unknown[]> | undefined;
    for (const [key, value] of Object.entries(after)) {
      const old = before[key];
      if (Array.isArray(value)) {
        if (!Array.isArray(old)) return null;
        if (!extends_(old, value)) return null;
        if (value.length > old.length) (appended ??= {})[key] = value.slice(old.length);
      } else if (!sameValue(old, value)) {
        (replaced ??= {})[key] = value;
      }
    }
    if (replaced === undefined && appended === undefined) return 'same';
    return { g: this.generation, ...(replaced ? { s: replaced } : {}), ...(appended ? { a: appended } : {}) };
  }
}

/** Whether `next` starts with every element of `prefix` (by identity, else by value). */
function extends_(prefix: readonly unknown[], next: readonly unknown[]): boolean {
  if (next.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== next[i] && !sameValue(prefix[i], next[i])) return false;
  return true;
}

/** Equal as JSON (the durable state is JSON): identity first, the text only when that fails. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `CRC32 JSON\n`, as bytes. */
function encodeRecord(record: LogRecord): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `, 'latin1'), json, Buffer.from('\n')]);
}

/** The record a line holds, or null when it is torn or not a record of this format. */
function parseRecord(line: Buffer): LogRecord | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const json = line.subarray(9);
  if (line.toString('latin1', 0, 8) !== crc32(json).toString(16).padStart(8, '0')) return null;
  let record: unknown;
  try {
    record = JSON.parse(json.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null) return null;
  const { g, s, a } = record as Record<string, unknown>;
  if (typeof g !== 'number' || !Number.isSafeInteger(g)) return null;
  if (s !== undefined && (typeof s !== 'object' || s === null || Array.isArray(s))) return null;
  if (a !== undefined && (typeof a !== 'object' || a === null || Array.isArray(a) || !Object.values(a).every(Array.isArray))) return null;
  return record as LogRecord;
}

function writeAll(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written);
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE), as zlib computes it (node's zlib.crc32 needs Node 20.15; engines says >= 20). */
export function crc32(data: Uint8Array): number {
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
