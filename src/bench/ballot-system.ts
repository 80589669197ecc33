/**
 * ballot's own nodes as a system under test (system.ts): real `ballot node` processes on 127.0.0.1,
 * one per member, polled over keep-alive HTTP. Member i listens for peers on basePort+i-1 and serves
 * HTTP on basePort+nodes+i-1 (one contiguous block of 2·nodes ports).
 */
import { findAlgorithm } from '../core/index.js';
import { LocalCluster, ballotJs, type MemberExit } from '../runtime/local-cluster.js';
import { waitFor } from '../runtime/testing.js';
import { loggedTime, type ClusterOptions, type ClusterUnderTest, type SystemUnderTest } from './system.js';

/** How long a status poll may take before the member counts as naming no leader. */
const POLL_TIMEOUT_MS = 500;
const START_TIMEOUT_MS = 60_000;

export function ballotSystem(algorithm: string): SystemUnderTest {
  return {
    name: `ballot-${algorithm}`,
    announces: true,
    describe: (options) =>
      `ballot ${algorithm}, ${options.nodes} processes, heartbeat ${options.heartbeatMs} ms, election timeout ${options.electionTimeoutMinMs}-${options.electionTimeoutMaxMs} ms`,
    start: (options) => startBallotCluster(algorithm, options),
  };
}

async function startBallotCluster(algorithm: string, options: ClusterOptions): Promise<ClusterUnderTest> {
  if (!findAlgorithm(algorithm)) throw new Error(`ballot: algorithm ${algorithm} is not implemented yet`);
  const { nodes, basePort } = options;
  const cluster = new LocalCluster({
    command: [process.execPath, ballotJs, 'node'],
    algorithm,
    voters: nodes,
    peerPorts: Array.from({ length: nodes }, (_, i) => basePort + i),
    httpPorts: Array.from({ length: nodes }, (_, i) => basePort + nodes + i),
    dataDir: options.dataDir,
    logDir: options.dataDir,
    extraArgs: ['--election-timeout', `${options.electionTimeoutMinMs}-${options.electionTimeoutMaxMs}`, '--heartbeat', String(options.heartbeatMs)],
    // Where each serves HTTP, so that a follower redirects a /kv client to the leader (bench kv).
    advertiseUrls: true,
  });
  const killAll = (): void => cluster.killAllSync();
  process.on('exit', killAll);
  let failed: MemberExit | null = null;
  const unsubscribe = cluster.onExit((exit) => {
    if (exit.code !== null) failed ??= exit;
  });
  cluster.startAll();
  try {
    // As long as the harness's own bound on a start (failover.ts, 60 s): on a loaded 2-core machine five
    // nodes loading their modules at once have taken over 20 s.
    await waitFor(`all ${nodes} ballot nodes to serve /status`, START_TIMEOUT_MS, async () => {
      if (failed) throw new Error(`ballot node ${failed.id} exited with status ${failed.code}: ${failed.stderr.at(-1) ?? ''}`);
      const views = await cluster.statuses(POLL_TIMEOUT_MS);
      return [...views.values()].every((view) => view !== null) ? true : undefined;
      // Every 5 ms, as the harness polls for agreement (etcd's and ZooKeeper's starts return at spawn).
    }, 5);
  } catch (error) {
    await cluster.stop(1000);
    process.off('exit', killAll);
    throw error;
  }
  unsubscribe();
  let stopped: Promise<void> | null = null;
  // /status always says `lease`, false where the algorithm holds none (ZAB, Bully): only Raft (with
  // CheckQuorum, its default) has a lease to wait for after a failover.
  const holdsLeases = algorithm === 'raft';
  return {
    members: cluster.members,
    async views(members) {
      const replies = await Promise.all(members.map((id) => cluster.status(id, POLL_TIMEOUT_MS)));
      return new Map(members.map((id, i) => {
        const status = replies[i];
        if (!status) return [id, null];
        const lease = holdsLeases ? leaseOf(status) : undefined;
        return [id, lease === undefined ? { leader: status.leader } : { leader: status.leader, lease }];
      }));
    },
    async signal(member, signal) {
      if (signal === 'SIGKILL') {
        await cluster.kill(member, 'SIGKILL');
        return;
      }
      const pid = cluster.pid(member);
      if (pid === null) return;
      try {
        process.kill(pid, signal);
      } catch {
        // it exited meanwhile
      }
    },
    announcements(listener) {
      // The node's own log line on every leader change (node.ts: 'leader-changed', at info).
      return cluster.onStderrLine((id, line) => {
        if (!line.includes('"leader-changed"')) return;
        const announced = announcement(line);
        if (announced !== undefined) listener(id, announced.leader, announced.loggedAt);
      });
    },
    stop() {
      stopped ??= cluster.stop(2000).then(() => void process.off('exit', killAll));
      return stopped;
    },
  };
}

/** The leader a `leader-changed` log line names (null: none); undefined for any other line. */
export function announcedLeader(line: string): number | null | undefined {
  return announcement(line)?.leader;
}

/**
 * A `leader-changed` log line: the leader it names (null: none) and the node's own time stamp on it
 * (its `time`, ISO 8601 with ms, as ms since the epoch; undefined if missing or unreadable); undefined
 * for any other line.
 */
export function announcement(line: string): { readonly leader: number | null; readonly loggedAt: number | undefined } | undefined {
  try {
    const entry = JSON.parse(line) as { event?: unknown; leader?: unknown; time?: unknown };
    if (entry.event !== 'leader-changed') return undefined;
    const leader = typeof entry.leader === 'number' ? entry.leader : entry.leader === null ? null : undefined;
    if (leader === undefined) return undefined;
    return { leader, loggedAt: loggedTime(entry.time) };
  } catch {
    return undefined;
  }
}


/** `"lease": true|false` of a Raft node's /status (issue 12); undefined when the node does not report one. */
export function leaseOf(status: object): boolean | undefined {
  const lease = (status as { lease?: unknown }).lease;
  return typeof lease === 'boolean' ? lease : undefined;
}
