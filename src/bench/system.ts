/**
 * A system whose failover the bench measures: ballot's own nodes (any algorithm), etcd or ZooKeeper.
 * One harness (failover.ts) drives all of them the same way, so their numbers stand side by side:
 * start a fresh cluster, wait until all members agree on a leader, take the leader down (kill -9, a
 * SIGSTOP, or a graceful SIGTERM) at a random heartbeat phase, poll until every survivor names the same
 * new leader.
 */

export interface ClusterOptions {
  /** Voting members, ids 1..nodes. */
  readonly nodes: number;
  /** First port to use; a system uses a contiguous block from here (127.0.0.1 only). */
  readonly basePort: number;
  /** A fresh, empty directory the cluster may use for its data. */
  readonly dataDir: string;
  /** Heartbeat interval and election timeout, mapped to each system's nearest settings. */
  readonly heartbeatMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
}

/** What one member answered when polled. */
export interface MemberView {
  /** The member it names as leader; null when it names none. */
  readonly leader: number | null;
  /**
   * Whether it holds a leader lease (ballot's Raft: `"lease"` in /status); undefined when the system
   * does not report leases.
   */
  readonly lease?: boolean;
}

/**
 * The signals the bench sends to a member's process: SIGKILL (kill -9: the process and its sockets are
 * gone at once), SIGSTOP / SIGCONT (a hung leader: its sockets stay open, it answers nothing), SIGTERM
 * (a graceful stop: the process may hand over before it exits).
 */
export type MemberSignal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM';

/** A running cluster of real processes on 127.0.0.1. */
export interface ClusterUnderTest {
  readonly members: readonly number[];
  /**
   * Polls each of `members` once, all in parallel: a member that does not answer in time is missing
   * from the map (or maps to null). The harness never asks a stopped, paused or killed member.
   */
  views(members: readonly number[]): Promise<Map<number, MemberView | null>>;
  /**
   * Sends `signal` to one member's process. SIGKILL resolves once the process is gone; the others once
   * the signal is sent. A member sent SIGKILL or SIGTERM is expected to exit: its exit is no error.
   */
  signal(member: number, signal: MemberSignal): Promise<void>;
  /** Stops every process it started and removes nothing but its processes. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Each member's own word on the leader it follows, as it writes it (its log line on a leader change,
   * read from its stderr as it comes, no polling): `listener` is called at once with the member, the
   * leader it now names (null: none) and, where the line carries one, the member's own time stamp on it
   * (`loggedAt`: wall-clock ms since the epoch, as Date.now(); see AnnouncementListener). Absent where
   * the system's log does not say whom it follows (ZooKeeper). Returns the function that unsubscribes.
   */
  announcements?(listener: AnnouncementListener): () => void;
}

/**
 * One member's log line naming the leader it follows. `loggedAt` is the time the member wrote on the
 * line (ballot's `time`, etcd's `ts`: ISO 8601 of the wall clock, 1 ms resolution), as ms since the
 * epoch; undefined when the line has none. Every member runs on the bench's own machine, so it is the
 * same clock as the bench's Date.now() (failover.ts: the named time by the members' clocks).
 */
export type AnnouncementListener = (member: number, leader: number | null, loggedAt?: number) => void;

export interface SystemUnderTest {
  /** e.g. 'ballot-raft', 'etcd', 'zookeeper'. */
  readonly name: string;
  /**
   * Whether its clusters announce leaders (ClusterUnderTest.announcements): known before any start, so
   * the bench can choose how to watch a failover for all rows of a run alike (failover.ts, quiet watch).
   */
  readonly announces?: boolean;
  /** A one-line description of the settings actually used (what "matched settings" means here). */
  describe(options: ClusterOptions): string;
  /** Starts a fresh cluster; rejects with a clear message if the system is not installed. */
  start(options: ClusterOptions): Promise<ClusterUnderTest>;
  /**
   * start() in two steps, where the system has work to do before its first process can start (etcd and
   * ZooKeeper: check that the ports are free, write directories and configuration files): does that work,
   * and returns the function that launches the processes. The bench times a cold start from that launch
   * (failover.ts), as it times ballot's from its spawns (ballot has nothing to prepare: a node creates
   * its own data directory, inside its measured start-up).
   */
  prepare?(options: ClusterOptions): Promise<() => Promise<ClusterUnderTest>>;
  /**
   * Where a trial's data directory is kept (a failed trial, or `--keep-data`): removes what is bulky and
   * says nothing about the trial, keeping the members' logs. etcd preallocates its write-ahead log (64 MB
   * a file): five members kept ~600 MB a trial, and a run of `--keep-data` once filled the disk.
   */
  trimKept?(dataDir: string, nodes: number): Promise<void>;
}

/** A log line's ISO 8601 time stamp as ms since the epoch (AnnouncementListener's `loggedAt`); undefined unless Date.parse reads it. */
export function loggedTime(stamp: unknown): number | undefined {
  if (typeof stamp !== 'string') return undefined;
  const at = Date.parse(stamp);
  return Number.isFinite(at) ? at : undefined;
}
