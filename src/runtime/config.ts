/**
 * Checking what a node is told to be: ids, addresses, timing. Shared by the programmatic API and
 * `ballot node`; a mistake is a ConfigError whose message is one line a user can act on (the command
 * prints it and exits 2).
 */
import { readFileSync } from 'node:fs';
import { findAlgorithm, type AlgorithmName } from '../core/algorithms.js';
import { createRaft, realNodeRaftOptions } from '../core/raft/index.js';
import type { AnyAlgorithm, NodeId, Timing } from '../core/types.js';
import { CLUSTER_ID_PATTERN, MAX_PRIORITY } from './schema.js';
import { DEFAULT_COMPACT_EVERY } from './kv.js';
import { heartbeatProblem } from './timing-rule.js';

export class ConfigError extends Error {}

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** "HOST:PORT", with "[v6]:PORT" for IPv6 literals. Port 0 only where `allowZero` (tests). */
export function parseAddress(text: string, what: string, allowZero = false): Address {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new ConfigError(`${what}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  const port = Number(match[3]);
  if (port > 65535 || (port === 0 && !allowZero)) throw new ConfigError(`${what}: port ${port} is out of range (1-65535)`);
  return { host: (match[1] ?? match[2])!, port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** PEM text of this member's certificate, its private key and the cluster CA's certificate. */
export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** Reads the three PEM files of --tls-cert, --tls-key, --tls-ca (a ConfigError names the one that cannot be read). */
export function readTlsFiles(paths: { readonly cert: string; readonly key: string; readonly ca: string }): TlsOptions {
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  return { cert: read(paths.cert, 'tls-cert'), key: read(paths.key, 'tls-key'), ca: read(paths.ca, 'tls-ca') };
}

/** Whether a peer address is on this machine's loopback (plaintext is allowed only there). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

export type Members = ReadonlyMap<NodeId, string> | Readonly<Record<number, string>>;

/** Options of `startNode` (and, one to one, of `ballot node`). */
export interface NodeOptions {
  readonly id: NodeId;
  readonly algorithm: AlgorithmName | AnyAlgorithm;
  /** Voting members and their peer addresses ("HOST:PORT"), including this node if it votes. */
  readonly peers: Members;
  /** Non-voting members (ZAB observers, Raft learners) and their peer addresses. */
  readonly observers?: Members;
  /** Where to accept peer connections; default: this node's own address in `peers`/`observers`. */
  readonly listen?: string;
  /** Where to serve /status, /health, /metrics; omitted: no HTTP server. */
  readonly http?: string;
  /** The directory holding this node's durable state (created if missing). */
  readonly dataDir: string;
  /** Nodes only talk to members naming the same cluster id (default "ballot"). */
  readonly clusterId?: string;
  /** Timing knobs; each defaults to the algorithm's own default. */
  readonly timing?: Partial<Timing>;
  /**
   * This node starts on purpose with an empty data dir although the cluster knew it before (its disk
   * was replaced). Without it, a node whose data dir held no state stops when a peer recognizes it as
   * an existing member: it may have voted in the current term and forgotten it. See docs/runtime.md.
   */
  readonly joinNew?: boolean;
  /**
   * This node is new and in no configuration yet (docs/membership.md): `peers` (and `observers`) name
   * the cluster's existing members, not this node; it starts with no voters and no observers, and
   * waits to be added (`ballot member add`, POST /members on the leader), which needs an algorithm with
   * membership change (Raft). `listen` is required. Once it is a member, its log holds the configuration.
   */
  readonly join?: boolean;
  /**
   * Mutual TLS on the peer port (tls.ts): PEM of this member's certificate (subject CN
   * `ballot-node-<id>`), its key, and the cluster CA. Without it, the peer port speaks plaintext,
   * which is allowed only when every member and the listen address are on loopback, or with `insecure`.
   */
  readonly tls?: TlsOptions;
  /** Plaintext although some member is not on loopback (anyone who reaches the peer port can vote). */
  readonly insecure?: boolean;
  /**
   * Preferred leader (Raft only; leadership.ts, PreferredLeader): a leader that has led stably hands
   * its leadership, by a transfer, to a connected voter of higher priority. 0 (the default) prefers
   * nothing; equal priorities never move leadership. An integer 0..MAX_PRIORITY.
   */
  readonly priority?: number;
  /** Hand the core a snapshot of the key-value store every this many applied entries (default 10000; 0: never). */
  readonly compactEvery?: number;
}

export interface ResolvedConfig {
  readonly id: NodeId;
  readonly algorithm: AnyAlgorithm;
  readonly voters: readonly NodeId[];
  readonly observers: readonly NodeId[];
  /** Every member but this node, with its address. */
  readonly addresses: ReadonlyMap<NodeId, Address>;
  readonly listen: Address;
  readonly http: Address | null;
  readonly dataDir: string;
  readonly clusterId: string;
  readonly timing: Timing;
  readonly joinNew: boolean;
  /** Started with `join`: `voters` and `observers` are empty, `addresses` the members it was told of. */
  readonly join: boolean;
  /** This node's own peer address as the flags give it (its entry in peers/observers); null with `join`. */
  readonly self: Address | null;
  /** Checked when the node starts (tls.ts's PeerTls.create), which loads TLS only then. */
  readonly tls: TlsOptions | null;
  /** Plaintext with members beyond loopback (--insecure): the node warns once at start. */
  readonly insecure: boolean;
  /** Leadership priority (preferred leader), 0 when none. */
  readonly priority: number;
  readonly compactEvery: number;
}

/**
 * Whether the algorithm can hand its leadership to a chosen node (Raft's TimeoutNow, thesis §3.10).
 * Bully cannot: its highest live id always wins, and any hand-over would be undone at once — its
 * preferred leader is the highest id, by design. ZAB cannot: ZooKeeper has no transfer; its followers
 * re-elect when the leader's connections close.
 */
export function transfersLeadership(algorithm: AnyAlgorithm): boolean {
  return algorithm.name === 'raft';
}

function entries(members: Members): [NodeId, string][] {
  return members instanceof Map ? [...members.entries()] : Object.entries(members).map(([id, address]) => [Number(id), address]);
}

export function resolveConfig(options: NodeOptions): ResolvedConfig {
  // A real node runs Raft by name with fast start on (realNodeRaftOptions); the simulator's registry leaves it off.
  const algorithm = typeof options.algorithm === 'string' ? (options.algorithm === 'raft' ? createRaft(realNodeRaftOptions) : findAlgorithm(options.algorithm)) : options.algorithm;
  if (!algorithm) throw new ConfigError(`algorithm ${JSON.stringify(options.algorithm)} is not available`);
  const { id } = options;
  if (!Number.isSafeInteger(id) || id < 1) throw new ConfigError(`node id must be a positive integer, got ${id}`);

  const addresses = new Map<NodeId, Address>();
  const seenAddress = new Map<string, NodeId>();
  let own: Address | undefined;
  const read = (members: Members, what: string): NodeId[] => {
    const ids: NodeId[] = [];
    for (const [member, text] of entries(members)) {
      if (!Number.isSafeInteger(member) || member < 1) throw new ConfigError(`${what}: node ids are positive integers, got ${member}`);
      if (ids.includes(member) || addresses.has(member) || (own && member === id)) throw new ConfigError(`${what}: node ${member} is given twice`);
      const address = parseAddress(text, `${what}: node ${member}`);
      const key = formatAddress(address);
      const other = seenAddress.get(key);
      if (other !== undefined) throw new ConfigError(`${what}: nodes ${other} and ${member} have the same address ${key}`);
      seenAddress.set(key, member);
      if (member === id) own = address;
      else addresses.set(member, address);
      ids.push(member);
    }
    return ids.sort((a, b) => a - b);
  };
  const join = options.join === true;
  const listed = read(options.peers, 'peers');
  const listedObservers = read(options.observers ?? new Map(), 'observers');
  if (listed.length === 0) throw new ConfigError('peers: at least one voting member is needed');
  if (listedObservers.length > 0 && !algorithm.supportsObservers) throw new ConfigError(`observers: ${algorithm.name} has no non-voting members`);
  if (join) {
    if (!algorithm.membershipChange) throw new ConfigError(`join: ${algorithm.name}'s membership is fixed at start, so no node can join a running cluster (docs/membership.md); list every member in --peers instead`);
    if (own) throw new ConfigError(`join: node ${id} is already in --peers or --observers; a joining node lists the existing members only (and its own address in --listen)`);
    if (options.listen === undefined) throw new ConfigError('join: --listen is required (a joining node is in no member list that would give its address)');
    if (options.joinNew === true) throw new ConfigError('join: --join is for a node new to the cluster and --join-new for a known member whose disk was lost; give one of them');
  } else if (!own) {
    throw new ConfigError(`peers: this node's own id ${id} is missing (give its address in --peers, or in --observers for a non-voter; or --join to join a running cluster)`);
  }
  // A joining node is in no configuration: the core starts with none, and its log brings the leader's.
  const voters = join ? [] : listed;
  const observers = join ? [] : listedObservers;

  const listen = options.listen !== undefined ? parseAddress(options.listen, 'listen', true) : own!;
  const http = options.http !== undefined ? parseAddress(options.http, 'http', true) : null;
  if (http && http.port !== 0 && http.port === listen.port && http.host === listen.host) throw new ConfigError(`http: ${formatAddress(http)} is also the peer address`);

  const clusterId = options.clusterId ?? 'ballot';
  if (!CLUSTER_ID_PATTERN.test(clusterId)) throw new ConfigError(`cluster id must be 1-64 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(clusterId)}`);

  const timing: Timing = { ...algorithm.defaultTiming, ...options.timing };
  if (!(timing.electionTimeoutMinMs > 0 && timing.electionTimeoutMinMs <= timing.electionTimeoutMaxMs)) {
    throw new ConfigError(`election timeout must be a positive range MIN-MAX, got ${timing.electionTimeoutMinMs}-${timing.electionTimeoutMaxMs}`);
  }
  if (!(timing.heartbeatMs > 0)) throw new ConfigError(`heartbeat must be positive, got ${timing.heartbeatMs}`);
  const heartbeat = heartbeatProblem(timing.heartbeatMs, timing.electionTimeoutMinMs);
  if (heartbeat) throw new ConfigError(heartbeat);
  if (typeof options.dataDir !== 'string' || options.dataDir === '') throw new ConfigError('a data dir is required');

  const tls = options.tls ?? null;
  // Without TLS, anyone who reaches the peer port and knows the cluster id can speak as a member
  // (one forged vote request deposes a leader): plaintext only where only this machine can reach it.
  const exposed = [listen, ...addresses.values()].filter((address) => !isLoopback(address.host)).map(formatAddress);
  if (!tls && exposed.length > 0 && options.insecure !== true) {
    throw new ConfigError(`${exposed[0]} is not a loopback address: give --tls-cert, --tls-key and --tls-ca for authenticated peers (or --insecure to run unauthenticated anyway)`);
  }
  const insecure = !tls && exposed.length > 0;
  const compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY;
  if (!Number.isSafeInteger(compactEvery) || compactEvery < 0) throw new ConfigError(`compact-every must be a non-negative integer (0: never), got ${compactEvery}`);
  const priority = options.priority ?? 0;
  if (!Number.isSafeInteger(priority) || priority < 0 || priority > MAX_PRIORITY) throw new ConfigError(`priority must be an integer from 0 to ${MAX_PRIORITY}, got ${String(priority)}`);
  if (priority > 0 && !transfersLeadership(algorithm)) {
    throw new ConfigError(
      algorithm.name === 'bully'
        ? 'priority: bully has no preferred leader to set: the highest live id always leads (give the preferred node the highest id)'
        : `priority: ${algorithm.name} cannot hand leadership over, so it cannot prefer a leader (only raft can)`,
    );
  }
  // A joining node is in no configuration yet, but `ballot member add` makes it a voter: its priority
  // counts from then on (the leader reads the voters in force). A node listed as an observer is refused.
  if (priority > 0 && !voters.includes(id) && !join) throw new ConfigError(`priority: node ${id} is not a voter, and only voters can lead`);
  return { id, algorithm, voters, observers, addresses, listen, http, dataDir: options.dataDir, clusterId, timing, joinNew: options.joinNew === true, join, self: own ?? null, tls, insecure, priority, compactEvery };
}
