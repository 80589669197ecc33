/**
 * etcd as a system under test: `etcd` processes (Debian package etcd-server, /usr/bin/etcd) on
 * 127.0.0.1 with a static initial cluster, each member's leader read from
 * `POST /v3/maintenance/status` on its client URL over a keep-alive HTTP connection (etcdctl costs
 * 20–40 ms per call, too coarse for a 5 ms poll).
 *
 * Timing. etcd has two knobs, both in ms: --heartbeat-interval (the raft tick; the leader heartbeats
 * every tick) and --election-timeout E. Its raft draws each randomized election timeout from
 * [E, 2E) in whole ticks (etcd-io/raft resetRandomizedElectionTimeout), and refuses E < 5 × heartbeat.
 * ballot's Raft draws uniformly from [min, max]. We match the MEAN: etcd's nominal mean is 1.5 E, so
 * E = (min + max) / 3; for ballot's defaults (150–300) that is E = 150, whose range [150, 300) is
 * exactly ballot's. The heartbeat is then lowered to E / 5 when needed (50 → 30 ms for E = 150),
 * because etcd accepts nothing else; a heartbeat-matched variant (heartbeat 50, E = 250) is the
 * command line `--heartbeat 50 --election-timeout 250-500`. See docs/bench.md.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { requireFreePorts, startProcess, type StartedProcess } from './processes.js';
import type { ClusterOptions, ClusterUnderTest, SystemUnderTest } from './system.js';

/** etcd's own defaults (heartbeat 100 ms, election timeout 1000 ms), in ballot's terms. */
export const etcdDefaultTiming = { heartbeatMs: 100, electionTimeoutMinMs: 1000, electionTimeoutMaxMs: 2000 } as const;

/** The etcd binary: $BALLOT_ETCD, else Debian's /usr/bin/etcd, else `etcd` on the PATH. */
export function etcdBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BALLOT_ETCD) return env.BALLOT_ETCD;
  return existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : 'etcd';
}

export interface EtcdTiming {
  /** --heartbeat-interval, ms (one raft tick). */
  readonly heartbeatMs: number;
  /** --election-timeout, ms. */
  readonly electionMs: number;
  /** The randomized election timeout's nominal range, [lo, hi) ms, in whole ticks. */
  readonly randomizedMs: readonly [number, number];
}

/** ballot's timing mapped to etcd's two flags (see the file comment for why this is "matched"). */
export function etcdTiming(options: Pick<ClusterOptions, 'heartbeatMs' | 'electionTimeoutMinMs' | 'electionTimeoutMaxMs'>): EtcdTiming {
  const electionMs = Math.max(5, Math.round((options.electionTimeoutMinMs + options.electionTimeoutMaxMs) / 3));
  // etcd: "--election-timeout should be at least as 5 times as --heartbeat-interval".
  const heartbeatMs = Math.max(1, Math.min(Math.round(options.heartbeatMs), Math.floor(electionMs / 5)));
  const ticks = Math.floor(electionMs / heartbeatMs);
  return { heartbeatMs, electionMs, randomizedMs: [ticks * heartbeatMs, 2 * ticks * heartbeatMs] };
}

/** Member i (1-based) uses client port base + 2(i-1) and peer port base + 2(i-1) + 1. */
export function etcdPorts(basePort: number, member: number): { client: number; peer: number } {
  return { client: basePort + 2 * (member - 1), peer: basePort + 2 * (member - 1) + 1 };
}

/** The command line of member `member`. */
export function etcdArgs(options: ClusterOptions, member: number, clusterToken: string): string[] {
  const timing = etcdTiming(options);
  const { client, peer } = etcdPorts(options.basePort, member);
  const initialCluster = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}=http://127.0.0.1:${etcdPorts(options.basePort, i + 1).peer}`).join(',');
  return [
    `--name=n${member}`,
    `--data-dir=${join(options.dataDir, `n${member}`)}`,
    `--listen-client-urls=http://127.0.0.1:${client}`,
    `--advertise-client-urls=http://127.0.0.1:${client}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${clusterToken}`,
    `--heartbeat-interval=${timing.heartbeatMs}`,
    `--election-timeout=${timing.electionMs}`,
    // zap: capnslog (3.4's default logger) prints a deprecation warning; the log level stays etcd's default.
    '--logger=zap',
    '--log-outputs=stderr',
  ];
}

/** What one member's status says: its own member id and the leader's (null: none known). */
export interface EtcdStatus {
  readonly memberId: string;
  readonly leaderId: string | null;
}

