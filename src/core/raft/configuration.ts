/**
 * The configuration a node uses (thesis §4.1: "a server always uses the latest configuration in its
 * log, regardless of whether the entry is committed"): its members, whether this node votes in it, and
 * the index of its entry — 0 for the configuration the node was started with, the snapshot's index for
 * the snapshot's. Every quorum is counted among its voters. The rules of a change are in membership.ts;
 * what a node does when the configuration changes is in raft.ts (useMembership).
 */
import type { Membership, NodeId } from '../types.js';
import type { RaftLog } from './log.js';
import { membersOf, sameMembership } from './membership.js';

export class ConfigurationInUse {
  private readonly id: NodeId;
  /** The configuration the node was started with: in force while neither the log nor the snapshot holds one. */
  private readonly starting: Membership;
  private current: Membership;
  private currentIndex: number;
  /** Its voters and learners: the leader's heartbeats go to both. */
  private currentMembers: readonly NodeId[];
  /** Whether this node votes in it (counts its own vote, and campaigns: see `campaigns`). */
  private voter: boolean;

  /** Starts with the latest configuration in `log` (or its snapshot), else `starting`. */
  constructor(id: NodeId, starting: Membership, log: RaftLog) {
    this.id = id;
    this.starting = starting;
    const latest = this.latestIn(log);
    this.current = latest.membership;
    this.currentIndex = latest.index;
    this.currentMembers = membersOf(this.current);
    this.voter = this.current.voters.includes(id);
  }

  get membership(): Membership {
    return this.current;
  }

  /** The index of its entry (0: the starting configuration). */
  get index(): number {
    return this.currentIndex;
  }

  get voters(): readonly NodeId[] {
    return this.current.voters;
  }

  get members(): readonly NodeId[] {
    return this.currentMembers;
  }

  get isVoter(): boolean {
    return this.voter;
  }

  /** Thesis §4.1: the latest configuration in `log` (or its snapshot), else the starting one. */
  latestIn(log: RaftLog): { readonly index: number; readonly membership: Membership } {
    const latest = log.latestMembership();
    return { index: latest?.index ?? 0, membership: latest?.membership ?? this.starting };
  }

  /** Puts the configuration of the entry at `index` in force; false when it is the one in force already. */
  use(index: number, membership: Membership): boolean {
    if (index === this.currentIndex && sameMembership(membership, this.current)) return false;
    this.current = membership;
    this.currentIndex = index;
    this.currentMembers = membersOf(membership);
    this.voter = membership.voters.includes(this.id);
    return true;
  }

  /**
   * Whether this node campaigns when its election timer runs out, given the highest index it knows
   * committed: a voter of its configuration; and (thesis §4.2.2) a server its latest configuration
   * removes, until it knows that configuration committed — it "might still be needed": a leader that
   * removed itself and lost its lease before the entry committed may be the only server holding it, and
   * the others, whose logs are behind its own, cannot be elected without its vote. It does not count its
   * own vote (tallies count voters). A learner, a joiner and a removed server that knows its removal
   * committed never campaign.
   */
  campaigns(commitIndex: number): boolean {
    return this.voter || (commitIndex < this.currentIndex && !this.currentMembers.includes(this.id));
  }
}
