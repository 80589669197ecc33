/**
 * The programmatic API, in process: several nodes in one process (each with its own metrics
 * registry), real sockets on 127.0.0.1, real files. Every algorithm of the registry is covered.
 */
import { createRaft, defaultRaftOptions } from '../core/raft/index.js';
import { after, test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreedLeader } from '../core/agreement.js';
import { algorithms } from '../core/algorithms.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { ConfigError } from './config.js';
import { startNode, type NodeEvents, type NodeHandle } from './node.js';
import { StorageError } from './storage.js';
import { jsonLogger } from './log.js';
import { freePorts, metricValue, waitFor } from './testing.js';

const host = (port: number): string => `127.0.0.1:${port}`;

async function startTrio(algorithm: AnyAlgorithm, dir: string): Promise<NodeHandle[]> {
  const ports = await freePorts(3);
  const peers = new Map(ports.map((port, i) => [i + 1, host(port)]));
  return Promise.all([1, 2, 3].map((id) => startNode({ id, algorithm, peers, dataDir: join(dir, `n${id}`), http: '127.0.0.1:0' })));
}

/** The one leader every given node names, once they agree (core/agreement.ts). */
function agreedAmong(nodes: readonly NodeHandle[]): NodeId | undefined {
  return agreedLeader(nodes.map((node) => node.status()))?.leader;
}

