/**
 * etcd as a system under test: `etcd` processes (Debian package etcd-server, /usr/bin/etcd) on
 * 127.0.0.1 with a static initial cluster, each member's leader read from
 * `POST /v3/maintenance/status` on its client URL over a keep-alive HTTP connection (etcdctl costs
 * 20–40 ms per call, too coarse for a 5 ms poll).
 *
 * Timing: what "matched" means. etcd has two knobs, both in ms: --heartbeat-interval H (the raft
 * tick; the leader heartbeats every tick) and --election-timeout E, with E >= 5 H enforced. Its raft
 * gives each follower a random timeout of k ticks, k uniform in [E/H, 2E/H) (etcd-io/raft
 * resetRandomizedElectionTimeout), counts ticks since the last heartbeat it heard (electionElapsed,
 * reset to 0 by a heartbeat) and campaigns at the k-th. The ticker runs independently of the
 * heartbeats, so the first tick comes somewhere in (0, H] after the reset, and the EFFECTIVE timeout —
 * last heartbeat heard to campaign — lies in ((k-1) H, k H]: over all k, in (E - H, 2E - H], mean
 * 1.5 E - H. ballot's Raft campaigns a uniform [min, max] after the last heartbeat it heard. We give
 * etcd the same mean effective timeout, at ballot's heartbeat when etcd's E >= 5 H rule allows it and
 * otherwise at the largest heartbeat it allows (E = 5 H, mean 6.5 H). For ballot's defaults (heartbeat
 * 50, 150–300, mean 225) that is heartbeat 35, election 175: effective 140–315 ms, mean 227.5.
 * etcd's own defaults (100 / 1000, effective 900–1900) are heartbeat 100, election 900–1900 in these
 * terms. docs/bench.md shows other matchings (nominal range, heartbeat first) and their numbers.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { prepareProcessCluster, startAll, startProcess, type ProcessClusterParts } from './processes.js';
import { loggedTime, type AnnouncementListener, type ClusterOptions, type SystemUnderTest } from './system.js';

/** etcd's own defaults (heartbeat 100 ms, election timeout 1000 ms) in ballot's terms (see above). */
export const etcdDefaultTiming = { heartbeatMs: 100, electionTimeoutMinMs: 900, electionTimeoutMaxMs: 1900 } as const;

/** The etcd binary: $BALLOT_ETCD, else Debian's /usr/bin/etcd, else `etcd` on the PATH. */
export function etcdBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BALLOT_ETCD) return env.BALLOT_ETCD;
  return existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : 'etcd';
}

export interface EtcdTiming {
  /** --heartbeat-interval, ms (one raft tick). */
  readonly heartbeatMs: number;
  /** --election-timeout, ms: a whole number of ticks, at least 5. */
  readonly electionMs: number;
  /** From the last heartbeat a follower heard until it campaigns: (lo, hi] ms, and the mean. */
  readonly effectiveMs: readonly [number, number];
  readonly effectiveMeanMs: number;
}

/** etcd's smallest election timeout, in ticks: "--election-timeout should be at least as 5 times as --heartbeat-interval". */
const MIN_ELECTION_TICKS = 5;

