/**
 * GET /leader and GET /watch (watch.ts, http.ts) with real sockets on 127.0.0.1: the leader's JSON or
 * 503; server-sent events, one on connecting and one per change, keepalive comments, a bounded number
 * of streams, and a clean end of every stream when the server closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { StatusServer, type HttpHandlers } from './http.js';
import type { LeaderInfo } from './leadership.js';
import { waitFor } from './testing.js';

const HOST = '127.0.0.1';

function handlers(leader: () => LeaderInfo | null, extra: Partial<HttpHandlers> = {}): HttpHandlers {
  return {
    status: () => ({ id: 1, role: 'follower', leader: leader()?.id ?? null, term: leader()?.term ?? 9 }),
    algorithm: 'raft',
    metrics: () => Promise.resolve(''),
    metricsContentType: 'text/plain',
    ready: () => ({ ready: true, reason: 'ready' }),
    leader,
    ...extra,
  };
}

function get(port: number, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: HOST, port, path, agent: false, timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path}: timed out`)));
    request.on('error', reject);
    request.end();
  });
}

/** An open /watch stream: what has arrived so far, and how it ended. */
class Watcher {
  text = '';
  ended: 'end' | 'error' | null = null;
  status = 0;
  private constructor(private readonly response: IncomingMessage) {}

  static open(port: number): Promise<Watcher> {
    return new Promise((resolve, reject) => {
      const request = httpRequest({ host: HOST, port, path: '/watch', agent: false }, (response) => {
        const watcher = new Watcher(response);
        watcher.status = response.statusCode ?? 0;
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (watcher.text += chunk));
        response.on('end', () => (watcher.ended ??= 'end'));
        response.on('error', () => (watcher.ended ??= 'error'));
        resolve(watcher);
      });
      request.on('error', reject);
      request.end();
    });
  }

  /** The `data` of every `leader` event so far, parsed. */
  events(): unknown[] {
    return this.text
      .split('\n\n')
      .filter((block) => block.includes('event: leader'))
      .map((block) => JSON.parse(block.split('\n').find((line) => line.startsWith('data: '))!.slice(6)) as unknown);
  }

  close(): void {
    this.response.destroy();
  }
}

test('GET /leader: 200 with id, term and meta; 503 with id null while no leader is known', async () => {
  let leader: LeaderInfo | null = { id: 3, term: 7, meta: { url: 'http://10.0.0.3:8080' } };
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers(() => leader));
  try {
    const known = await get(server.port(), '/leader');
    assert.equal(known.status, 200);
    assert.equal(known.type, 'application/json');
    assert.deepEqual(JSON.parse(known.body), { id: 3, term: 7, meta: { url: 'http://10.0.0.3:8080' } });
    leader = null;
    const none = await get(server.port(), '/leader');
    assert.equal(none.status, 503);
    assert.deepEqual(JSON.parse(none.body), { id: null, term: 9, meta: null });
  } finally {
    await server.close();
  }
});

test('GET /watch: the leader on connecting, one event per change (none for a repeat), keepalive comments, at most maxWatchers streams, a clean end on close', { timeout: 15_000 }, async () => {
  let leader: LeaderInfo | null = { id: 2, term: 4, meta: {} };
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers(() => leader, { maxWatchers: 2, watchHeartbeatMs: 50 }));
  const watchers: Watcher[] = [];
  try {
    const port = server.port();
    watchers.push(await Watcher.open(port), await Watcher.open(port));
    const [a, b] = watchers as [Watcher, Watcher];
    assert.equal(a.status, 200);
    await waitFor('the first event on both streams', 2000, () => (a.events().length === 1 && b.events().length === 1 ? true : undefined));
    assert.deepEqual(a.events(), [{ id: 2, term: 4, meta: {} }]);

    const refused = await get(port, '/watch');
    assert.equal(refused.status, 503, 'a third stream is refused');
    assert.match(refused.body, /too many watchers/);

    leader = null;
    server.leaderChanged();
    server.leaderChanged(); // nothing changed since: no second event
    leader = { id: 3, term: 5, meta: { url: 'u3' } };
    server.leaderChanged();
    await waitFor('three events', 2000, () => (b.events().length === 3 ? true : undefined));
    assert.deepEqual(b.events(), [{ id: 2, term: 4, meta: {} }, { id: null, term: 9, meta: null }, { id: 3, term: 5, meta: { url: 'u3' } }]);
    await waitFor('a keepalive comment', 2000, () => (a.text.includes(': keepalive\n\n') ? true : undefined));

    // A closed stream frees its slot.
    a.close();
    await waitFor('a slot for a new stream', 2000, async () => {
      const next = await Watcher.open(port);
      if (next.status === 200) return next;
      next.close();
      return undefined;
    }).then((next) => watchers.push(next));

    await server.close();
    await waitFor('every open stream to end cleanly', 2000, () => (watchers.slice(1).every((watcher) => watcher.ended !== null) ? true : undefined));
    assert.deepEqual(watchers.slice(1).map((watcher) => watcher.ended), ['end', 'end']);
  } finally {
    for (const watcher of watchers) watcher.close();
    await server.close();
  }
});
