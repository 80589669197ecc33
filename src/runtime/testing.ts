/**
 * Helpers for tests and benchmarks that run real nodes on 127.0.0.1: free ports from the OS, bounded
 * waiting, and raw peer connections (to speak, or garble, the wire protocol).
 */
import { createServer, connect, type Socket } from 'node:net';
import { encodeFrame } from './frames.js';

/** `count` distinct ports the OS reports free right now (bound together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<import('node:net').Server>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => (server.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** `count` consecutive ports, all free right now, from a random base (for `--base-port` style options). */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: import('node:net').Server[] = [];
    let ok = true;
    for (let port = base; port < base + count && ok; port++) {
      ok = await new Promise<boolean>((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(false));
        server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
          servers.push(server);
          resolve(true);
        });
      });
    }
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    if (ok) return base;
  }
  throw new Error(`no block of ${count} free ports found`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined, and returns that;
 * throws naming `what` (and the last value seen, from `describe`) after `timeoutMs`.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 20, describe?: () => string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe()}` : ''}`);
    await sleep(everyMs);
  }
}

/** Opens a raw TCP connection to a peer port. */
export function rawConnection(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `bytes`, optionally half-closes, and resolves when the other side has closed the connection. */
export function sendAndAwaitClose(port: number, bytes: Uint8Array, { end = false, timeoutMs = 3000 } = {}): Promise<'closed' | 'open'> {
  return rawConnection(port).then(
    (socket) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve('open');
        }, timeoutMs);
        socket.on('error', () => {});
        socket.on('data', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve('closed');
        });
        socket.write(bytes);
        if (end) socket.end();
      }),
  );
}

/** A frame, for hand-made test traffic. */
export function frame(value: unknown): Buffer {
  const bytes = encodeFrame(value);
  if (!bytes) throw new Error('frame too large');
  return bytes;
}

/** The value of one sample in Prometheus text, e.g. metricValue(text, 'ballot_frames_rejected_by_reason_total{reason="bad-json"}'). */
export function metricValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
