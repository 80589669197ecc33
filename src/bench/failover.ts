/**
 * The real-process failover benchmark: one harness for ballot's nodes, etcd and ZooKeeper (system.ts),
 * so their numbers stand side by side.
 *
 * A run measures rows — (system, cluster size, kind of failure) — and interleaves their trials round
 * robin: trial 1 of every row, then trial 2 of every row, and so on (`interleave`). Load from anything
 * else on the machine then falls on every row alike instead of on whichever block of trials it
 * coincided with, and the machine's load is recorded with every trial.
 *
 * Each trial:
 *   1. starts a fresh cluster (fresh data directory, its own block of ports);
 *   2. polls every member until all name the same leader: the cold-start time, from the launch of the
 *      first process (after SystemUnderTest.prepare, where a system has one);
 *   3. lets the cluster settle, then waits a random fraction of a heartbeat interval, so the failure lands
 *      at a random phase of the leader's heartbeats (otherwise every trial would strike right after, or
 *      right before, a heartbeat and measure one corner of the distribution);
 *   4. takes the leader down, by kind: kill -9 ('kill'); SIGSTOP ('pause': a hung leader, whose sockets
 *      stay open); SIGTERM ('graceful': a planned stop, which may hand leadership over);
 *   5. polls every survivor, all in parallel, every ~5 ms, until every survivor names the same new
 *      leader (not the old one): the failover time, from just before the signal. Where the system
 *      reports leader leases (ballot's Raft: `"lease"` in /status), polls on until that leader holds its
 *      lease: the lease time. Where the system's members log each leader they learn (ballot, etcd:
 *      ClusterUnderTest.announcements), also the named time: from just before the signal until the
 *      last survivor's log line naming the new leader was read, with no poll in between (a poll adds
 *      its own round trips to four busy processes, and up to an interval of waiting); and the same by
 *      the members' own clocks (namedLoggedMs: the stamp on that last line less the bench's wall clock
 *      just before the signal; one machine, one clock). When every row's system announces, the bench
 *      does not poll at all until the survivors' lines agree (the quiet watch, failoverWatch), so its
 *      polls take no CPU from the members while they decide; polls then confirm it;
 *   6. 'pause' only: SIGCONT to the old leader, then watches every member for a window (default 2 s):
 *      does any survivor name another leader, or none, after the old leader wakes up (a disruption)?
 *      And how long does the old leader go on naming itself?
 *   7. stops the cluster.
 * Kind 'start' stops after step 2: a row of cold starts alone (every other kind measures one too).
 * Every wait is bounded: a trial that does not converge is recorded as a failure (with the last views),
 * never a hang, and its cluster is stopped all the same.
 */
import { loadavg } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { agreedLeader, leaderViewsOf, summarize, type Summary } from '../core/index.js';
import type { ClusterOptions, ClusterUnderTest, MemberSignal, MemberView, SystemUnderTest } from './system.js';

