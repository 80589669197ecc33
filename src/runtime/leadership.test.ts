/**
 * The leadership scope (leadership.ts) driven by the statuses a node goes through, then real nodes in
 * process (real sockets on 127.0.0.1, real files): lead(), leader() with the advertised meta,
 * waitForLeader(), and a pino-compatible logger.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreedLeader } from '../core/agreement.js';
import type { NodeId, Status } from '../core/types.js';
import { LeadershipEnded, LeadershipScope, holdsLeadership, type Reign } from './leadership.js';
import { silentLogger, type PinoLikeLogger } from './log.js';
import { startNode, type NodeHandle } from './node.js';
import { freePorts, waitFor } from './testing.js';

const ME = 1;
/** Elections slow enough that a loaded machine's scheduling delays do not depose a live leader mid-test. */
const SLOW_ELECTIONS = { electionTimeoutMinMs: 600, electionTimeoutMaxMs: 1200, heartbeatMs: 50 };
const follower = (term: number, leader: NodeId | null = 2): Status => ({ id: ME, role: 'follower', leader, term });
const leading = (term: number, lease?: boolean): Status => ({ id: ME, role: 'leader', leader: ME, term, ...(lease === undefined ? {} : { lease }) });
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function scope(failures: { error: unknown; reign: Reign }[] = []): LeadershipScope {
  return new LeadershipScope(ME, follower(0, null), (id) => (id === ME ? { url: 'mine' } : { url: `node-${id}` }), silentLogger, (error, reign) => {
    failures.push({ error, reign });
    return true;
  });
}

/** A job that records its runs and, unless told otherwise, ends when its signal aborts. */
function recorder(options: { lingerMs?: number } = {}) {
  const runs: { term: number; token: Reign['token']; reason?: unknown; abortedAt?: number; ended?: boolean }[] = [];
  let active = 0;
  let maxActive = 0;
  const job = async (signal: AbortSignal, reign: Reign): Promise<void> => {
    const run: (typeof runs)[number] = { term: reign.term, token: reign.token };
    runs.push(run);
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => {
        run.reason = signal.reason;
        setTimeout(resolve, options.lingerMs ?? 0);
      }),
    );
    active--;
    run.ended = true;
  };
  return { runs, job, maxActive: () => maxActive };
}

describe('holdsLeadership', () => {
  test('leadership is status.leader === id; a status with a lease also needs the lease', () => {
    assert.equal(holdsLeadership(leading(3)), true);
    assert.equal(holdsLeadership(leading(3, true)), true);
    assert.equal(holdsLeadership(leading(3, false)), false);
    assert.equal(holdsLeadership(follower(3)), false);
  });
});

