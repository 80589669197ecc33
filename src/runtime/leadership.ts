/**
 * The embedding API's leadership scope: `node.lead(job)`, `node.leader()`, `node.waitForLeader()`.
 *
 * The user: a service of a few instances that must run one job on one instance at a time. The lesson
 * of client-go's leaderelection (kyverno#14984: a context wired wrong kept a deposed leader running
 * controllers) is that "stop when leadership ends" must not be left to the caller's wiring: here the
 * job receives an AbortSignal that THIS module aborts, synchronously, inside the node's host step
 * that observed the end (before the node reads another message, so before it can answer a rival), and
 * the next run starts only after the previous one has settled, so a node never runs two copies.
 *
 * "Leads" is one rule, `holdsLeadership`: the driver's leadership (status.leader === status.id,
 * src/core/driver.ts) and, where the status carries a lease (Raft with a leader lease), the lease.
 * A node that leads without a lease has a quorum that may already be electing someone else.
 */
import { leads } from '../core/driver.js';
import type { NodeId, Status } from '../core/types.js';
import type { FenceToken } from './fence.js';
import type { Logger } from './log.js';
import type { Meta } from './meta.js';

/** Who leads, as this node knows it. `meta`: what the leader advertises; null until its handshake has reached this node. */
export interface LeaderInfo {
  readonly id: NodeId;
  readonly term: number;
  readonly meta: Meta | null;
}

/** One reign of this node, handed to each run of a job. */
export interface Reign {
  /** Raft term, ZAB epoch, Bully generation. */
  readonly term: number;
  /** The fencing token of this reign (fence.ts): send it with every write. */
  readonly token: FenceToken;
  /**
   * Whether this run may act at this instant: its signal is not aborted, and the node still holds this
   * reign — for Raft, its lease has not reached its end by the node's clock. Ask it right before each
   * action. It answers from the clock, not from the node's bookkeeping, so it is false at once when a
   * process resumes from a stop (SIGSTOP, a long GC) with its lease already expired, even if the job's
   * own timer fires before the node's timer has ended the lease and aborted the signal.
   */
  holds(): boolean;
}

export type LeaderJob = (signal: AbortSignal, reign: Reign) => unknown;

export interface LeadOptions {
  /**
   * Called when a run throws or rejects (except with the abort it was given, after its signal was
   * aborted). Without it the node emits 'job-failed'; with no listener there either, the error is
   * rethrown as an uncaught exception, as a rejected promise nobody handled would be.
   */
  readonly onError?: (error: unknown, reign: Reign) => void;
}

/** What `lead()` returns. */
export interface LeadershipJob {
  /** Whether a run of the job is in progress (it may have been aborted and not yet have settled). */
  readonly running: boolean;
  /** No more runs: aborts the current one; resolves once it has settled. */
  stop(): Promise<void>;
}

/** Why a run's signal was aborted: its `reason`, an AbortError naming the term that ended. */
export class LeadershipEnded extends Error {
  constructor(
    readonly term: number,
    readonly why: 'lost-leadership' | 'lease-lost' | 'node-stopped' | 'job-stopped',
  ) {
    super(`leadership of term ${term} ended (${why})`);
    this.name = 'AbortError';
  }
}

/** The one test of "this node may act as leader now". */
export function holdsLeadership(status: Status): boolean {
  return leads(status) && (status as { readonly lease?: boolean }).lease !== false;
}

interface Run {
  readonly term: number;
  readonly controller: AbortController;
  settled: Promise<void>;
}

/** Reports a failed run; returns whether someone took it (else the caller rethrows it). */
export type FailureSink = (error: unknown, reign: Reign) => boolean;

class JobRunner implements LeadershipJob {
  private run: Run | null = null;
  /** The term of the reign this node holds now, null when it does not lead. */
  private wanted: number | null = null;
  /** A run that returned (or threw) in this term: not started again within it. */
  private finishedIn: number | null = null;
  private stopped = false;

  constructor(
    private readonly nodeId: NodeId,
    private readonly job: LeaderJob,
    private readonly options: LeadOptions,
    private readonly logger: Logger,
    private readonly failed: FailureSink,
    private readonly onStop: (runner: JobRunner) => void,
    private readonly holdsNow: (term: number) => boolean,
  ) {}

  get running(): boolean {
    return this.run !== null;
  }

