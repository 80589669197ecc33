/**
 * A system whose failover the bench measures: ballot's own nodes (any algorithm), etcd or ZooKeeper.
 * One harness (failover.ts) drives all of them the same way, so their numbers stand side by side:
 * start a fresh cluster, wait until all members agree on a leader, kill -9 the leader at a random
 * heartbeat phase, poll until every survivor names the same new leader.
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

/** A running cluster of real processes on 127.0.0.1. */
export interface ClusterUnderTest {
  readonly members: readonly number[];
  /**
   * Each live member's current view: the member id it names as leader, or null when it names none (or
   * does not answer). Killed members are left out. One call polls every live member once.
   */
  leaderViews(): Promise<Map<number, number | null>>;
  /** kill -9 of one member's process; resolves once the process is gone. */
  kill(member: number): Promise<void>;
  /** Stops every process it started and removes nothing but its processes. Safe to call twice. */
  stop(): Promise<void>;
}

export interface SystemUnderTest {
  /** e.g. 'ballot-raft', 'etcd', 'zookeeper'. */
  readonly name: string;
  /** A one-line description of the settings actually used (what "matched settings" means here). */
  describe(options: ClusterOptions): string;
  /** Starts a fresh cluster; rejects with a clear message if the system is not installed. */
  start(options: ClusterOptions): Promise<ClusterUnderTest>;
}
