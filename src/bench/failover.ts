/**
 * The real-process failover benchmark: one harness for ballot's nodes, etcd and ZooKeeper (system.ts),
 * so their numbers stand side by side.
 *
 * Each trial:
 *   1. starts a fresh cluster (fresh data directory, its own block of ports);
 *   2. polls every member until all name the same leader: the cold-start time, from the start call;
 *   3. lets the cluster settle, then waits a random fraction of a heartbeat interval, so the kill lands
 *      at a random phase of the leader's heartbeats (otherwise every trial would kill right after, or
 *      right before, a heartbeat and measure one corner of the distribution);
 *   4. kill -9 of the leader (the leader the members agree on just before the kill);
 *   5. polls every survivor, all in parallel, every ~5 ms, until every survivor names the same new
 *      leader (not the killed one): the failover time, from just before the kill signal;
 *   6. stops the cluster.
 * Every wait is bounded: a trial that does not converge is recorded as a failure (with the last views),
 * never a hang, and its cluster is stopped all the same.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { agreedLeader, leaderViewsOf, summarize, type Summary } from '../core/index.js';
import type { ClusterOptions, ClusterUnderTest, SystemUnderTest } from './system.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleepFor(Math.max(0, ms), undefined, signal ? { signal } : {}),
};

export interface FailoverTiming {
  readonly heartbeatMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
}

export interface FailoverBenchOptions {
  readonly nodes: number;
  readonly trials: number;
  readonly timing: FailoverTiming;
  /** First port of the first trial's block; trials rotate through PORT_BLOCKS blocks of PORT_BLOCK_SIZE. */
  readonly basePort: number;
  /** Each trial gets a fresh directory under this one (removed after a successful trial, kept after a failure). */
  readonly workDir: string;
  /** Time between the starts of two polls of all members (default 5 ms). */
  readonly pollIntervalMs?: number;
  /** Bound on one poll of all members (default 2000 ms); a slower poll counts as "no agreement". */
  readonly pollTimeoutMs?: number;
  /** Bound on start plus first agreement (default 60 s: JVMs start slowly on 2 cores). */
  readonly startTimeoutMs?: number;
  /** Bound on the failover (default 30 s). */
  readonly failoverTimeoutMs?: number;
  /** Quiet time after the first agreement, before the random heartbeat phase (default 1000 ms). */
  readonly settleMs?: number;
  /** Keep every trial's data directory (logs), not only those of failed trials. */
  readonly keepData?: boolean;
  /** Bound on stopping a cluster (default 10 s). */
  readonly stopTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Uniform in [0, 1); the heartbeat phase of each kill. */
  readonly random?: () => number;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export const PORT_BLOCK_SIZE = 100;
export const PORT_BLOCKS = 5;
/** The most members a port block has room for (ZooKeeper uses 3 ports per member). */
export const MAX_NODES = 25;

export type TrialPhase = 'start' | 'cold-start' | 'settle' | 'kill' | 'failover' | 'stop';

export interface TrialFailure {
  readonly phase: TrialPhase;
  readonly message: string;
}

export interface TrialResult {
  readonly trial: number;
  readonly ok: boolean;
  /** From the start call until every member named the same leader. */
  readonly coldStartMs: number | null;
  /** From just before the kill signal until every survivor named the same new leader. */
  readonly failoverMs: number | null;
  /** The leader killed, and the one that followed it. */
  readonly killed: number | null;
  readonly newLeader: number | null;
  /** Time between the first agreement and the kill (settle + random heartbeat phase). */
  readonly killDelayMs: number | null;
  /** Polls of all survivors during the failover, and how long the deciding poll took. */
  readonly failoverPolls: number;
  readonly decidingPollMs: number | null;
  readonly failure: TrialFailure | null;
  /** The trial's data directory when it was kept (after a failure, or with keepData), for its logs. */
  readonly keptDataDir: string | null;
}

export interface FailoverReport {
  readonly system: string;
  readonly nodes: number;
  readonly timing: FailoverTiming;
  /** The system's own settings, as its adapter describes them. */
  readonly settings: string;
  readonly trials: readonly TrialResult[];
  readonly failover: Summary | null;
  readonly coldStart: Summary | null;
  readonly failures: number;
  /** True when the run was interrupted (Ctrl-C) before all trials ran. */
  readonly aborted: boolean;
}