/** Parses the JSON reply of /v3/maintenance/status (ids are uint64 as decimal strings; 0 or absent: none). */
export function parseEtcdStatus(text: string): EtcdStatus | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null) return null;
  const header = (json as { header?: unknown }).header;
  if (typeof header !== 'object' || header === null) return null;
  const memberId = (header as { member_id?: unknown }).member_id;
  if (typeof memberId !== 'string' || !/^\d+$/.test(memberId)) return null;
  const leader = (json as { leader?: unknown }).leader;
  const leaderId = typeof leader === 'string' && /^\d+$/.test(leader) && leader !== '0' ? leader : null;
  return { memberId, leaderId };
}

/** One member's status over a keep-alive connection; null when it does not answer in time. */
export function fetchStatus(agent: Agent, port: number, timeoutMs: number): Promise<EtcdStatus | null> {
  return new Promise((resolve) => {
    const body = '{}';
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v3/maintenance/status', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(res.statusCode === 200 ? parseEtcdStatus(Buffer.concat(chunks).toString('utf8')) : null));
        res.on('error', () => resolve(null));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(body);
  });
}

const POLL_TIMEOUT_MS = 500;

class EtcdCluster implements ClusterUnderTest {
  readonly members: readonly number[];
  private readonly processes = new Map<number, StartedProcess>();
  private readonly agents = new Map<number, Agent>();
  /** etcd's member ids (from each member's own status) → our 1..N. */
  private readonly memberOf = new Map<string, number>();
  private readonly killed = new Set<number>();
  private stopped = false;

  constructor(private readonly options: ClusterOptions) {
    this.members = Array.from({ length: options.nodes }, (_, i) => i + 1);
  }

  async launch(): Promise<void> {
    const binary = etcdBinary();
    const token = `ballot-bench-${process.pid}-${Date.now().toString(36)}`;
    for (const member of this.members) {
      await mkdir(join(this.options.dataDir, `n${member}`), { recursive: true });
    }
    // All members at once, as a cluster restart would: etcd's cold start is bimodal (ANCHORS.md).
    for (const member of this.members) {
      const started = await startProcess(binary, { args: etcdArgs(this.options, member, token), logFile: join(this.options.dataDir, `n${member}.log`) });
      this.processes.set(member, started);
      this.agents.set(member, new Agent({ keepAlive: true, maxSockets: 1 }));
    }
  }

  async leaderViews(): Promise<Map<number, number | null>> {
    const live = this.members.filter((m) => !this.killed.has(m));
    for (const member of live) {
      const child = this.processes.get(member)!;
      if (!child.isRunning()) throw new Error(`etcd member ${member} exited unexpectedly; its log ends:\n${child.logTail()}`);
    }
    const replies = await Promise.all(live.map((m) => fetchStatus(this.agents.get(m)!, etcdPorts(this.options.basePort, m).client, POLL_TIMEOUT_MS)));
    // Learn every answering member's id first, so a leader named in this same poll can be mapped.
    replies.forEach((reply, i) => {
      if (reply) this.memberOf.set(reply.memberId, live[i]!);
    });
    const views = new Map<number, number | null>();
    replies.forEach((reply, i) => {
      const leader = reply?.leaderId ? this.memberOf.get(reply.leaderId) : undefined;
      views.set(live[i]!, leader ?? null);
    });
    return views;
  }

  async kill(member: number): Promise<void> {
    this.killed.add(member);
    this.agents.get(member)?.destroy();
    await this.processes.get(member)?.kill();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const agent of this.agents.values()) agent.destroy();
    // kill -9 is enough: the data directory is thrown away after the trial.
    await Promise.all([...this.processes.values()].map((p) => p.kill()));
  }
}

export const etcdSystem: SystemUnderTest = {
  name: 'etcd',
  describe(options) {
    const t = etcdTiming(options);
    return `heartbeat-interval ${t.heartbeatMs}, election-timeout ${t.electionMs} (randomized [${t.randomizedMs[0]}, ${t.randomizedMs[1]}) ms)`;
  },
  async start(options) {
    const binary = etcdBinary();
    if (binary.includes('/') && !existsSync(binary)) throw new Error(`etcd is not installed (${binary} not found; see scripts/install-comparison-systems.sh)`);
    const ports = Array.from({ length: options.nodes }, (_, i) => etcdPorts(options.basePort, i + 1)).flatMap((p) => [p.client, p.peer]);
    await requireFreePorts(ports);
    const cluster = new EtcdCluster(options);
    try {
      await cluster.launch();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  },
};
