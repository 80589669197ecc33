/**
 * The target of issue 13: three real processes (src/testing/lead-worker.ts), each a service running a
 * leader-only job through `lead()` that writes to a resource with its reign's fencing token. The
 * leader is killed with kill -9, stopped gracefully (SIGTERM: the job, then the node), and frozen with
 * SIGSTOP then resumed. The jobs' active intervals — recorded by each process with
 * process.hrtime.bigint(), i.e. CLOCK_MONOTONIC, one clock for every process of the machine on Linux —
 * never overlap after kill -9 and after a graceful stop; a deposed leader's fenced write is refused by
 * the resource (createFence, in this process) in every case.
 *
 * After SIGSTOP/SIGCONT the resumed leader's job does not act again: it asks `reign.holds()` before
 * each write, which answers from the lease's end by the clock, so it does not matter whether the job's
 * overdue timer or the node's fires first; the fence would refuse its writes anyway.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agreedLeader } from '../core/agreement.js';
import type { NodeId } from '../core/types.js';
import { compareTokens, createFence, type FenceToken } from './fence.js';
import { fetchStatus } from './local-cluster.js';
import { freePorts, sleep, waitFor } from './testing.js';

const workerJs = fileURLToPath(new URL('../testing/lead-worker.js', import.meta.url));
const IDS = [1, 2, 3] as const;
const ELECTION_TIMEOUT: [number, number] = [500, 1000];
const HEARTBEAT_MS = 50;

interface JobEvent {
  readonly node: NodeId;
  readonly t: string;
  readonly ev: 'up' | 'start' | 'write' | 'stop' | 'refused';
  readonly term?: number;
}

/**
 * One run of a job on the machine's monotonic clock: from its start to its end (its stop line, or its
 * process's death), and to its last action (the last write it sent): a frozen process does nothing,
 * so a run that spans a SIGSTOP is active only until its last action.
 */
interface Interval {
  readonly node: NodeId;
  readonly term: number;
  readonly start: bigint;
  readonly end: bigint;
  readonly lastAction: bigint;
}

/** The resource the jobs write to: a fence in front of a log of admitted writes. */
class Resource {
  readonly fence = createFence();
  /** Every write, in the order the fence judged them; `straggler`: sent by the test in a deposed reign's name. */
  readonly writes: { token: FenceToken; admitted: boolean; at: bigint; straggler: boolean }[] = [];
  private constructor(readonly server: Server) {}

  static async start(): Promise<Resource> {
    const resource: Resource = new Resource(
      createServer((request, response) => {
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => (body += chunk));
        request.on('end', () => {
          const token = JSON.parse(body) as FenceToken;
          const admitted = resource.fence.admit(token);
          resource.writes.push({ token, admitted, at: process.hrtime.bigint(), straggler: false });
          response.writeHead(admitted ? 200 : 409).end();
        });
      }),
    );
    await new Promise<void>((resolve) => resource.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    return resource;
  }

  port(): number {
    return (this.server.address() as import('node:net').AddressInfo).port;
  }