export type ProgressEvent =
  | { readonly kind: 'phase'; readonly system: string; readonly nodes: number; readonly trial: number; readonly trials: number; readonly phase: TrialPhase }
  | { readonly kind: 'trial'; readonly system: string; readonly nodes: number; readonly trial: number; readonly trials: number; readonly result: TrialResult };

/** A failure of one trial, with the phase it happened in. */
class TrialError extends Error {
  constructor(
    readonly phase: TrialPhase,
    message: string,
  ) {
    super(message);
  }
}

function formatViews(views: ReadonlyMap<number, number | null> | null): string {
  if (views === null) return 'no answer';
  const parts = [...views.entries()].sort(([a], [b]) => a - b).map(([member, leader]) => `${member}→${leader ?? '-'}`);
  return parts.length > 0 ? parts.join(' ') : 'none';
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Settles like `promise`, or rejects with TrialError(phase) after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, clock: Clock, phase: TrialPhase, what: string): Promise<T> {
  const abort = new AbortController();
  const timeout = clock.sleep(ms, abort.signal).then(
    () => {
      throw new TrialError(phase, `${what} took longer than ${Math.round(ms)} ms`);
    },
    () => undefined as never,
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    abort.abort();
  }
}

interface Agreement {
  readonly leader: number;
  readonly at: number;
  readonly polls: number;
  readonly pollMs: number;
}

