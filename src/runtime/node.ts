/**
 * A real node: the same core object that runs in the simulator, driven by a real clock, real sockets
 * and a real file. `startNode` is the programmatic API (e.g. "run this job only on the leader");
 * `ballot node` is a thin shell over it.
 *
 * The host loop (src/core/types.ts): after every input (a message, or the one timer), take the core's
 * output; persist its durable state atomically and synchronously, THEN hand its messages to the
 * transport, THEN report its events; finally re-arm ONE timer for `nextDeadline()`. No polling: an
 * idle follower wakes only for messages and its own deadline.
 */
import type { AlgorithmName, AnyNode, NodeId, Status } from '../core/types.js';
import { resolveConfig, type NodeOptions, type ResolvedConfig } from './config.js';
import { StatusServer } from './http.js';
import { silentLogger, type Logger } from './log.js';
import { NodeMetrics } from './metrics.js';
import { cryptoRandom } from './random.js';
import { messageValidator, sampleMessages } from './schema.js';
import { DurableStore, StorageError } from './storage.js';
import { Transport, warmUp } from './transport.js';

/** What a node tells the service embedding it. Every event carries the term: use it as a fencing token. */
export interface NodeEvents {
  /** This node now leads (status().leader === status().id), in `term`. */
  readonly 'became-leader': { readonly term: number };
  /** This node no longer leads, or leads no longer in `term` (also emitted by stop() on a leader). */
  readonly 'lost-leadership': { readonly term: number };
  /** The leader this node knows changed (null: none known), or the same node leads in a new term. */
  readonly 'leader-changed': { readonly leader: NodeId | null; readonly term: number };
  /** The node stopped itself because it could not go on safely (e.g. its state could not be persisted). */
  readonly fatal: { readonly error: Error };
}

export type NodeEventName = keyof NodeEvents;

export interface NodeHandle {
  readonly id: NodeId;
  readonly algorithm: AlgorithmName;
  /** The bound peer port and HTTP port (the real ones when port 0 was asked for). */
  readonly peerPort: number;
  readonly httpPort: number | null;
  status(): Status;
  /** Whether this node believes it is THE leader now (status().leader === status().id). */
  isLeader(): boolean;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends NodeEventName>(event: E, listener: (payload: NodeEvents[E]) => void): () => void;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
  /** Stops the node: closes sockets and the HTTP port; resolves once everything is closed. */
  stop(): Promise<void>;
  /** Resolves when the node has stopped, by stop() or after a fatal error. */
  readonly stopped: Promise<void>;
}

export interface StartOptions extends NodeOptions {
  /** Structured log sink (log.ts); default: silent. */
  readonly logger?: Logger;
}

/**
 * Starts a node: reads its durable state back (or creates it), binds the peer and HTTP ports, and
 * starts electing. Rejects with a ConfigError or StorageError (one-line messages) when it cannot.
 */
export async function startNode(options: StartOptions): Promise<NodeHandle> {
  const config = resolveConfig(options);
  const host = new NodeHost(config, options.logger ?? silentLogger);
  await host.start();
  return host.handle();
}

type Listener = (payload: never) => void;

class NodeHost {
  private readonly metrics: NodeMetrics;
  private readonly members: ReadonlySet<NodeId>;
  private store: DurableStore | null = null;
  private core: AnyNode | null = null;
  private transport: Transport | null = null;
  private http: StatusServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The deadline the armed timer was set for. */
  private timerAt = Infinity;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private last: Status;
  private readonly listeners = new Map<NodeEventName, Set<Listener>>();
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(
    private readonly config: ResolvedConfig,
    private readonly logger: Logger,
  ) {
    this.members = new Set(config.addresses.keys());
    this.metrics = new NodeMetrics(config.algorithm, config.id, config.clusterId, [...config.voters, ...config.observers]);
    this.last = { id: config.id, role: 'starting', leader: null, term: 0 };
  }

