/**
 * Prometheus metrics of one node (CONTRACT.md, /metrics), in the Prometheus text format 0.0.4. Each
 * node has its own metrics, never a process-wide registry, so several nodes can run in one process
 * (tests, or a service embedding more than one). Label sets are closed (message types of the
 * algorithm, reject reasons, member ids), so a peer cannot grow the metric's cardinality by sending
 * odd frames.
 *
 * Every value is a plain number, and text() writes the exposition itself, byte for byte what
 * prom-client's Registry wrote for the same families (metrics.test.ts compares the two). prom-client
 * was dropped from the run-time path because loading it is expensive and cannot be deferred safely:
 * its ~400 files took about a fifth of a node's CPU from spawn to its first election, and loading it
 * lazily at the first scrape blocks the event loop in one piece for 140-700 ms on a loaded 2-core
 * machine (measured), longer than the shortest election timeout: a leader scraped for the first time
 * could be deposed by its own metrics (docs/runtime.md, Start-up).
 */
import type { BoundedCounter } from '../core/bounds.js';
import type { AnyAlgorithm, NodeId, Status } from '../core/types.js';
import { rejectReasons, type RejectReason } from './frames.js';
import type { KvNumbers } from './kv.js';
import type { MembershipNumbers } from './membership.js';

export type Direction = 'inbound' | 'outbound';
export type DropReason = 'queue-full' | 'too-large';

/** Why the peer port closed a connection that sent no bad frame: the label of ballot_connections_rejected_total. */
export type ConnectionRejectReason =
  | 'pending-evicted' // no handshake yet, and the oldest such connection when a newer one arrived with every pending slot taken
  | 'pending-full' // arrived at the hard cap of pending connections, none of which had yet had its chance to send a handshake
  | 'handshake-timeout' // no handshake within the deadline
  | 'candidate-replaced' // a checked handshake waiting for its member's established connection to die, replaced by a newer one
  | 'server-full'; // the hard cap on open connections (a backstop; the rules above keep below it)

export const connectionRejectReasons: readonly ConnectionRejectReason[] = ['pending-evicted', 'pending-full', 'handshake-timeout', 'candidate-replaced', 'server-full'];

/** The Content-Type of the exposition: the Prometheus text format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds: from a fast local election (tens of ms) to a slow one on a lossy network (10 s). */
export const electionDurationBuckets: readonly number[] = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

/** Counts by one label's value, in the order the values were first seen (the order /metrics lists them). */
class LabelledCounts {
  readonly counts = new Map<string, number>();

  constructor(values: Iterable<string> = []) {
    for (const value of values) this.counts.set(value, 0);
  }

  add(value: string): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
  }

  /** Adds only to a value of the closed set given at construction. */
  addKnown(value: string): void {
    const count = this.counts.get(value);
    if (count !== undefined) this.counts.set(value, count + 1);
  }
}

/** A label value or HELP text escaped as the text format requires (a label value also escapes "). */
function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan'; // sic: prom-client's spelling, kept so the text stays the same
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

type Labels = Readonly<Record<string, string>>;

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([label, text]) => `${label}="${escapeText(text).replace(/"/g, '\\"')}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

/** One metric family: its HELP and TYPE lines, then its samples. */
function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: readonly string[]): string {
  return [`# HELP ${name} ${escapeText(help)}`, `# TYPE ${name} ${type}`, ...samples].join('\n');
}

/** Samples of a family with one label, in the order its values were first seen. */
function byLabel(name: string, label: string, counts: ReadonlyMap<string, number>): string[] {
  return [...counts].map(([value, count]) => sample(name, { [label]: value }, count));
}

/** A histogram without labels: cumulative buckets (an observation counts in every bucket whose bound it does not exceed), +Inf, sum, count. */
class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    const bucket = this.bounds.findIndex((bound) => value <= bound);
    if (bucket >= 0) this.counts[bucket]! += 1;
    this.sum += value;
    this.count += 1;
  }

  samples(name: string): string[] {
    let cumulative = 0;
    return [
      ...this.bounds.map((bound, i) => sample(`${name}_bucket`, { le: String(bound) }, (cumulative += this.counts[i]!))),
      sample(`${name}_bucket`, { le: '+Inf' }, this.count),
      sample(`${name}_sum`, {}, this.sum),
      sample(`${name}_count`, {}, this.count),
    ];
  }
}

