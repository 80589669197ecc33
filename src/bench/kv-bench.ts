/**
 * `ballot bench kv`: writes per second through the key-value API of 3 real ballot Raft nodes on
 * loopback (fsync on: state.log is fdatasync'd before anything is acknowledged), against etcd measured
 * in the same run (its WAL is fsync'd too), with the same load: `clients` concurrent clients over
 * keep-alive HTTP, each sending its next request when the previous one is answered, all to the leader;
 * random 8-byte keys out of 10,000 and 8-byte values (etcd's `benchmark put` defaults for sizes). etcd is
 * driven through its v3 JSON gateway (`POST /v3/kv/put`, base64 key and value; a read is
 * `POST /v3/kv/range`, linearizable), ballot through `PUT /kv/:key` (a read is a linearizable GET).
 *
 * Both clusters run for the whole benchmark; their measured phases alternate (ballot, etcd, ballot,
 * etcd, …) so that both see the same machine load, and each phase starts after a warm-up. The ratio is
 * ballot's writes per second over etcd's, per round and over all rounds.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { quantile } from '../core/stats.js';
import { ballotSystem } from './ballot-system.js';
import { etcdPorts, etcdSystem } from './etcd-system.js';
import type { ClusterOptions, ClusterUnderTest } from './system.js';

export interface KvBenchOptions {
  readonly clients: number;
  /** Measured time per phase (one system, one round), ms. */
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rounds: number;
  /** Fraction of requests that are reads (0: writes only). */
  readonly readFraction: number;
  readonly nodes: number;
  readonly basePort: number;
  readonly dataDir: string;
  /** Measure etcd beside ballot (false: ballot alone). */
  readonly etcd: boolean;
  readonly timing: Pick<ClusterOptions, 'heartbeatMs' | 'electionTimeoutMinMs' | 'electionTimeoutMaxMs'>;
  readonly progress?: (line: string) => void;
}

/** One measured phase. */
export interface KvPhase {
  readonly system: string;
  readonly round: number;
  readonly durationMs: number;
  readonly writes: number;
  readonly reads: number;
  /** Requests that did not succeed (redirects, 503, 504, errors), and how many by HTTP status (0: no answer). */
  readonly failed: number;
  readonly failures: Readonly<Record<number, number>>;
  readonly writesPerSecond: number;
  readonly opsPerSecond: number;
  readonly latencyMedianMs: number;
  readonly latencyP99Ms: number;
}

export interface KvSummary {
  readonly system: string;
  readonly writesPerSecond: number;
  readonly opsPerSecond: number;
  readonly latencyMedianMs: number;
  readonly latencyP99Ms: number;
  readonly failed: number;
}

export interface KvBenchReport {
  readonly options: Omit<KvBenchOptions, 'progress' | 'dataDir'>;
  readonly phases: readonly KvPhase[];
  readonly summaries: readonly KvSummary[];
  /** ballot ÷ etcd writes per second, over all rounds and per round; null without etcd. */
  readonly ratio: number | null;
  readonly roundRatios: readonly number[];
}

const KEY_SPACE = 10_000;
const VALUE = 'v'.repeat(8);

/** A system's client: one request, resolved with its HTTP status (0: no answer); `ok` says which succeeded. */
interface KvClient {
  readonly name: string;
  put(key: string): Promise<number>;
  get(key: string): Promise<number>;
  ok(status: number): boolean;
  close(): void;
}

interface Sent {
  readonly status: number;
  readonly location: string | undefined;
}

function send(agent: Agent, port: number, method: string, path: string, body: string, contentType?: string): Promise<Sent> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body) };
    if (contentType) headers['content-type'] = contentType;
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      res.on('error', () => resolve({ status: 0, location: undefined }));
    });
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, location: undefined }));
    req.end(body);
  });
}

/** ballot's /kv API on the leader; a 307 moves the client to the leader it names. */
function ballotClient(httpPort: (member: number) => number, leader: number, clients: number): KvClient {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let port = httpPort(leader);
  const follow = (sent: Sent): number => {
    if (sent.status === 307 && sent.location) port = Number(new URL(sent.location).port);
    return sent.status;
  };
  return {
    name: 'ballot-raft',
    put: async (key) => follow(await send(agent, port, 'PUT', `/kv/${key}`, VALUE)),
    get: async (key) => follow(await send(agent, port, 'GET', `/kv/${key}`, '')),
    ok: (status) => status === 200 || status === 404,
    close: () => agent.destroy(),
  };
}

/** etcd's v3 JSON gateway on its leader. */
function etcdClient(port: number, clients: number): KvClient {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return {
    name: 'etcd',
    put: async (key) => (await send(agent, port, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(VALUE) }), 'application/json')).status,
    get: async (key) => (await send(agent, port, 'POST', '/v3/kv/range', JSON.stringify({ key: b64(key) }), 'application/json')).status,
    ok: (status) => status === 200,
    close: () => agent.destroy(),
  };
}