  /** The node's leadership changed (term: the reign it holds, null: none). Aborts at once; starts after the previous run settled. */
  update(term: number | null, why: LeadershipEnded['why']): void {
    const previous = this.wanted;
    this.wanted = term;
    const run = this.run;
    if (run !== null && !run.controller.signal.aborted && run.term !== term) {
      this.logger.info('job-aborted', { term: run.term, why });
      run.controller.abort(new LeadershipEnded(run.term, why));
    }
    if (term !== previous && term !== null) this.startSoon();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.onStop(this);
    const run = this.run;
    if (run === null) return Promise.resolve();
    if (!run.controller.signal.aborted) run.controller.abort(new LeadershipEnded(run.term, 'job-stopped'));
    return run.settled;
  }

  /**
   * Starts a run in a microtask, not inside the host step that observed the leadership: the job's
   * synchronous part must not run in the middle of the node's own bookkeeping (it may call stop()).
   */
  private startSoon(): void {
    queueMicrotask(() => this.start());
  }

  private start(): void {
    const term = this.wanted;
    if (this.stopped || this.run !== null || term === null || this.finishedIn === term) return;
    const controller = new AbortController();
    const reign: Reign = { term, token: { term, node: this.nodeId }, holds: () => !controller.signal.aborted && this.holdsNow(term) };
    const run: Run = { term, controller, settled: Promise.resolve() };
    this.run = run;
    this.logger.info('job-started', { term });
    run.settled = (async () => {
      try {
        await this.job(controller.signal, reign);
      } catch (error) {
        // The abort it was handed (or an AbortError it caused) is the normal way for a run to end.
        const aborted = controller.signal.aborted && (error === controller.signal.reason || (error instanceof Error && error.name === 'AbortError'));
        if (!aborted) this.report(error, reign);
      }
    })().finally(() => {
      this.run = null;
      // A run that ended on its own is done for this reign; one that was aborted may run again if the
      // node leads again (even in the same term, after regaining a lease).
      if (!controller.signal.aborted) this.finishedIn = term;
      this.logger.info('job-ended', { term, aborted: controller.signal.aborted });
      this.start();
    });
  }