export class NodeMetrics {
  /** The Content-Type of text(). */
  readonly contentType = METRICS_CONTENT_TYPE;
  /** The unlabelled samples. */
  private readonly values = { isLeader: 0, term: 0, hasLeader: 0, leaderChanges: 0, electionsStarted: 0, rejected: 0 };
  private readonly electionDuration = new Histogram(electionDurationBuckets);
  /**
   * The core's clock (ms) since when this node has waited for a leader: since it started (0), lost its
   * leader, or started an election (a Bully node campaigns while it still names the failed leader);
   * null while it knows one and is not electing.
   */
  private waitingSince: number | null = 0;
  // Per-message counts run for every heartbeat: a Map lookup and an addition.
  private readonly sent: LabelledCounts;
  private readonly received: LabelledCounts;
  private readonly rejectedByReason = new LabelledCounts(rejectReasons);
  private readonly connectionsRejected = new LabelledCounts(connectionRejectReasons);
  private readonly linkTimeouts = new LabelledCounts(['inbound', 'outbound']);
  private readonly dropped = new LabelledCounts(['queue-full', 'too-large']);
  private readonly ignored: LabelledCounts;
  private readonly atCeiling: Map<string, number>;
  /** ballot_peer_connected by "peer direction", with its labels. */
  private readonly connected = new Map<string, { readonly peer: string; readonly direction: Direction; value: number }>();
  private readonly reachedCeilings = new Set<BoundedCounter>();

  constructor(
    private readonly algorithm: AnyAlgorithm,
    private readonly id: NodeId,
    private readonly cluster: string,
    peers: readonly NodeId[],
  ) {
    this.sent = new LabelledCounts(algorithm.messageTypes);
    this.received = new LabelledCounts(algorithm.messageTypes);
    this.ignored = new LabelledCounts(algorithm.boundedCounters);
    this.atCeiling = new Map(algorithm.boundedCounters.map((counter) => [counter, 0]));
    for (const peer of peers) {
      if (peer === id) continue;
      this.connection(peer, 'inbound', false);
      this.connection(peer, 'outbound', false);
    }
  }

  /** The replicated store's numbers and the durable log's counts (ballot_kv_*, ballot_storage_*), once the node has them. */
  replication: (() => ReplicationNumbers) | null = null;
  /** The configuration in use and the change requests answered (ballot_membership_*), once the node has them. */
  membership: (() => MembershipNumbers) | null = null;

  observeStatus(status: Status): void {
    this.values.isLeader = status.leader === status.id ? 1 : 0;
    this.values.hasLeader = status.leader === null ? 0 : 1;
    this.values.term = status.term;
  }

  /** The leader this node knows changed, at `atMs` of the core's clock (0 = the node started). */
  leaderChanged(leader: NodeId | null, atMs: number): void {
    if (leader === null) {
      this.waitingSince ??= atMs;
      return;
    }
    this.values.leaderChanges += 1;
    // A leader replaced by another while this node waited for nothing (the new leader was heard before
    // the old one's failure was noticed) is not an election this node waited for: nothing to observe.
    if (this.waitingSince !== null) this.electionDuration.observe(Math.max(0, atMs - this.waitingSince) / 1000);
    this.waitingSince = null;
  }

  /** This node started an election at `atMs`: a Bully node may do so while it still names the old leader. */
  electionStarted(atMs: number): void {
    this.values.electionsStarted += 1;
    this.waitingSince ??= atMs;
  }

  messageSent(type: string): void {
    this.sent.addKnown(type);
  }

  messageReceived(type: string): void {
    this.received.addKnown(type);
  }

  frameRejected(reason: RejectReason): void {
    this.values.rejected += 1;
    this.rejectedByReason.add(reason);
  }

  messageIgnored(counter: BoundedCounter): void {
    this.ignored.add(counter);
  }

  /** Records that `counter` reached its ceiling; true the first time, so the host logs it once. */
  ceilingReached(counter: BoundedCounter): boolean {
    if (this.reachedCeilings.has(counter)) return false;
    this.reachedCeilings.add(counter);
    this.atCeiling.set(counter, 1);
    return true;
  }

  messageDropped(reason: DropReason): void {
    this.dropped.add(reason);
  }

  connectionRejected(reason: ConnectionRejectReason): void {
    this.connectionsRejected.add(reason);
  }

