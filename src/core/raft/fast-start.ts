/**
 * Fast start (docs/algorithms/raft.md, "Fast start"; RaftOptions.fastStart), a documented departure from
 * §5.2's full timeout for a cluster's first election. Its three parts:
 *
 * - No quiet period for a node whose durable term is 0. The quiet period protects leases resting on
 *   acknowledgements (heartbeats, votes) a node gave before it restarted. Every acknowledgement is sent
 *   in a term ≥ 1 that the node had adopted and persisted first (a heartbeat's or a candidate's term;
 *   terms start at 0 and every campaign increments), so a durable term of 0 proves it never gave one.
 * - An early first campaign (etcd's `adjustTicks`, which advances a member's election ticks once peers
 *   are connected): a follower that has never adopted a term and knows no leader, once connected to a
 *   quorum ('peer-up'), campaigns after uniform [0, T_max − T_min). The fixed part T_min of the timeout
 *   is there so that a live leader's heartbeat comes first; a node of term 0 has never heard one, and
 *   campaigning early disrupts no one: its first campaign is for term 1, and every leader's term is at
 *   least 1, so its RequestVote never carries a term above a leader's (and with PreVote, followers
 *   hearing a leader refuse it first). The random part stays, so split votes stay as rare as in any
 *   election of §5.2; elections are safe whenever they start.
 * - No pre-vote round in term 0 (one round trip less, and a narrower window in which two fresh nodes
 *   split the vote). PreVote (thesis §9.6) keeps a node from disrupting a leader with a term it cannot
 *   win; this RequestVote is for term 1, so it deposes no one (a receiver of a later term refuses it
 *   unchanged, §5.1; one of term 1 judges it as any vote) and, with CheckQuorum, followers hearing a
 *   leader drop it. If it loses, the node is in term 1 and asks for pre-votes from then on. etcd 3.4 runs
 *   without PreVote by default. Votes stay §5.2's (one per term, persisted before the grant), so safety
 *   is untouched.
 */
import { majority } from '../quorum.js';
import { uniform, type NodeId, type Random, type Timing } from '../types.js';

export class FastStart {
  /** Whether fast start is on (RaftOptions.fastStart). */
  readonly enabled: boolean;
  private readonly random: Random;
  private readonly timing: Timing;
  /** The voters this node is connected to (peer-up, until peer-down). */
  private readonly connectedVoters = new Set<NodeId>();
  /** Whether it has campaigned early already (it does so once). */
  private advanced = false;

  constructor(enabled: boolean, random: Random, timing: Timing) {
    this.enabled = enabled;
    this.random = random;
    this.timing = timing;
  }

  /**
   * Whether fast start treats a node of term `term` as fresh: it has never adopted a term, so it never
   * acknowledged a leader (no quiet period at start) and campaigns without the pre-vote round.
   */
  isFresh(term: number): boolean {
    return this.enabled && term === 0;
  }

  /** A connection to `voter` was established ('peer-up'). */
  connected(voter: NodeId): void {
    this.connectedVoters.add(voter);
  }

  /** A connection to `peer` closed ('peer-down'). */
  disconnected(peer: NodeId): void {
    this.connectedVoters.delete(peer);
  }

  /**
   * For a fresh follower (term 0, no leader known): once it is connected to a quorum of `voters`, the
   * delay after which it campaigns — at once for a lone voter (no rival to split with), else uniform
   * [0, T_max − T_min) — and only once; null otherwise.
   */
  earlyCampaignDelay(voters: readonly NodeId[]): number | null {
    if (!this.enabled || this.advanced) return null;
    if (this.connectedVoters.size + 1 < majority(voters.length)) return null;
    this.advanced = true;
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.timing;
    return voters.length === 1 ? 0 : uniform(this.random, 0, electionTimeoutMaxMs - electionTimeoutMinMs);
  }
}
