/**
 * Writes a large field's file (a snapshot) entirely off the event loop: a worker thread encodes it
 * (JSON, UTF-8, CRC-32) and writes it atomically and durably — temporary file, fsync, rename, fsync the
 * directory. For DurableStore.prepareField: encoded on the event loop, an 8 MB Raft snapshot (JSON that
 * holds JSON, every quote escaped) stalled its node 8–100 ms at each compaction (docs/runtime.md,
 * Durability); here the event loop only hands the value over (a copy of its string).
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
 * Encodes `value` as JSON and, when that is longer than `inlineBytes` in UTF-8, writes it to `path`
 * atomically and durably (in `dir`); resolves with its length and CRC-32, or null when it is short
 * enough to live inline (nothing written).
 */
export function writeFieldFile(path: string, dir: string, value: unknown, inlineBytes: number): Promise<WrittenField> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    try {
      const thread = started();
      thread.ref(); // a write in flight keeps the process until it is durable
      thread.postMessage({ id, path, dir, value, inlineBytes });
    } catch (error) {
      waiting.delete(id);
      reject(error as Error);
    }
  });
}