  private report(error: unknown, reign: Reign): void {
    this.logger.info('job-failed', { term: reign.term, error: error instanceof Error ? error.message : String(error) });
    if (this.options.onError) {
      try {
        this.options.onError(error, reign);
      } catch (thrown) {
        queueMicrotask(() => {
          throw thrown;
        });
      }
      return;
    }
    if (!this.failed(error, reign)) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

interface Waiter {
  readonly resolve: (leader: LeaderInfo) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Everything of the embedding API that follows the node's status: the jobs of `lead()` and the
 * callers of `waitForLeader()`. The node feeds it every status change (`observe`) and its end (`close`).
 */
export class LeadershipScope {
  private readonly jobs = new Set<JobRunner>();
  private readonly waiters = new Set<Waiter>();
  private status: Status;
  private closed = false;

  constructor(
    private readonly id: NodeId,
    initial: Status,
    private readonly metaOf: (id: NodeId) => Meta | null,
    private readonly logger: Logger,
    private readonly failed: FailureSink,
    /**
     * The node's status as it stands at this instant (a lease past its end by the clock is not held);
     * by default the last status observed.
     */
    private readonly statusNow: () => Status = () => this.status,
  ) {
    this.status = initial;
  }

  /** Who leads now, as this node knows it (null: none known). */
  leader(): LeaderInfo | null {
    const { leader, term } = this.status;
    if (leader === null) return null;
    return { id: leader, term, meta: this.metaOf(leader) };
  }

  /** Resolves with the leader as soon as one is known; rejects when `signal` aborts or the node stops. */
  waitForLeader({ signal }: { readonly signal?: AbortSignal } = {}): Promise<LeaderInfo> {
    const known = this.leader();
    if (known !== null) return Promise.resolve(known);
    if (this.closed) return Promise.reject(new Error('the node has stopped'));
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (leader) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(leader);
        },
        reject: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  lead(job: LeaderJob, options: LeadOptions = {}): LeadershipJob {
    if (typeof job !== 'function') throw new TypeError('lead(job): job must be a function (signal, { term, token }) => ...');
    const runner = new JobRunner(this.id, job, options, this.logger, this.failed, (stopped) => this.jobs.delete(stopped), (term) => {
      const now = this.statusNow();
      return !this.closed && holdsLeadership(now) && now.term === term;
    });
    if (this.closed) {
      void runner.stop();
      return runner;
    }
    this.jobs.add(runner);
    runner.update(holdsLeadership(this.status) ? this.status.term : null, 'lost-leadership');
    return runner;
  }

  /** Every status change of the node, in the host step that made it. */
  observe(status: Status): void {
    if (this.closed) return;
    this.status = status;
    const holds = holdsLeadership(status);
    const why = leads(status) && !holds ? 'lease-lost' : 'lost-leadership';
    for (const job of this.jobs) job.update(holds ? status.term : null, why);
    const leader = this.waiters.size > 0 ? this.leader() : null;
    if (leader !== null) {
      for (const waiter of this.waiters) waiter.resolve(leader);
      this.waiters.clear();
    }
  }

  /** The node is stopping: abort every run (synchronously), fail every waiter. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs) job.update(null, 'node-stopped');
    for (const waiter of this.waiters) waiter.reject(new Error('the node has stopped'));
    this.waiters.clear();
  }
}

// ---- preferred leader ------------------------------------------------------------------------------

/**
 * The pacing of the preferred-leader policy, from the node's timing (T = the longest election timeout).
 */
export interface PreferenceTiming {
  /**
   * How long this node must have led in its term, holding its lease, before it hands over, and how long
   * the target must have been connected without a break: a leader just elected, or a peer just back,
   * is left to settle (a flapping link must not bounce leadership).
   */
  readonly settleMs: number;
  /** The least time between two attempts of this node. */
  readonly retryMs: number;
  /** How long a target that failed a transfer is passed over; doubled for each failure in a row, up to 8 times. */
  readonly cooldownMs: number;
  /** How often a leader looks at its peers' priorities. */
  readonly checkMs: number;
}

export function preferenceTiming(timing: { readonly electionTimeoutMaxMs: number }): PreferenceTiming {
  const longest = timing.electionTimeoutMaxMs;
  return { settleMs: 2 * longest, retryMs: 5 * longest, cooldownMs: 10 * longest, checkMs: longest / 2 };
}

/**
 * Preferred leader (issue 13, item 4), the sofa-jraft / TiKV PD approach: leadership moves to a node of
 * higher priority only by a transfer (Raft's TimeoutNow, thesis §3.10) that the LEADER starts, never by
 * the preferred node disrupting a term. The leader, having led stably for `settleMs`, picks the
 * connected voter of the highest priority above its own (lowest id among equals) that has stayed
 * connected for `settleMs` and has not just failed a transfer; at most one attempt per `retryMs`.
 * Equal priorities never move leadership, and the preferred node itself never hands over, so
 * leadership converges in one transfer and does not flap. The transfer itself (the core's) waits for
 * the target to be caught up and is abandoned after an election timeout if the target does not win.
 *
 * A pure policy: the caller (PreferenceChecks, below) gives it the clock, the status and the live peers'
 * priorities (from their handshakes, transport.ts), and carries out the transfer it names.
 */
export class PreferredLeader {
  /** The term this node leads in and when it began leading in it; null while it does not lead. */
  private reign: { readonly term: number; readonly since: number } | null = null;
  /** When each peer's link was first seen alive in this reign, for as long as it stays alive (checked every checkMs). */
  private readonly connectedSince = new Map<NodeId, number>();
  private lastAttempt = -Infinity;
  /** Targets that failed: how many times in a row, and until when they are passed over. */
  private readonly failures = new Map<NodeId, { readonly count: number; readonly until: number }>();

  /**
   * `voters`: the voters of the configuration in force, asked at each choice — not those the node was
   * started with: a voter removed since is never a target, and a learner added and promoted since may be
   * (docs/membership.md).
   */
  constructor(
    private readonly id: NodeId,
    readonly priority: number,
    private readonly voters: () => readonly NodeId[],
    readonly timing: PreferenceTiming,
  ) {}

  /**
   * One check: the voter to hand leadership to now, or null. A non-null answer counts as an attempt;
   * report its outcome with `finished`. `live`: every peer whose link is alive now, with its priority.
   */
  target(now: number, status: Status, live: ReadonlyMap<NodeId, number>): NodeId | null {
    if (!leads(status)) {
      this.reign = null;
      return null;
    }
    if (this.reign === null || this.reign.term !== status.term) {
      // A new reign: connections are timed from here (this node was not watching them before).
      this.reign = { term: status.term, since: now };
      this.connectedSince.clear();
    }
    for (const peer of this.connectedSince.keys()) if (!live.has(peer)) this.connectedSince.delete(peer);
    for (const peer of live.keys()) if (!this.connectedSince.has(peer)) this.connectedSince.set(peer, now);
    if (!holdsLeadership(status) || now - this.reign.since < this.timing.settleMs || now - this.lastAttempt < this.timing.retryMs) return null;
    const best = this.highest(live, this.priority, (peer) => now - this.connectedSince.get(peer)! >= this.timing.settleMs && this.notFailed(peer, now));
    if (best !== null) this.lastAttempt = now;
    return best;
  }

  /**
   * Whom a leader that is stopping hands over to (node.ts, stop): the live voter of the highest priority
   * above 0 that has not just failed a transfer, so that leadership need not move a second time; null
   * when no live peer has a priority (then the core picks the most up-to-date voter).
   */
  handOverTarget(now: number, live: ReadonlyMap<NodeId, number>): NodeId | null {
    return this.highest(live, 0, (peer) => this.notFailed(peer, now));
  }

  /** The voter in `live` of the highest priority strictly above `floor` that `eligible` accepts; the lowest id among equals. */
  private highest(live: ReadonlyMap<NodeId, number>, floor: number, eligible: (peer: NodeId) => boolean): NodeId | null {
    const voters = this.voters();
    let best: NodeId | null = null;
    let bestPriority = floor;
    for (const [peer, priority] of live) {
      if (peer === this.id || !voters.includes(peer) || !eligible(peer)) continue;
      // Strictly higher than the best so far (the floor first): equal never moves; among equals the lowest id.
      if (priority > bestPriority || (best !== null && priority === bestPriority && peer < best)) {
        best = peer;
        bestPriority = priority;
      }
    }
    return best;
  }

  private notFailed(peer: NodeId, now: number): boolean {
    return (this.failures.get(peer)?.until ?? -Infinity) <= now;
  }

  /** The outcome of the attempt toward `to`: `won` when `to` leads now. A failed target is passed over for a while. */
  finished(now: number, to: NodeId, won: boolean): void {
    if (won) {
      this.failures.delete(to);
      return;
    }
    const count = (this.failures.get(to)?.count ?? 0) + 1;
    this.failures.set(to, { count, until: now + this.timing.cooldownMs * 2 ** Math.min(count - 1, 3) });
  }
}

/** What PreferenceChecks needs of the node it runs in (node.ts). */
export interface PreferenceHost {
  /** The core's clock (ms since the node started). */
  now(): number;
  /** The status as the node reports it (its lease checked against the clock). */
  status(): Status;
  /** The status the driver last reported (for the logs and the outcome of a transfer). */
  reported(): Status;
  /** Whether the node runs (neither new nor stopping). */
  running(): boolean;
  /** Whether the node is stopping (then it hands over by itself, to its own choice). */
  stopping(): boolean;
  /** The links to the peers (transport.ts), null while there are none. */
  peers(): LivePeers | null;
  /** Hands leadership to `to`: true once another node leads in a newer term (node.ts transferLeadership). */
  transfer(to: NodeId): Promise<boolean>;
}

/** The peers whose links are alive now, and the priority each advertised in its handshake (transport.ts). */
export interface LivePeers {
  livePeers(): NodeId[];
  priorityOf(peer: NodeId): number;
}

/**
 * Runs a PreferredLeader's check every `checkMs` while this node leads (only then: a follower has nothing
 * to decide), and carries out the transfer it names; node.ts starts it at became-leader and stops it at
 * lost-leadership and when the node closes.
 */
export class PreferenceChecks {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly policy: PreferredLeader,
    private readonly host: PreferenceHost,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // Not while stopping: a write completing then still reports its batch (node.ts persistAsync).
    if (this.timer !== null || !this.host.running()) return;
    this.timer = setInterval(() => this.check(), this.policy.timing.checkMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** A stopping leader's target: the live voter of the highest priority, if any has one (PreferredLeader.handOverTarget). */
  handOverTarget(): NodeId | null {
    return this.policy.handOverTarget(this.host.now(), this.livePriorities());
  }

  /** One look at the live voters' priorities (from their handshakes); hands leadership over if the policy says so. */
  private check(): void {
    const { host, policy } = this;
    // A node that is stopping hands over by itself (node.ts stop()), to its own choice.
    if (!host.running() || host.stopping() || host.peers() === null) return;
    const live = this.livePriorities();
    const to = policy.target(host.now(), host.status(), live);
    if (to === null) return;
    this.logger.info('preferred-leader', { to, priority: live.get(to)!, own: policy.priority, term: host.reported().term });
    void host.transfer(to).then((handedOver) => {
      const won = handedOver && host.reported().leader === to;
      policy.finished(host.now(), to, won);
      if (!won && host.running()) this.logger.info('preferred-leader-failed', { to, leader: host.reported().leader, term: host.reported().term });
    });
  }

  /** The peers whose links are alive now, with the priority each advertised in its handshake. */
  private livePriorities(): Map<NodeId, number> {
    const peers = this.host.peers();
    return new Map((peers?.livePeers() ?? []).map((peer) => [peer, peers!.priorityOf(peer)] as const));
  }
}