  linkTimedOut(direction: Direction): void {
    this.linkTimeouts.add(direction);
  }

  connection(peer: NodeId, direction: Direction, up: boolean): void {
    const key = `${peer} ${direction}`;
    const entry = this.connected.get(key);
    if (entry) entry.value = up ? 1 : 0;
    else this.connected.set(key, { peer: String(peer), direction, value: up ? 1 : 0 });
  }

  /** The Prometheus text exposition: every family, in the order below, each sample in the order it was first set. */
  text(): Promise<string> {
    const { values } = this;
    const families = [
      family('ballot_info', 'gauge', 'Constant 1, labelled with what this node is.', [sample('ballot_info', { node: String(this.id), algorithm: this.algorithm.name, cluster: this.cluster }, 1)]),
      family('ballot_is_leader', 'gauge', '1 while this node believes it is the leader (status.leader = status.id), else 0.', [sample('ballot_is_leader', {}, values.isLeader)]),
      family('ballot_term', 'gauge', 'Current term (Raft), epoch (ZAB) or generation (Bully).', [sample('ballot_term', {}, values.term)]),
      family('ballot_leader_changes_total', 'counter', 'Times this node learned of a new leader (a new leader id, or the same id in a new term).', [sample('ballot_leader_changes_total', {}, values.leaderChanges)]),
      family('ballot_has_leader', 'gauge', '1 while this node knows a leader (status.leader is not null), else 0.', [sample('ballot_has_leader', {}, values.hasLeader)]),
      family(
        'ballot_election_duration_seconds',
        'histogram',
        'Time this node waited for a leader: from losing its leader, starting an election or starting up, until it knew a (new) leader.',
        this.electionDuration.samples('ballot_election_duration_seconds'),
      ),
      family('ballot_elections_started_total', 'counter', 'Elections this node started.', [sample('ballot_elections_started_total', {}, values.electionsStarted)]),
      family('ballot_messages_sent_total', 'counter', 'Messages handed to the transport, by type.', byLabel('ballot_messages_sent_total', 'type', this.sent.counts)),
      family('ballot_messages_received_total', 'counter', 'Valid messages delivered to the algorithm, by type.', byLabel('ballot_messages_received_total', 'type', this.received.counts)),
      // The contract's name is one unlabelled total, so any scraper can read it; the reasons have their own family.
      family('ballot_frames_rejected_total', 'counter', 'Frames refused at the peer port (the connection is closed).', [sample('ballot_frames_rejected_total', {}, values.rejected)]),
      family('ballot_frames_rejected_by_reason_total', 'counter', 'Frames refused at the peer port, by reason.', byLabel('ballot_frames_rejected_by_reason_total', 'reason', this.rejectedByReason.counts)),
      family(
        'ballot_messages_dropped_total',
        'counter',
        'Outgoing messages dropped (peer queue full while unreachable or congested; frame too large).',
        byLabel('ballot_messages_dropped_total', 'reason', this.dropped.counts),
      ),
      // Bounds (src/core/bounds.ts): the counters each algorithm exchanges, with closed label sets.
      family(
        'ballot_messages_ignored_total',
        'counter',
        'Valid frames the algorithm ignored because a counter in them was implausibly far ahead of its own (forged or corrupt), by counter.',
        byLabel('ballot_messages_ignored_total', 'counter', this.ignored.counts),
      ),
      family(
        'ballot_counter_at_ceiling',
        'gauge',
        '1 once a counter reached its ceiling and the node refused to campaign or propose past it, by counter.',
        byLabel('ballot_counter_at_ceiling', 'counter', this.atCeiling),
      ),
      family(
        'ballot_peer_connected',
        'gauge',
        '1 while an authenticated connection to (outbound) or from (inbound) the peer is open.',
        [...this.connected.values()].map(({ peer, direction, value }) => sample('ballot_peer_connected', { peer, direction }, value)),
      ),
      family(
        'ballot_connections_rejected_total',
        'counter',
        'Connections the peer port closed before they could carry messages (admission rules), by reason.',
        byLabel('ballot_connections_rejected_total', 'reason', this.connectionsRejected.counts),
      ),
      family(
        'ballot_peer_link_timeouts_total',
        'counter',
        'Peer connections closed because nothing was heard on them within the liveness deadline, by direction.',
        byLabel('ballot_peer_link_timeouts_total', 'direction', this.linkTimeouts.counts),
      ),
    ];
    if (this.replication) families.push(...replicationFamilies(this.replication()));
    if (this.membership) families.push(...membershipFamilies(this.membership()));
    return Promise.resolve(`${families.join('\n\n')}\n`);
  }
}

