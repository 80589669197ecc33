/**
 * Writes a large field's file (a snapshot) entirely off the event loop: a worker thread encodes it
 * (JSON, UTF-8, CRC-32) and writes it atomically and durably — temporary file, fsync, rename, fsync the
 * directory. For DurableStore.prepareField: encoded on the event loop, an 8 MB Raft snapshot (JSON that
 * holds JSON, every quote escaped) stalled its node 8–100 ms at each compaction (docs/runtime.md,
 * Durability); here the event loop only hands the value over. A string of megabytes is handed over as
 * the pieces it was joined from (PartedText), a slice of them per turn of the event loop: posted whole,
 * a 16 MB string cost the event loop 140 ms (the structured clone copies it into fresh memory, and on
 * this kind of VM first touching 16 MB of pages alone costs 70 ms).
 *
 * One worker per process, started at its first use (no compaction, no thread) and never holding the
 * process open. Its source is a string, so the one-file bundle (dist/cli/ballot.cjs) carries it.
 */
import type { Worker } from 'node:worker_threads';

/** What was written: the file's length in bytes and its CRC-32; null when the JSON is small enough to live inline. */
export type WrittenField = { readonly bytes: number; readonly crc32: number } | null;

interface Reply {
  readonly id: number;
  readonly written?: WrittenField;
  readonly error?: string;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const texts = new Map();
const { open, rename } = require('node:fs/promises');
const { crc32 } = require('node:zlib');
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
  if (request.parts !== undefined) {
    const held = texts.get(request.id);
    if (held === undefined) texts.set(request.id, request.parts);
    else for (const part of request.parts) held.push(part);
    return;
  }
  if (request.textKey !== undefined) {
    request.value[request.textKey] = (texts.get(request.id) || []).join('');
    texts.delete(request.id);
  }
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
 * A string of a field's value (a top-level property of it, the very same string) together with the
 * pieces it was concatenated from, in order: SnapshotText (src/kv/store.ts). V8 keeps such a string
 * as a tree of its pieces until its characters are read; sending the pieces leaves it so.
 */
export interface PartedText {
  readonly text: string;
  readonly parts: readonly string[];
}

/** The characters of pieces posted in one turn of the event loop. */
const PART_BATCH_CHARS = 256 * 1024;

/**
 * Encodes `value` as JSON and, when that is longer than `inlineBytes` in UTF-8, writes it to `path`
 * atomically and durably (in `dir`); resolves with its length and CRC-32, or null when it is short
 * enough to live inline (nothing written). With `parted`, the property of `value` that holds
 * `parted.text` is sent as its pieces, a batch per turn, and joined in the worker.
 */
export function writeFieldFile(path: string, dir: string, value: unknown, inlineBytes: number, parted?: PartedText): Promise<WrittenField> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    const fail = (error: unknown): void => {
      if (waiting.delete(id)) reject(error as Error);
    };
    try {
      const thread = started();
      thread.ref(); // a write in flight keeps the process until it is durable
      const textKey = parted === undefined ? undefined : keyHolding(value, parted.text);
      if (textKey === undefined) {
        thread.postMessage({ id, path, dir, value, inlineBytes });
        return;
      }
      const rest = { ...(value as Record<string, unknown>), [textKey]: '' };
      const parts = parted!.parts;
      const post = (from: number): void => {
        if (!waiting.has(id)) return; // the worker died meanwhile: the write was failed already
        try {
          let next = from;
          let chars = 0;
          while (next < parts.length && (next === from || chars < PART_BATCH_CHARS)) chars += parts[next++]!.length;
          if (next > from) thread.postMessage({ id, parts: parts.slice(from, next) });
          if (next < parts.length) setImmediate(post, next);
          else thread.postMessage({ id, path, dir, value: rest, textKey, inlineBytes });
        } catch (error) {
          fail(error);
        }
      };
      post(0);
    } catch (error) {
      fail(error);
    }
  });
}

/**
 * The top-level property of `value` that holds `text` itself, by identity: strings of another length
 * are passed over unread (comparing equal lengths reads no characters when the strings are the same one).
 */
function keyHolding(value: unknown, text: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  for (const [key, property] of Object.entries(value)) if (typeof property === 'string' && property.length === text.length && property === text) return key;
  return undefined;
}
