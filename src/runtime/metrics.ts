/**
 * Prometheus metrics of one node (CONTRACT.md, /metrics). Each node has its own Registry, never the
 * global one, so several nodes can run in one process (tests, or a service embedding more than one).
 * Label sets are closed (message types of the algorithm, reject reasons, member ids), so a peer cannot
 * grow the metric's cardinality by sending odd frames.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BoundedCounter } from '../core/bounds.js';
import type { AnyAlgorithm, NodeId, Status } from '../core/types.js';
import { rejectReasons, type RejectReason } from './frames.js';

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

/** Sets a counter's sample to an absolute count (counters only go up through inc). */
function setCount(counter: Counter<'type'>, type: string, count: number): void {
  counter.remove({ type });
  counter.inc({ type }, count);
}

/** Seconds: from a fast local election (tens of ms) to a slow one on a lossy network (10 s). */
export const electionDurationBuckets: readonly number[] = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly isLeader: Gauge;
  private readonly term: Gauge;
  private readonly leaderChanges: Counter;
  private readonly hasLeader: Gauge;
  private readonly electionDuration: Histogram;
  /**
   * The core's clock (ms) since when this node has waited for a leader: since it started (0), lost its
   * leader, or started an election (a Bully node campaigns while it still names the failed leader);
   * null while it knows one and is not electing.
   */
  private waitingSince: number | null = 0;
  private readonly electionsStarted: Counter;
  // Per-message counts are plain numbers, copied into the counters only when /metrics is scraped:
  // a labelled prom-client increment hashes its labels, and these run for every heartbeat.
  private readonly sent = new Map<string, number>();
  private readonly received = new Map<string, number>();
  private readonly rejected: Counter;
  private readonly rejectedByReason: Counter<'reason'>;
  private readonly connectionsRejected: Counter<'reason'>;
  private readonly linkTimeouts: Counter<'direction'>;
  private readonly dropped: Counter<'reason'>;
  private readonly connected: Gauge<'peer' | 'direction'>;
  private readonly ignored: Counter<'counter'>;
  private readonly atCeiling: Gauge<'counter'>;
  private readonly reachedCeilings = new Set<BoundedCounter>();

  constructor(algorithm: AnyAlgorithm, id: NodeId, cluster: string, peers: readonly NodeId[]) {
    const registers = [this.registry];
    new Gauge({
      name: 'ballot_info',
      help: 'Constant 1, labelled with what this node is.',
      labelNames: ['node', 'algorithm', 'cluster'],
      registers,
    }).set({ node: String(id), algorithm: algorithm.name, cluster }, 1);
    this.isLeader = new Gauge({ name: 'ballot_is_leader', help: '1 while this node believes it is the leader (status.leader = status.id), else 0.', registers });
    this.term = new Gauge({ name: 'ballot_term', help: 'Current term (Raft), epoch (ZAB) or generation (Bully).', registers });
    this.leaderChanges = new Counter({ name: 'ballot_leader_changes_total', help: 'Times this node learned of a new leader (a new leader id, or the same id in a new term).', registers });
    this.hasLeader = new Gauge({ name: 'ballot_has_leader', help: '1 while this node knows a leader (status.leader is not null), else 0.', registers });
    this.electionDuration = new Histogram({
      name: 'ballot_election_duration_seconds',
      help: 'Time this node waited for a leader: from losing its leader, starting an election or starting up, until it knew a (new) leader.',
      buckets: [...electionDurationBuckets],
      registers,
    });
    this.electionsStarted = new Counter({ name: 'ballot_elections_started_total', help: 'Elections this node started.', registers });
    const sent = this.sent;
    const received = this.received;
    new Counter({
      name: 'ballot_messages_sent_total',
      help: 'Messages handed to the transport, by type.',
      labelNames: ['type'],
      registers,
      collect() {
        for (const [type, count] of sent) setCount(this, type, count);
      },
    });
    new Counter({
      name: 'ballot_messages_received_total',
      help: 'Valid messages delivered to the algorithm, by type.',
      labelNames: ['type'],
      registers,
      collect() {
        for (const [type, count] of received) setCount(this, type, count);
      },
    });
    for (const type of algorithm.messageTypes) {
      sent.set(type, 0);
      received.set(type, 0);
    }
    // The contract's name is one unlabelled total, so any scraper can read it; the reasons have their own family.
    this.rejected = new Counter({ name: 'ballot_frames_rejected_total', help: 'Frames refused at the peer port (the connection is closed).', registers });
    this.rejectedByReason = new Counter({ name: 'ballot_frames_rejected_by_reason_total', help: 'Frames refused at the peer port, by reason.', labelNames: ['reason'], registers });
    for (const reason of rejectReasons) this.rejectedByReason.inc({ reason }, 0);
    this.dropped = new Counter({ name: 'ballot_messages_dropped_total', help: 'Outgoing messages dropped (peer queue full while unreachable or congested; frame too large).', labelNames: ['reason'], registers });
    this.dropped.inc({ reason: 'queue-full' }, 0);
    this.dropped.inc({ reason: 'too-large' }, 0);
    // Bounds (src/core/bounds.ts): the counters each algorithm exchanges, with closed label sets.
    const counters = algorithm.boundedCounters;
    this.ignored = new Counter({
      name: 'ballot_messages_ignored_total',
      help: 'Valid frames the algorithm ignored because a counter in them was implausibly far ahead of its own (forged or corrupt), by counter.',
      labelNames: ['counter'],
      registers,
    });
    this.atCeiling = new Gauge({
      name: 'ballot_counter_at_ceiling',
      help: '1 once a counter reached its ceiling and the node refused to campaign or propose past it, by counter.',
      labelNames: ['counter'],
      registers,
    });
    for (const counter of counters) {
      this.ignored.inc({ counter }, 0);
      this.atCeiling.set({ counter }, 0);
    }
    this.connected = new Gauge({ name: 'ballot_peer_connected', help: '1 while an authenticated connection to (outbound) or from (inbound) the peer is open.', labelNames: ['peer', 'direction'], registers });
    this.connectionsRejected = new Counter({
      name: 'ballot_connections_rejected_total',
      help: 'Connections the peer port closed before they could carry messages (admission rules), by reason.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of connectionRejectReasons) this.connectionsRejected.inc({ reason }, 0);
    this.linkTimeouts = new Counter({
      name: 'ballot_peer_link_timeouts_total',
      help: 'Peer connections closed because nothing was heard on them within the liveness deadline, by direction.',
      labelNames: ['direction'],
      registers,
    });
    this.linkTimeouts.inc({ direction: 'inbound' }, 0);
    this.linkTimeouts.inc({ direction: 'outbound' }, 0);
    for (const peer of peers) {
      if (peer === id) continue;
      this.connected.set({ peer: String(peer), direction: 'inbound' }, 0);
      this.connected.set({ peer: String(peer), direction: 'outbound' }, 0);
    }
  }

  observeStatus(status: Status): void {
    this.isLeader.set(status.leader === status.id ? 1 : 0);
    this.hasLeader.set(status.leader === null ? 0 : 1);
    this.term.set(status.term);
  }

  /** The leader this node knows changed, at `atMs` of the core's clock (0 = the node started). */
  leaderChanged(leader: NodeId | null, atMs: number): void {
    if (leader === null) {
      this.waitingSince ??= atMs;
      return;
    }
    this.leaderChanges.inc();
    // A leader replaced by another while this node waited for nothing (the new leader was heard before
    // the old one's failure was noticed) is not an election this node waited for: nothing to observe.
    if (this.waitingSince !== null) this.electionDuration.observe(Math.max(0, atMs - this.waitingSince) / 1000);
    this.waitingSince = null;
  }

  /** This node started an election at `atMs`: a Bully node may do so while it still names the old leader. */
  electionStarted(atMs: number): void {
    this.electionsStarted.inc();
    this.waitingSince ??= atMs;
  }

  messageSent(type: string): void {
    const count = this.sent.get(type);
    if (count !== undefined) this.sent.set(type, count + 1);
  }

  messageReceived(type: string): void {
    const count = this.received.get(type);
    if (count !== undefined) this.received.set(type, count + 1);
  }

  frameRejected(reason: RejectReason): void {
    this.rejected.inc();
    this.rejectedByReason.inc({ reason });
  }

  messageIgnored(counter: BoundedCounter): void {
    this.ignored.inc({ counter });
  }

  /** Records that `counter` reached its ceiling; true the first time, so the host logs it once. */
  ceilingReached(counter: BoundedCounter): boolean {
    if (this.reachedCeilings.has(counter)) return false;
    this.reachedCeilings.add(counter);
    this.atCeiling.set({ counter }, 1);
    return true;
  }

  messageDropped(reason: DropReason): void {
    this.dropped.inc({ reason });
  }

  connectionRejected(reason: ConnectionRejectReason): void {
    this.connectionsRejected.inc({ reason });
  }

  linkTimedOut(direction: Direction): void {
    this.linkTimeouts.inc({ direction });
  }

  connection(peer: NodeId, direction: Direction, up: boolean): void {
    this.connected.set({ peer: String(peer), direction }, up ? 1 : 0);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
