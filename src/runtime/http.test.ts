/**
 * The HTTP port under attack (issue 9, item 4), with real sockets on 127.0.0.1: a slowloris of 300
 * connections (headers sent a byte at a time, each one reopened as soon as it is closed) does not keep
 * /status, /livez or /readyz from answering within 1 s, in one process and on a real `ballot node` of a
 * running cluster, whose state it does not change; slow, silent and idle connections are closed by the
 * timeouts; a connection in the middle of a request is never evicted. And /readyz on real processes:
 * 200 with a leader and a quorum, 503 with a reason once the quorum is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { algorithms } from '../core/algorithms.js';
import { CHECK_INTERVAL_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, MAX_HTTP_CONNECTIONS, StatusServer, type HttpHandlers, type Readiness } from './http.js';
import type { MemberStanding } from './membership.js';
import { testCluster, type TestCluster } from './test-cluster.js';
import { metricValue, sleep, waitFor } from './testing.js';

const HOST = '127.0.0.1';

/**
 * Holds `count` connections open, each sending a request line and then one header byte every
 * `dripMs`, never finishing its headers; a connection the server closes is reopened `reopenMs` later,
 * as an attacker would. stop() closes everything.
 */
class Slowloris {
  private readonly sockets = new Set<Socket>();
  private drip: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Connections the server closed (evicted or timed out). */
  closedByServer = 0;

  constructor(
    private readonly port: number,
    private readonly count: number,
    private readonly dripMs = 100,
    private readonly reopenMs = 5,
  ) {}

