/**
 * The leader's lease under CheckQuorum (thesis §6.4, §4.2.3): which heartbeat rounds each voter has
 * acknowledged, the rounds no quorum has acknowledged yet, and the lease that runs from the send time of
 * the newest round a quorum did. The safety argument is in docs/algorithms/raft.md; the node (raft.ts)
 * decides when rounds leave and when the leader steps down, this class only keeps the count.
 */
import { majority } from '../quorum.js';
import type { NodeId } from '../types.js';

/**
 * How long a lease lasts after the send time t (by the leader's clock) of a heartbeat a quorum
 * acknowledged: electionTimeoutMin × (1 − ρ)/(1 + ρ). Each acknowledging follower refuses every vote
 * until its own clock has advanced electionTimeoutMin past the moment it received that heartbeat, which is
 * at least electionTimeoutMin/(1 + ρ) of real time after t; the lease, measured by a clock that may run
 * slow, lasts at most lease/(1 − ρ) of real time. So the lease ends before any quorum can elect a rival.
 */
export function leaseDurationMs(electionTimeoutMinMs: number, maxClockDrift: number): number {
  return (electionTimeoutMinMs * (1 - maxClockDrift)) / (1 + maxClockDrift);
}

/** What the lease needs to know of its node. */
export interface LeaseHost {
  readonly id: NodeId;
  /** The voters of the configuration in force: every quorum is counted among them. */
  voters(): readonly NodeId[];
  /** Whether the node is one of them (it acknowledges its own rounds if so). */
  isVoter(): boolean;
  /** Announces a new end of the lease ('lease-renewed', in the node's term). */
  renewed(until: number): void;
}

/**
 * A heartbeat round the leader sent that no quorum has acknowledged yet (CheckQuorum's lease, thesis
 * §6.4): when it left, and how many voters other than the leader have acknowledged it or a later round.
 * The count is kept as acknowledgements arrive (and recounted when the voters change), so that finding
 * the newest round a quorum acknowledged is not a count over every voter for every answer.
 */
interface PendingRound {
  readonly round: number;
  readonly sentAt: number;
  acks: number;
}

export class LeaderLease {
  private readonly host: LeaseHost;
  private readonly leaseMs: number;
  /** ρ (RaftOptions.maxClockDrift). */
  private readonly maxClockDrift: number;
  /** Each heartbeat round not yet acknowledged by a quorum, oldest first (rounds only grow). */
  private readonly pendingRounds = new Map<number, PendingRound>();
  /** The highest round each voter acknowledged. */
  private readonly acked = new Map<NodeId, number>();
  /** The leader's clock when a quorum last acknowledged it (the candidacy start until a heartbeat round is acknowledged). */
  private base = 0;
  /** A quorum acknowledged a heartbeat round of this term, and the lease has not expired since. */
  private isHeld = false;
  /** A quorum has acknowledged a heartbeat round of this term. */
  private quorumAcknowledged = false;
  /**
   * The lease cannot start before this (this node's clock): every promise made to an earlier leader by
   * the voters that elected this one has certainly ended (their promiseMs, stretched by (1 + ρ)/(1 − ρ)).
   */
  private notBefore = -Infinity;
  /** The lease end last announced ('lease-renewed'), so that each new end is announced once. */
  private announcedUntil = -Infinity;
  /** Rounds up to this one were given up by a transfer; no lease rests on them again. */
  private floorRound = 0;

  constructor(host: LeaseHost, electionTimeoutMinMs: number, maxClockDrift: number) {
    this.host = host;
    this.leaseMs = leaseDurationMs(electionTimeoutMinMs, maxClockDrift);
    this.maxClockDrift = maxClockDrift;
  }

  /** Whether the lease is held now (as of the last `refresh`). */
  get held(): boolean {
    return this.isHeld;
  }

  /** The highest heartbeat round `voter` acknowledged in this term (0: none). */
  ackedRound(voter: NodeId): number {
    return this.acked.get(voter) ?? 0;
  }

  /** The newest round a quorum of voters acknowledged, the leader counting `ownRound` (its last round sent) for itself. */
  quorumRound(ownRound: number): number {
    const voters = this.host.voters();
    const rounds = voters.map((voter) => (voter === this.host.id ? ownRound : this.ackedRound(voter)));
    rounds.sort((a, b) => b - a);
    return rounds[majority(voters.length) - 1]!;
  }

  // ---- the candidacy ------------------------------------------------------------------------------

  /** A candidacy starts: the lease of the leader it may make waits for this node's own promise, until `ownPromiseUntil`. */
  startCandidacy(ownPromiseUntil: number): void {
    this.notBefore = ownPromiseUntil;
  }

  /**
   * A voter granted its vote with a promise to an earlier leader still running for `promiseMs` of its
   * clock: it ends within promiseMs/(1 − ρ) of real time after it answered; our clock measures that as
   * at most promiseMs(1 + ρ)/(1 − ρ).
   */
  awaitVoterPromise(now: number, promiseMs: number): void {
    const rho = this.maxClockDrift;
    this.notBefore = Math.max(this.notBefore, now + (promiseMs * (1 + rho)) / (1 - rho));
  }