/** `clients` closed-loop clients for `durationMs` (after `warmupMs` unmeasured). */
async function drive(client: KvClient, options: KvBenchOptions, round: number): Promise<KvPhase> {
  const latencies: number[] = [];
  let writes = 0;
  let reads = 0;
  let failed = 0;
  const failures: Record<number, number> = {};
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const loop = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= end) return;
      const key = `k${String(Math.floor(Math.random() * KEY_SPACE)).padStart(7, '0')}`;
      const read = Math.random() < options.readFraction;
      const status = read ? await client.get(key) : await client.put(key);
      const done = performance.now();
      if (!client.ok(status)) {
        if (now >= measureFrom && done <= end) {
          failed++;
          failures[status] = (failures[status] ?? 0) + 1;
        }
        // A redirect is followed at once; otherwise an election is under way: wait a little.
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      if (now < measureFrom || done > end) continue;
      latencies.push(done - now);
      if (read) reads++;
      else writes++;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, loop));
  const seconds = options.durationMs / 1000;
  return {
    system: client.name,
    round,
    durationMs: options.durationMs,
    writes,
    reads,
    failed,
    failures,
    writesPerSecond: writes / seconds,
    opsPerSecond: (writes + reads) / seconds,
    latencyMedianMs: latencies.length > 0 ? quantile(latencies, 0.5) : NaN,
    latencyP99Ms: latencies.length > 0 ? quantile(latencies, 0.99) : NaN,
  };
}

/** Waits until `client` has one write acknowledged (a new Raft leader first commits an entry of its term). */
async function firstWrite(client: KvClient, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!client.ok(await client.put('k-ready'))) {
    if (Date.now() > deadline) throw new Error(`${client.name}: no write acknowledged within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until every member names one leader; returns it. */
async function leaderOf(cluster: ClusterUnderTest, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const views = await cluster.views(cluster.members);
    const leaders = new Set(cluster.members.map((member) => views.get(member)?.leader ?? null));
    const [leader] = leaders;
    if (leaders.size === 1 && leader !== null && leader !== undefined) return leader;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no leader agreed within 60 s');
}

export async function runKvBench(options: KvBenchOptions): Promise<KvBenchReport> {
  const say = options.progress ?? (() => {});
  const cluster = (basePort: number, name: string): ClusterOptions => ({ nodes: options.nodes, basePort, dataDir: join(options.dataDir, name), ...options.timing });
  const ballotOptions = cluster(options.basePort, 'ballot');
  const etcdOptions = cluster(options.basePort + 2 * options.nodes + 10, 'etcd');
  const clusters: ClusterUnderTest[] = [];
  const clients: KvClient[] = [];
  try {
    say(`starting ${options.nodes} ballot raft nodes${options.etcd ? ` and ${options.nodes} etcd members` : ''}`);
    const ballot = await ballotSystem('raft').start(ballotOptions);
    clusters.push(ballot);
    const ballotLeader = await leaderOf(ballot);
    clients.push(ballotClient((member) => options.basePort + options.nodes + member - 1, ballotLeader, options.clients));
    if (options.etcd) {
      const etcd = await etcdSystem.start(etcdOptions);
      clusters.push(etcd);
      const etcdLeader = await leaderOf(etcd);
      clients.push(etcdClient(etcdPorts(etcdOptions.basePort, etcdLeader).client, options.clients));
    }
    for (const client of clients) await firstWrite(client);
    const phases: KvPhase[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const client of clients) {
        const phase = await drive(client, options, round);
        say(`round ${round} ${phase.system}: ${Math.round(phase.writesPerSecond)} writes/s, ${Math.round(phase.opsPerSecond)} ops/s, median ${phase.latencyMedianMs.toFixed(1)} ms, p99 ${phase.latencyP99Ms.toFixed(1)} ms, ${phase.failed} failed${phase.failed > 0 ? ` ${JSON.stringify(phase.failures)}` : ''}`);
        phases.push(phase);
      }
    }
    const summaries = clients.map((client) => summarize(client.name, phases.filter((phase) => phase.system === client.name)));
    const etcdSummary = summaries.find((summary) => summary.system === 'etcd');
    const ratio = etcdSummary ? summaries[0]!.writesPerSecond / etcdSummary.writesPerSecond : null;
    const roundRatios = etcdSummary
      ? Array.from({ length: options.rounds }, (_, i) => phases[2 * i]!.writesPerSecond / phases[2 * i + 1]!.writesPerSecond)
      : [];
    const { progress: _progress, dataDir: _dataDir, ...reported } = options;
    return { options: reported, phases, summaries, ratio, roundRatios };
  } finally {
    for (const client of clients) client.close();
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

/** Totals over a system's phases (latency quantiles: the median over phases of each phase's quantile). */
function summarize(system: string, phases: readonly KvPhase[]): KvSummary {
  const seconds = phases.reduce((sum, phase) => sum + phase.durationMs, 0) / 1000;
  const writes = phases.reduce((sum, phase) => sum + phase.writes, 0);
  const reads = phases.reduce((sum, phase) => sum + phase.reads, 0);
  return {
    system,
    writesPerSecond: writes / seconds,
    opsPerSecond: (writes + reads) / seconds,
    latencyMedianMs: quantile(phases.map((phase) => phase.latencyMedianMs), 0.5),
    latencyP99Ms: quantile(phases.map((phase) => phase.latencyP99Ms), 0.5),
    failed: phases.reduce((sum, phase) => sum + phase.failed, 0),
  };
}

/** The report as a table. */
export function formatKvReport(report: KvBenchReport): string {
  const lines = ['system        writes/s    ops/s  median ms  p99 ms  failed'];
  for (const s of report.summaries) {
    lines.push(
      `${s.system.padEnd(12)} ${Math.round(s.writesPerSecond).toString().padStart(9)} ${Math.round(s.opsPerSecond).toString().padStart(8)} ${s.latencyMedianMs.toFixed(1).padStart(10)} ${s.latencyP99Ms.toFixed(1).padStart(7)} ${String(s.failed).padStart(7)}`,
    );
  }
  if (report.ratio !== null) {
    lines.push(`ballot ÷ etcd writes/s: ${report.ratio.toFixed(2)} (rounds: ${report.roundRatios.map((r) => r.toFixed(2)).join(', ')})`);
  }
  return lines.join('\n');
}