/** ballot's timing mapped to etcd's two flags: the same mean effective election timeout (see above). */
export function etcdTiming(options: Pick<ClusterOptions, 'heartbeatMs' | 'electionTimeoutMinMs' | 'electionTimeoutMaxMs'>): EtcdTiming {
  const mean = (options.electionTimeoutMinMs + options.electionTimeoutMaxMs) / 2;
  // Effective mean with T ticks of H ms: H (1.5 T - 1). First try ballot's heartbeat.
  let heartbeatMs = Math.max(1, Math.round(options.heartbeatMs));
  let ticks = Math.round((mean / heartbeatMs + 1) / 1.5);
  if (ticks < MIN_ELECTION_TICKS) {
    ticks = MIN_ELECTION_TICKS;
    heartbeatMs = Math.max(1, Math.round(mean / (1.5 * MIN_ELECTION_TICKS - 1)));
  }
  return {
    heartbeatMs,
    electionMs: ticks * heartbeatMs,
    effectiveMs: [(ticks - 1) * heartbeatMs, (2 * ticks - 1) * heartbeatMs],
    effectiveMeanMs: heartbeatMs * (1.5 * ticks - 1),
  };
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

/**
 * The leader a line of etcd's log names, as a decimal member id (null: none), or undefined for any other
 * line: its raft logs "raft.node: <id> elected leader <id> at term T", "… changed leader from <id> to
 * <id> at term T" and "… lost leader <id> at term T" (hex ids) the moment the member's raft node learns it (etcd-io/raft node.go), as ballot logs
 * 'leader-changed'.
 */
export function announcedLeader(line: string): string | null | undefined {
  const match = /raft\.node: [0-9a-f]+ (elected leader|changed leader from [0-9a-f]+ to|lost leader) ([0-9a-f]+) at term/.exec(line);
  if (!match) return undefined;
  return match[1] === 'lost leader' ? null : BigInt(`0x${match[2]!}`).toString();
}

/**
 * The member's own time stamp on a line of its log (zap's `"ts":"2026-11-30T12:17:36.792Z"`: ISO 8601
 * of the wall clock, ms resolution), as ms since the epoch; undefined when the line has none.
 */
export function etcdLoggedTime(line: string): number | undefined {
  return loggedTime(/"ts":"([^"]+)"/.exec(line)?.[1]);
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

/** Launch and poll of one etcd cluster: a keep-alive connection per member, member ids mapped to 1..N. */
function etcdParts(options: ClusterOptions): ProcessClusterParts {
  const agents = new Map<number, Agent>();
  /** etcd's member ids (from each member's own status) → our 1..N. */
  const memberOf = new Map<string, number>();
  const listeners = new Set<AnnouncementListener>();
  return {
    async prepare() {
      await Promise.all(Array.from({ length: options.nodes }, (_, i) => mkdir(join(options.dataDir, `n${i + 1}`), { recursive: true })));
    },
    async launch(group) {
      const binary = etcdBinary();
      const token = `ballot-bench-${process.pid}-${Date.now().toString(36)}`;
      for (let member = 1; member <= options.nodes; member++) agents.set(member, new Agent({ keepAlive: true, maxSockets: 1 }));
      // All members at once, as a cluster restart would: etcd's cold start is bimodal (docs/bench.md).
      await startAll(group, options.nodes, (member) => {
        const onLine = (line: string): void => {
          const named = announcedLeader(line);
          if (named === undefined) return;
          // Hex ids in the log, decimal in /v3/maintenance/status (learned by the polls since the start).
          const leader = named === null ? null : (memberOf.get(named) ?? undefined);
          if (leader === undefined) return;
          const loggedAt = etcdLoggedTime(line);
          for (const listener of listeners) listener(member, leader, loggedAt);
        };
        return startProcess(binary, { args: etcdArgs(options, member, token), logFile: join(options.dataDir, `n${member}.log`), onLine });
      });
    },
    async poll(members) {
      const replies = await Promise.all(members.map((m) => fetchStatus(agents.get(m)!, etcdPorts(options.basePort, m).client, POLL_TIMEOUT_MS)));
      // Learn every answering member's id first, so a leader named in this same poll can be mapped.
      replies.forEach((reply, i) => {
        if (reply) memberOf.set(reply.memberId, members[i]!);
      });
      return new Map(members.map((member, i) => {
        const reply = replies[i];
        return [member, reply ? { leader: (reply.leaderId ? memberOf.get(reply.leaderId) : undefined) ?? null } : null];
      }));
    },
    announcements(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    release(member) {
      for (const [id, agent] of agents) if (member === undefined || id === member) agent.destroy();
    },
  };
}

export const etcdSystem: SystemUnderTest = {
  name: 'etcd',
  announces: true,
  describe(options) {
    const t = etcdTiming(options);
    return `heartbeat-interval ${t.heartbeatMs}, election-timeout ${t.electionMs} (campaigns ${t.effectiveMs[0]}–${t.effectiveMs[1]} ms after the last heartbeat, mean ${Math.round(t.effectiveMeanMs)})`;
  },
  async prepare(options) {
    const binary = etcdBinary();
    if (binary.includes('/') && !existsSync(binary)) throw new Error(`etcd is not installed (${binary} not found; see scripts/install-comparison-systems.sh)`);
    const ports = Array.from({ length: options.nodes }, (_, i) => etcdPorts(options.basePort, i + 1)).flatMap((p) => [p.client, p.peer]);
    return prepareProcessCluster('etcd member', options.nodes, ports, etcdParts(options));
  },
  async start(options) {
    return (await etcdSystem.prepare!(options))();
  },
  async trimKept(dataDir, nodes) {
    // n<i>/ is etcd's own state (its preallocated WAL, ~120 MB a member); n<i>.log is what a reader wants.
    await Promise.all(Array.from({ length: nodes }, (_, i) => rm(join(dataDir, `n${i + 1}`), { recursive: true, force: true })));
  },
};