for (const algorithm of Object.values(algorithms)) {
  describe(`startNode (${algorithm.name})`, () => {
    test('three nodes elect one leader; events carry the term; a stopped leader is replaced', { timeout: 20_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), `ballot-api-${algorithm.name}-`));
      const nodes = await startTrio(algorithm, dir);
      const events = new Map<NodeId, { type: keyof NodeEvents; payload: unknown }[]>(nodes.map((node) => [node.id, []]));
      for (const node of nodes) {
        for (const type of ['became-leader', 'lost-leadership', 'leader-changed'] as const) {
          node.on(type, (payload) => events.get(node.id)!.push({ type, payload }));
        }
      }
      try {
        const leaderId = await waitFor('an agreed leader', 10_000, () => agreedAmong(nodes));
        const leader = nodes.find((node) => node.id === leaderId)!;
        assert.deepEqual(nodes.filter((node) => node.isLeader()).map((node) => node.id), [leaderId]);
        const term = leader.status().term;
        assert.deepEqual(events.get(leaderId)!.filter((e) => e.type === 'became-leader').at(-1)?.payload, { term });
        for (const node of nodes) {
          if (node.id === leaderId) continue;
          assert.deepEqual(events.get(node.id)!.filter((e) => e.type === 'leader-changed').at(-1)?.payload, { leader: leaderId, term });
        }
        const text = await leader.metrics();
        assert.equal(metricValue(text, 'ballot_is_leader'), 1);
        assert.equal(metricValue(text, 'ballot_term'), term);

        await leader.stop();
        // Raft hands leadership over before closing, so the stopped node may already name its successor
        // (src/runtime/transfer.test.ts); every algorithm reports the end of the reign.
        assert.ok(events.get(leaderId)!.some((e) => e.type === 'lost-leadership' && (e.payload as { term: number }).term === term), JSON.stringify(events.get(leaderId)));
        assert.equal(leader.isLeader(), false);

        const survivors = nodes.filter((node) => node !== leader);
        const next = await waitFor('a new leader among the survivors', 10_000, () => {
          const id = agreedAmong(survivors);
          return id !== undefined && id !== leaderId ? id : undefined;
        });
        const successor = survivors.find((node) => node.id === next)!;
        assert.ok(successor.status().term > term, `the new leader's term ${successor.status().term} is above ${term}`);
        assert.equal(successor.isLeader(), true);
      } finally {
        await Promise.all(nodes.map((node) => node.stop()));
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('startNode configuration errors', () => {
  const raft = algorithms.raft!;
  const dir = mkdtempSync(join(tmpdir(), 'ballot-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('own id missing from peers', async () => {
    await assert.rejects(startNode({ id: 4, algorithm: 'raft', peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' }, dataDir: dir }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /own id 4 is missing/);
      return true;
    });
  });

  test('a member both voter and observer; two members on one address', async () => {
    await assert.rejects(
      startNode({ id: 1, algorithm: raft, peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' }, observers: { 2: '127.0.0.1:7003' }, dataDir: dir }),
      /node 2 is given twice/,
    );
    await assert.rejects(startNode({ id: 1, algorithm: raft, peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7001' }, dataDir: dir }), /same address/);
  });

  test('port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (blocker.address() as import('node:net').AddressInfo).port;
    try {
      await assert.rejects(startNode({ id: 1, algorithm: raft, peers: { 1: host(port) }, dataDir: join(dir, 'port') }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /address already in use/);
        return true;
      });
      // The HTTP port too, and the failed start leaves nothing listening on the peer port.
      const [peer] = await freePorts(1);
      await assert.rejects(startNode({ id: 1, algorithm: raft, peers: { 1: host(peer!) }, http: host(port), dataDir: join(dir, 'port') }), /cannot serve HTTP/);
      const again = await startNode({ id: 1, algorithm: raft, peers: { 1: host(peer!) }, dataDir: join(dir, 'port') });
      await again.stop();
    } finally {
      blocker.close();
    }
  });

  test('unusable data dir, corrupt state', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const [port] = await freePorts(1);
    await assert.rejects(startNode({ id: 1, algorithm: raft, peers: { 1: host(port!) }, dataDir: file }), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /cannot use data dir/);
      return true;
    });
    mkdirSync(join(dir, 'corrupt'));
    writeFileSync(join(dir, 'corrupt', 'state.json'), '{"format":1,');
    await assert.rejects(startNode({ id: 1, algorithm: raft, peers: { 1: host(port!) }, dataDir: join(dir, 'corrupt') }), /corrupt/);
  });
});

test('the README example: a job runs only while its node leads, with the term as its fencing token', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-example-'));
  const [port] = await freePorts(1);
  const runs: number[] = [];
  const runJob = ({ fencingToken }: { fencingToken: number }): void => void runs.push(fencingToken);
  // A cluster of one elects itself; the same code runs unchanged on every member of a real cluster.
  const node = await startNode({ id: 1, algorithm: 'raft', dataDir: dir, peers: { 1: host(port!) }, timing: { heartbeatMs: 10, electionTimeoutMinMs: 20, electionTimeoutMaxMs: 40 } });
  let job: NodeJS.Timeout | undefined;
  node.on('became-leader', ({ term }) => (job = setInterval(() => runJob({ fencingToken: term }), 5)));
  node.on('lost-leadership', () => clearInterval(job));
  try {
    await waitFor('the job to run', 5000, () => (runs.length >= 3 ? true : undefined));
    assert.deepEqual(new Set(runs), new Set([node.status().term]));
    await node.stop();
    const count = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(runs.length, count, 'the job stopped with the leadership');
  } finally {
    clearInterval(job);
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a peer of another cluster is refused and counted; the refused side logs it once, not per redial', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-misconfigured-'));
  const ports = await freePorts(2);
  const peers = { 1: host(ports[0]!), 2: host(ports[1]!) };
  const lines: { level: string; event: string }[] = [];
  const logger = jsonLogger('info', (line) => void lines.push(JSON.parse(line) as { level: string; event: string }));
  const a = await startNode({ id: 1, algorithm: 'raft', peers, clusterId: 'blue', dataDir: join(dir, 'a'), logger });
  const b = await startNode({ id: 2, algorithm: 'raft', peers, clusterId: 'green', dataDir: join(dir, 'b') });
  try {
    // Several redials (25 ms backoff, doubling) go by in 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const rejected = metricValue(await b.metrics(), 'ballot_frames_rejected_by_reason_total{reason="wrong-cluster"}') ?? 0;
    assert.ok(rejected >= 3, `B refused A's handshakes (${rejected})`);
    const outbound = lines.filter((line) => line.event.startsWith('peer-'));
    assert.deepEqual(outbound.map((line) => line.event), ['peer-connected', 'peer-disconnected', 'peer-unstable']);
    assert.equal(a.status().leader, null, 'two clusters of one member each: no majority of two');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a node whose state can no longer be written stops itself (fatal) instead of sending what depends on it', { timeout: 10_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'ballot-fatal-'));
  const dataDir = join(root, 'n1');
  const ports = await freePorts(3);
  // Members 2 and 3 never answer, so node 1 campaigns again and again: each campaign persists a new term
  // (without PreVote; with it, a node that gets no pre-votes persists nothing).
  const node = await startNode({ id: 1, algorithm: createRaft({ ...defaultRaftOptions, preVote: false }), dataDir, peers: { 1: host(ports[0]!), 2: host(ports[1]!), 3: host(ports[2]!) } });
  const fatal = new Promise<Error>((resolve) => node.on('fatal', ({ error }) => resolve(error)));
  try {
    rmSync(dataDir, { recursive: true, force: true });
    writeFileSync(dataDir, 'not a directory any more');
    const error = await fatal;
    assert.match(error.message, /cannot persist durable state/);
    await node.stopped;
    assert.equal(node.isLeader(), false);
  } finally {
    await node.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
