/**
 * A real node: the same core object that runs in the simulator, driven by a real clock, real sockets
 * and a real file. `startNode` is the programmatic API (e.g. "run this job only on the leader");
 * `ballot node` is a thin shell over it.
 *
 * The host loop is NodeDriver (src/core/driver.ts), the same one the simulator runs: every input (a
 * message, or the one timer) enters the core through it; it persists the durable state (here: the
 * DurableStore's atomic, synchronous save), THEN hands the messages to the transport, THEN publishes
 * one typed event stream, to which metrics, logs, the embedding API's events and the recorder
 * subscribe. This file adds what only a real host has: a clock (the core's time is ms since the node
 * started) and ONE timer re-armed for `nextDeadline()`. No polling: an idle follower wakes only for
 * messages and its own deadline.
 */
import { stat } from 'node:fs';
import { NodeDriver, leads, type DriverEvent } from '../core/driver.js';
import { isQuorum, majority } from '../core/quorum.js';
import { rehearse } from '../core/rehearsal.js';
import type { ElectionEvent, Input, Message, NodeId, Status } from '../core/types.js';
import { ConfigError, resolveConfig, transfersLeadership, type NodeOptions, type ResolvedConfig } from './config.js';
import { StatusServer, type Readiness } from './http.js';
import { LeadershipScope, PreferenceChecks, PreferredLeader, preferenceTiming, type LeaderInfo, type LeadershipJob, type LeaderJob, type LeadOptions, type Reign } from './leadership.js';
import { adaptLogger, silentLogger, type Logger, type PinoLikeLogger } from './log.js';
import { checkMeta, InvalidMeta, type Meta } from './meta.js';
import { NodeMetrics } from './metrics.js';
import { cryptoRandom } from './random.js';
import { Listeners } from './listeners.js';
import { InputRecorder } from './record.js';
import { compactionPhase, KvService } from './kv.js';
import type { SnapshotText } from '../kv/store.js';
import { RequestIds } from './requests.js';
import { MembershipService, startMembership } from './membership.js';
import { messageValidator, sampleMessages } from './schema.js';
import { DurableStore, StorageError } from './storage.js';
import type { Address } from './config.js';
import type { MembershipView } from './membership.js';
import { Transport } from './transport.js';
import { WarmUp } from './warm-up.js';

/** What a node tells the service embedding it. Every event carries the term: use it as a fencing token. */
export interface NodeEvents {
  /** This node now leads (status().leader === status().id), in `term`. */
  readonly 'became-leader': { readonly term: number };
  /** This node no longer leads, or leads no longer in `term` (also emitted by stop() on a leader). */
  readonly 'lost-leadership': { readonly term: number };
  /** The leader this node knows changed (null: none known), or the same node leads in a new term. */
  readonly 'leader-changed': { readonly leader: NodeId | null; readonly term: number };
  /**
   * The node stopped itself because it could not go on safely: its state could not be persisted, or
   * its data dir was empty while a peer knew it as an existing member (then `error` is a ConfigError).
   */
  readonly fatal: { readonly error: Error };
  /**
   * The cluster removed this node: a member it dialed refused it, naming a configuration (at `index`)
   * that leaves it out and that this node had not seen (docs/membership.md, "Removing a member"). Like
   * an etcd member told it was "permanently removed from the cluster", the node then stops itself (no
   * hand-over: it leads nothing the cluster counts); `stopped` resolves once it is closed. Its data dir
   * belongs to a configuration that no longer names it: wipe it before the node joins again (--join).
   */
  readonly removed: { readonly index: number; readonly by: NodeId };
  /** A run of a `lead()` job threw or rejected, and the job has no `onError` (leadership.ts). */
  readonly 'job-failed': { readonly error: unknown; readonly reign: Reign };
}

export type NodeEventName = keyof NodeEvents;

export interface NodeHandle {
  readonly id: NodeId;
  /** The algorithm's name (`--algorithm`). */
  readonly algorithm: string;
  /** The bound peer port and HTTP port (the real ones when port 0 was asked for). */
  readonly peerPort: number;
  readonly httpPort: number | null;
  status(): Status;
  /** Whether this node believes it is THE leader now (status().leader === status().id). */
  isLeader(): boolean;
  /**
   * Runs `job` while this node leads (and holds its lease, where the algorithm has one): once per
   * reign, with a signal aborted the moment leadership ends, and again when it returns; never two runs
   * at once. `reign.token` is the fencing token to send with every write (fence.ts). See leadership.ts
   * and docs/embedding.md.
   */
  lead(job: LeaderJob, options?: LeadOptions): LeadershipJob;
  /** The leader this node knows, with the meta it advertises; null while none is known. */
  leader(): LeaderInfo | null;
  /** Resolves as soon as a leader is known; rejects when `signal` aborts or the node stops. */
  waitForLeader(options?: { readonly signal?: AbortSignal }): Promise<LeaderInfo>;
  /** What this node advertises to its peers (`advertise`, {} if nothing). */
  readonly meta: Meta;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends NodeEventName>(event: E, listener: (payload: NodeEvents[E]) => void): () => void;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
  /**
   * Hands this node's leadership to `to` (another voter), or to the most up-to-date live voter when
   * omitted: Raft's TimeoutNow (thesis §3.10). The lease — and every lead() job — ends at once, before
   * the target can be elected. Resolves true once another node leads in a newer term, false when this
   * node does not lead, the algorithm has no transfer (Bully, ZAB: docs/embedding.md), or no hand-over
   * came within the longest election timeout (the transfer is then abandoned and this node leads on).
   * Throws a ConfigError for a `to` that is not another voter.
   */
  transferLeadership(to?: NodeId): Promise<boolean>;
  /**
   * Stops the node: a Raft leader first hands its leadership over (transferLeadership, waiting at most
   * the longest election timeout), so a rolling restart costs about a round trip instead of an
   * election timeout; then closes sockets and the HTTP port; resolves once everything is closed.
   */
  stop(): Promise<void>;
  /** Resolves when the node has stopped, by stop() or after a fatal error. */
  readonly stopped: Promise<void>;
}

