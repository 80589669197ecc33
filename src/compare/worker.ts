/** A worker thread of `ballot compare`: runs the chunks of trials its parent hands it (see run.ts). */
import { parentPort } from 'node:worker_threads';
import { runChunk, type ChunkRequest } from './run.js';

const port = parentPort;
if (!port) throw new Error('compare/worker.js runs only as a worker thread');
port.on('message', ({ index, request }: { index: number; request: ChunkRequest }) => {
  try {
    port.postMessage({ index, trials: runChunk(request) });
  } catch (error) {
    port.postMessage({ index, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
