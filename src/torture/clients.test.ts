/**
 * The torture's key-value clients against real HTTP servers on 127.0.0.1 that speak the contract of
 * issue 15 (a leader serving /kv, followers redirecting to it) over one copy of the checker's own
 * model: the recorded history must be in `ballot check`'s format and pass the checker; a server that
 * serves stale reads must fail it; writes whose answers never come must be recorded as unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkLinearizability } from '../check/checker.js';
import { parseKvHistory } from '../check/kv-history.js';
import { kvModel, type KvInput, type KvState } from '../check/kv.js';
import { Prng } from '../core/prng.js';
import { classify, historyRecord, runKvClient } from './clients.js';

type Flaw = 'none' | 'stale-reads' | 'lost-answers';

/** Node 1 leads and holds the store; nodes 2 and 3 redirect there. */
async function contractCluster(flaw: Flaw): Promise<{ urls: string[]; close: () => Promise<void> }> {
  const states = new Map<string, KvState>();
  const previous = new Map<string, KvState>();
  const servers: Server[] = [];
  const urls: string[] = [];
  let writes = 0;
  const leader = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    const url = new URL(request.url ?? '/', 'http://x');
    const key = decodeURIComponent(url.pathname.slice('/kv/'.length));
    const input: KvInput | null =
      request.method === 'GET' ? { op: 'get', key }
      : request.method === 'PUT' ? { op: 'put', key, value: body }
      : request.method === 'DELETE' ? { op: 'delete', key }
      : request.method === 'POST' && url.searchParams.has('cas') ? { op: 'cas', key, expect: Number(url.searchParams.get('cas')), value: body }
      : null;
    if (input === null || key === 'bad key') return void response.writeHead(400).end('bad request');
    const state = states.get(key) ?? kvModel.init();
    const json = (status: number, value: unknown): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (input.op === 'get') {
      const seen = flaw === 'stale-reads' ? (previous.get(key) ?? kvModel.init()) : state;
      return seen.value === null ? json(404, { version: seen.version }) : json(200, { value: seen.value, version: seen.version });
    }
    const next = kvModel.step(state, input, null)!;
    previous.set(key, state);
    states.set(key, next);
    // Every third write takes effect but its answer is lost (the connection is cut).
    if (flaw === 'lost-answers' && ++writes % 3 === 0) return void response.socket?.destroy();
    if (input.op === 'cas') return json(next.version !== state.version ? 200 : 409, { ok: next.version !== state.version, version: next.version });
    json(200, { version: next.version });
  };
  for (let id = 1; id <= 3; id++) {
    const server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        if (id === 1) leader(request, response, body);
        else response.writeHead(307, { location: `${urls[0]}${request.url ?? ''}` }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return {
    urls,
    close: async () => {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

async function recordHistory(flaw: Flaw, operationsPerClient: number): Promise<string> {
  const cluster = await contractCluster(flaw);
  const lines: string[] = [];
  const started = performance.now();
  try {
    await Promise.all(
      [1, 2, 3, 4].map((client) => {
        let done = 0;
        return runKvClient({
          client,
          endpoints: cluster.urls,
          keys: ['a', 'b'],
          timeoutMs: 1000,
          random: new Prng(5, `client:${client}`),
          clock: () => performance.now() - started,
          record: (line) => void lines.push(JSON.stringify(line)),
          stopped: () => done++ >= operationsPerClient,
          thinkMs: 0,
          backoffMs: 0,
        });
      }),
    );
  } finally {
    await cluster.close();
  }
  return lines.join('\n') + '\n';
}

test('clients against a correct leader (followers redirecting) record a history in ballot check\'s format that is linearizable', async () => {
  const text = await recordHistory('none', 40);
  const history = parseKvHistory(text);
  assert.equal(history.operations.length, 160);
  assert.ok(history.operations.every((operation) => operation.complete !== null && operation.output !== null), 'every operation answered');
  assert.ok(history.operations.some((operation) => operation.input.op === 'cas' && operation.output?.op === 'cas' && operation.output.ok), 'some cas succeeded');
  assert.equal(checkLinearizability(kvModel, history.operations).kind, 'linearizable');
});

test('a leader that serves reads one write behind is caught: the history is not linearizable', async () => {
  const history = parseKvHistory(await recordHistory('stale-reads', 40));
  assert.equal(checkLinearizability(kvModel, history.operations).kind, 'not-linearizable');
});

test('writes that took effect but whose answer was lost are recorded without an answer (complete: null), and the history stays linearizable', async () => {
  const history = parseKvHistory(await recordHistory('lost-answers', 30));
  const unknown = history.operations.filter((operation) => operation.complete === null);
  assert.ok(unknown.length >= 10, `${unknown.length} unknown`);
  assert.equal(checkLinearizability(kvModel, history.operations).kind, 'linearizable');
});

test('answers are read as the contract says: 404 get is absent, 409 cas failed, 4xx refused, 5xx unknown, 3xx followed', () => {
  const response = (status: number, body = '', location?: string) => ({ status, location, contentType: body.startsWith('{') ? 'application/json' : 'text/plain', body });
  assert.deepEqual(classify({ op: 'get', key: 'x' }, response(404), 'n1'), { kind: 'done', value: null, node: 'n1' });
  assert.deepEqual(classify({ op: 'get', key: 'x' }, response(200, 'plain'), 'n1'), { kind: 'done', value: 'plain', node: 'n1' });
  assert.deepEqual(classify({ op: 'cas', key: 'x', expect: 1, value: 'v' }, response(409, '{"version":4}'), 'n1'), { kind: 'done', ok: false, version: 4, node: 'n1' });
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(413, 'too large'), 'n1').kind, 'refused');
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(503, 'no leader'), 'n1').kind, 'unknown');
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(503, '{"error":"the node is stopping"}'), 'n1').kind, 'unknown');
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(504, '{"error":"outcome unknown"}'), 'n1').kind, 'unknown');
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(503, '{"error":"no leader known","leader":null}'), 'n1').kind, 'refused', 'a member that does not lead never proposed it');
  assert.equal(classify({ op: 'put', key: 'x', value: 'v' }, response(503, '{"error":"lost, not applied: another leader’s entry took its place"}'), 'n1').kind, 'refused');
  assert.deepEqual(classify({ op: 'delete', key: 'x' }, response(307, '', 'http://l/kv/x'), 'n1'), { kind: 'follow', location: 'http://l/kv/x' });
  const refused = historyRecord(1, { op: 'put', key: 'bad key', value: 'v' }, { kind: 'refused', error: '400 bad request' }, 1, 2);
  assert.equal(parseKvHistory(JSON.stringify(refused)).refused, 1, 'a refused operation is left out by the checker');
});