export interface StartOptions extends NodeOptions {
  /**
   * Structured log sink: ballot's own Logger (log.ts, e.g. jsonLogger) or a pino-compatible one
   * (`info(obj, msg)`, `debug(obj, msg)`, `child(bindings)`), which gets a child bound to `{ node: id }`.
   * Default: silent.
   */
  readonly logger?: Logger | PinoLikeLogger;
  /**
   * A small JSON object this node advertises to every peer (meta.ts: flat, at most 16 keys and 1 KiB),
   * e.g. `{ url: 'http://10.0.0.5:8080' }`: any node's `leader()` and `GET /leader` then say where the
   * leader serves. Members that advertise need peers of this version or later.
   */
  readonly advertise?: Readonly<Record<string, unknown>>;
  /** Append every input the core receives to this file, for `ballot replay` (record.ts). */
  readonly record?: string;
  /** Stop recording once the file would grow past this many bytes (default 1 GiB). */
  readonly recordMaxBytes?: number;
}

/**
 * Starts a node: reads its durable state back (or creates it), binds the peer and HTTP ports, and
 * starts electing. Rejects with a ConfigError or StorageError (one-line messages) when it cannot.
 */
export async function startNode(options: StartOptions): Promise<NodeHandle> {
  const config = resolveConfig(options);
  const meta = options.advertise === undefined ? {} : advertised(options.advertise);
  const host = new NodeHost(config, adaptLogger(options.logger ?? silentLogger, { node: config.id }), options, meta);
  await host.start();
  const handle = host.handle();
  hosts.set(handle, host);
  return handle;
}

/** `advertise`, checked (meta.ts); a mistake is a ConfigError like every other option's. */
function advertised(value: Readonly<Record<string, unknown>>): Meta {
  try {
    return checkMeta(value);
  } catch (error) {
    throw error instanceof InvalidMeta ? new ConfigError(error.message) : error;
  }
}

const hosts = new WeakMap<NodeHandle, NodeHost>();

/**
 * Tells a node that `peer` knows it as an existing member, as the transport's handshake does (for
 * tests of the node's side alone).
 */
export function recognizedBy(handle: NodeHandle, peer: NodeId): void {
  hosts.get(handle)?.recognizedBy(peer);
}