  /** Opens all connections (resolves once each is connected or failed). */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.count }, () => this.open()));
    this.drip = setInterval(() => {
      for (const socket of this.sockets) socket.write('a');
    }, this.dripMs);
  }

  open(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const socket = connect({ host: HOST, port: this.port });
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.once('connect', () => {
        socket.write('GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        resolve();
      });
      socket.once('close', () => {
        this.sockets.delete(socket);
        resolve();
        if (this.stopped) return;
        this.closedByServer++;
        setTimeout(() => void this.open(), this.reopenMs);
      });
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.drip) clearInterval(this.drip);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

/** A GET on a new connection, as a health checker does; rejects if there is no full answer within `timeoutMs`. */
function probe(port: number, path: string, timeoutMs = 1000): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: HOST, port, path, agent: false, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body, ms: performance.now() - started });
      });
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`GET ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`GET ${path}: ${error.message}`));
    });
    request.end();
  });
}

/** Probes each path every `everyMs` for `forMs`; every probe must answer 200-or-503 within 1 s. Returns the slowest. */
async function probeRepeatedly(port: number, paths: readonly string[], forMs: number, everyMs = 250): Promise<{ probes: number; slowestMs: number; replies: Map<string, Reply> }> {
  const until = performance.now() + forMs;
  let probes = 0;
  let slowestMs = 0;
  const replies = new Map<string, Reply>();
  while (performance.now() < until) {
    const round = await Promise.all(paths.map((path) => probe(port, path)));
    round.forEach((reply, i) => {
      replies.set(paths[i]!, reply);
      slowestMs = Math.max(slowestMs, reply.ms);
      probes++;
    });
    await sleep(everyMs);
  }
  return { probes, slowestMs, replies };
}

/** Three voters of `algorithm` as real processes, with their state and logs in a temporary directory. */
function threeNodes(algorithm: string, name: string, extraArgs: readonly string[] = []): Promise<TestCluster> {
  return testCluster({ name, algorithm, voters: 3, logs: true, extraArgs });
}

function handlers(overrides: Partial<HttpHandlers> = {}): HttpHandlers {
  return {
    status: () => ({ id: 1, role: 'follower', leader: 2, term: 7 }),
    algorithm: 'raft',
    metrics: () => Promise.resolve('ballot_term 7\n'),
    metricsContentType: 'text/plain',
    ready: () => ({ ready: true, reason: 'ready: leader 2 in term 7' }),
    leader: () => ({ id: 2, term: 7, meta: { url: 'http://127.0.0.1:9002' } }),
    ...overrides,
  };
}

test('the endpoints: /status and /health as the contract says, /livez, /readyz 200 or 503 with its reason', async () => {
  let readiness: Readiness = { ready: true, reason: 'ready: leader 2 in term 7; hears 2 of 3 voters, a quorum is 2' };
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers({ ready: () => readiness }));
  try {
    const port = server.port();
    const status = await probe(port, '/status');
    assert.equal(status.status, 200);
    // The contract's fields, then lease (false: this status names none).
    assert.equal(status.body, '{"id":1,"algorithm":"raft","role":"follower","leader":2,"term":7,"lease":false}');
    assert.deepEqual(await probe(port, '/health').then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.deepEqual(await probe(port, '/livez').then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.deepEqual(await probe(port, '/readyz').then((r) => [r.status, r.body]), [200, `${readiness.reason}\n`]);
    readiness = { ready: false, reason: 'no quorum: hears 1 of 3 voters, a quorum is 2' };
    assert.deepEqual(await probe(port, '/readyz').then((r) => [r.status, r.body]), [503, 'no quorum: hears 1 of 3 voters, a quorum is 2\n']);
    assert.equal((await probe(port, '/metrics')).body, 'ballot_term 7\n');
    assert.equal((await probe(port, '/nope')).status, 404);
  } finally {
    await server.close();
  }
});

test('/status says where the node stands in its configuration after the contract\'s fields: a removed node is no "learner" only', async () => {
  let standing: MemberStanding = 'voter';
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers({ status: () => ({ id: 1, role: 'learner', leader: null, term: 7 }), member: () => standing }));
  try {
    const port = server.port();
    assert.equal((await probe(port, '/status')).body, '{"id":1,"algorithm":"raft","role":"learner","leader":null,"term":7,"lease":false,"member":"voter"}');
    for (const next of ['observer', 'joining', 'removed'] as const) {
      standing = next;
      assert.deepEqual(JSON.parse((await probe(port, '/status')).body), { id: 1, algorithm: 'raft', role: 'learner', leader: null, term: 7, lease: false, member: next });
    }
  } finally {
    await server.close();
  }
});

test(`a slowloris of 300 connections: probes still answer within 1 s, and a request in progress is not evicted (cap ${MAX_HTTP_CONNECTIONS})`, { timeout: 30_000 }, async (t) => {
  // /metrics answers only when told to: a request kept in progress while the flood arrives.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers({ metrics: () => held.then(() => 'ballot_term 7\n') }));
  // The attacker shares this process's event loop with the server: it reopens a little less eagerly.
  const attack = new Slowloris(server.port(), 300, 100, 50);
  try {
    const inProgress = probe(server.port(), '/metrics', 20_000);
    await sleep(100);
    await attack.start();
    const { probes, slowestMs } = await probeRepeatedly(server.port(), ['/status', '/livez', '/readyz', '/health'], 3000);
    t.diagnostic(`${probes} probes under the slowloris, slowest ${slowestMs.toFixed(0)} ms; ${attack.closedByServer} attacking connections evicted`);
    assert.ok(attack.closedByServer >= 300 - MAX_HTTP_CONNECTIONS, 'connections beyond the cap were evicted');
    release();
    const metrics = await inProgress;
    assert.equal(metrics.status, 200, 'the request in progress survived the flood');
    assert.equal(metrics.body, 'ballot_term 7\n');
  } finally {
    release();
    attack.stop();
    await server.close();
  }
});

test('slow, silent and idle connections are closed by the timeouts', { timeout: 30_000 }, async () => {
  const server = await StatusServer.listen({ host: HOST, port: 0 }, handlers());
  const sockets: Socket[] = [];
  const closedAfter = (socket: Socket, started: number): Promise<number> => new Promise((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port: server.port() }, () => resolve(socket));
      socket.on('error', reject);
      socket.on('data', () => {});
      sockets.push(socket);
    });
  let drip: NodeJS.Timeout | undefined;
  try {
    const started = performance.now();
    const silent = await open();
    const slow = await open();
    slow.write('GET /status HTTP/1.1\r\nHost: x\r\n');
    drip = setInterval(() => slow.write('X'), 200);
    const idle = await open();
    idle.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'); // answered, then kept alive and idle
    const [silentMs, slowMs, idleMs] = await Promise.all([closedAfter(silent, started), closedAfter(slow, started), closedAfter(idle, started)]);
    // Node checks the header timeout every CHECK_INTERVAL_MS; allow a loaded machine one more second.
    const latest = HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + 1000;
    for (const [what, ms] of [['silent', silentMs], ['slow', slowMs]] as const) {
      assert.ok(ms >= HEADERS_TIMEOUT_MS - 100 && ms <= latest, `${what} connection closed after ${ms.toFixed(0)} ms (expected ${HEADERS_TIMEOUT_MS}-${latest})`);
    }
    assert.ok(idleMs >= KEEP_ALIVE_TIMEOUT_MS - 100 && idleMs <= KEEP_ALIVE_TIMEOUT_MS + 2000, `idle keep-alive connection closed after ${idleMs.toFixed(0)} ms`);
  } finally {
    clearInterval(drip);
    for (const socket of sockets) socket.destroy();
    await server.close();
  }
});

test('a real node under a slowloris of 300 connections: /status, /livez, /readyz answer within 1 s for 5 s, and its cluster does not notice', { timeout: 60_000 }, async (t) => {
  // A Raft leader with CheckQuorum steps down when its quorum's acknowledgements are later than its lease
  // less a heartbeat (about 85 ms at the default timing; docs/runtime.md, "Stalls and CheckQuorum"); 300
  // connections on a loaded 2-core machine stall a process that long, and a 300 ms minimum timeout was
  // still not enough at load 11. The test is about the HTTP server, so the cluster runs the timing that
  // page recommends for a loaded host, with room: a lease of about 900 ms, heartbeats every 100 ms.
  const { cluster, close } = await threeNodes('raft', 'http', ['--election-timeout', '1000-2000', '--heartbeat', '100']);
  let attack: Slowloris | null = null;
  try {
    cluster.startAll();
    const agreed = async (): Promise<{ leader: number; term: number } | undefined> => {
      const views = [...(await cluster.statuses(500)).values()];
      const leader = views[0]?.leader ?? null;
      const term = views[0]?.term;
      return leader !== null && term !== undefined && views.every((view) => view?.leader === leader && view.term === term) ? { leader, term } : undefined;
    };
    const before = await waitFor('3 nodes to agree on a leader', 20_000, agreed);
    // The leader is the worst target: the attack shares its event loop with the heartbeats.
    const target = cluster.httpPort(before.leader);
    await waitFor('the leader to be ready', 10_000, () => probe(target, '/readyz').then((r) => (r.status === 200 ? r : undefined), () => undefined));
    const changesBefore = metricValue((await probe(target, '/metrics')).body, 'ballot_leader_changes_total');
    attack = new Slowloris(target, 300);
    await attack.start();
    const { probes, slowestMs, replies } = await probeRepeatedly(target, ['/status', '/livez', '/readyz'], 5000);
    t.diagnostic(`${probes} probes under the slowloris, slowest ${slowestMs.toFixed(0)} ms; ${attack.closedByServer} attacking connections evicted or timed out`);
    assert.equal(replies.get('/livez')?.status, 200);
    assert.equal(replies.get('/readyz')?.status, 200, replies.get('/readyz')?.body);
    assert.deepEqual(JSON.parse(replies.get('/status')!.body), { id: before.leader, algorithm: 'raft', role: 'leader', leader: before.leader, term: before.term, lease: true, member: 'voter' });
    attack.stop();
    attack = null;
    assert.deepEqual(await agreed(), before, 'the same leader in the same term, on every node');
    assert.equal(metricValue((await probe(target, '/metrics')).body, 'ballot_leader_changes_total'), changesBefore, 'no leader change on the attacked node');
  } finally {
    attack?.stop();
    await close();
  }
});

for (const algorithm of Object.values(algorithms)) {
  test(`${algorithm.name}: /readyz on real nodes is 200 with a leader and a quorum, 503 with a reason without the quorum`, { timeout: 60_000 }, async () => {
    const { cluster, close } = await threeNodes(algorithm.name, 'readyz');
    const readyz = (id: number): Promise<Reply | undefined> => probe(cluster.httpPort(id), '/readyz').catch(() => undefined);
    try {
      cluster.startAll();
      let last = '';
      await waitFor(
        'every node to be ready',
        20_000,
        async () => {
          const replies = await Promise.all(cluster.members.map(readyz));
          last = replies.map((reply) => `${reply?.status} ${reply?.body.trim()}`).join(' | ');
          return replies.every((reply) => reply?.status === 200) ? true : undefined;
        },
        50,
        () => last,
      );
      for (const view of last.split(' | ')) assert.match(view, /^200 ready: leader \d in term \d+; hears [23] of 3 voters, a quorum is 2$/);
      // Two of three gone: the survivor may still name a leader (Bully elects itself), but hears no quorum.
      await cluster.kill(1);
      await cluster.kill(2);
      // (A message heard in the last election timeout still counts for that long.)
      const unready = /^(no leader known; |no quorum: )hears 1 of 3 voters, a quorum is 2\n$/;
      let seen = '';
      await waitFor(
        'the survivor to be unready, hearing only itself',
        10_000,
        () => readyz(3).then((r) => ((seen = `${r?.status} ${r?.body ?? ''}`), r?.status === 503 && unready.test(r.body) ? r : undefined)),
        50,
        () => seen,
      );
      assert.equal((await probe(cluster.httpPort(3), '/livez')).status, 200, 'alive all the same');
    } finally {
      await close();
    }
  });
}
