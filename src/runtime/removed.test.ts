/**
 * A removed node learns it (docs/membership.md, "The removed node learns it, and stops"), in one
 * process over real TCP: the embedding API's side. A fake member at a peer's address answers every
 * handshake with a not-a-member frame; the node emits `removed` {index, by}, logs one line, and stops
 * itself (no process exit inside the library). An answer naming index 0 (the flags' configuration)
 * or a malformed one is no news: the node runs on. The transport's side is transport.test.ts; the
 * cluster's (a real removal, `ballot node`'s exit status 3) is membership-processes.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, LogFields } from './log.js';
import { startNode, type NodeEvents } from './node.js';
import { freePorts, frame, sleep, waitFor } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-removed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A "member" at `port` that answers each connection's first bytes with `answer`, then closes. */
async function answering(port: number, answer: unknown): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(frame(answer)));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

async function run(name: string, answer: unknown): Promise<{ removed: NodeEvents['removed'][]; stopped: boolean; lines: { event: string; fields: LogFields }[] }> {
  const [own, fake, silent] = await freePorts(3);
  const lines: { event: string; fields: LogFields }[] = [];
  const logger: Logger = { info: (event, fields = {}) => void lines.push({ event, fields }), debug: () => {} };
  const server = await answering(fake!, answer);
  const node = await startNode({ id: 2, algorithm: 'raft', peers: { 1: `127.0.0.1:${fake}`, 2: `127.0.0.1:${own}`, 3: `127.0.0.1:${silent}` }, dataDir: join(dir, name), logger });
  const removed: NodeEvents['removed'][] = [];
  node.on('removed', (event) => removed.push(event));
  try {
    const stopped = await Promise.race([node.stopped.then(() => true), sleep(3000).then(() => false)]);
    return { removed, stopped, lines };
  } finally {
    await node.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('told by a member it dialed that the configuration at index 5 leaves it out, the node emits removed and stops itself', { timeout: 20_000 }, async () => {
  const { removed, stopped, lines } = await run('told', { notMember: true, index: 5 });
  assert.deepEqual(removed, [{ index: 5, by: 1 }], 'one event');
  assert.equal(stopped, true, 'node.stopped resolved: the node stopped itself');
  const told = lines.filter((line) => line.event === 'removed-from-cluster');
  assert.equal(told.length, 1);
  assert.deepEqual([told[0]!.fields.index, told[0]!.fields.by], [5, 1]);
  await waitFor('the stopped line', 2000, () => (lines.some((line) => line.event === 'stopped') ? true : undefined));
});

test('an answer that tells of no removal, or a malformed one, leaves the node running', { timeout: 30_000 }, async () => {
  for (const [name, answer] of [['index-0', { notMember: true, index: 0 }], ['garbage', { notMember: true, index: 5, why: 'x' }], ['string', { notMember: 'true', index: 5 }]] as const) {
    const { removed, stopped, lines } = await run(name, answer);
    assert.deepEqual(removed, [], name);
    assert.equal(stopped, false, `${name}: still running`);
    assert.equal(lines.filter((line) => line.event === 'removed-from-cluster').length, 0, name);
  }
});