export interface Clock {
  now(): number;
  /**
   * The wall clock, ms since the epoch (Date.now()): what the members stamp their log lines with, on
   * this same machine. Absent (a test's virtual clock without one): no named time by the members' clocks.
   */
  wall?(): number;
  /** Resolves after `ms`; rejects if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  sleep: (ms, signal) => sleepFor(Math.max(0, ms), undefined, signal ? { signal } : {}),
};

export interface FailoverTiming {
  readonly heartbeatMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
}

/** How the leader is taken down: kill -9, SIGSTOP (resumed later with SIGCONT), or SIGTERM. */
export const failoverKinds = ['kill', 'pause', 'graceful'] as const;
/** Every kind a row can have: a failure, or 'start': a cold start alone (steps 1–2 below, no failure). */
export const benchKinds = [...failoverKinds, 'start'] as const;
export type FailoverKind = (typeof benchKinds)[number];

const signalOf: Record<Exclude<FailoverKind, 'start'>, MemberSignal> = { kill: 'SIGKILL', pause: 'SIGSTOP', graceful: 'SIGTERM' };

/** One row of a run: what is measured. */
export interface FailoverRow {
  readonly system: SystemUnderTest;
  readonly nodes: number;
  readonly kind: FailoverKind;
  readonly timing: FailoverTiming;
}

/** How a run is carried out; the same for every row. */
export interface FailoverRunOptions {
  readonly trials: number;
  /** First port of the first block; consecutive trials rotate through PORT_BLOCKS blocks of PORT_BLOCK_SIZE. */
  readonly basePort: number;
  /** Each trial gets a fresh directory under this one (removed after a successful trial, kept after a failure). */
  readonly workDir: string;
  /** Time between the starts of two polls of all members (default 5 ms). */
  readonly pollIntervalMs?: number;
  /** Bound on one poll of all members (default 2000 ms); a slower poll counts as "no agreement". */
  readonly pollTimeoutMs?: number;
  /** Bound on start plus first agreement (default 60 s: JVMs start slowly on 2 cores). */
  readonly startTimeoutMs?: number;
  /** Bound on the failover, and on the lease after it (default 30 s). */
  readonly failoverTimeoutMs?: number;
  /** Quiet time after the first agreement, before the random heartbeat phase (default 1000 ms). */
  readonly settleMs?: number;
  /** 'pause': how long every member is watched after the old leader resumes (default 2000 ms). */
  readonly resumeWindowMs?: number;
  /**
   * Poll the survivors during every failover, as the bench always did. Without it (the default), when
   * every row's system announces leaders (SystemUnderTest.announces), the failover is watched quietly:
   * no poll until every survivor's own log line names the same new leader, then polls to confirm it
   * (TrialResult.failoverWatch). A run with a system that does not announce (ZooKeeper) polls in every
   * row, so that ratios compare like with like.
   */
  readonly pollDuringFailover?: boolean;
  /** Keep every trial's data directory (logs), not only those of failed trials. */
  readonly keepData?: boolean;
  /** Bound on stopping a cluster (default 10 s). */
  readonly stopTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Uniform in [0, 1); the heartbeat phase of each failure. */
  readonly random?: () => number;
  /** The machine's load, recorded per trial (default: the 1-minute load average, os.loadavg()[0]). */
  readonly load?: () => number;
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** One row measured on its own (what the tests and a single-system run use). */
export interface FailoverBenchOptions extends FailoverRunOptions {
  readonly nodes: number;
  readonly timing: FailoverTiming;
  /** Default 'kill'. */
  readonly kind?: FailoverKind;
}

/** How a failover is watched: see TrialResult.failoverWatch. */
export type FailoverWatch = 'polls' | 'announcements';

/** A survivor's latest word on its leader: when the bench read it, and the member's own stamp on it. */
interface Announcement {
  readonly leader: number | null;
  /** clock.now() when the line was read. */
  readonly at: number;
  /** The member's own wall-clock stamp on the line (AnnouncementListener), if it has one. */
  readonly loggedAt: number | undefined;
}

/**
 * The leader every one of `survivors` names in its latest announcement read at or after `since`, if
 * they all name the same one (and not `excluded`); null otherwise.
 */
export function announcedAgreement(announced: ReadonlyMap<number, Announcement>, survivors: readonly number[], excluded: number | null, since: number): number | null {
  let leader: number | null = null;
  for (const member of survivors) {
    const word = announced.get(member);
    if (word === undefined || word.at < since || word.leader === null || word.leader === excluded) return null;
    if (leader !== null && word.leader !== leader) return null;
    leader = word.leader;
  }
  return leader;
}

/** How long after the polls agree the members' log lines may still be on their way (see namedTime). */
const ANNOUNCEMENT_GRACE_MS = 1000;

export const PORT_BLOCK_SIZE = 100;
export const PORT_BLOCKS = 5;
/** The most members a port block has room for (ZooKeeper uses 3 ports per member). */
export const MAX_NODES = 25;

export type TrialPhase = 'start' | 'cold-start' | 'settle' | 'signal' | 'failover' | 'lease' | 'resume' | 'stop';

export interface TrialFailure {
  readonly phase: TrialPhase;
  readonly message: string;
}

export interface TrialResult {
  readonly trial: number;
  readonly kind: FailoverKind;
  /** The trial's place in the whole run (1-based), across every row: the interleaving, as it happened. */
  readonly order: number;
  /** The machine's 1-minute load average when the trial started. */
  readonly load: number;
  readonly ok: boolean;
  /** From the start call until every member named the same leader. */
  readonly coldStartMs: number | null;
  /** From just before the signal until every survivor named the same new leader. */
  readonly failoverMs: number | null;
  /**
   * From just before the signal until the survivors agreed on a leader that holds its lease; null when
   * the system reports no lease (see leaseReported) or the trial failed first.
   */
  readonly leaseMs: number | null;
  /** Whether the new leader's status said anything about a lease. */
  readonly leaseReported: boolean;
  /**
   * From just before the signal until the last survivor's own log line naming the new leader was read
   * (each survivor's latest such line names it); null where the system does not announce leaders
   * (ClusterUnderTest.announcements) or the lines did not agree with the polls.
   */
  readonly namedMs: number | null;
  /**
   * The named time by the members' own clocks: from the bench's wall clock just before the signal
   * (Date.now()) until the latest time stamp among the survivors' lines that make up namedMs (each
   * line's own `time` / `ts`, written by the member as it decides: 1 ms resolution, no pipe, no bench
   * event loop in between). Valid because every member runs on this machine and reads the same
   * CLOCK_REALTIME as the bench; null where namedMs is null, a line has no time stamp, or the difference
   * is negative (the wall clock was stepped back meanwhile). Absent in reports saved before it.
   */
  readonly namedLoggedMs?: number | null;
  /**
   * How the failover was watched (absent in reports saved before it: 'polls'). 'polls': every survivor
   * polled every ~5 ms until they agree (failoverMs is the end of the first poll that saw it).
   * 'announcements': no poll until every survivor's own log line named the same new leader, then polls
   * until one sees it (failoverMs is the end of that confirming poll; failoverPolls counts them).
   */
  readonly failoverWatch?: FailoverWatch;
  /** The leader taken down (killed, paused or stopped), and the one that followed it. */
  readonly killed: number | null;
  readonly newLeader: number | null;
  /** Time between the first agreement and the signal (settle + random heartbeat phase). */
  readonly killDelayMs: number | null;
  /** Polls of all survivors during the failover, and how long the deciding poll took. */
  readonly failoverPolls: number;
  readonly decidingPollMs: number | null;
  /**
   * 'pause' only (null otherwise): whether, in the window after SIGCONT, any survivor named a leader
   * other than the new one, or none.
   */
  readonly resumeDisrupted: boolean | null;
  /** 'pause' only: the first disrupted poll, e.g. "+84 ms: 1→- 2→3 3→3" (member→leader, '-' none); null if none. */
  readonly resumeDisruption: string | null;
  /** 'pause' only: how long after SIGCONT the old leader was last seen naming itself (null: never seen). */
  readonly resumedSelfLeaderMs: number | null;
  readonly failure: TrialFailure | null;
  /** The trial's data directory when it was kept (after a failure, or with keepData), for its logs. */
  readonly keptDataDir: string | null;
}

export interface FailoverReport {
  readonly system: string;
  readonly nodes: number;
  readonly kind: FailoverKind;
  readonly timing: FailoverTiming;
  /** The system's own settings, as its adapter describes them. */
  readonly settings: string;
  readonly trials: readonly TrialResult[];
  readonly failover: Summary | null;
  /** Lease times of the trials that report one; null when none does ("n/a"). */
  readonly lease: Summary | null;
  /** Named times of the trials that have one (TrialResult.namedMs); null when none does (absent in reports saved before it). */
  readonly named?: Summary | null;
  /** Named times by the members' own clocks (TrialResult.namedLoggedMs); null when none has one (absent in reports saved before it). */
  readonly namedLogged?: Summary | null;
  readonly coldStart: Summary | null;
  /** The load of the row's trials. */
  readonly load: Summary | null;
  /** 'pause': how many successful trials saw a disruption after the resume; null for other kinds. */
  readonly resumeDisrupted: number | null;
  readonly failures: number;
  /** True when the run was interrupted (Ctrl-C) before all trials ran. */
  readonly aborted: boolean;
}

export type ProgressEvent =
  | { readonly kind: 'phase'; readonly system: string; readonly nodes: number; readonly failoverKind: FailoverKind; readonly trial: number; readonly trials: number; readonly phase: TrialPhase }
  | { readonly kind: 'trial'; readonly system: string; readonly nodes: number; readonly failoverKind: FailoverKind; readonly trial: number; readonly trials: number; readonly result: TrialResult };

/** A failure of one trial, with the phase it happened in. */
class TrialError extends Error {
  constructor(
    readonly phase: TrialPhase,
    message: string,
  ) {
    super(message);
  }
}

type Views = ReadonlyMap<number, MemberView | null>;

function formatViews(views: Views | null): string {
  if (views === null) return 'no answer';
  const parts = [...views.entries()].sort(([a], [b]) => a - b).map(([member, view]) => `${member}→${view === null ? '?' : (view.leader ?? '-')}`);
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

/** The leader `members` agree on in one poll (core/agreement.ts), or null. A member missing or null did not answer. */
export function agreementOf(views: ReadonlyMap<number, MemberView | null>, members: readonly number[]): number | null {
  const named = new Map<number, number | null>();
  for (const [member, view] of views) if (view !== null) named.set(member, view.leader);
  return agreedLeader(leaderViewsOf(named, members))?.leader ?? null;
}

interface Agreement {
  readonly leader: number;
  readonly views: Views;
  readonly at: number;
  readonly polls: number;
  readonly pollMs: number;
}

/**
 * The order trials run in: round robin over the rows, trial 1 of every row first, then trial 2 …
 * (`row` indexes `rows`; `trial` is 0-based).
 */
export function interleave(rows: number, trials: number): { readonly row: number; readonly trial: number }[] {
  const order: { row: number; trial: number }[] = [];
  for (let trial = 0; trial < trials; trial++) for (let row = 0; row < rows; row++) order.push({ row, trial });
  return order;
}

/** Measures every row, trials interleaved (see `interleave`); never throws for a trial's failure, only records it. */
export async function runFailoverRows(rows: readonly FailoverRow[], options: FailoverRunOptions): Promise<FailoverReport[]> {
  for (const row of rows) {
    if (!Number.isInteger(row.nodes) || row.nodes < 2 || row.nodes > MAX_NODES) {
      throw new RangeError(`nodes must be an integer in [2, ${MAX_NODES}] (a failover needs a survivor), got ${row.nodes}`);
    }
  }
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const load = options.load ?? ((): number => loadavg()[0]!);
  const pollIntervalMs = options.pollIntervalMs ?? 5;
  const pollTimeoutMs = options.pollTimeoutMs ?? 2000;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 30_000;
  const settleMs = options.settleMs ?? 1000;
  const resumeWindowMs = options.resumeWindowMs ?? 2000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const { signal } = options;
  // Quiet only when every row can be watched so: a ratio then compares two rows watched alike.
  const quietWatch = options.pollDuringFailover !== true && rows.every((row) => row.system.announces === true);

  /** Polls `members` once, bounded; a slow poll is null ("no agreement yet"), an adapter's error fails the trial. */
  async function pollOnce(cluster: ClusterUnderTest, members: readonly number[], deadline: number, phase: TrialPhase): Promise<Views | null> {
    const budget = Math.max(1, Math.min(pollTimeoutMs, deadline - clock.now()));
    try {
      return await within(cluster.views(members), budget, clock, phase, 'a poll of all members');
    } catch (error) {
      // Anything the adapter throws is fatal to the trial (a member process died, the system
      // misbehaves), and waiting would only hide it.
      if (!(error instanceof TrialError)) throw new TrialError(phase, errorMessage(error));
      return null;
    }
  }

  /** Waits out the rest of one poll interval that began at `pollStart` (never past `deadline`). */
  async function pace(pollStart: number, deadline: number): Promise<void> {
    const wait = Math.min(pollStart + pollIntervalMs, deadline) - clock.now();
    if (wait > 0) await clock.sleep(wait, signal).catch(() => undefined);
  }

  /**
   * Polls `expected` until they agree on a leader other than `excluded` that `accept` accepts, or
   * `deadline` passes.
   */
  async function waitForAgreement(
    cluster: ClusterUnderTest,
    expected: readonly number[],
    excluded: number | null,
    deadline: number,
    phase: TrialPhase,
    accept: (leader: number, views: Views) => boolean = () => true,
  ): Promise<Agreement> {
    const since = clock.now();
    let polls = 0;
    let last: Views | null = null;
    for (;;) {
      if (signal?.aborted) throw new TrialError(phase, 'interrupted');
      const pollStart = clock.now();
      const views = await pollOnce(cluster, expected, deadline, phase);
      const at = clock.now();
      polls += 1;
      if (views !== null) {
        last = views;
        // The old leader is not among the survivors asked, so an agreement cannot name it.
        const leader = agreementOf(views, expected);
        if (leader !== null && leader !== excluded && accept(leader, views)) return { leader, views, at, polls, pollMs: at - pollStart };
      }
      if (at >= deadline) {
        const what = phase === 'lease' ? 'did not agree on a leader that holds its lease' : 'did not agree on a leader';
        throw new TrialError(phase, `members ${expected.join(',')} ${what}${excluded !== null ? ` other than ${excluded}` : ''} in ${Math.round(at - since)} ms of polling; last views (member→leader): ${formatViews(last)}`);
      }
      await pace(pollStart, deadline);
    }
  }

  /**
   * When the last of `survivors` announced `leader` (its latest announcement, read after `since`), less
   * `since` (`readMs`); and the same by the members' own stamps on those lines, less `wallSince` (the
   * wall clock at `since`): `loggedMs` (TrialResult.namedLoggedMs). A log line may reach the bench a
   * little after a poll saw the same news, so this waits for it, a bounded while; null if some
   * survivor's latest word still names another leader (or none).
   */
  async function namedTime(announced: ReadonlyMap<number, Announcement>, survivors: readonly number[], leader: number, since: number, wallSince: number | null): Promise<{ readonly readMs: number; readonly loggedMs: number | null } | null> {
    const deadline = clock.now() + ANNOUNCEMENT_GRACE_MS;
    for (;;) {
      if (announcedAgreement(announced, survivors, null, since) === leader) {
        const latest = survivors.map((member) => announced.get(member)!);
        const stamps = latest.flatMap((word) => (word.loggedAt === undefined ? [] : [word.loggedAt]));
        const loggedMs = wallSince === null || stamps.length < latest.length ? null : Math.max(...stamps) - wallSince;
        return { readMs: Math.max(...latest.map((word) => word.at)) - since, loggedMs: loggedMs !== null && loggedMs >= 0 ? loggedMs : null };
      }
      if (clock.now() >= deadline || signal?.aborted) return null;
      await clock.sleep(pollIntervalMs, signal).catch(() => undefined);
    }
  }

  /**
   * The quiet watch (FailoverRunOptions.pollDuringFailover): waits, without polling anyone, until every
   * one of `survivors` has announced the same leader other than `excluded` since `since`; a TrialError
   * if `deadline` passes first (a system whose lines disagree with what it does is worth a failure, not
   * a number). Woken by each announcement (`announcements.changed`).
   */
  async function untilAnnounced(announcements: AnnouncementBoard, survivors: readonly number[], excluded: number, since: number, deadline: number): Promise<void> {
    while (announcedAgreement(announcements.latest, survivors, excluded, since) === null) {
      if (signal?.aborted) throw new TrialError('failover', 'interrupted');
      const left = deadline - clock.now();
      if (left <= 0) {
        const words = survivors.map((member) => {
          const word = announcements.latest.get(member);
          return `${member}→${word === undefined || word.at < since ? '?' : (word.leader ?? '-')}`;
        });
        throw new TrialError('failover', `the log lines of members ${survivors.join(',')} did not agree on a leader other than ${excluded} in ${Math.round(clock.now() - since)} ms (no polls: the quiet watch); their latest words since the signal (member→leader, ? none): ${words.join(' ')}`);
      }
      await announcements.changed(left, signal);
    }
  }

  interface ResumeWatch {
    /** The first disrupted poll, described; null when there was none. */
    readonly disruption: string | null;
    readonly selfLeaderMs: number | null;
  }

  /** After SIGCONT: watches every member for the window; see TrialResult.resumeDisrupted. */
  async function watchResume(cluster: ClusterUnderTest, survivors: readonly number[], resumed: number, newLeader: number, since: number): Promise<ResumeWatch> {
    const end = since + resumeWindowMs;
    let disruption: string | null = null;
    let selfLeaderMs: number | null = null;
    const everyone = [...survivors, resumed].sort((a, b) => a - b);
    while (clock.now() < end) {
      if (signal?.aborted) throw new TrialError('resume', 'interrupted');
      const pollStart = clock.now();
      const views = await pollOnce(cluster, everyone, end, 'resume');
      const at = clock.now();
      if (views !== null) {
        // A survivor that answers naming anyone but the new leader (or no one) was disturbed; one that
        // does not answer in time says nothing either way (a slow poll on a loaded machine).
        const disturbed = survivors.some((member) => {
          const view = views.get(member);
          return view != null && view.leader !== newLeader;
        });
        if (disturbed) disruption ??= `+${Math.round(at - since)} ms: ${formatViews(views)}`;
        if (views.get(resumed)?.leader === resumed) selfLeaderMs = at - since;
      }
      await pace(pollStart, end);
    }
    return { disruption, selfLeaderMs };
  }

  async function runTrial(row: FailoverRow, trial: number, order: number): Promise<TrialResult> {
    const { system, kind } = row;
    const dataDir = join(options.workDir, `${system.name}-n${row.nodes}-${kind}-trial${trial + 1}`);
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const cluster = clusterOptions({ nodes: row.nodes, basePort: options.basePort, timing: row.timing }, order - 1, dataDir);
    const trialLoad = load();
    let phase: TrialPhase = 'start';
    let running: ClusterUnderTest | null = null;
    let paused: number | null = null;
    let coldStartMs: number | null = null;
    let failoverMs: number | null = null;
    let leaseMs: number | null = null;
    let leaseReported = false;
    let namedMs: number | null = null;
    let namedLoggedMs: number | null = null;
    let failoverWatch: FailoverWatch = 'polls';
    /** Each survivor's latest announced leader, when it was read and its own stamp (ClusterUnderTest.announcements). */
    const announcements = new AnnouncementBoard(clock);
    let unsubscribe: (() => void) | null = null;
    let killed: number | null = null;
    let newLeader: number | null = null;
    let killDelayMs: number | null = null;
    let failoverPolls = 0;
    let decidingPollMs: number | null = null;
    let resumeDisrupted: boolean | null = null;
    let resumeDisruption: string | null = null;
    let resumedSelfLeaderMs: number | null = null;
    let failure: TrialFailure | null = null;
    const enter = (next: TrialPhase): void => {
      phase = next;
      options.onProgress?.({ kind: 'phase', system: system.name, nodes: row.nodes, failoverKind: kind, trial, trials: options.trials, phase: next });
    };

    enter('start');
    // The cold start is timed from the launch of the first process: a system's preparations (ports
    // checked free, files written: SystemUnderTest.prepare) are not part of it.
    let t0 = clock.now();
    try {
      const launch = system.prepare ? await within(system.prepare(cluster), startTimeoutMs, clock, 'start', `preparing ${system.name}`) : () => system.start(cluster);
      t0 = clock.now();
      const starting = launch();
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

      // 'start': the cold start was the measurement; the cluster is stopped below.
      if (kind !== 'start') {
        enter('settle');
        await clock.sleep(settleMs + random() * row.timing.heartbeatMs, signal).catch(() => undefined);
        if (signal?.aborted) throw new TrialError('settle', 'interrupted');
        // The leader may have changed while we waited (a spurious election): strike the one in office now.
        const current = await waitForAgreement(running, running.members, null, clock.now() + failoverTimeoutMs, 'settle');

        enter('signal');
        const old = current.leader;
        killed = old;
        killDelayMs = current.at - first.at;
        unsubscribe = running.announcements?.((member, leader, loggedAt) => announcements.record(member, { leader, at: clock.now(), loggedAt })) ?? null;
        const tSignal = clock.now();
        // The members stamp their lines with the wall clock (Date.now(), floored to the ms like their
        // stamps, so the difference has no bias from the flooring): the named time by their clocks.
        const wallAtSignal = clock.wall?.() ?? null;
        if (kind === 'pause') paused = old;
        await within(running.signal(old, signalOf[kind]), stopTimeoutMs, clock, 'signal', `${signalOf[kind]} to member ${old}`);

        enter('failover');
        const survivors = running.members.filter((member) => member !== old);
        if (quietWatch && unsubscribe !== null) {
          // No poll while the survivors decide: four HTTP round trips every 5 ms take CPU from members
          // that share the machine's cores, inflating what is measured. Their own lines say when.
          failoverWatch = 'announcements';
          await untilAnnounced(announcements, survivors, old, tSignal, tSignal + failoverTimeoutMs);
        }
        const after = await waitForAgreement(running, survivors, old, tSignal + failoverTimeoutMs, 'failover');
        failoverMs = after.at - tSignal;
        newLeader = after.leader;
        failoverPolls = after.polls;
        decidingPollMs = after.pollMs;
        if (unsubscribe !== null) {
          const named = await namedTime(announcements.latest, survivors, after.leader, tSignal, wallAtSignal);
          namedMs = named?.readMs ?? null;
          namedLoggedMs = named?.loggedMs ?? null;
        }

        const leaseOf = (views: Views, leader: number): boolean | undefined => views.get(leader)?.lease;
        leaseReported = leaseOf(after.views, after.leader) !== undefined;
        if (leaseReported) {
          enter('lease');
          const leased = leaseOf(after.views, after.leader) === true ? after : await waitForAgreement(running, survivors, old, tSignal + failoverTimeoutMs, 'lease', (leader, views) => leaseOf(views, leader) === true);
          leaseMs = leased.at - tSignal;
        }

        if (kind === 'pause') {
          enter('resume');
          const tResume = clock.now();
          await within(running.signal(old, 'SIGCONT'), stopTimeoutMs, clock, 'resume', `SIGCONT to member ${old}`);
          paused = null;
          const watch = await watchResume(running, survivors, old, newLeader, tResume);
          resumeDisrupted = watch.disruption !== null;
          resumeDisruption = watch.disruption;
          resumedSelfLeaderMs = watch.selfLeaderMs;
        }
      }
    } catch (error) {
      failure = error instanceof TrialError ? { phase: error.phase, message: error.message } : { phase, message: errorMessage(error) };
    } finally {
      unsubscribe?.();
      if (running !== null) {
        enter('stop');
        try {
          // A stopped process cannot act on a graceful stop; wake it first.
          if (paused !== null) await within(running.signal(paused, 'SIGCONT'), stopTimeoutMs, clock, 'stop', `SIGCONT to member ${paused}`);
          await within(running.stop(), stopTimeoutMs, clock, 'stop', `stopping ${system.name}`);
        } catch (error) {
          failure ??= { phase: 'stop', message: errorMessage(error) };
        }
      }
    }
    const ok = failure === null;
    const keep = !ok || options.keepData === true;
    if (!keep) await rm(dataDir, { recursive: true, force: true });
    else await system.trimKept?.(dataDir, row.nodes);
    return {
      trial: trial + 1,
      kind,
      order,
      load: trialLoad,
      ok,
      coldStartMs,
      failoverMs,
      leaseMs,
      leaseReported,
      namedMs,
      namedLoggedMs,
      failoverWatch,
      killed,
      newLeader,
      killDelayMs,
      failoverPolls,
      decidingPollMs,
      resumeDisrupted,
      resumeDisruption,
      resumedSelfLeaderMs,
      failure,
      keptDataDir: keep ? dataDir : null,
    };
  }

  const results = rows.map((): TrialResult[] => []);
  /** Rows whose system could not start at all (not installed, ports taken): it will not start on the next trial either. */
  const givenUp = new Set<number>();
  let aborted = false;
  let order = 0;
  for (const { row, trial } of interleave(rows.length, options.trials)) {
    if (givenUp.has(row)) continue;
    if (signal?.aborted) {
      aborted = true;
      break;
    }
    const spec = rows[row]!;
    order += 1;
    const result = await runTrial(spec, trial, order);
    if (signal?.aborted) {
      // An interrupted trial measured nothing: leave it (and its data) out rather than count it as a failure.
      if (result.keptDataDir !== null && options.keepData !== true) await rm(result.keptDataDir, { recursive: true, force: true });
      aborted = true;
      break;
    }
    results[row]!.push(result);
    options.onProgress?.({ kind: 'trial', system: spec.system.name, nodes: spec.nodes, failoverKind: spec.kind, trial, trials: options.trials, result });
    if (trial === 0 && result.failure?.phase === 'start') givenUp.add(row);
  }
  return rows.map((row, i) => summarizeRow(row, results[i]!, aborted, options.workDir));
}

function summarizeRow(row: FailoverRow, trials: readonly TrialResult[], aborted: boolean, workDir: string): FailoverReport {
  const succeeded = trials.filter((t) => t.ok);
  const values = (pick: (t: TrialResult) => number | null, of: readonly TrialResult[]): number[] => of.flatMap((t) => { const v = pick(t); return v === null ? [] : [v]; });
  return {
    system: row.system.name,
    nodes: row.nodes,
    kind: row.kind,
    timing: row.timing,
    settings: row.system.describe(clusterOptions({ nodes: row.nodes, basePort: 0, timing: row.timing }, 0, workDir)),
    trials,
    failover: summarize(values((t) => t.failoverMs, succeeded)),
    lease: summarize(values((t) => t.leaseMs, succeeded)),
    named: summarize(values((t) => t.namedMs, succeeded)),
    namedLogged: summarize(values((t) => t.namedLoggedMs ?? null, succeeded)),
    coldStart: summarize(values((t) => t.coldStartMs, trials)),
    load: summarize(trials.map((t) => t.load)),
    resumeDisrupted: row.kind === 'pause' ? succeeded.filter((t) => t.resumeDisrupted === true).length : null,
    failures: trials.length - succeeded.length,
    aborted,
  };
}

/** Runs `trials` trials of one system, size and kind (default kill -9). */
export async function runFailoverBench(system: SystemUnderTest, options: FailoverBenchOptions): Promise<FailoverReport> {
  const [report] = await runFailoverRows([{ system, nodes: options.nodes, kind: options.kind ?? 'kill', timing: options.timing }], options);
  return report!;
}

/**
 * Every member's latest announcement (ClusterUnderTest.announcements), and a way to wait for the next
 * one without polling.
 */
class AnnouncementBoard {
  readonly latest = new Map<number, Announcement>();
  private wake: (() => void) | null = null;

  constructor(private readonly clock: Clock) {}

  record(member: number, word: Announcement): void {
    this.latest.set(member, word);
    this.wake?.();
  }

  /** Resolves at the next announcement, after `ms`, or when `signal` aborts. */
  async changed(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const timer = new AbortController();
    const next = new Promise<void>((resolve) => (this.wake = resolve));
    const onAbort = (): void => timer.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([next, this.clock.sleep(ms, timer.signal).catch(() => undefined)]);
    } finally {
      this.wake = null;
      signal?.removeEventListener('abort', onAbort);
      timer.abort();
    }
  }
}

/** The options of one trial's cluster: its port block (the `slot`-th, rotating) and its data directory. */
export function clusterOptions(options: { readonly nodes: number; readonly basePort: number; readonly timing: FailoverTiming }, slot: number, dataDir: string): ClusterOptions {
  return {
    nodes: options.nodes,
    basePort: options.basePort + (slot % PORT_BLOCKS) * PORT_BLOCK_SIZE,
    dataDir,
    heartbeatMs: options.timing.heartbeatMs,
    electionTimeoutMinMs: options.timing.electionTimeoutMinMs,
    electionTimeoutMaxMs: options.timing.electionTimeoutMaxMs,
  };
}