  /** `fresh`: the data dir was empty at this start and the node was not told it joins as a new member. */
  async start(fresh = false): Promise<void> {
    const { algorithm, id, voters, observers, timing } = this.config;
    const opened = DurableStore.open(this.config.dataDir, algorithm, id);
    const store = opened.store;
    let durable = opened.durable;
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
    const core = algorithm.create({ id, voters, observers, timing }, durable, cryptoRandom(), performance.now());
    this.core = core;
    this.last = core.status();
    this.metrics.observeStatus(this.last);
    this.state = 'running';
    const validateMessage = messageValidator(algorithm);
    warmUp(validateMessage, sampleMessages(algorithm));
    try {
      if (this.config.http) {
        this.http = await StatusServer.listen(this.config.http, {
          status: () => this.status(),
          algorithm: algorithm.name,
          metrics: () => this.metrics.text(),
          metricsContentType: this.metrics.registry.contentType,
        });
      }
      this.transport = await Transport.listen({
        id,
        clusterId: this.config.clusterId,
        algorithmName: algorithm.name,
        peers: this.config.addresses,
        listen: this.config.listen,
        timing,
        fresh,
        validateMessage,
        metrics: this.metrics,
        logger: this.logger,
        onMessage: (from, message) => this.step((now) => core.receive(now, from, message)),
      });
    } catch (error) {
      this.state = 'stopped';
      await this.http?.close();
      throw error;
    }
    this.logger.info('started', { algorithm: algorithm.name, cluster: this.config.clusterId, term: this.last.term });
    // The core may have output from its creation; drain it and arm the timer.
    this.drain();
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
      on: (event, listener) => {
        let set = this.listeners.get(event);
        if (!set) this.listeners.set(event, (set = new Set()));
        set.add(listener as Listener);
        return () => void set.delete(listener as Listener);
      },
      metrics: () => this.metrics.text(),
      stop: () => this.stop(),
      stopped: this.stopped,
    };
  }

  /** The status the node reports; a stopped node leads nothing. */
  private status(): Status {
    if (this.state === 'running' && this.core) return this.core.status();
    return { ...this.last, leader: this.last.leader === this.config.id ? null : this.last.leader };
  }

  // ---- the host loop --------------------------------------------------------------------------------

  private step(input: (now: number) => void): void {
    if (this.state !== 'running') return;
    try {
      input(performance.now());
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)), 'the algorithm failed');
      return;
    }
    this.drain();
  }

  /** Persist, then send, then report; then re-arm the one timer. */
  private drain(): void {
    const core = this.core!;
    const output = core.takeOutput();
    if (output.persist !== null) {
      try {
        this.store!.save(output.persist);
      } catch (error) {
        // Nothing of this batch may leave the node: its messages depend on the state just lost.
        this.fail(error instanceof Error ? error : new Error(String(error)), 'cannot persist durable state');
        return;
      }
    }
    for (const { to, message } of output.messages) {
      if (!this.members.has(to)) continue;
      this.transport?.send(to, message);
      this.metrics.messageSent(message.type);
    }
    this.transport?.endBatch();
    for (const event of output.events) {
      if (event.type === 'election-started') {
        this.metrics.electionStarted();
        this.logger.debug('election-started', { term: event.term });
      }
    }
    this.observe(core.status());
    this.arm();
  }

  /**
   * One timer for the core's next deadline. A follower's deadline moves later with every heartbeat;
   * rather than clearing and setting a timer per message, an armed timer that fires no later than the
   * deadline is kept: it may fire early, the tick then does nothing (the contract allows early ticks),
   * and the timer is re-armed for the real deadline. A deadline that moves EARLIER re-arms at once.
   */
  private arm(): void {
    const deadline = this.core!.nextDeadline();
    if (this.timer !== null && this.timerAt <= deadline) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!Number.isFinite(deadline)) return;
    const delay = Math.max(0, Math.ceil(deadline - performance.now()));
    this.timerAt = deadline;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step((now) => this.core!.tick(now));
    }, delay);
  }

  /**
   * Leadership events derived from status (the one test of DESIGN.md: leader === id), so that events,
   * isLeader(), /status and ballot_is_leader can never disagree.
   */
  private observe(status: Status): void {
    const previous = this.last;
    if (previous.leader === status.leader && previous.term === status.term && previous.role === status.role) return;
    this.last = status;
    this.metrics.observeStatus(status);
    const wasLeader = previous.leader === previous.id;
    const isLeader = status.leader === status.id;
    if (wasLeader && (!isLeader || status.term !== previous.term)) this.emit('lost-leadership', { term: previous.term });
    if (status.leader !== previous.leader || (status.leader !== null && status.term !== previous.term)) {
      if (status.leader !== null) this.metrics.leaderChanged();
      this.logger.info('leader-changed', { leader: status.leader, term: status.term, role: status.role });
      this.emit('leader-changed', { leader: status.leader, term: status.term });
    }
    if (isLeader && (!wasLeader || status.term !== previous.term)) this.emit('became-leader', { term: status.term });
  }

  private emit<E extends NodeEventName>(event: E, payload: NodeEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as (payload: NodeEvents[E]) => void)(payload);
      } catch (error) {
        // A listener's exception is the embedding service's bug: surface it like an EventEmitter
        // would, but only after the node has finished this step.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // ---- stopping -------------------------------------------------------------------------------------

  private stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasLeader = this.state === 'running' && this.last.leader === this.config.id;
    this.state = 'stopping';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (wasLeader) this.emit('lost-leadership', { term: this.last.term });
    this.stopping = (async () => {
      await Promise.all([this.transport?.close(), this.http?.close()]);
      this.state = 'stopped';
      this.logger.info('stopped', { term: this.last.term });
      this.resolveStopped();
    })();
    return this.stopping;
  }

  private fail(error: Error, what: string): void {
    const fatal = new Error(`${what}: ${error.message}`, { cause: error });
    this.logger.info('fatal', { error: fatal.message });
    void this.stop();
    this.emit('fatal', { error: fatal });
  }
}