/** What /metrics says of the key-value store and the durable log (node.ts fills it in). */
export interface ReplicationNumbers {
  readonly kv: KvNumbers;
  /** Records appended to state.log, and rewrites of state.json (storage.ts). */
  readonly storageAppends: number;
  readonly storageRewrites: number;
  /** Files written for a field too large to log or rewrite each time: the snapshot (storage.ts). */
  readonly storageSnapshotWrites: number;
  /** Persists (fsyncs), and the inputs they covered (group commit: inputs / persists is the batch size). */
  readonly persists: number;
  readonly persistedInputs: number;
}

function replicationFamilies(numbers: ReplicationNumbers): string[] {
  const { kv } = numbers;
  return [
    family('ballot_kv_applied_index', 'gauge', 'Index of the last log entry the key-value store applied.', [sample('ballot_kv_applied_index', {}, kv.applied)]),
    family('ballot_kv_keys', 'gauge', 'Keys present in the key-value store.', [sample('ballot_kv_keys', {}, kv.keys)]),
    family('ballot_kv_requests_pending', 'gauge', 'Client requests (writes and linearizable reads) waiting for an answer.', [sample('ballot_kv_requests_pending', {}, kv.pending)]),
    family(
      'ballot_kv_requests_total',
      'counter',
      'Client requests answered, by outcome (done, not-leader, lost, unknown, stopped, full).',
      byLabel('ballot_kv_requests_total', 'outcome', kv.outcomes),
    ),
    family('ballot_kv_compactions_total', 'counter', 'Snapshots of the store handed to the core (compact), each letting it drop the log it covers.', [sample('ballot_kv_compactions_total', {}, kv.compactions)]),
    family('ballot_kv_snapshots_installed_total', 'counter', 'Snapshots that replaced the store (from the leader, or read back at start).', [sample('ballot_kv_snapshots_installed_total', {}, kv.snapshotsInstalled)]),
    family('ballot_storage_appends_total', 'counter', 'Records appended to the durable log (state.log), each one fdatasync.', [sample('ballot_storage_appends_total', {}, numbers.storageAppends)]),
    family('ballot_storage_rewrites_total', 'counter', 'Atomic rewrites of the whole durable state (state.json: a truncated or compacted log, a large change).', [sample('ballot_storage_rewrites_total', {}, numbers.storageRewrites)]),
    family(
      'ballot_storage_snapshot_writes_total',
      'counter',
      'Snapshot files written (snapshot.N.json: a field over 64 KiB kept beside state.json, written once per change, not per append).',
      [sample('ballot_storage_snapshot_writes_total', {}, numbers.storageSnapshotWrites)],
    ),
    family('ballot_storage_persists_total', 'counter', 'Persists of the durable state (one fsync each).', [sample('ballot_storage_persists_total', {}, numbers.persists)]),
    family('ballot_storage_persisted_inputs_total', 'counter', 'Inputs covered by those persists (group commit: several inputs of one event-loop turn share one).', [sample('ballot_storage_persisted_inputs_total', {}, numbers.persistedInputs)]),
  ];
}

function membershipFamilies({ view, outcomes }: MembershipNumbers): string[] {
  return [
    family('ballot_membership_index', 'gauge', 'Log index of the configuration this node uses (0: the one it was started with).', [sample('ballot_membership_index', {}, view.index)]),
    family('ballot_membership_committed', 'gauge', '1 when this node knows the configuration it uses is committed, else 0.', [sample('ballot_membership_committed', {}, view.committed ? 1 : 0)]),
    family('ballot_membership_voters', 'gauge', 'Voting members in the configuration this node uses.', [sample('ballot_membership_voters', {}, view.membership.voters.length)]),
    family('ballot_membership_observers', 'gauge', 'Non-voting members (learners) in the configuration this node uses.', [sample('ballot_membership_observers', {}, view.membership.observers.length)]),
    family(
      'ballot_membership_changes_total',
      'counter',
      'Membership change requests answered by this node, by outcome (done, not-leader, refused, lost, unknown, stopped).',
      byLabel('ballot_membership_changes_total', 'outcome', outcomes),
    ),
  ];
}