  /** A write in the name of `token`, as a straggler of a deposed leader would send it: admitted? */
  straggler(token: FenceToken): boolean {
    const admitted = this.fence.admit(token);
    this.writes.push({ token, admitted, at: process.hrtime.bigint(), straggler: true });
    return admitted;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

class Cluster {
  readonly processes = new Map<NodeId, ChildProcess>();
  /** Processes stopped with SIGSTOP: not asked for their status (they cannot answer). */
  readonly frozen = new Set<NodeId>();
  /** When the test saw each killed process exit (the end of a run its stop line never recorded). */
  readonly deaths: { node: NodeId; at: bigint }[] = [];
  private constructor(
    readonly dir: string,
    readonly peerPorts: readonly number[],
    readonly httpPorts: readonly number[],
    readonly resource: Resource,
  ) {}

  static async start(resource: Resource): Promise<Cluster> {
    const ports = await freePorts(6);
    const cluster = new Cluster(mkdtempSync(join(tmpdir(), 'ballot-lead-')), ports.slice(0, 3), ports.slice(3), resource);
    for (const id of IDS) cluster.spawn(id);
    return cluster;
  }

  get events(): string {
    return join(this.dir, 'events.jsonl');
  }

  spawn(id: NodeId): void {
    const config = {
      id,
      peers: Object.fromEntries(IDS.map((member) => [member, `127.0.0.1:${this.peerPorts[member - 1]}`])),
      http: `127.0.0.1:${this.httpPorts[id - 1]}`,
      dataDir: join(this.dir, `n${id}`),
      events: this.events,
      resourcePort: this.resource.port(),
      writeEveryMs: 20,
      electionTimeout: ELECTION_TIMEOUT,
      heartbeatMs: HEARTBEAT_MS,
    };
    const log = openSync(join(this.dir, `n${id}.log`), 'a');
    const child = spawn(process.execPath, [workerJs], { env: { ...process.env, BALLOT_LEAD_WORKER: JSON.stringify(config) }, stdio: ['ignore', log, log] });
    closeSync(log);
    this.processes.set(id, child);
    child.once('exit', () => {
      if (this.processes.get(id) === child) this.processes.delete(id);
    });
  }

  /** The leader every running process names, once they agree and its job has started. */
  async leader(excluding: NodeId | null = null): Promise<{ id: NodeId; term: number }> {
    return waitFor('an agreed leader whose job runs', 30_000, async () => {
      const running = [...this.processes.keys()].filter((id) => !this.frozen.has(id));
      const statuses = await Promise.all(running.map((id) => fetchStatus(this.httpPorts[id - 1]!)));
      if (statuses.some((status) => status === null)) return undefined;
      const agreed = agreedLeader(statuses.map((status) => status!));
      if (!agreed || agreed.term === undefined || agreed.leader === excluding) return undefined;
      const term = agreed.term;
      const started = this.jobEvents().some((event) => event.ev === 'start' && event.node === agreed.leader && event.term === term);
      return started ? { id: agreed.leader, term } : undefined;
    }, 50);
  }

  /** Sends `signal` and waits for the process to exit; the time it was seen dead. */
  async kill(id: NodeId, signal: NodeJS.Signals): Promise<bigint> {
    const child = this.processes.get(id)!;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    const at = process.hrtime.bigint();
    if (signal === 'SIGKILL') this.deaths.push({ node: id, at });
    return at;
  }

  jobEvents(): JobEvent[] {
    let text = '';
    try {
      text = readFileSync(this.events, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as JobEvent);
  }

  /** Every run so far; a run still going ends "now", one cut by kill -9 at its process's death. */
  intervals(): Interval[] {
    const open = new Map<NodeId, { term: number; start: bigint; lastAction: bigint }>();
    const intervals: Interval[] = [];
    const deaths = [...this.deaths];
    const events = this.jobEvents().map((event) => ({ ...event, at: BigInt(event.t) }));
    const timeline = [...events.map((event) => ({ kind: 'event' as const, at: event.at, event })), ...deaths.map((death) => ({ kind: 'death' as const, at: death.at, node: death.node }))].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    for (const item of timeline) {
      if (item.kind === 'death') {
        const run = open.get(item.node);
        if (run) intervals.push({ node: item.node, term: run.term, start: run.start, end: item.at, lastAction: run.lastAction });
        open.delete(item.node);
        continue;
      }
      const { event } = item;
      if (event.ev === 'start') open.set(event.node, { term: event.term!, start: item.at, lastAction: item.at });
      if (event.ev === 'write') {
        const run = open.get(event.node);
        if (run) run.lastAction = item.at;
      }
      if (event.ev === 'stop') {
        const run = open.get(event.node);
        if (run) intervals.push({ node: event.node, term: run.term, start: run.start, end: item.at, lastAction: run.lastAction });
        open.delete(event.node);
      }
    }
    const now = process.hrtime.bigint();
    for (const [node, run] of open) intervals.push({ node, term: run.term, start: run.start, end: now, lastAction: run.lastAction });
    return intervals.sort((a, b) => (a.start < b.start ? -1 : 1));
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Pairs of runs whose intervals overlap, described for an assertion message: [start, end] (`whole`),
 * or [start, last action] (a run frozen by SIGSTOP spans the freeze, but does nothing during it).
 */
function overlaps(intervals: readonly Interval[], until: 'whole' | 'last-action' = 'whole'): string[] {
  const found: string[] = [];
  const endOf = (run: Interval): bigint => (until === 'whole' ? run.end : run.lastAction);
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i]!;
      const b = intervals[j]!;
      if (a.start < endOf(b) && b.start < endOf(a)) {
        const ms = Number((endOf(a) < endOf(b) ? endOf(a) : endOf(b)) - (a.start > b.start ? a.start : b.start)) / 1e6;
        found.push(`node ${a.node} (term ${a.term}) and node ${b.node} (term ${b.term}) overlap by ${ms.toFixed(1)} ms`);
      }
    }
  }
  return found;
}

describe('lead() on three real processes: leader-only jobs under kill -9, graceful stop, SIGSTOP', { timeout: 240_000 }, () => {
  let resource: Resource;
  let cluster: Cluster;
  let sigstopOverlaps: string[] | null = null;

  before(async () => {
    resource = await Resource.start();
    cluster = await Cluster.start(resource);
  });
  after(async () => {
    await cluster?.stop();
    await resource?.close();
  });

  /** After the old leader's reign: a new one runs, and the old token is refused by the resource. */
  async function succession(old: { id: NodeId; term: number }): Promise<{ id: NodeId; term: number }> {
    const next = await cluster.leader(old.id);
    assert.ok(next.term > old.term, `the new reign's term ${next.term} is above ${old.term}`);
    const newToken = { term: next.term, node: next.id };
    await waitFor('the new leader\'s first admitted write', 10_000, () => (resource.writes.some((write) => write.admitted && compareTokens(write.token, newToken) === 0) ? true : undefined));
    assert.equal(resource.straggler({ term: old.term, node: old.id }), false, 'a write of the deposed reign is refused');
    return next;
  }

  async function restart(id: NodeId): Promise<void> {
    cluster.spawn(id);
    await waitFor(`node ${id} back`, 30_000, async () => ((await fetchStatus(cluster.httpPorts[id - 1]!))?.leader != null ? true : undefined), 50);
  }

  test('kill -9 of the leader: the next run starts after the killed one ended; the deposed token is refused', async () => {
    const old = await cluster.leader();
    await sleep(200);
    await cluster.kill(old.id, 'SIGKILL');
    await succession(old);
    assert.deepEqual(overlaps(cluster.intervals()), []);
    await restart(old.id);
  });

  test('graceful stop of the leader (SIGTERM: the job, then the node): no overlap; the deposed token is refused', async () => {
    const old = await cluster.leader();
    await sleep(200);
    await cluster.kill(old.id, 'SIGTERM');
    const stops = cluster.jobEvents().filter((event) => event.node === old.id && event.ev === 'stop');
    assert.equal(stops.at(-1)?.term, old.term, 'the job recorded its end before the process exited');
    await succession(old);
    assert.deepEqual(overlaps(cluster.intervals()), []);
    await restart(old.id);
  });

  test('SIGSTOP, a new leader, SIGCONT: the resumed leader steps down and its job ends; every write it sent after the new reign began was refused', async (t) => {
    const old = await cluster.leader();
    const before = cluster.intervals().length;
    const child = cluster.processes.get(old.id)!;
    child.kill('SIGSTOP');
    cluster.frozen.add(old.id);
    let next: { id: NodeId; term: number };
    try {
      next = await succession(old);
      await sleep(300);
    } finally {
      child.kill('SIGCONT');
      cluster.frozen.delete(old.id);
    }
    await waitFor('the resumed leader\'s job to end', 20_000, () => (cluster.jobEvents().some((event) => event.node === old.id && event.ev === 'stop' && event.term === old.term) ? true : undefined));
    const newToken = { term: next.term, node: next.id };
    const firstNew = resource.writes.find((write) => write.admitted && compareTokens(write.token, newToken) === 0)!;
    const late = resource.writes.filter((write) => write.at > firstNew.at && compareTokens(write.token, newToken) < 0);
    assert.ok(late.every((write) => !write.admitted), `no write of an older reign admitted after the new one wrote: ${JSON.stringify(late.map((w) => w.token))}`);
    const resumed = late.filter((write) => !write.straggler).length;
    t.diagnostic(`writes of older reigns after the new one began: ${late.length}, ${resumed} of them sent by the resumed process; all refused`);
    // Admitted writes never go back to an older reign.
    const admitted = resource.writes.filter((write) => write.admitted);
    for (let i = 1; i < admitted.length; i++) assert.ok(compareTokens(admitted[i]!.token, admitted[i - 1]!.token) >= 0, 'admitted tokens never decrease');
    // The frozen run and the ones after it, until their last actions (the freeze itself is no action).
    sigstopOverlaps = overlaps(cluster.intervals().slice(Math.max(0, before - 1)), 'last-action');
  });

  // The job asks reign.holds() before each write: a resumed leader whose lease ended by the clock does
  // not write again, whichever of its overdue timers (the job's or the node's) fires first.
  test('SIGSTOP, a new leader, SIGCONT: the two jobs never overlap', () => {
    assert.ok(sigstopOverlaps !== null, 'the SIGSTOP run happened');
    assert.deepEqual(sigstopOverlaps, []);
  });
});
