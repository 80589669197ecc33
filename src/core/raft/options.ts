/**
 * Raft's options (the production extensions, each on by default) and its roles: what a host chooses
 * when it creates a node (src/cli/raft-flags.ts, src/runtime/config.ts), kept apart from the node itself.
 */
export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader' | 'learner';

/** The production extensions, each on by default (`--pre-vote`, `--check-quorum`, `--max-clock-drift`). */
export interface RaftOptions {
  /** Thesis §9.6: ask for pre-votes for term + 1 before incrementing the term. */
  readonly preVote: boolean;
  /** Thesis §6.4: the leader holds a lease and steps down when it expires; followers that hear a live leader grant no vote. */
  readonly checkQuorum: boolean;
  /** ρ: every clock runs at a rate within [1 − ρ, 1 + ρ] of real time (0 ≤ ρ < 1). */
  readonly maxClockDrift: number;
  /**
   * Fast start (docs/algorithms/raft.md, "Fast start"; absent: off, as in the simulator): a node whose
   * durable term is 0 keeps no quiet period, and once it is connected to a quorum of voters ('peer-up')
   * while still a follower of term 0 knowing no leader, it campaigns after uniform [0, T_max − T_min)
   * instead of the rest of §5.2's timeout (etcd's initial election tick advance); and a node of term 0
   * campaigns without the pre-vote round (fast-start.ts). Real nodes run with it on.
   */
  readonly fastStart?: boolean;
}

/**
 * ρ = 0.05 is 100 times the 500 ppm an NTP-disciplined clock may be slewed by, and 500 times a cheap
 * quartz oscillator's 100 ppm; it costs 9.5% of the lease ((1 − ρ)/(1 + ρ) = 0.905).
 */
export const defaultRaftOptions: RaftOptions = { preVote: true, checkQuorum: true, maxClockDrift: 0.05 };