/** Runs `trials` trials against `system`; never throws for a trial's failure, only records it. */
export async function runFailoverBench(system: SystemUnderTest, options: FailoverBenchOptions): Promise<FailoverReport> {
  if (!Number.isInteger(options.nodes) || options.nodes < 2 || options.nodes > MAX_NODES) {
    throw new RangeError(`nodes must be an integer in [2, ${MAX_NODES}] (a failover needs a survivor), got ${options.nodes}`);
  }
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const pollIntervalMs = options.pollIntervalMs ?? 5;
  const pollTimeoutMs = options.pollTimeoutMs ?? 2000;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 30_000;
  const settleMs = options.settleMs ?? 1000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const { signal } = options;

  const settings = system.describe(clusterOptions(options, 0, options.workDir));
  const results: TrialResult[] = [];
  let aborted = false;

  const progress = (trial: number, phase: TrialPhase): void =>
    options.onProgress?.({ kind: 'phase', system: system.name, nodes: options.nodes, trial, trials: options.trials, phase });

  /** Polls `expected` until they agree on a leader other than `excluded`, or `deadline` passes. */
  async function waitForAgreement(cluster: ClusterUnderTest, expected: readonly number[], excluded: number | null, deadline: number, phase: TrialPhase): Promise<Agreement> {
    const since = clock.now();
    let polls = 0;
    let last: ReadonlyMap<number, number | null> | null = null;
    for (;;) {
      if (signal?.aborted) throw new TrialError(phase, 'interrupted');
      const pollStart = clock.now();
      const budget = Math.max(1, Math.min(pollTimeoutMs, deadline - pollStart));
      let views: ReadonlyMap<number, number | null> | null = null;
      try {
        views = await within(cluster.leaderViews(), budget, clock, phase, 'a poll of all members');
      } catch (error) {
        // A slow poll is "no agreement yet"; anything else the adapter throws is fatal to the trial
        // (a member process died, the system misbehaves), and waiting would only hide it.
        if (!(error instanceof TrialError)) throw new TrialError(phase, errorMessage(error));
      }
      const at = clock.now();
      polls += 1;
      if (views !== null) {
        last = views;
        // The killed leader is not among the survivors asked, so an agreement cannot name it.
        const agreement = agreedLeader(leaderViewsOf(views, expected));
        if (agreement !== null && agreement.leader !== excluded) return { leader: agreement.leader, at, polls, pollMs: at - pollStart };
      }
      if (at >= deadline) {
        throw new TrialError(phase, `members ${expected.join(',')} did not agree on a leader${excluded !== null ? ` other than ${excluded}` : ''} in ${Math.round(at - since)} ms of polling; last views (member→leader): ${formatViews(last)}`);
      }
      const wait = Math.min(pollStart + pollIntervalMs, deadline) - clock.now();
      if (wait > 0) await clock.sleep(wait, signal).catch(() => undefined);
    }
  }

  async function runTrial(trial: number): Promise<TrialResult> {
    const dataDir = join(options.workDir, `${system.name}-n${options.nodes}-trial${trial + 1}`);
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const cluster = clusterOptions(options, trial, dataDir);
    let phase: TrialPhase = 'start';
    let running: ClusterUnderTest | null = null;
    let coldStartMs: number | null = null;
    let failoverMs: number | null = null;
    let killed: number | null = null;
    let newLeader: number | null = null;
    let killDelayMs: number | null = null;
    let failoverPolls = 0;
    let decidingPollMs: number | null = null;
    let failure: TrialFailure | null = null;
    const enter = (next: TrialPhase): void => {
      phase = next;
      progress(trial, next);
    };

    const t0 = clock.now();
    enter('start');
    const starting = system.start(cluster);
    try {
      try {
        running = await within(starting, startTimeoutMs, clock, 'start', `starting ${system.name}`);
      } catch (error) {
        // A start that completes after we gave up must still be stopped.
        void starting.then((late) => late.stop()).catch(() => undefined);
        throw error;
      }
      enter('cold-start');
      const first = await waitForAgreement(running, running.members, null, t0 + startTimeoutMs, 'cold-start');
      coldStartMs = first.at - t0;

      enter('settle');
      await clock.sleep(settleMs + random() * options.timing.heartbeatMs, signal).catch(() => undefined);
      if (signal?.aborted) throw new TrialError('settle', 'interrupted');
      // The leader may have changed while we waited (a spurious election): kill the one in office now.
      const current = await waitForAgreement(running, running.members, null, clock.now() + failoverTimeoutMs, 'settle');

      enter('kill');
      killed = current.leader;
      killDelayMs = current.at - first.at;
      const tKill = clock.now();
      await within(running.kill(killed), stopTimeoutMs, clock, 'kill', `kill -9 of member ${killed}`);

      enter('failover');
      const survivors = running.members.filter((member) => member !== killed);
      const after = await waitForAgreement(running, survivors, killed, tKill + failoverTimeoutMs, 'failover');
      failoverMs = after.at - tKill;
      newLeader = after.leader;
      failoverPolls = after.polls;
      decidingPollMs = after.pollMs;
    } catch (error) {
      failure = error instanceof TrialError ? { phase: error.phase, message: error.message } : { phase, message: errorMessage(error) };
    } finally {
      if (running !== null) {
        enter('stop');
        try {
          await within(running.stop(), stopTimeoutMs, clock, 'stop', `stopping ${system.name}`);
        } catch (error) {
          failure ??= { phase: 'stop', message: errorMessage(error) };
        }
      }
    }
    const ok = failure === null;
    const keep = !ok || options.keepData === true;
    if (!keep) await rm(dataDir, { recursive: true, force: true });
    return {
      trial: trial + 1,
      ok,
      coldStartMs,
      failoverMs,
      killed,
      newLeader,
      killDelayMs,
      failoverPolls,
      decidingPollMs,
      failure,
      keptDataDir: keep ? dataDir : null,
    };
  }

  for (let trial = 0; trial < options.trials; trial++) {
    if (signal?.aborted) {
      aborted = true;
      break;
    }
    const result = await runTrial(trial);
    if (signal?.aborted) {
      // An interrupted trial measured nothing: leave it (and its data) out rather than count it as a failure.
      if (result.keptDataDir !== null && options.keepData !== true) await rm(result.keptDataDir, { recursive: true, force: true });
      aborted = true;
      break;
    }
    results.push(result);
    options.onProgress?.({ kind: 'trial', system: system.name, nodes: options.nodes, trial, trials: options.trials, result });
    // A system that cannot start at all (not installed, ports taken) will not start on the next trial.
    if (trial === 0 && result.failure?.phase === 'start') break;
  }

  const succeeded = results.filter((r) => r.ok);
  return {
    system: system.name,
    nodes: options.nodes,
    timing: options.timing,
    settings,
    trials: results,
    failover: summarize(succeeded.map((r) => r.failoverMs!)),
    coldStart: summarize(results.flatMap((r) => (r.coldStartMs === null ? [] : [r.coldStartMs]))),
    failures: results.length - succeeded.length,
    aborted,
  };
}

/** The options of one trial's cluster: its own port block (rotating) and data directory. */
export function clusterOptions(options: Pick<FailoverBenchOptions, 'nodes' | 'basePort' | 'timing'>, trial: number, dataDir: string): ClusterOptions {
  return {
    nodes: options.nodes,
    basePort: options.basePort + (trial % PORT_BLOCKS) * PORT_BLOCK_SIZE,
    dataDir,
    heartbeatMs: options.timing.heartbeatMs,
    electionTimeoutMinMs: options.timing.electionTimeoutMinMs,
    electionTimeoutMaxMs: options.timing.electionTimeoutMaxMs,
  };
}