class NodeHost {
  private readonly metrics: NodeMetrics;
  /** Every other member (the configuration in use, membership.ts): the peers messages may go to. */
  private members: ReadonlySet<NodeId>;
  /** Whether the data dir held no state at start (DurableStore.open found none). */
  private fresh = false;
  private joinNewLogged = false;
  private store: DurableStore | null = null;
  private driver: NodeDriver | null = null;
  /** The end of the lease the core last announced, by this node's clock (see status()). */
  private leaseUntil = -Infinity;
  private recorder: InputRecorder | null = null;
  /** performance.now() when the core was created: the core's clock reads ms since then. */
  private origin = 0;
  private transport: Transport | null = null;
  private http: StatusServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** A due tick waiting for the I/O that arrived with it (see arm). */
  private dueTick: NodeJS.Immediate | null = null;
  /** The warm-up (warm-up.ts: the receive path, then rehearsals), once a leader is known; null until start(). */
  private warmUp: WarmUp | null = null;
  /** The deadline the armed timer was set for. */
  private timerAt = Infinity;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private last: Status;
  /** The embedding API's listeners (listeners.ts), one set per NodeEvents event. */
  private readonly listeners = new Listeners<NodeEvents>();
  private stopping: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** untilStatus's waiters: each status the driver reports, then null when the node stops. */
  private readonly statusWaiters = new Set<(status: Status | null) => void>();
  private resolveStopped!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));
  /** lead(), leader(), waitForLeader(): fed every status change (leadership.ts). */
  private readonly leadership: LeadershipScope;
  /** The preferred-leader policy and its checks while this node leads (leadership.ts), where the algorithm can hand leadership over; null elsewhere. */
  private readonly preference: PreferenceChecks | null;
  /** The replicated key-value store and its waiting clients (kv.ts), fed the core's replication events. */
  private readonly kv: KvService;
  /** The configuration in use and the clients' changes to it (membership.ts), fed the core's replication events. */
  private readonly membership: MembershipService;
  /** The configuration index at which this node last logged that it is no member (once per entry). */
  private notMemberLogged = 0;
  /**
   * Inputs that arrived in this event-loop turn (messages, peer-downs, client requests), stepped together
   * once the turn's I/O is read: one persist (one fsync) for all of them, group commit (see step).
   */
  private queue: Input<Message>[] = [];
  private flushing: NodeJS.Immediate | null = null;
  /** True while flush() steps the driver: an input that asks to be stepped now then waits for the next flush. */
  private inFlush = false;
  private persists = 0;
  private persistedInputs = 0;
  /** The pipelined write in flight (persistAsync), which close() waits for; null when none. */
  private writing: Promise<void> | null = null;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly logger: Logger,
    private readonly recording: Pick<StartOptions, 'record' | 'recordMaxBytes'> = {},
    private readonly meta: Meta = {},
  ) {
    this.members = new Set(config.addresses.keys());
    this.metrics = new NodeMetrics(config.algorithm, config.id, config.clusterId, [...config.voters, ...config.observers]);
    this.last = { id: config.id, role: 'starting', leader: null, term: 0 };
    this.leadership = new LeadershipScope(
      config.id,
      this.last,
      (member) => (member === config.id ? this.meta : (this.transport?.metaOf(member) ?? null)),
      logger,
      (error, reign) => this.emit('job-failed', { error, reign }),
      () => this.status(),
    );
    // The voters in force, asked at each check: membership changes add and remove them (membership.md).
    this.preference = transfersLeadership(config.algorithm)
      ? new PreferenceChecks(
          new PreferredLeader(config.id, config.priority, () => this.membership.voters(), preferenceTiming(config.timing)),
          {
            now: () => this.now(),
            status: () => this.status(),
            reported: () => this.last,
            running: () => this.state === 'running',
            stopping: () => this.stopping !== null,
            peers: () => this.transport,
            transfer: (to) => this.transferLeadership(to),
          },
          logger,
        )
      : null;
    const ids = new RequestIds();
    this.kv = new KvService((input) => this.step(input), {
      compactEvery: config.compactEvery,
      compactionPhase: compactionPhase(config.id),
      prepareCompaction: (index, snapshot, ready) => this.prepareCompaction(index, snapshot, ready),
      ids,
    });
    this.membership = new MembershipService({
      id: config.id,
      initial: startMembership(config.voters, config.observers, { id: config.id, address: config.self ?? config.listen }, config.addresses),
      joining: config.join,
      seeds: config.addresses,
      submit: (input) => this.step(input),
      ids,
      onPeers: (peers, view) => this.membersChanged(peers, view),
      onBadAddress: (member, address) => this.logger.info('member-address-unusable', { member, address }),
    });
    this.metrics.membership = () => this.membership.numbers();
    this.metrics.replication = () => ({
      kv: this.kv.numbers(),
      storageAppends: this.store?.appends ?? 0,
      storageRewrites: this.store?.rewrites ?? 0,
      storageSnapshotWrites: this.store?.fileWrites ?? 0,
      persists: this.persists,
      persistedInputs: this.persistedInputs,
    });
  }

  async start(): Promise<void> {
    const { algorithm, id } = this.config;
    const opened = DurableStore.open(this.config.dataDir, algorithm, id);
    const store = opened.store;
    // libuv's thread pool starts now, not at the first write that needs it: its first use creates its
    // threads (1-1.7 ms measured), and that use is a candidate's first pipelined write, on an election's
    // path (NodeDriver.pipeline). Any asynchronous fs call starts it; the answer is not needed.
    stat(this.config.dataDir, () => {});
    let durable = opened.durable;
    this.fresh = durable === null;
    if (durable === null) {
      // A node that has never run: write its initial state now, which also proves the directory is
      // writable before the node joins the cluster.
      durable = algorithm.initialDurable(0);
      try {
        store.save(durable);
      } catch (error) {
        throw new StorageError(`cannot write ${store.path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
    }
    this.store = store;
    if (this.recording.record !== undefined) {
      try {
        this.recorder = new InputRecorder(this.recording.record, this.recording.recordMaxBytes, () => this.logger.info('record-full', { path: this.recording.record! }));
      } catch (error) {
        throw new StorageError(`cannot record to ${this.recording.record} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
    }
    this.metrics.observeStatus(this.last);
    const validateMessage = messageValidator(algorithm);
    this.warmUp = new WarmUp({
      validate: validateMessage,
      samples: sampleMessages(algorithm),
      timing: this.config.timing,
      everyoneHeard: () => (this.transport?.livePeers().length ?? 0) >= this.members.size - 1,
      rehearse: (round) =>
        rehearse({ algorithm, voters: this.config.voters.length, timing: this.config.timing, round, persisted: (before, after) => this.store?.rehearse(before, after) }),
    });
    try {
      if (this.config.http) {
        this.http = await StatusServer.listen(this.config.http, {
          status: () => this.status(),
          member: () => this.membership.standing(),
          algorithm: algorithm.name,
          metrics: () => this.metrics.text(),
          metricsContentType: this.metrics.contentType,
          ready: () => this.readiness(),
          leader: () => this.leadership.leader(),
          kv: { id, kv: this.kv, leads: () => leads(this.status()), leader: () => this.leadership.leader() },
          members: {
            id,
            membership: this.membership,
            leads: () => leads(this.status()),
            leader: () => this.leadership.leader(),
            changes: algorithm.membershipChange,
            algorithm: algorithm.name,
            plaintext: this.config.tls === null && !this.config.insecure,
          },
        });
      }
      this.transport = await Transport.listen({
        id,
        clusterId: this.config.clusterId,
        algorithmName: algorithm.name,
        peers: this.config.addresses,
        listen: this.config.listen,
        timing: this.config.timing,
        // A node on an empty data dir says so in its handshakes; a peer that knew it answers, and
        // recognizedBy stops it unless it was told --join-new (see there).
        fresh: this.fresh,
        onRecognized: (peer) => this.recognizedBy(peer),
        // A member refusing this node says at which configuration (membership.ts, notMember).
        configurationIndex: () => this.membership.view().index,
        onNotMember: (peer, index) => this.notMemberAnswer(peer, index),
        meta: this.meta,
        priority: this.config.priority,
        // The leader's meta may arrive after the leader is known (its handshake on a later connection).
        onMeta: () => this.http?.leaderChanged(),
        validateMessage,
        metrics: this.metrics,
        logger: this.logger,
        onMessage: (from, message) => this.step({ type: 'message', from, message }),
        // A closed connection is a hint the core may act on at once (a dead leader's sockets close).
        onPeerDown: (peer) => this.step({ type: 'peer-down', peer }),
        // An established connection: Raft's fast start campaigns early once a quorum is connected.
        onPeerUp: (peer) => this.step({ type: 'peer-up', peer }),
        tls: this.config.tls ? (await import('./tls.js')).PeerTls.create(this.config.tls, id) : null,
      });
      if (this.config.insecure) {
        this.logger.info('insecure', { hint: 'the peer port speaks plaintext beyond loopback: anyone who reaches it can speak as a member (--insecure); see docs/runtime.md, Security' });
      }
    } catch (error) {
      this.state = 'stopped';
      this.recorder?.close();
      await this.http?.close();
      throw error;
    }
    this.startCore(durable);
  }

  /** Creates the core at time 0 of its clock and hosts it through the driver, which drains its first output. */
  private startCore(durable: unknown): void {
    const { algorithm, id, voters, observers, timing } = this.config;
    const random = this.recorder ? this.recorder.random(cryptoRandom()) : cryptoRandom();
    // The state the core starts from, as it was before the core could touch it (the record's header).
    const startedFrom = this.recorder ? structuredClone(durable) : null;
    this.origin = performance.now();
    // The start configuration's addresses travel in the configuration entries (membership.ts); the core never reads them.
    const nodeConfig = { id, voters, observers, timing, addresses: this.membership.view().membership.addresses };
    const core = algorithm.create(nodeConfig, durable, random, 0);
    this.recorder?.start({ algorithm: algorithm.name, variant: algorithm.variant ?? null, id, voters, observers, addresses: nodeConfig.addresses, timing, durable: startedFrom, startedAt: new Date().toISOString() });
    this.state = 'running';
    // processMs: since the process started (module loading, ports bound), the first phase of a cold start.
    this.logger.info('started', { algorithm: algorithm.name, cluster: this.config.clusterId, term: core.status().term, fresh: this.fresh, processMs: Math.round(this.origin) });
    try {
      this.driver = new NodeDriver(
        core,
        {
          persist: (state) => this.persist(state),
          persistAsync: (state, durable) => this.persistAsync(state, durable),
          settled: () => this.schedule(),
          // A batch that sends nothing before its write (a vote, a follower's copy) writes on the event
          // loop: one wake-up instead of three (docs/runtime.md, "A vote is written on the event loop").
          persistsInlineWhenNothingOverlaps: true,
          ...(algorithm.replicatesBeforePersist ? { sendsBeforePersist: new Set<string>(algorithm.replicatesBeforePersist) } : {}),
          ...(algorithm.campaignsBeforePersist ? { campaignsBeforePersist: new Set<string>(algorithm.campaignsBeforePersist) } : {}),
          ...(algorithm.coalesce ? { coalesce: algorithm.coalesce } : {}),
          send: (to, message) => this.send(to, message),
          // A batch's messages leave before its reports are handled, not at the end of the turn.
          flushSends: () => this.transport?.writeCorked(),
          publish: (event) => this.observe(event),
        },
        0,
      );
    } catch (error) {
      this.fail(error, error instanceof PersistFailed ? 'cannot persist durable state' : 'the algorithm failed');
      return;
    }
    this.arm();
  }

  handle(): NodeHandle {
    return {
      id: this.config.id,
      algorithm: this.config.algorithm.name,
      peerPort: this.transport!.port(),
      httpPort: this.http ? this.http.port() : null,
      status: () => this.status(),
      isLeader: () => {
        const status = this.status();
        return status.leader === status.id;
      },
      on: (event, listener) => this.listeners.on(event, listener),
      lead: (job, options) => this.leadership.lead(job, options),
      leader: () => this.leadership.leader(),
      waitForLeader: (options) => this.leadership.waitForLeader(options),
      meta: this.meta,
      metrics: () => this.metrics.text(),
      transferLeadership: (to) => this.transferLeadership(to ?? null),
      stop: () => this.stop(true),
      stopped: this.stopped,
    };
  }

  /**
   * The status the node reports; a stopped node leads nothing. A lease is reported only until its end
   * by this node's clock: a process resumed after a stop (SIGSTOP, a long GC) may answer /status before
   * its timer has fired and the core has stepped down.
   */
  private status(): Status {
    if (this.state === 'running' && this.driver) {
      const status = this.driver.status();
      return status.lease === true && this.now() >= this.leaseUntil ? { ...status, lease: false } : status;
    }
    return { ...this.last, leader: this.last.leader === this.config.id ? null : this.last.leader };
  }

  // ---- readiness (GET /readyz) ----------------------------------------------------------------------

  /**
   * Ready = a leader is known and this node hears a quorum of voters (itself included if it votes):
   * a node cut off with a minority may still name a leader it has not heard from for a while, and must
   * not be sent traffic that needs one.
   */
  private readiness(): Readiness {
    if (this.state !== 'running') return { ready: false, reason: `not running (${this.state})` };
    const { id } = this.config;
    const voters = this.membership.voters();
    // Heard = any frame, keepalives included, within the link liveness deadline: followers do not
    // message each other (a Raft follower hears only its leader), but their links carry keepalives.
    const heard = this.transport?.livePeers() ?? [];
    if (voters.includes(id)) heard.push(id);
    const count = heard.filter((member) => voters.includes(member)).length;
    const hearing = `hears ${count} of ${voters.length} voters, a quorum is ${majority(voters.length)}`;
    const { leader, term } = this.status();
    if (leader === null) return { ready: false, reason: `no leader known; ${hearing}` };
    if (!isQuorum(voters, heard)) return { ready: false, reason: `no quorum: ${hearing}` };
    return { ready: true, reason: `ready: leader ${leader} in term ${term}; ${hearing}` };
  }


  // ---- membership (membership.ts) -------------------------------------------------------------------

  /** The configuration in use changed: messages go to its members, the transport connects to them. */
  private membersChanged(peers: ReadonlyMap<NodeId, Address>, view: MembershipView): void {
    this.members = new Set(peers.keys());
    const changed = this.transport?.setPeers(peers);
    const { voters, observers } = view.membership;
    const member = voters.includes(this.config.id) || observers.includes(this.config.id);
    if (changed && (changed.added.length > 0 || changed.removed.length > 0)) {
      this.logger.info('peers-changed', { index: view.index, added: changed.added.join(','), removed: changed.removed.join(',') });
    }
    // A node removed by a configuration entry stays up (its peers refuse it): the operator stops it.
    if (view.index === 0 || member || view.index === this.notMemberLogged) return;
    this.notMemberLogged = view.index;
    this.logger.info('not-a-member', { index: view.index, hint: 'this node is in no configuration of the cluster (removed, or not added yet); stop it, or add it back' });
  }

  /**
   * A member refused this node, naming the configuration in force on its side. If that tells of a
   * removal (MembershipService.notMember decides), this node stops: a removed server that keeps
   * campaigning only disrupts (thesis §4.2.3), and nothing it serves is current any more.
   */
  private notMemberAnswer(peer: NodeId, index: number): void {
    if (this.state !== 'running') return;
    const removal = this.membership.notMember(peer, index);
    if (removal === null) return;
    this.logger.info('removed-from-cluster', { index: removal.index, by: removal.by, hint: 'this node is no longer a member; it stops. Wipe its data dir before it joins again (--join)' });
    this.emit('removed', removal);
    this.stopping ??= this.close();
  }

  // ---- a lost data dir ------------------------------------------------------------------------------

  /**
   * A peer says it knew this member before (the transport's answer to a fresh handshake). A node whose data
   * dir held no state may have voted in the current term before its disk was lost, and could now vote
   * again (Raft §5.2 requires votedFor to survive): it stops, unless told --join-new. The data dir is
   * left empty as it was found (all its state is from this run), so that starting the node again
   * without --join-new is refused again rather than silently accepted.
   */
  recognizedBy(peer: NodeId): void {
    if (!this.fresh || this.state !== 'running') return;
    const { dataDir, id } = this.config;
    if (this.config.joinNew) {
      if (!this.joinNewLogged) this.logger.info('joined-new', { peer, dataDir });
      this.joinNewLogged = true;
      return;
    }
    this.store!.erase();
    this.halt(
      new ConfigError(
        `data dir ${dataDir} is empty but node ${peer} knows node ${id} as an existing member: its votes may be lost; ` +
          'if the disk was lost on purpose, start again with --join-new',
      ),
    );
  }

  // ---- the host loop --------------------------------------------------------------------------------

  /** The core's clock: ms since it was created (so that a record's times are the core's own). */
  private now(): number {
    return performance.now() - this.origin;
  }

  /**
   * One input for the driver. Inputs are queued and stepped together once the turn's I/O has been read
   * (setImmediate runs after the poll phase): the HTTP requests and peer messages of one event-loop turn
   * share ONE persist, one fsync (group commit, NodeDriver.stepAll), and every message they cause still
   * leaves only after it. `now`: step at once with whatever is queued (the one timer's tick, which
   * already waited for the turn's I/O, see arm).
   */
  private step(input: Input<Message>, now = false): void {
    if (this.state !== 'running' || !this.driver) return;
    this.queue.push(input);
    // `now` from inside a flush (an embedder's event handler calling transferLeadership) must not
    // re-enter the driver: it waits for the next flush like any input.
    if (now && !this.inFlush) return this.flush();
    this.schedule();
  }

  /** Flushes the queue after this turn's I/O has been read (setImmediate runs after the poll phase). */
  private schedule(): void {
    if (this.queue.length > 0) this.flushing ??= setImmediate(() => this.flush());
  }

  /**
   * Steps every queued input through the driver (persist once, send, events), then re-arms the one timer.
   * While the previous batch's persist is in flight (the driver is busy) the inputs wait: they are
   * stepped together once it is durable (the driver's `settled` schedules this again), so a slow disk
   * makes the batches larger instead of the queue of fsyncs longer.
   */
  private flush(): void {
    if (this.flushing !== null) clearImmediate(this.flushing);
    this.flushing = null;
    if (this.state !== 'running' || !this.driver || this.driver.busy) return;
    // Peers' messages first: the answers among them can then be reported (a write answered) before
    // this batch's write completes (NodeDriver.pipeline). Inputs of one batch arrived together; any
    // order of them is one the node could have seen, and the recorder writes down the order stepped.
    const inputs = this.queue.some((input) => input.type !== 'message') ? messagesFirst(this.queue) : this.queue;
    this.queue = [];
    if (inputs.length === 0) return;
    const persistsBefore = this.persists;
    const outer = this.inFlush;
    this.inFlush = true;
    try {
      this.driver.stepAll(this.now(), inputs);
      if (this.persists > persistsBefore) this.persistedInputs += inputs.length;
    } catch (error) {
      this.recorder?.endInput();
      this.fail(error, error instanceof PersistFailed ? 'cannot persist durable state' : 'the algorithm failed');
      return;
    } finally {
      this.inFlush = outer;
    }
    this.recorder?.endInput();
    this.arm();
  }

  /**
   * A compaction is due: the snapshot's file is written ahead, in a worker thread, where the core can
   * say what it will hold (ElectionNode.compactionPreview), and the core is handed the compaction
   * once it is durable; its persist then only refers to the file. Without this, writing a snapshot of
   * many megabytes stalled the node inside the persist for longer than an election timeout
   * (docs/runtime.md, Durability). A failed write ahead is logged; the persist then writes the file.
   */
  private prepareCompaction(index: number, snapshot: SnapshotText, ready: () => void): void {
    const preview = this.driver?.core.compactionPreview?.(index, snapshot.text) ?? null;
    if (preview === null || this.store === null) return ready();
    this.store.prepareField(
      preview.field,
      preview.value,
      (error) => {
        if (error !== null) this.logger.info('snapshot-ahead-failed', { index, error: (error as NodeJS.ErrnoException).code ?? String(error) });
        ready();
      },
      snapshot,
    );
  }

  private persist(state: unknown): void {
    try {
      this.persists++;
      this.store!.save(state);
    } catch (error) {
      // Thrown through the driver, which then sends nothing of this batch: its messages depend on the
      // state just lost.
      throw new PersistFailed(error);
    }
  }

  /**
   * The pipelined persist (NodeDriver.pipeline): the record is written now, its fdatasync runs in
   * libuv's thread pool while this process keeps reading and writing its sockets, and `durable` releases
   * the batch's held messages and events once it returned. A failed write stops the node, and the held
   * messages never leave (they depend on the state just lost); a stop meanwhile waits for the write.
   */
  private persistAsync(state: unknown, durable: () => void): void {
    this.persists++;
    let written!: () => void;
    this.writing = new Promise((resolve) => (written = resolve));
    this.store!.saveAsync(state, (error) => {
      this.writing = null;
      written();
      // A node stopping meanwhile still releases what the write made safe (close() waits for it):
      // every input the recorder wrote down is then reported too, as without the pipeline.
      if (this.state !== 'running' && this.state !== 'stopping') return;
      if (error !== null) {
        if (this.state === 'running') this.fail(new PersistFailed(error), 'cannot persist durable state');
        return;
      }
      // durable() reports events, whose handlers may ask for a step now (see step): not re-entrantly.
      const outer = this.inFlush;
      this.inFlush = true;
      try {
        durable();
      } catch (thrown) {
        this.fail(thrown, 'the algorithm failed');
        return;
      } finally {
        this.inFlush = outer;
      }
      this.arm();
    });
  }

  private send(to: NodeId, message: Message): void {
    if (!this.members.has(to)) return;
    this.transport?.send(to, message);
    this.metrics.messageSent(message.type);
  }

  /**
   * One timer for the core's next deadline. A follower's deadline moves later with every heartbeat;
   * rather than clearing and setting a timer per message, an armed timer that fires no later than the
   * deadline is kept: it may fire early, the tick then does nothing (the contract allows early ticks),
   * and the timer is re-armed for the real deadline. A deadline that moves EARLIER re-arms at once.
   */
  private arm(): void {
    if (this.state !== 'running') return;
    const deadline = this.driver!.nextDeadline();
    if (this.timer !== null && this.timerAt <= deadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!Number.isFinite(deadline)) return;
    const delay = Math.max(0, Math.ceil(deadline - this.now()));
    this.timerAt = deadline;
    this.timer = setTimeout(() => {
      this.timer = null;
      // The tick runs after this turn's I/O, not before it. After a stall (a GC pause, a busy host)
      // Node runs due timers before it reads the sockets, so a leader would check its lease, and a
      // follower its election timeout, before reading the acknowledgements and heartbeats that
      // arrived during the stall — and step down or campaign on news it already has. setImmediate
      // runs after the poll phase, which reads them first. (Either order is safe; this one does not
      // turn a stall into a spurious election; docs/runtime.md, "Stalls and CheckQuorum".)
      if (this.dueTick === null) {
        this.dueTick = setImmediate(() => {
          this.dueTick = null;
          this.step({ type: 'tick' }, true);
        });
      }
    }, delay);
  }

  /**
   * The driver's event stream: the recorder first (so an input is on disk before anything it caused is
   * reported), then metrics, logs and the embedding API's events. Leadership comes derived once, by the
   * driver, from status (DESIGN.md: leader === id), so events, isLeader(), /status and ballot_is_leader
   * can never disagree.
   */
  /** What the core itself reported (leadership is derived by the driver, not read from here). */
  private onCoreEvent(event: ElectionEvent, atMs: number): void {
    switch (event.type) {
      case 'election-started':
        this.metrics.electionStarted(atMs);
        this.logger.debug('election-started', { term: event.term });
        return;
      case 'message-ignored':
        this.metrics.messageIgnored(event.counter);
        this.logger.debug('message-ignored', { counter: event.counter, value: event.value, reason: 'implausibly far ahead' });
        return;
      case 'ceiling-reached':
        // Once per counter and process (the core reports every refusal): the node stays up, electing nothing.
        if (this.metrics.ceilingReached(event.counter)) {
          this.logger.info('ceiling-reached', { counter: event.counter, value: event.value, effect: 'this node will not campaign or propose past it' });
        }
        return;
      case 'lease-renewed':
        this.leaseUntil = event.until;
        return;
      case 'transfer-started':
        this.logger.info('transfer-started', { term: event.term, to: event.to });
        return;
      case 'transfer-abandoned':
        this.logger.info('transfer-abandoned', { term: event.term, to: event.to, reason: 'the target was not elected within an election timeout' });
        return;
      case 'proposed':
      case 'request-refused':
      case 'committed':
      case 'snapshot-installed':
      case 'read-ready':
        this.kv.onEvent(event);
        this.membership.onEvent(event);
        return;
      case 'membership-changed':
        this.logger.info('membership-changed', { index: event.index, voters: event.membership.voters.join(','), observers: event.membership.observers.join(',') });
        this.membership.onEvent(event);
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  private observe(event: DriverEvent): void {
    this.recorder?.observe(event);
    switch (event.type) {
      case 'input':
      case 'persisted':
        return;
      case 'core':
        this.onCoreEvent(event.event, event.atMs);
        return;
      case 'status':
        this.last = event.status;
        this.metrics.observeStatus(event.status);
        // Here, not at 'lost-leadership': a status change comes first in the driver's order, and a lease
        // lost without losing leadership (leadership.ts) is seen only here.
        this.leadership.observe(event.status);
        for (const waiter of [...this.statusWaiters]) waiter(event.status);
        return;
      case 'lost-leadership':
        this.preference?.stop();
        this.emit('lost-leadership', { term: event.term });
        return;
      case 'leader-changed':
        this.metrics.leaderChanged(event.leader, event.atMs);
        if (event.leader !== null) this.warmUp?.leaderKnown(performance.now());
        // atMs: the core's clock, so that `ballot replay` of this node's record can be compared line by line.
        this.logger.info('leader-changed', { leader: event.leader, term: event.term, role: this.last.role, atMs: event.atMs });
        this.emit('leader-changed', { leader: event.leader, term: event.term });
        this.http?.leaderChanged();
        return;
      case 'became-leader':
        this.preference?.start();
        this.emit('became-leader', { term: event.term });
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  /** Returns whether anyone listens to `event`. */
  private emit<E extends NodeEventName>(event: E, payload: NodeEvents[E]): boolean {
    return this.listeners.emit(event, payload);
  }

  // ---- stopping -------------------------------------------------------------------------------------

  /** Raft only (config.ts, transfersLeadership, says why not Bully and ZAB). */
  private async transferLeadership(to: NodeId | null): Promise<boolean> {
    const { id, algorithm, timing } = this.config;
    const voters = this.membership.voters();
    if (to !== null && (to === id || !voters.includes(to))) throw new ConfigError(`transferLeadership: ${to} is not another voter of this cluster (voters: ${voters.join(', ')})`);
    if (this.state !== 'running' || !leads(this.last) || !transfersLeadership(algorithm)) return false;
    const term = this.last.term;
    // The lease ends, and every lead() job is aborted, BEFORE TimeoutNow is written to a socket (the
    // driver sends before it reports the status that says so): leases never overlap, even if this
    // process were descheduled right after the write.
    if (this.last.lease === true) this.leadership.observe({ ...this.last, lease: false });
    // Stepped at once, not after this turn's I/O (setImmediate): on SIGTERM TimeoutNow is the first
    // thing the stopping leader writes, in the signal handler's own turn (issue 13: a hand-off's path).
    this.step({ type: 'transfer-leadership', to }, true);
    return this.untilStatus((status) => status.term > term && status.leader !== null && status.leader !== id, timing.electionTimeoutMaxMs);
  }

  /** Resolves true once a status satisfies `done`, false after `timeoutMs` or when the node stops. */
  private untilStatus(done: (status: Status) => boolean, timeoutMs: number): Promise<boolean> {
    if (done(this.last)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.statusWaiters.delete(check);
        resolve(result);
      };
      const check = (status: Status | null): void => {
        if (status === null) finish(false);
        else if (done(status)) finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.statusWaiters.add(check);
    });
  }

  /** `handOver`: a leader transfers its leadership first (stop() by the user; not a fatal halt). */
  private stop(handOver = false): Promise<void> {
    if (this.stopping) return this.stopping;
    if (handOver && this.state === 'running' && leads(this.last) && transfersLeadership(this.config.algorithm)) {
      this.stopping = this.transferLeadership(this.preference?.handOverTarget() ?? null).then(() => this.close());
      return this.stopping;
    }
    this.stopping = this.close();
    return this.stopping;
  }

  /** Closes everything, once (a fatal error during a hand-over closes at once, not after it). */
  private close(): Promise<void> {
    if (this.closing) return this.closing;
    for (const waiter of [...this.statusWaiters]) waiter(null);
    const wasLeader = this.state === 'running' && leads(this.last);
    this.state = 'stopping';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.dueTick) clearImmediate(this.dueTick);
    this.dueTick = null;
    this.preference?.stop();
    this.warmUp?.stop();
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    this.queue = [];
    this.kv.close();
    this.membership.close();
    // Before anything closes: every lead() job is aborted while this node still holds what it held.
    this.leadership.close();
    if (wasLeader) this.emit('lost-leadership', { term: this.last.term });
    this.closing = (async () => {
      // A write in flight completes first: its batch is released (reported, recorded) before the
      // sockets and the record close.
      await this.writing;
      await Promise.all([this.transport?.close(), this.http?.close()]);
      this.recorder?.close();
      this.store?.close();
      this.state = 'stopped';
      this.logger.info('stopped', { term: this.last.term });
      this.resolveStopped();
    })();
    return this.closing;
  }

  private fail(thrown: unknown, what: string): void {
    const error = thrown instanceof PersistFailed ? thrown.cause : thrown;
    this.halt(new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
  }

  /** Stops the node because it cannot go on safely, and says why. */
  private halt(fatal: Error): void {
    this.logger.info('fatal', { error: fatal.message });
    this.stopping ??= this.close();
    void this.close();
    this.emit('fatal', { error: fatal });
  }
}

/** The same inputs, peers' messages first, each group in its own order. */
function messagesFirst(inputs: readonly Input<Message>[]): Input<Message>[] {
  return [...inputs.filter((input) => input.type === 'message'), ...inputs.filter((input) => input.type !== 'message')];
}

/** The DurableStore could not save: thrown through the driver so that nothing of the batch is sent. */
class PersistFailed extends Error {
  constructor(cause: unknown) {
    super('persist failed', { cause });
  }
}
