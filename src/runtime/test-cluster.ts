/**
 * The tests' one way to make a cluster of real `ballot node` processes: free ports on 127.0.0.1, a
 * fresh temporary data directory, the built entry point; and one way to be rid of it (every member
 * stopped, the directory removed). Everything else is LocalCluster's (src/runtime/local-cluster.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeId } from '../core/types.js';
import { writeClusterCertificates, type ClusterCertificates } from './certificates.js';
import { mainJs, LocalCluster, type LocalClusterOptions } from './local-cluster.js';
import { freePorts, sleep, waitFor } from './testing.js';

export interface TestClusterOptions extends Omit<LocalClusterOptions, 'command' | 'peerPorts' | 'httpPorts' | 'dataDir' | 'logDir' | 'tlsDir'> {
  /** Names the temporary data directory (ballot-NAME-XXXXXX). */
  readonly name: string;
  /** Keep each member's log in the data directory (node-<id>.log). */
  readonly logs?: boolean;
  /** Mutual TLS on the peer port: these certificates, written to the data directory's tls/. */
  readonly certificates?: ClusterCertificates;
}

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  /** Each member's peer port, in id order. */
  readonly peerPorts: readonly number[];
  /** Stops every member and removes the data directory; safe to call twice. */
  close(graceMs?: number): Promise<void>;
}

export async function testCluster(options: TestClusterOptions): Promise<TestCluster> {
  const { name, logs, certificates, ...rest } = options;
  const total = options.voters + (options.observers ?? 0) + (options.joiners ?? 0);
  const ports = await freePorts(2 * total);
  const dataDir = mkdtempSync(join(tmpdir(), `ballot-${name}-`));
  const peerPorts = ports.slice(0, total);
  const tlsDir = join(dataDir, 'tls');
  if (certificates !== undefined) writeClusterCertificates(tlsDir, certificates);
  const cluster = new LocalCluster({
    ...rest,
    command: [process.execPath, mainJs, 'node'],
    peerPorts,
    httpPorts: ports.slice(total),
    dataDir,
    ...(logs ? { logDir: dataDir } : {}),
    ...(certificates !== undefined ? { tlsDir } : {}),
  });
  return {
    cluster,
    dataDir,
    peerPorts,
    async close(graceMs = 5000) {
      await cluster.stop(graceMs);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One HTTP answer of a member, its body parsed as JSON. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly location: string | null;
  readonly retryAfter: string | null;
}

/** One request to the member serving HTTP on 127.0.0.1:`port`; redirects are not followed. */
export async function httpCall(port: number, method: string, path: string, body?: string | Buffer): Promise<HttpAnswer> {
  const payload = typeof body === 'string' || body === undefined ? body : new Uint8Array(body);
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, ...(payload === undefined ? {} : { body: payload }), redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown>, location: response.headers.get('location'), retryAfter: response.headers.get('retry-after') };
}

/**
 * `httpCall` to whichever member leads: follows redirects and waits out elections (503, 504, a closed
 * connection) for up to `timeoutMs`, asking the members `via` (default: every member) in turn.
 */
export async function callLeader(cluster: LocalCluster, method: string, path: string, body?: string, timeoutMs = 30_000, via: readonly NodeId[] = cluster.members): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  let port = cluster.httpPort(via[0]!);
  // A redirect (or a 503 naming another member as the leader) is followed at once, a few in a row (a
  // leader named is usually the leader); a refusal, a failed call or a loop waits a little before the
  // next member is tried.
  let redirects = 0;
  for (let attempt = 0; ; attempt++) {
    let redirected = false;
    try {
      const answer = await httpCall(port, method, path, body);
      if (answer.status === 307 && answer.location !== null) {
        port = Number(new URL(answer.location).port);
        redirected = true;
      } else if (answer.status !== 503 && answer.status !== 504) return answer;
      else if (answer.status === 503 && typeof answer.body['leader'] === 'number' && cluster.members.includes(answer.body['leader']) && cluster.httpPort(answer.body['leader']) !== port) {
        // A follower of a cluster that advertises no URL names the leader: ask it next, at once.
        port = cluster.httpPort(answer.body['leader']);
        redirected = true;
      } else port = cluster.httpPort(via[attempt % via.length]!);
    } catch {
      port = cluster.httpPort(via[attempt % via.length]!);
    }
    if (Date.now() > deadline) throw new Error(`${method} ${path}: no leader answered within ${timeoutMs} ms`);
    redirects = redirected ? redirects + 1 : 0;
    if (redirected && redirects <= 3) continue;
    await sleep(100);
  }
}

/** Writers through /kv running until stopped: what they got acknowledged, and how to wait for more. */
export interface WriteLoad {
  /** Every write answered 200, key → value: what must survive any crash or membership change. */
  readonly acknowledged: ReadonlyMap<string, string>;
  /** Resolves once `count` more writes have been acknowledged (within 90 s). */
  more(count: number, label: string): Promise<void>;
  /** Stops the writers; resolves with what was acknowledged. */
  stop(): Promise<Map<string, string>>;
}

/**
 * `clients` closed-loop writers of distinct keys through /kv, each through callLeader (it follows the
 * redirect to the leader and waits out elections) starting at the members `via()` names now.
 */
export function writeLoad(cluster: LocalCluster, clients: number, via: () => readonly NodeId[] = () => cluster.members): WriteLoad {
  const acknowledged = new Map<string, string>();
  let stopped = false;
  const write = async (client: number): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const key = `c${client}-${i}`;
      const value = `v${client}.${i}`;
      try {
        const answer = await callLeader(cluster, 'PUT', `/kv/${key}`, value, 5_000, via());
        if (answer.status === 200) acknowledged.set(key, value);
      } catch {
        await sleep(100); // no leader for a while: an election, a crash, a removed leader stepping down
      }
    }
  };
  const writers = Array.from({ length: clients }, (_, client) => write(client));
  return {
    acknowledged,
    async more(count, label) {
      const target = acknowledged.size + count;
      await waitFor(`${label} ${count} acknowledged writes`, 90_000, () => (acknowledged.size >= target ? true : undefined), 20);
    },
    async stop() {
      stopped = true;
      await Promise.all(writers);
      return new Map(acknowledged);
    },
  };
}
