import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { handleKv } from './kv-http.js';
import { KvService } from './kv.js';

test('a write the store has no room for is answered 507 with one line saying so; nothing is proposed', async () => {
  const proposed: unknown[] = [];
  const kv = new KvService((input) => proposed.push(input), { maxSnapshotLength: 64 });
  const server = createServer((request, response) => handleKv(request, response, { id: 1, kv, leads: () => true, leader: () => null }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/kv/big`, { method: 'PUT', body: 'v'.repeat(100) });
    assert.equal(response.status, 507);
    const body = (await response.json()) as { error: string; key: string };
    assert.equal(body.key, 'big');
    assert.match(body.error, /^the store is full: this write would make its snapshot longer than 64 characters \(\d+ now, writes in flight included\); delete keys or write shorter values$/);
    assert.deepEqual(proposed, []);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    kv.close();
  }
});
