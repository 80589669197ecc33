/**
 * The replicated key-value store: the state machine every node applies committed commands to, in the
 * simulator, in a real node and in the page. Its semantics are the checker's sequential specification
 * (src/check/kv.ts) — one idea in one place: the store applies exactly what the checker expects.
 *
 * Pure: commands in, results out, no I/O. A command is the JSON of a KvInput (`encodeKvCommand`); the
 * cores carry it as an opaque string (src/core/types.ts, Command) and report it `committed` in log order.
 */
import { applyKvInput, kvModel, kvState, type KvInput, type KvOutput, type KvState } from '../check/kv.js';
import { MAX_COMMAND_LENGTH } from '../core/limits.js';
import type { Command } from '../core/types.js';

/** Longest key, in UTF-16 code units. Keys are path segments of the HTTP API (`/kv/:key`). */
export const MAX_KEY_LENGTH = 256;
/**
 * Longest value, in UTF-16 code units once JSON-escaped (a quote or backslash counts 2, a control
 * character 6): the command that carries it — with the longest key, itself escaped — stays within the
 * cores' one bound on commands (MAX_COMMAND_LENGTH, src/core/limits.ts), which keeps every message
 * within one peer frame. Plain text up to this length always fits.
 */
export const MAX_VALUE_LENGTH = MAX_COMMAND_LENGTH - 2 * MAX_KEY_LENGTH - 96;