  /**
   * A new leader: until a quorum acknowledges a heartbeat, the votes (answers to requests sent after
   * the candidacy started, at `candidacyStartedAt`) are what it has; it steps down one lease after that
   * start without a heartbeat quorum. It holds no lease until then.
   */
  lead(candidacyStartedAt: number): void {
    this.pendingRounds.clear();
    this.acked.clear();
    this.base = candidacyStartedAt;
    this.isHeld = false;
    this.quorumAcknowledged = false;
    this.announcedUntil = -Infinity;
    this.floorRound = 0;
  }

  /** The node no longer leads (or gave its lease up): it holds none. */
  forfeit(): void {
    this.isHeld = false;
  }

  // ---- heartbeat rounds ---------------------------------------------------------------------------

  /** Heartbeat round `round` left at `now`: nobody has acknowledged it yet (a cluster of one is its own quorum). */
  sent(round: number, now: number): void {
    this.pendingRounds.set(round, { round, sentAt: now, acks: 0 });
    this.renew(now);
  }

  /**
   * `voter` acknowledged round `round` (the node has checked it is a voter and that the round was
   * sent). False when it had acknowledged it or a later one already: nothing new.
   */
  acknowledge(voter: NodeId, round: number): boolean {
    const previous = this.acked.get(voter) ?? 0;
    if (round <= previous) return false;
    this.acked.set(voter, round);
    // It now counts toward every pending round after its previous acknowledgement, up to this one.
    if (voter !== this.host.id) for (const pending of this.pendingRounds.values()) if (pending.round > previous && pending.round <= round) pending.acks++;
    return true;
  }

  /** The lease runs from the send time of the highest round a quorum of voters (this leader included) acknowledged. */
  renew(now: number): void {
    // Rounds still unacknowledged by a quorum are few (a heartbeat interval's worth in flight): find the
    // newest one a quorum has acknowledged now.
    const quorum = majority(this.host.voters().length);
    const own = this.host.isVoter() ? 1 : 0; // the leader acknowledges its own rounds, if it votes
    let quorumRound = 0;
    for (const { round, acks } of this.pendingRounds.values()) {
      if (round <= quorumRound || round <= this.floorRound) continue;
      if (acks + own >= quorum) quorumRound = round;
    }
    if (quorumRound === 0) return; // not a new quorum round
    const sentAt = this.pendingRounds.get(quorumRound)!.sentAt;
    for (const round of this.pendingRounds.keys()) if (round <= quorumRound) this.pendingRounds.delete(round);
    this.base = Math.max(this.base, sentAt);
    this.quorumAcknowledged = true;
    this.refresh(now);
  }

  /** Holds the lease from its start (notBefore) until its end, announcing each new end. */
  refresh(now: number): void {
    this.isHeld = this.quorumAcknowledged && now >= this.notBefore && now < this.expiresAt();
    if (!this.isHeld || this.expiresAt() === this.announcedUntil) return;
    this.announcedUntil = this.expiresAt();
    this.host.renewed(this.announcedUntil);
  }

  /**
   * The end of the lease (or of the grace before the first heartbeat quorum), by this node's clock. A
   * lone voter is its own quorum at every instant (no rival can be elected without its vote): its lease
   * never ends, so a timer that fires late (a loaded host) does not depose it.
   */
  expiresAt(): number {
    const voters = this.host.voters();
    return voters.length === 1 && voters[0] === this.host.id ? Infinity : this.base + this.leaseMs;
  }

  /** When the lease next changes by itself: it ends, or (acknowledged but waiting for earlier promises to end) it starts. */
  nextDeadline(): number {
    const starts = this.quorumAcknowledged && !this.isHeld ? this.notBefore : Infinity;
    return Math.min(this.expiresAt(), starts);
  }

  // ---- leadership transfer (thesis §3.10) ---------------------------------------------------------

  /** The leader hands over after round `round`: it gives its lease up at once, and never again counts a round up to that one. */
  giveUp(round: number): void {
    this.floorRound = round;
    this.pendingRounds.clear();
    this.isHeld = false;
    this.quorumAcknowledged = false;
  }

  /**
   * The transfer was abandoned: CheckQuorum's grace starts again, as for a new leader — one lease to have
   * a new round acknowledged by a quorum, or step down. (No lease is held meanwhile: none is acknowledged.)
   */
  restartGrace(now: number): void {
    this.base = now;
  }

  // ---- membership ---------------------------------------------------------------------------------

  /** `member` left the configuration: forget its acknowledgements (one added again later starts afresh). */
  forget(member: NodeId): void {
    this.acked.delete(member);
  }

  /** The voters changed: so may the count of each pending round's acknowledgements. */
  recount(): void {
    for (const pending of this.pendingRounds.values()) pending.acks = this.acksOf(pending.round);
  }

  /** How many voters other than this node have acknowledged `round` or a later one (see PendingRound). */
  private acksOf(round: number): number {
    let acks = 0;
    for (const voter of this.host.voters()) if (voter !== this.host.id && (this.acked.get(voter) ?? 0) >= round) acks++;
    return acks;
  }
}
