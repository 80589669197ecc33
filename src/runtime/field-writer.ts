/**
 * Writes a large field's file (a snapshot), or a fold's state.json (DurableStore.startFold), entirely
 * off the event loop: a worker thread encodes it (JSON, UTF-8, CRC-32) and writes it atomically and
 * durably — temporary file, fsync, rename, fsync the directory. For DurableStore.prepareField: encoded on the event loop, an 8 MB Raft snapshot (JSON that
 * holds JSON, every quote escaped) stalled its node 8–100 ms at each compaction (docs/runtime.md,
 * Durability); here the event loop only hands the value over. A string of megabytes is handed over as
 * the pieces it was joined from (SnapshotText, src/kv/store.ts), a slice of them per turn of the event loop: posted whole,
 * a 16 MB string cost the event loop 140 ms (the structured clone copies it into fresh memory, and on
 * this kind of VM first touching 16 MB of pages alone costs 70 ms).
 *
 * One worker per process, started at its first use (no compaction, no thread) and never holding the
 * process open. Its source is a string, so the one-file bundle (dist/cli/ballot.cjs) carries it.
 */
import type { Worker } from 'node:worker_threads';
import type { SnapshotText } from '../kv/store.js';

/** What was written: the file's length in bytes and its CRC-32; null when the JSON is small enough to live inline. */
export type WrittenField = { readonly bytes: number; readonly crc32: number } | null;

interface Reply {
  readonly id: number;
  readonly written?: WrittenField;
  readonly error?: string;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { open, rename } = require('node:fs/promises');
const { crc32 } = require('node:zlib');
const received = new Map();
async function write({ path, dir, value, inlineBytes }) {
  const data = Buffer.from(JSON.stringify(value), 'utf8');
  if (data.length <= inlineBytes) return null;
  const temp = await open(path + '.tmp', 'w', 0o600);
  try { await temp.writeFile(data); await temp.sync(); } finally { await temp.close(); }
  await rename(path + '.tmp', path);
  const directory = await open(dir, 'r');
  try { await directory.sync(); } finally { await directory.close(); }
  return { bytes: data.length, crc32: crc32(data) };
}
parentPort.on('message', (request) => {
  if (request.batch !== undefined) {
    const streams = received.get(request.id) || [];
    received.set(request.id, streams);
    const held = (streams[request.stream] ||= []);
    for (const piece of request.batch) held.push(piece);
    return;
  }
  const streams = received.get(request.id) || [];
  received.delete(request.id);
  (request.streams || []).forEach(({ at, text }, i) => {
    let parent = request.value;
    for (const key of at.slice(0, -1)) parent = parent[key];
    const pieces = streams[i] || [];
    parent[at[at.length - 1]] = text ? pieces.join('') : pieces;
  });
  write(request).then(
    (written) => parentPort.postMessage({ id: request.id, written }),
    (error) => parentPort.postMessage({ id: request.id, error: (error && error.code) || String(error) }),
  );
});
`;

/**
 * Whether this Node.js has what the worker needs: process.getBuiltinModule (20.16) to start it lazily,
 * and with it zlib.crc32 (20.15). Without them (engines says >= 20), a snapshot is written the old way,
 * in the persist (DurableStore.prepareField then writes nothing ahead).
 */
export const fieldWriterAvailable = typeof process.getBuiltinModule === 'function';

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, { resolve: (written: WrittenField) => void; reject: (error: Error) => void }>();

function started(): Worker {
  if (worker !== null) return worker;
  const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads');
  const thread = new WorkerThread(WORKER_SOURCE, { eval: true });
  thread.unref(); // held only while a write is in flight (writeFieldFile)
  thread.on('message', ({ id, written, error }: Reply) => {
    const waiter = waiting.get(id);
    if (waiter === undefined) return;
    waiting.delete(id);
    if (waiting.size === 0) thread.unref();
    if (error !== undefined) waiter.reject(Object.assign(new Error(`cannot write a field file (${error})`), { code: error }));
    else waiter.resolve(written ?? null);
  });
  // A worker that died fails what it held; the next write starts another.
  const died = (error: Error): void => {
    if (worker === thread) worker = null;
    for (const waiter of waiting.values()) waiter.reject(error);
    waiting.clear();
  };
  thread.on('error', died);
  thread.on('exit', (code) => died(new Error(`the field writer exited (${code})`)));
  worker = thread;
  return thread;
}

/**
 * Part of the value sent in batches, a batch per turn of the event loop, and put in place in the
 * worker: at the property path `at` of the value (which holds a placeholder there), the string the
 * pieces `text` join to, or the array of `items`.
 */
export type Streamed = { readonly at: readonly string[]; readonly text: readonly string[] } | { readonly at: readonly string[]; readonly items: readonly unknown[] };

/** About this many characters of pieces are posted in one turn of the event loop. */
const BATCH_CHARS = 256 * 1024;

/**
 * Encodes `value` as JSON and, when that is longer than `inlineBytes` in UTF-8, writes it to `path`
 * atomically and durably (in `dir`); resolves with its length and CRC-32, or null when it is short
 * enough to live inline (nothing written). `streamed`: parts of the value sent in batches (Streamed).
 */
export function writeFieldFile(path: string, dir: string, value: unknown, inlineBytes: number, streamed: readonly Streamed[] = []): Promise<WrittenField> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    const fail = (error: unknown): void => {
      if (waiting.delete(id)) reject(error as Error);
    };
    try {
      const thread = started();
      thread.ref(); // a write in flight keeps the process until it is durable
      const post = (stream: number, from: number): void => {
        if (!waiting.has(id)) return; // the worker died meanwhile: the write was failed already
        try {
          if (stream === streamed.length) {
            thread.postMessage({ id, path, dir, value, inlineBytes, streams: streamed.map((part) => ({ at: part.at, text: 'text' in part })) });
            return;
          }
          const part = streamed[stream]!;
          const pieces: readonly unknown[] = 'text' in part ? part.text : part.items;
          let next = from;
          let chars = 0;
          while (next < pieces.length && (next === from || chars < BATCH_CHARS)) chars += roughChars(pieces[next++]);
          if (next > from) thread.postMessage({ id, stream, batch: pieces.slice(from, next) });
          if (next < pieces.length) setImmediate(post, stream, next);
          else post(stream + 1, 0);
        } catch (error) {
          fail(error);
        }
      };
      post(0, 0);
    } catch (error) {
      fail(error);
    }
  });
}

/** A value's characters, roughly: its strings' lengths (what a structured clone mostly copies). */
function roughChars(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value === null) return 8;
  let chars = 8;
  for (const property of Object.values(value)) chars += roughChars(property);
  return chars;
}

/**
 * `value` with its top-level property holding `parted.text` (that very string, by identity) replaced
 * by a placeholder, and the stream that puts the pieces there; null when no property holds it. Strings
 * of another length are passed over unread (comparing equal lengths reads no characters when the
 * strings are the same one).
 */
export function streamText(value: unknown, parted: SnapshotText): { readonly value: unknown; readonly streamed: readonly Streamed[] } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  for (const [key, property] of Object.entries(value)) {
    if (typeof property === 'string' && property.length === parted.text.length && property === parted.text) {
      return { value: { ...value, [key]: '' }, streamed: [{ at: [key], text: parted.parts }] };
    }
  }
  return null;
}