/** Keys: 1 to MAX_KEY_LENGTH printable ASCII characters other than '/', '?', '#' and '%'. */
const keyPattern = /^[\x21-\x7e]+$/;
const unsafeInKey = /[/?#%]/;

/** What is wrong with `key`, or null when it is a valid key. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'the key is empty';
  if (key.length > MAX_KEY_LENGTH) return `the key is longer than ${MAX_KEY_LENGTH} characters`;
  if (!keyPattern.test(key) || unsafeInKey.test(key)) return "a key is printable ASCII without spaces, '/', '?', '#' or '%'";
  return null;
}

/** What is wrong with `value`, or null. */
export function valueProblem(value: string): string | null {
  if (value.length > MAX_VALUE_LENGTH) return `the value is longer than ${MAX_VALUE_LENGTH} characters`;
  // Quotes, backslashes and control characters take more room once escaped into the command.
  return JSON.stringify(value).length - 2 > MAX_VALUE_LENGTH ? `the value is longer than ${MAX_VALUE_LENGTH} characters once JSON-escaped (quotes and backslashes count 2, control characters 6)` : null;
}

/** The command that replicates `input` (a write: put, delete, cas; a get is served by a read, not logged). */
export function encodeKvCommand(input: KvInput): Command {
  switch (input.op) {
    case 'put':
      return JSON.stringify({ op: 'put', key: input.key, value: input.value });
    case 'delete':
      return JSON.stringify({ op: 'delete', key: input.key });
    case 'get':
      return JSON.stringify({ op: 'get', key: input.key });
    case 'cas':
      return JSON.stringify({ op: 'cas', key: input.key, expect: input.expect, value: input.value });
  }
}

/**
 * The KvInput a command holds, or null when it is not one (the empty no-op command, or anything
 * malformed: peers are authenticated, but a state machine never trusts its input's shape).
 */
export function decodeKvCommand(command: Command): KvInput | null {
  if (command === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(command);
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const { op, key, value, expect } = json as Record<string, unknown>;
  if (typeof key !== 'string' || keyProblem(key) !== null) return null;
  switch (op) {
    case 'put':
      return typeof value === 'string' && valueProblem(value) === null ? { op, key, value } : null;
    case 'delete':
    case 'get':
      return { op, key };
    case 'cas':
      return typeof value === 'string' && valueProblem(value) === null && typeof expect === 'number' && Number.isSafeInteger(expect) && expect >= 0
        ? { op, key, expect, value }
        : null;
    default:
      return null;
  }
}

/**
 * A snapshot as one string and as the pieces it is joined from, in order. The string is built by
 * concatenation, which V8 keeps as a tree of those pieces (a rope) until something reads its
 * characters; a host that hands the pieces to a worker thread rather than the string never makes the
 * event loop copy megabytes (src/runtime/field-writer.ts).
 */
export interface SnapshotText {
  readonly text: string;
  readonly parts: readonly string[];
}

/** The snapshot's JSON around its entries. */
const snapshotHead = (applied: number): string => `{"applied":${applied},"entries":[`;
const SNAPSHOT_TAIL = ']}';

/** A key's entry of the snapshot: `[key, value, version]` as JSON. */
const encodedEntry = (key: string, { value, version }: KvState): string => JSON.stringify([key, value, version]);

export class KvStore {
  private readonly keys = new Map<string, KvState>();
  /**
   * Each key's entry of the snapshot, `[key, value, version]` as JSON, made when the key is written:
   * a snapshot joins these rather than encoding the store (the unchanged values are most of a large
   * one), and the snapshot's length is known at every write (snapshotLength), at the cost of a second
   * copy of each value in memory.
   */
  private readonly encodedEntries = new Map<string, string>();
  /** The characters of all of encodedEntries. */
  private entriesLength = 0;
  /** The index of the last committed entry applied (0: none). */
  private appliedIndex = 0;

  /** The index of the last entry applied. */
  get applied(): number {
    return this.appliedIndex;
  }

  /**
   * Applies the committed entry at `index` (the `committed` event of src/core/types.ts) and returns the
   * result for the client that proposed it, or null for a no-op or malformed command. Entries must come
   * in index order; an entry at or below `applied` is a duplicate and is ignored (null).
   */
  applyCommitted(index: number, command: Command): KvOutput | null {
    if (index <= this.appliedIndex) return null;
    this.appliedIndex = index;
    const input = decodeKvCommand(command);
    return input === null ? null : this.apply(input);
  }

  /** Applies one operation now (a get changes nothing): the result the specification gives. */
  apply(input: KvInput): KvOutput {
    const { state, output } = applyKvInput(this.state(input.key), input);
    if (input.op !== 'get') {
      this.keys.set(input.key, state);
      this.encode(input.key, state);
    }
    return output;
  }

  /**
   * How many characters `input` would add to the snapshot, applied now (negative: it shrinks it). A
   * delete keeps the key's entry, with a null value and its version, so that a re-created key cannot be
   * mistaken for the old one.
   */
  growth(input: KvInput): number {
    if (input.op === 'get') return 0;
    const old = this.encodedEntries.get(input.key);
    const { state } = applyKvInput(this.state(input.key), input);
    const entry = encodedEntry(input.key, state).length;
    return old === undefined ? entry + (this.encodedEntries.size > 0 ? 1 : 0) : entry - old.length;
  }

  /** The length of snapshot(), kept as the store changes (no snapshot is made to know it). */
  get snapshotLength(): number {
    const entries = this.encodedEntries.size;
    return snapshotHead(this.appliedIndex).length + this.entriesLength + Math.max(0, entries - 1) + SNAPSHOT_TAIL.length;
  }

  private encode(key: string, state: KvState): void {
    const entry = encodedEntry(key, state);
    this.entriesLength += entry.length - (this.encodedEntries.get(key)?.length ?? 0);
    this.encodedEntries.set(key, entry);
  }

  /** The value and version of `key` (a local read; linearizable only after a read barrier). */
  get(key: string): Extract<KvOutput, { op: 'get' }> {
    return this.apply({ op: 'get', key }) as Extract<KvOutput, { op: 'get' }>;
  }

  /** The number of keys present (not deleted). */
  get size(): number {
    let present = 0;
    for (const state of this.keys.values()) if (state.value !== null) present++;
    return present;
  }

  /**
   * The store as a string (the `compact` input's snapshot): every key ever written, in key order —
   * `{"applied":N,"entries":[[key,value,version],…]}`, the JSON of that object.
   */
  snapshot(): string {
    return this.snapshotText().text;
  }

  /** The snapshot, and the pieces it is joined from (SnapshotText). */
  snapshotText(): SnapshotText {
    const parts = [snapshotHead(this.appliedIndex)];
    let first = true;
    for (const key of [...this.keys.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!first) parts.push(',');
      parts.push(this.encodedEntries.get(key)!);
      first = false;
    }
    parts.push(SNAPSHOT_TAIL);
    // Concatenated, not joined: join copies every character into one new string at once.
    let text = '';
    for (const part of parts) text += part;
    return { text, parts };
  }

  /**
   * Replaces the store with `snapshot` (the `snapshot-installed` event), taken at `index` ('': the empty
   * store, as a Bully backup installs when its coordinator's log, never compacted, replaces its own). Throws on a
   * malformed snapshot: it came from this node's own disk or an authenticated leader, so it is corruption.
   */
  restore(index: number, snapshot: string): void {
    if (snapshot === '') {
      // The empty snapshot is the state before any entry (src/core/types.ts, snapshot-installed).
      this.keys.clear();
      this.encodedEntries.clear();
      this.entriesLength = 0;
      this.appliedIndex = index;
      return;
    }
    const parsed = JSON.parse(snapshot) as { entries?: unknown };
    if (!Array.isArray(parsed.entries)) throw new Error('kv: malformed snapshot');
    this.keys.clear();
    this.encodedEntries.clear();
    this.entriesLength = 0;
    for (const entry of parsed.entries as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3) throw new Error('kv: malformed snapshot entry');
      const [key, value, version] = entry as [unknown, unknown, unknown];
      if (typeof key !== 'string' || (value !== null && typeof value !== 'string') || typeof version !== 'number') throw new Error('kv: malformed snapshot entry');
      const state = kvState(value, version);
      this.keys.set(key, state);
      this.encode(key, state);
    }
    this.appliedIndex = index;
  }

  private state(key: string): KvState {
    return this.keys.get(key) ?? kvModel.init();
  }
}