describe('lead()', () => {
  test('runs while the node leads, with the reign\'s term and fencing token; aborts synchronously when leadership ends', async () => {
    const s = scope();
    const { runs, job } = recorder();
    s.lead(job);
    await tick();
    assert.equal(runs.length, 0, 'a follower runs nothing');
    s.observe(leading(4));
    await tick();
    assert.deepEqual(runs.map(({ term, token }) => ({ term, token })), [{ term: 4, token: { term: 4, node: ME } }]);
    s.observe(follower(5));
    // Aborted inside observe(), before it returned: no await between the status change and the abort.
    assert.ok(runs[0]!.reason instanceof LeadershipEnded);
    assert.equal((runs[0]!.reason as LeadershipEnded).term, 4);
    assert.equal((runs[0]!.reason as LeadershipEnded).why, 'lost-leadership');
    assert.equal((runs[0]!.reason as Error).name, 'AbortError');
  });

  test('runs again when leadership returns, never two runs at once: the next waits for the aborted one to settle', async () => {
    const s = scope();
    const { runs, job, maxActive } = recorder({ lingerMs: 50 });
    const handle = s.lead(job);
    s.observe(leading(2));
    await tick();
    s.observe(follower(3));
    s.observe(leading(4)); // leads again while the first run is still winding down
    await tick();
    assert.equal(runs.length, 1, 'the second run waits for the first to settle');
    assert.equal(handle.running, true);
    await waitFor('the second run', 2000, () => (runs.length === 2 ? true : undefined));
    assert.equal(runs[1]!.term, 4);
    assert.equal(runs[0]!.ended, true);
    assert.equal(maxActive(), 1);
    await handle.stop();
    assert.equal((runs[1]!.reason as LeadershipEnded).why, 'job-stopped');
    assert.equal(handle.running, false);
  });

  test('a re-declaration under a newer term (Bully) ends the old reign\'s run and starts one for the new term', async () => {
    const s = scope();
    const { runs, job } = recorder();
    s.lead(job);
    s.observe(leading(7));
    await tick();
    s.observe(leading(8));
    assert.equal((runs[0]!.reason as LeadershipEnded).term, 7);
    await waitFor('the run of term 8', 2000, () => (runs.length === 2 ? true : undefined));
    assert.deepEqual(runs[1]!.token, { term: 8, node: ME });
  });

  test('with a lease: a leader that loses its lease is aborted (lease-lost), and runs again when it regains it in the same term', async () => {
    const s = scope();
    const { runs, job } = recorder();
    s.lead(job);
    s.observe(leading(3, false));
    await tick();
    assert.equal(runs.length, 0, 'no lease, no run');
    s.observe(leading(3, true));
    await tick();
    assert.equal(runs.length, 1);
    s.observe(leading(3, false));
    assert.equal((runs[0]!.reason as LeadershipEnded).why, 'lease-lost');
    s.observe(leading(3, true));
    await waitFor('a second run in term 3', 2000, () => (runs.length === 2 ? true : undefined));
    assert.equal(runs[1]!.term, 3);
  });

  test('a run that returns is done for its reign; the next reign runs it again', async () => {
    const s = scope();
    const terms: number[] = [];
    s.lead((_signal, { term }) => void terms.push(term));
    s.observe(leading(1));
    await tick();
    s.observe({ ...leading(1), role: 'leader' }); // the same reign
    await tick();
    assert.deepEqual(terms, [1]);
    s.observe(follower(2));
    s.observe(leading(3));
    await tick();
    await tick();
    assert.deepEqual(terms, [1, 3]);
  });

  test('a throw is reported: to onError when given, else to the node (job-failed); an abort it was handed is not a failure', async () => {
    const failures: { error: unknown; reign: Reign }[] = [];
    const s = scope(failures);
    const seen: { error: unknown; reign: Reign }[] = [];
    s.lead(() => {
      throw new Error('boom');
    }, { onError: (error, reign) => seen.push({ error, reign }) });
    s.lead(async () => {
      throw new Error('bang');
    });
    s.lead(async (signal) => {
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    s.observe(leading(5));
    await tick();
    await tick();
    assert.deepEqual(seen.map(({ error, reign }) => [(error as Error).message, reign.term]), [['boom', 5]]);
    assert.deepEqual(failures.map(({ error, reign }) => [(error as Error).message, reign.term]), [['bang', 5]]);
    s.observe(follower(6));
    await tick();
    await tick();
    assert.equal(failures.length, 1, 'the aborted run rejected with its abort reason: not a failure');
  });

  test('close() (the node stops) aborts every run with node-stopped; lead() after it runs nothing', async () => {
    const s = scope();
    const { runs, job } = recorder();
    s.lead(job);
    s.observe(leading(2));
    await tick();
    s.close();
    assert.equal((runs[0]!.reason as LeadershipEnded).why, 'node-stopped');
    const late = recorder();
    s.lead(late.job);
    s.observe(leading(3));
    await tick();
    assert.equal(late.runs.length, 0);
  });
});

describe('leader() and waitForLeader()', () => {
  test('leader() names the leader with its meta; waitForLeader resolves when one is known, rejects on abort and on stop', async () => {
    const s = scope();
    assert.equal(s.leader(), null);
    const waiting = s.waitForLeader();
    const controller = new AbortController();
    const aborted = s.waitForLeader({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await assert.rejects(aborted, /gave up/);
    s.observe(follower(4, 3));
    assert.deepEqual(await waiting, { id: 3, term: 4, meta: { url: 'node-3' } });
    assert.deepEqual(await s.waitForLeader(), { id: 3, term: 4, meta: { url: 'node-3' } });
    s.observe(follower(5, null));
    const pending = s.waitForLeader();
    s.close();
    await assert.rejects(pending, /stopped/);
  });
});

describe('real nodes', () => {
  test('three Raft nodes advertising a URL: one runs the job; every node names the leader and its URL; a stopped leader\'s run is aborted before stop() resolves and another node\'s starts', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballot-lead-'));
    const ports = await freePorts(3);
    const peers = new Map(ports.map((port, i) => [i + 1, `127.0.0.1:${port}`]));
    const lines: { bindings: Record<string, unknown>; level: string; fields: object; message: string | undefined }[] = [];
    const pinoLike = (bindings: Record<string, unknown>): PinoLikeLogger => ({
      info: (fields, message) => void lines.push({ bindings, level: 'info', fields, message }),
      debug: (fields, message) => void lines.push({ bindings, level: 'debug', fields, message }),
      child: (more) => pinoLike({ ...bindings, ...more }),
    });
    const nodes: NodeHandle[] = [];
    try {
      for (const id of [1, 2, 3]) {
        nodes.push(await startNode({ id, algorithm: 'raft', peers, dataDir: join(dir, `n${id}`), http: '127.0.0.1:0', timing: SLOW_ELECTIONS, advertise: { url: `http://10.0.0.${id}:8080`, zone: 'a' }, logger: pinoLike({ app: 'test' }) }));
      }
      const active = new Set<NodeId>();
      const log: string[] = [];
      for (const node of nodes) {
        node.lead(async (signal, { term }) => {
          active.add(node.id);
          log.push(`start ${node.id} ${term}`);
          assert.ok(active.size === 1, `only one job runs: ${[...active].join(',')}`);
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          active.delete(node.id);
          log.push(`stop ${node.id} ${term}`);
        });
      }
      const first = await nodes[0]!.waitForLeader({ signal: AbortSignal.timeout(10_000) });
      const leader = nodes.find((node) => node.id === first.id)!;
      await waitFor('every node to name the leader and its URL', 10_000, () => (nodes.every((node) => node.leader()?.id === first.id && node.leader()?.meta?.['url'] === `http://10.0.0.${first.id}:8080`) ? true : undefined));
      assert.deepEqual(leader.meta, { url: `http://10.0.0.${first.id}:8080`, zone: 'a' });
      // Any member answers GET /leader with the leader's advertised meta.
      const follower = nodes.find((node) => node.id !== first.id)!;
      const answer = await fetch(`http://127.0.0.1:${follower.httpPort}/leader`);
      assert.equal(answer.status, 200);
      const named = follower.leader()!;
      assert.deepEqual(await answer.json(), { id: named.id, term: named.term, meta: { url: `http://10.0.0.${named.id}:8080`, zone: 'a' } });
      await waitFor('the leader\'s job to run', 5000, () => (active.has(first.id) ? true : undefined));
      assert.deepEqual([...active], [first.id]);

      const stopping = leader.stop();
      assert.equal(active.has(first.id), true, 'the abort is delivered synchronously; the job ends in its own time');
      await stopping;
      assert.equal(active.has(first.id), false, 'the job ended before stop() resolved');
      const survivors = nodes.filter((node) => node !== leader);
      const next = await waitFor('a new leader', 10_000, () => {
        const agreed = agreedLeader(survivors.map((node) => node.status()))?.leader;
        return agreed !== undefined && agreed !== first.id ? agreed : undefined;
      });
      await waitFor('the new leader\'s job to run', 5000, () => (active.has(next) ? true : undefined));
      assert.deepEqual([...active], [next]);
      assert.match(log.join('\n'), new RegExp(`start ${first.id} \\d+\\nstop ${first.id} \\d+\\nstart ${next} \\d+`));

      // The pino-like logger got a child bound to the node id, with the event as field and message.
      const started = lines.find((line) => (line.fields as { event?: string }).event === 'job-started');
      assert.ok(started, 'a job-started line');
      assert.equal(started.message, 'job-started');
      assert.equal(started.bindings['app'], 'test');
      assert.ok([1, 2, 3].includes(started.bindings['node'] as number));
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('advertise is checked: not an object, too big, a bad key: a ConfigError, nothing started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballot-advertise-'));
    const [port] = await freePorts(1);
    const base = { id: 1, algorithm: 'raft' as const, peers: { 1: `127.0.0.1:${port}` }, dataDir: dir };
    try {
      await assert.rejects(startNode({ ...base, advertise: [] as unknown as Record<string, unknown> }), /advertise: expected a JSON object/);
      await assert.rejects(startNode({ ...base, advertise: { url: 'x'.repeat(600) } }), /advertise: not a valid advertisement at url/);
      await assert.rejects(startNode({ ...base, advertise: { '1url': 'x' } }), /advertise: not a valid advertisement/);
      await assert.rejects(startNode({ ...base, advertise: { a: { nested: true } } }), /advertise: not a valid advertisement at a/);
      await assert.rejects(startNode({ ...base, advertise: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 1])) }), /advertise: not a valid advertisement/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a failed job with nobody to tell', () => {
  const nodeJs = new URL('./node.js', import.meta.url).href;
  /** A one-node cluster (it leads at once) whose job throws; `listen`: a 'job-failed' listener. */
  function run(listen: boolean, port: number): ReturnType<typeof spawnSync> {
    const dir = mkdtempSync(join(tmpdir(), 'ballot-job-failed-'));
    const script = `
      import { startNode } from ${JSON.stringify(nodeJs)};
      const node = await startNode({ id: 1, algorithm: 'raft', peers: { 1: '127.0.0.1:${port}' }, dataDir: ${JSON.stringify(dir)} });
      ${listen ? "node.on('job-failed', ({ error, reign }) => { console.log('reported', error.message, reign.term); void node.stop(); });" : ''}
      node.lead(async () => { throw new Error('the job broke'); });
    `;
    try {
      return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('is rethrown as an uncaught exception (the process exits 1, as for an unhandled rejection); with a job-failed listener it is reported there', { timeout: 45_000 }, async () => {
    const [first, second] = await freePorts(2);
    const crashed = run(false, first!);
    assert.equal(crashed.status, 1, String(crashed.stderr));
    assert.match(String(crashed.stderr), /Error: the job broke/);
    const reported = run(true, second!);
    assert.equal(reported.status, 0, String(reported.stderr));
    assert.match(String(reported.stdout), /^reported the job broke \d+$/m);
  });
});

test('reign.holds() answers from the status at this instant: false once the lease is past its end, before the node has stepped down or aborted the run', async () => {
  let now: Status = leading(3, true);
  const scoped = new LeadershipScope(ME, follower(0, null), () => null, silentLogger, () => true, () => now);
  scoped.observe(now);
  let reign: Reign | null = null;
  let signal: AbortSignal | null = null;
  scoped.lead(async (s, r) => {
    reign = r;
    signal = s;
    await new Promise((resolve) => s.addEventListener('abort', resolve, { once: true }));
  });
  await tick();
  assert.ok(reign !== null && signal !== null);
  const run = reign as Reign;
  assert.equal(run.holds(), true);
  // The lease ran out by the clock (a resumed process), and the node has not ticked yet: no abort so far.
  now = leading(3, false);
  assert.equal((signal as AbortSignal).aborted, false);
  assert.equal(run.holds(), false);
  // Held again in the same term, then a newer term: only this reign's term counts.
  now = leading(3, true);
  assert.equal(run.holds(), true);
  now = leading(4, true);
  assert.equal(run.holds(), false);
  scoped.close();
});
