/**
 * Raft leader election (Ongaro & Ousterhout 2014, §5.1, §5.2, §5.4.1) as a pure state machine, with
 * PreVote (Ongaro's thesis §9.6), CheckQuorum and a leader lease (thesis §6.4, §4.2.3); the safety
 * argument of the lease is in docs/algorithms/raft.md.
 *
 * Every input goes through one door (`receive`), where the term rules of §5.1 are applied once
 * (a higher term makes the receiver a follower of that term; a lower term is answered with the current
 * one so a stale sender learns it is stale), then the role's own handler runs.
 */
import { believable, increment, MAX_TERM, MAX_TERM_STEP } from '../bounds.js';
import { OutputBuffer } from '../output.js';
import { majority, tallyVotes } from '../quorum.js';
import {
  uniform,
  applyInput,
  type ElectionNode,
  type Input,
  type NodeConfig,
  type NodeId,
  type Output,
  type Random,
  type Status,
} from '../types.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  PreVote,
  PreVoteResponse,
  RaftDurable,
  RaftMessage,
  RequestVote,
  RequestVoteResponse,
  TimeoutNow,
} from './messages.js';

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
   * instead of the rest of §5.2's timeout (etcd's initial election tick advance). Real nodes run with it on.
   */
  readonly fastStart?: boolean;
}

/**
 * ρ = 0.05 is 100 times the 500 ppm an NTP-disciplined clock may be slewed by, and 500 times a cheap
 * quartz oscillator's 100 ppm; it costs 9.5% of the lease ((1 − ρ)/(1 + ρ) = 0.905).
 */
export const defaultRaftOptions: RaftOptions = { preVote: true, checkQuorum: true, maxClockDrift: 0.05 };

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

export class RaftNode implements ElectionNode<RaftMessage, RaftDurable> {
  readonly id: NodeId;
  private readonly config: NodeConfig;
  private readonly random: Random;
  private readonly out = new OutputBuffer<RaftMessage, RaftDurable>();
  /** Voters and non-voters: the leader's heartbeats go to both. */
  private readonly members: readonly NodeId[];
  private readonly isVoter: boolean;
  private readonly options: RaftOptions;
  private readonly leaseMs: number;

  // Durable state (Figure 2): persisted before any message that depends on it is sent.
  private currentTerm: number;
  private votedFor: NodeId | null;
  private readonly log: RaftDurable['log'];

  // Volatile state.
  private role: RaftRole;
  private leader: NodeId | null = null;
  /** (Pre-)votes answered in the current (pre-)candidacy (true = granted). */
  private votes = new Map<NodeId, boolean>();
  private electionDeadline = Infinity;
  private heartbeatDeadline = Infinity;
  /**
   * Until then the node grants no vote (§4.2.3 of the thesis, with CheckQuorum) and no pre-vote (§9.6):
   * it heard a live leader less than electionTimeoutMin ago, or it started less than that ago (a node
   * that restarts has forgotten whom it heard, and a lease may rest on its acknowledgement).
   */
  private quietUntil: number;
  /**
   * The connection to the leader this follower heard closed (a peer-down input) and no heartbeat came
   * since: it no longer "hears a leader", so it grants (pre-)votes before `quietUntil` — telling each
   * candidate how long its promise still runs (RequestVoteResponse.promiseMs).
   */
  private leaderConnectionClosed = false;
  /**
   * The highest heartbeat round of the current term's leader this node acknowledged (the leader: the
   * highest it sent); 0 when none. A leadership transfer after round n is voted for only by nodes whose
   * acknowledgements stop at n (RequestVote.transfer).
   */
  private promisedRound = 0;
  /**
   * How long promises to leaders of EARLIER terms run (this node's clock): `quietUntil` as it stood
   * when this node first acknowledged the current term's leader. A transfer vote reports these
   * (promiseMs), as only the transferring leader's own promises are released by a transfer.
   */
  private earlierPromiseUntil = -Infinity;
  /** Leader only: the transfer under way (thesis §3.10), or null. */
  private transfer: { readonly to: NodeId; readonly round: number; readonly deadline: number } | null = null;
  /** Leader only: rounds up to this one were given up by a transfer; no lease rests on them again. */
  private leaseFloorRound = 0;
  /** When the current (pre-)candidacy started, by this node's clock. */
  private candidacyStartedAt = 0;
  /** Fast start: the voters this node is connected to (peer-up, until peer-down), and whether it campaigned early. */
  private readonly connectedVoters = new Set<NodeId>();
  private startAdvanced = false;
  /** The last status handed out (see `status`). */
  private lastStatus: Status = { id: 0, role: '', leader: null, term: -1 };

  // Leader state: heartbeat rounds and the lease (only with CheckQuorum).
  private round = 0;
  /** Send time of each heartbeat round not yet acknowledged by a quorum. */
  private readonly roundSentAt = new Map<number, number>();
  /** The highest round each voter acknowledged. */
  private readonly ackedRound = new Map<NodeId, number>();
  /** The leader's clock when a quorum last acknowledged it (the candidacy start until a heartbeat round is acknowledged). */
  private leaseBase = 0;
  /** A quorum acknowledged a heartbeat round of this term, and the lease has not expired since. */
  private leaseHeld = false;
  /** A quorum has acknowledged a heartbeat round of this term. */
  private leaseAcked = false;
  /**
   * The lease cannot start before this (this node's clock): every promise made to an earlier leader by
   * the voters that elected this one has certainly ended (their promiseMs, stretched by (1 + ρ)/(1 − ρ)).
   */
  private leaseNotBefore = -Infinity;
  /** The lease end last announced ('lease-renewed'), so that each new end is announced once. */
  private announcedUntil = -Infinity;

  constructor(config: NodeConfig, durable: RaftDurable, random: Random, now: number, options: RaftOptions = defaultRaftOptions) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.options = options;
    this.leaseMs = leaseDurationMs(config.timing.electionTimeoutMinMs, options.maxClockDrift);
    // The quiet period protects leases resting on acknowledgements (heartbeats, votes) this node gave
    // before it restarted. Every acknowledgement is sent in a term ≥ 1 that this node had adopted and
    // persisted first (a heartbeat's or a candidate's term; terms start at 0 and every campaign
    // increments), so a durable term of 0 proves it never gave one: with fast start it needs no quiet.
    const neverAcknowledged = options.fastStart === true && durable.currentTerm === 0;
    this.quietUntil = neverAcknowledged ? now : now + config.timing.electionTimeoutMinMs;
    this.members = [...config.voters, ...config.observers];
    this.isVoter = config.voters.includes(config.id);
    this.currentTerm = durable.currentTerm;
    this.votedFor = durable.votedFor;
    this.log = durable.log;
    // §5.2: servers start up as followers (learners never campaign, so they need no election timer).
    this.role = this.isVoter ? 'follower' : 'learner';
    if (this.isVoter) this.resetElectionTimer(now);
    this.startEarlyIfConnected(now); // a lone voter is a quorum by itself
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** The single door (src/core/types.ts, Input): every host delivers messages and ticks here. */
  step(now: number, input: Input<RaftMessage>): void {
    applyInput(this, now, input);
    // And after: a leader whose election outlasted its grace (see becomeLeader) steps down at once.
    this.checkLease(now);
  }

  receive(now: number, from: NodeId, message: RaftMessage): void {
    // The lease is checked before any input is acted on: a leader resumed from a pause learns that its
    // lease ran out before it handles anything.
    this.checkLease(now);
    // Bounds (src/core/bounds.ts): no correct peer is 2^32 terms ahead, so such a term is forged or
    // corrupt; adopting it would spend the term space. Drop the message: Raft tolerates any loss.
    if (!believable(message.term, this.currentTerm, MAX_TERM_STEP)) {
      this.out.emit({ type: 'message-ignored', counter: 'term', value: message.term });
      return;
    }
    // A transfer vote is judged before the door, by the term and rounds this node knows now.
    const transferPromiseMs = message.type === 'RequestVote' ? this.transferPromiseMs(now, message) : null;
    if (message.term > this.currentTerm && this.adoptsTermOf(now, message, transferPromiseMs !== null)) {
      // §5.1: "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
      // follower." A heartbeat also names the sender as leader of that term.
      this.becomeFollower(now, message.term, message.type === 'AppendEntries' ? from : null);
    }
    switch (message.type) {
      case 'RequestVote':
        return this.handleRequestVote(now, from, message, transferPromiseMs);
      case 'RequestVoteResponse':
        return this.handleRequestVoteResponse(now, from, message);
      case 'PreVote':
        return this.handlePreVote(now, from, message);
      case 'PreVoteResponse':
        return this.handlePreVoteResponse(now, from, message);
      case 'AppendEntries':
        return this.handleAppendEntries(now, from, message);
      case 'AppendEntriesResponse':
        return this.handleAppendEntriesResponse(now, from, message);
      case 'TimeoutNow':
        return this.handleTimeoutNow(now, from, message);
    }
  }

  /**
   * Whether a message with a higher term makes this node adopt that term (§5.1). Three exceptions:
   * a PreVote asks about a term nobody has adopted, and a granted pre-vote answers one (thesis §9.6);
   * and with CheckQuorum, a RequestVote that reaches a node hearing a live leader is dropped whole,
   * term included (thesis §4.2.3), or its higher term alone would depose the leader — unless it is a
   * transfer vote this node may grant (`transferVote`, see transferPromiseMs).
   */
  private adoptsTermOf(now: number, message: RaftMessage, transferVote: boolean): boolean {
    switch (message.type) {
      case 'PreVote':
        return false;
      case 'PreVoteResponse':
        return !message.voteGranted;
      case 'RequestVote':
        return transferVote || !(this.options.checkQuorum && this.hearsLeader(now));
      default:
        return true;
    }
  }

  /**
   * A closed connection (src/core/types.ts, 'peer-down'). With PreVote and CheckQuorum, a follower whose
   * leader's connection closed stops counting that leader as heard and asks for pre-votes within one
   * heartbeat interval (random, so the followers of a dead leader do not all stand at once) rather than a
   * whole election timeout. A spurious reset is harmless: the followers that still hear the leader refuse
   * the pre-vote; and if a quorum was told the same lie, the leader it elects holds no lease until every
   * promise its voters made to the old one has certainly ended (docs/algorithms/raft.md, "Closed connections").
   */
  peerDown(now: number, peer: NodeId): void {
    this.connectedVoters.delete(peer);
    if (!this.options.preVote || !this.options.checkQuorum) return; // the paper's Raft would depose a live leader on a lie
    if (this.role !== 'follower' || peer !== this.leader) return;
    this.leaderConnectionClosed = true;
    this.electionDeadline = Math.min(this.electionDeadline, now + uniform(this.random, 0, this.config.timing.heartbeatMs));
  }

  /**
   * An established connection (src/core/types.ts, 'peer-up'). Fast start, a documented departure from
   * §5.2's full timeout (etcd's `adjustTicks`, which advances a member's election ticks once peers are
   * connected): a follower that has never adopted a term and knows no leader, once connected to a
   * quorum, campaigns after uniform [0, T_max − T_min). The fixed part T_min of the timeout is there so
   * that a live leader's heartbeat comes first; a node of term 0 has never heard one, and campaigning
   * early disrupts no one: its first campaign is for term 1, and every leader's term is at least 1, so
   * its RequestVote never carries a term above a leader's (and with PreVote, followers hearing a leader
   * refuse it first). The random part stays, so split votes stay as rare as in any election of §5.2;
   * elections are safe whenever they start.
   */
  peerUp(now: number, peer: NodeId): void {
    if (this.options.fastStart !== true || !this.config.voters.includes(peer)) return;
    this.connectedVoters.add(peer);
    this.startEarlyIfConnected(now);
  }

  /** Fast start (see peerUp): once, for a fresh follower connected to a quorum (a lone voter at once: no rival to split with). */
  private startEarlyIfConnected(now: number): void {
    if (this.options.fastStart !== true || this.startAdvanced || this.role !== 'follower' || this.currentTerm !== 0 || this.leader !== null) return;
    if (this.connectedVoters.size + 1 < majority(this.config.voters.length)) return;
    this.startAdvanced = true;
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.config.timing;
    const delay = this.config.voters.length === 1 ? 0 : uniform(this.random, 0, electionTimeoutMaxMs - electionTimeoutMinMs);
    this.electionDeadline = Math.min(this.electionDeadline, now + delay);
  }

  /**
   * Thesis §3.10 (etcd's MsgTimeoutNow): hand leadership to `to`, or to the voter that acknowledged the
   * newest heartbeat round (lowest id on a tie: the most up to date, as logs do not grow here). The
   * leader gives up its lease at once, BEFORE TimeoutNow leaves (the host drains the lease's end with
   * this step), and never again counts a round up to the current one; heartbeats during the transfer
   * repeat that round, so they keep followers quiet without promising anything new. Leases never
   * overlap: docs/algorithms/raft.md, "Leadership transfer".
   */
  transferLeadership(now: number, to: NodeId | null): void {
    this.checkLease(now);
    if (this.role !== 'leader' || this.transfer !== null) return;
    const target = to ?? this.transferTarget();
    if (target === null || target === this.id || !this.config.voters.includes(target)) return;
    this.transfer = { to: target, round: this.round, deadline: now + this.config.timing.electionTimeoutMinMs };
    this.leaseFloorRound = this.round;
    this.roundSentAt.clear();
    this.leaseHeld = false;
    this.leaseAcked = false;
    this.out.emit({ type: 'transfer-started', term: this.currentTerm, to: target, deadline: this.transfer.deadline });
    const timeoutNow: TimeoutNow = { type: 'TimeoutNow', term: this.currentTerm, round: this.round };
    this.out.send(target, timeoutNow);
  }

  /** The other voter that acknowledged the newest round (the lowest id first), or null in a cluster of one. */
  private transferTarget(): NodeId | null {
    let best: NodeId | null = null;
    let bestRound = -1;
    for (const voter of [...this.config.voters].sort((a, b) => a - b)) {
      if (voter === this.id) continue;
      const round = this.ackedRound.get(voter) ?? 0;
      if (round > bestRound) [best, bestRound] = [voter, round];
    }
    return best;
  }

  tick(now: number): void {
    this.checkLease(now);
    if (this.role === 'leader') {
      if (this.transfer !== null && now >= this.transfer.deadline) {
        // etcd abandons a transfer after an election timeout: the target did not win; lead on. The
        // next heartbeat starts a new round, and a lease can rest only on rounds after the floor.
        this.out.emit({ type: 'transfer-abandoned', term: this.currentTerm, to: this.transfer.to });
        this.transfer = null;
        this.heartbeatDeadline = now;
        // CheckQuorum's grace starts again, as for a new leader: one lease to have a new round
        // acknowledged by a quorum, or step down. (No lease is held meanwhile: leaseAcked is false.)
        this.leaseBase = now;
      }
      if (this.options.checkQuorum) this.refreshLease(now);
      if (now >= this.heartbeatDeadline) this.broadcastHeartbeat(now);
      return;
    }
    // §5.2: "If election timeout elapses without receiving AppendEntries from current leader or granting
    // vote to candidate: convert to candidate." A candidate whose election timed out (split vote) starts
    // a new one with a new randomized timeout; with PreVote (thesis §9.6) every attempt asks for
    // pre-votes first.
    if (this.isVoter && now >= this.electionDeadline) {
      if (this.options.preVote) this.becomePreCandidate(now);
      else this.becomeCandidate(now);
    }
  }

  nextDeadline(): number {
    if (this.role !== 'leader') return this.electionDeadline;
    // During a transfer the lease is given up and CheckQuorum waits for the transfer's end (checkLease).
    if (this.transfer !== null) return Math.min(this.heartbeatDeadline, this.transfer.deadline);
    if (!this.options.checkQuorum) return this.heartbeatDeadline;
    // A lease acknowledged but waiting for earlier promises to end starts at leaseNotBefore.
    const leaseStarts = this.leaseAcked && !this.leaseHeld ? this.leaseNotBefore : Infinity;
    return Math.min(this.heartbeatDeadline, this.leaseEnd(), leaseStarts);
  }

  takeOutput(): Output<RaftMessage, RaftDurable> {
    return this.out.take();
  }

  status(): Status {
    // Asked after every input: the same object while nothing in it changed (the simulator's hot path).
    const last = this.lastStatus;
    const lease = this.options.checkQuorum ? this.leaseHeld : undefined;
    if (last.role === this.role && last.leader === this.leader && last.term === this.currentTerm && last.lease === lease) return last;
    // Without CheckQuorum there is no lease to report (like Bully and ZAB).
    this.lastStatus =
      lease === undefined
        ? { id: this.id, role: this.role, leader: this.leader, term: this.currentTerm }
        : { id: this.id, role: this.role, leader: this.leader, term: this.currentTerm, lease };
    return this.lastStatus;
  }

  // ---- handlers -----------------------------------------------------------------------------------

  private handleRequestVote(now: number, candidate: NodeId, request: RequestVote, transferPromiseMs: number | null): void {
    // Dropped at the door (term and all): a node hearing a live leader does not even answer.
    if (request.term > this.currentTerm) return;
    const grant =
      request.term === this.currentTerm &&
      this.isVoter &&
      // Thesis §4.2.3 (with CheckQuorum): no vote while a live leader is heard; leases rest on it. A
      // transfer vote is the exception (etcd's campaignTransfer): the leader heard gave its lease up.
      (transferPromiseMs !== null || !(this.options.checkQuorum && this.hearsLeader(now))) &&
      // §5.2: at most one vote per term, first come first served (a repeated request is re-granted).
      (this.votedFor === null || this.votedFor === candidate) &&
      // §5.4.1: only to a candidate whose log is at least as up to date as ours.
      this.candidateLogIsUpToDate(request.lastLogIndex, request.lastLogTerm);
    if (grant) {
      this.votedFor = candidate;
      // The vote is durable before the grant is sent: a node that crashes and restarts must not vote
      // again in the same term. (persistDurable precedes the send in the same output batch.)
      this.persistDurable();
      // §5.2: granting a vote resets the election timer.
      this.resetElectionTimer(now);
    }
    const promiseUntil = transferPromiseMs !== null ? now + transferPromiseMs : this.quietUntil;
    const promiseMs = grant && this.options.checkQuorum ? Math.max(0, Math.ceil(promiseUntil - now)) : 0;
    const response: RequestVoteResponse = { type: 'RequestVoteResponse', term: this.currentTerm, voteGranted: grant, promiseMs };
    this.out.send(candidate, response);
  }

  private handleRequestVoteResponse(now: number, voter: NodeId, response: RequestVoteResponse): void {
    if (this.role !== 'candidate' || response.term !== this.currentTerm) return; // stale answer
    this.votes.set(voter, response.voteGranted);
    if (response.voteGranted && response.promiseMs > 0) {
      // The voter's promise ends within promiseMs of its clock, i.e. promiseMs/(1 − ρ) of real time after
      // it answered; our clock measures that as at most promiseMs(1 + ρ)/(1 − ρ).
      const rho = this.options.maxClockDrift;
      this.leaseNotBefore = Math.max(this.leaseNotBefore, now + (response.promiseMs * (1 + rho)) / (1 - rho));
    }
    // §5.2: a candidate wins with votes from a majority of the voters, for this term.
    if (tallyVotes(this.config.voters, this.votes) === 'won') this.becomeLeader(now);
  }

  /**
   * Thesis §9.6: a pre-vote is granted to a voter whose log is up to date (§5.4.1) for a term above ours,
   * and only when no live leader was heard within the minimum election timeout. Nothing changes here:
   * no term, no vote, no timer.
   */
  private handlePreVote(now: number, candidate: NodeId, request: PreVote): void {
    const grant =
      this.isVoter &&
      request.term > this.currentTerm &&
      !this.hearsLeader(now) &&
      this.candidateLogIsUpToDate(request.lastLogIndex, request.lastLogTerm);
    // A refusal carries our term, so a precandidate that is behind learns the current term.
    const response: PreVoteResponse = { type: 'PreVoteResponse', term: grant ? request.term : this.currentTerm, voteGranted: grant };
    this.out.send(candidate, response);
  }

  private handlePreVoteResponse(now: number, voter: NodeId, response: PreVoteResponse): void {
    // A refusal with a higher term has already made us a follower at the door.
    if (this.role !== 'precandidate') return;
    if (response.voteGranted ? response.term !== this.currentTerm + 1 : response.term !== this.currentTerm) return; // stale
    this.votes.set(voter, response.voteGranted);
    if (tallyVotes(this.config.voters, this.votes) === 'won') this.becomeCandidate(now);
  }

  private handleAppendEntries(now: number, leader: NodeId, request: AppendEntries): void {
    if (request.term < this.currentTerm) {
      // A stale leader learns the newer term from the refusal and steps down.
      this.out.send(leader, { type: 'AppendEntriesResponse', term: this.currentTerm, success: false, round: request.round });
      return;
    }
    // Same term: the sender won this term's election. §5.2: a candidate "recognizes the leader as
    // legitimate and returns to follower state" (and so does a precandidate).
    if (this.role === 'candidate' || this.role === 'precandidate') this.becomeFollower(now, this.currentTerm, leader);
    if (this.role === 'leader') {
      // Election safety makes a second leader of our term impossible among correct nodes; it can only
      // come from a peer that lost its durable state (a wiped data dir). Ignore it rather than crash:
      // the simulator's election-safety invariant reports such a case, and a real node keeps serving.
      return;
    }
    this.setLeader(leader);
    this.leaderConnectionClosed = false;
    if (this.promisedRound === 0) this.earlierPromiseUntil = this.quietUntil;
    this.promisedRound = Math.max(this.promisedRound, request.round);
    this.quietUntil = Math.max(this.quietUntil, now + this.config.timing.electionTimeoutMinMs);
    if (this.isVoter) this.resetElectionTimer(now);
    const response: AppendEntriesResponse = { type: 'AppendEntriesResponse', term: this.currentTerm, success: true, round: request.round };
    this.out.send(leader, response);
  }

  /**
   * A higher term has already made us a follower at the door. A leader with CheckQuorum counts the
   * acknowledgement: once a quorum of voters (itself included) acknowledged round r, its lease runs
   * from the send time of r.
   */
  private handleAppendEntriesResponse(now: number, from: NodeId, response: AppendEntriesResponse): void {
    if (this.role !== 'leader' || !this.options.checkQuorum || response.term !== this.currentTerm || !response.success) return;
    if (!this.config.voters.includes(from) || response.round > this.round) return;
    if (response.round <= (this.ackedRound.get(from) ?? 0)) return;
    this.ackedRound.set(from, response.round);
    this.renewLease(now);
  }

  /**
   * Thesis §3.10: the target of a transfer campaigns at once, skipping PreVote (its leader asked), unless
   * it has acknowledged a round after the transfer's (the leader gave up, and leads on with a lease that
   * rests on such rounds) or the message is stale.
   */
  private handleTimeoutNow(now: number, leader: NodeId, request: TimeoutNow): void {
    if (request.term !== this.currentTerm || this.role !== 'follower' || this.leader !== leader) return;
    if (this.promisedRound > request.round) return;
    this.becomeCandidate(now, request.round);
  }

  /**
   * Whether this node may vote for a transfer candidate although it hears a leader, and if so how long
   * its remaining promises run (ms; they become the vote's promiseMs); null when it may not. It may when
   * the request names a transfer from the leader of the term before it (our current term) after round n,
   * and every round of that leader we acknowledged (sent, if we are it) is at most n: the leader holds no
   * lease on those rounds any more, and a lease on a later round needs a quorum that includes a voter
   * who then refuses this vote (or who voted first and so left the leader's term). Promises to leaders of
   * earlier terms stand and are reported.
   */
  private transferPromiseMs(now: number, request: RequestVote): number | null {
    if (!this.options.checkQuorum || request.transfer === 0 || request.term !== this.currentTerm + 1) return null;
    const round = this.role === 'leader' ? this.round : this.promisedRound;
    if (round > request.transfer) return null;
    const earlier = round === 0 || this.role === 'leader' ? this.quietUntil : this.earlierPromiseUntil;
    return Math.max(0, earlier - now);
  }

  /** The lease runs from the send time of the highest round a quorum of voters (this leader included) acknowledged. */
  private renewLease(now: number): void {
    // Rounds still unacknowledged by a quorum are few (a heartbeat interval's worth in flight): find the
    // newest one a quorum has acknowledged now.
    const quorum = majority(this.config.voters.length);
    let quorumRound = 0;
    for (const round of this.roundSentAt.keys()) {
      if (round <= quorumRound || round <= this.leaseFloorRound) continue;
      let acks = 0;
      for (const voter of this.config.voters) if (voter === this.id || (this.ackedRound.get(voter) ?? 0) >= round) acks++;
      if (acks >= quorum) quorumRound = round;
    }
    if (quorumRound === 0) return; // not a new quorum round
    const sentAt = this.roundSentAt.get(quorumRound)!;
    for (const round of this.roundSentAt.keys()) if (round <= quorumRound) this.roundSentAt.delete(round);
    this.leaseBase = Math.max(this.leaseBase, sentAt);
    this.leaseAcked = true;
    this.refreshLease(now);
  }

  /** Holds the lease from its start (leaseNotBefore) until its end, announcing each new end. */
  private refreshLease(now: number): void {
    this.leaseHeld = this.leaseAcked && now >= this.leaseNotBefore && now < this.leaseEnd();
    if (!this.leaseHeld || this.leaseEnd() === this.announcedUntil) return;
    this.announcedUntil = this.leaseEnd();
    this.out.emit({ type: 'lease-renewed', term: this.currentTerm, until: this.announcedUntil });
  }

  // ---- role changes -------------------------------------------------------------------------------

  private becomeFollower(now: number, term: number, leader: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    this.leaseHeld = false;
    this.transfer = null;
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.promisedRound = 0;
      this.persistDurable();
    }
    this.role = this.isVoter ? 'follower' : 'learner';
    this.votes.clear();
    this.heartbeatDeadline = Infinity;
    if (wasLeader && this.isVoter) this.resetElectionTimer(now);
    this.setLeader(leader);
  }

  /**
   * Thesis §9.6: before disrupting anyone with a new term, ask whether a majority would vote for us in
   * term + 1. Our term, our vote and our log stay as they are.
   */
  private becomePreCandidate(now: number): void {
    if (!this.isVoter) throw new Error(`raft: learner ${this.id} cannot campaign`);
    if (this.atTermCeiling(now)) return;
    this.role = 'precandidate';
    this.setLeader(null);
    this.candidacyStartedAt = now;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer(now);
    if (tallyVotes(this.config.voters, this.votes) === 'won') {
      this.becomeCandidate(now); // a cluster of one
      return;
    }
    const request: PreVote = { type: 'PreVote', term: this.currentTerm + 1, lastLogIndex: this.log.length, lastLogTerm: this.lastLogTerm() };
    this.out.broadcast(this.config.voters, this.id, request);
  }

  /**
   * At the ceiling: never persist a term no node could read back. Stay a follower of this term (a leader
   * of it may still appear) and try again at the next timeout.
   */
  private atTermCeiling(now: number): boolean {
    if (increment(this.currentTerm, MAX_TERM) !== null) return false;
    this.out.emit({ type: 'ceiling-reached', counter: 'term', value: this.currentTerm });
    this.resetElectionTimer(now);
    return true;
  }

  /** `transfer`: the round after which the leader handed its leadership to us (RequestVote.transfer), or 0. */
  private becomeCandidate(now: number, transfer = 0): void {
    if (!this.isVoter) throw new Error(`raft: learner ${this.id} cannot campaign`);
    // §5.2: increment currentTerm, vote for self, reset election timer, send RequestVote to all others.
    if (this.atTermCeiling(now)) return;
    const term = this.currentTerm + 1;
    // Without PreVote the candidacy starts here; with it, when the pre-vote round started (the lease
    // of a leader it becomes is measured from the earlier of the two: both precede every vote).
    if (this.role !== 'precandidate') this.candidacyStartedAt = now;
    // Our own vote: our promise to the leader we last heard (if its connection closed early) must end too
    // — except, in a transfer, the promise to the leader who handed over (its lease is given up).
    this.leaseNotBefore = transfer > 0 && this.promisedRound > 0 ? this.earlierPromiseUntil : this.quietUntil;
    this.promisedRound = 0;
    this.role = 'candidate';
    this.currentTerm = term;
    this.votedFor = this.id;
    this.persistDurable();
    this.setLeader(null);
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer(now);
    this.out.emit({ type: 'election-started', term: this.currentTerm });
    if (tallyVotes(this.config.voters, this.votes) === 'won') {
      this.becomeLeader(now); // a cluster of one
      return;
    }
    const request: RequestVote = {
      type: 'RequestVote',
      term: this.currentTerm,
      lastLogIndex: this.log.length,
      lastLogTerm: this.lastLogTerm(),
      transfer,
    };
    this.out.broadcast(this.config.voters, this.id, request);
  }

  private becomeLeader(now: number): void {
    if (this.role !== 'candidate') throw new Error(`raft: node ${this.id} cannot lead from role ${this.role}`);
    this.role = 'leader';
    this.votes.clear();
    this.electionDeadline = Infinity;
    // CheckQuorum: until a quorum acknowledges a heartbeat, the votes (answers to requests sent after the
    // candidacy started) are what this leader has; it steps down one lease after that start without
    // a heartbeat quorum. It holds no lease until then.
    this.round = 0;
    this.roundSentAt.clear();
    this.ackedRound.clear();
    this.leaseBase = this.candidacyStartedAt;
    this.leaseHeld = false;
    this.leaseAcked = false;
    this.announcedUntil = -Infinity;
    this.transfer = null;
    this.leaseFloorRound = 0;
    this.setLeader(this.id);
    // §5.2: the new leader sends heartbeats at once "to establish its authority and prevent new elections".
    this.broadcastHeartbeat(now);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * The end of the lease (or of the grace before the first heartbeat quorum), by this node's clock. A
   * lone voter is its own quorum at every instant (no rival can be elected without its vote): its lease
   * never ends, so a timer that fires late (a loaded host) does not depose it.
   */
  private leaseEnd(): number {
    return this.config.voters.length === 1 ? Infinity : this.leaseBase + this.leaseMs;
  }

  /**
   * CheckQuorum (thesis §6.4): a leader whose lease ran out steps down — before any rival can be
   * elected, by the inequality of leaseDurationMs. It stays in its term, names no leader, and may
   * campaign again after an election timeout.
   */
  private checkLease(now: number): void {
    // During a transfer (at most an election timeout) the lease is already given up: stepping down would
    // only stop the heartbeats that keep the followers quiet while the target campaigns.
    if (this.role !== 'leader' || !this.options.checkQuorum || this.transfer !== null || now < this.leaseEnd()) return;
    this.becomeFollower(now, this.currentTerm, null);
  }

  /** Whether a live leader was heard within electionTimeoutMin (a leader hears itself). */
  private hearsLeader(now: number): boolean {
    return this.role === 'leader' || (now < this.quietUntil && !this.leaderConnectionClosed);
  }

  private broadcastHeartbeat(now: number): void {
    if (this.transfer !== null) {
      // During a transfer: repeat the given-up round, keeping followers quiet without a new promise.
      const heartbeat: AppendEntries = { type: 'AppendEntries', term: this.currentTerm, leaderCommit: 0, round: this.round };
      this.out.broadcast(this.members, this.id, heartbeat);
      this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
      return;
    }
    this.round++;
    if (this.options.checkQuorum) {
      this.roundSentAt.set(this.round, now);
      this.renewLease(now); // a cluster of one is its own quorum
    }
    const heartbeat: AppendEntries = { type: 'AppendEntries', term: this.currentTerm, leaderCommit: 0, round: this.round };
    this.out.broadcast(this.members, this.id, heartbeat);
    this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
  }

  /** §5.4.1: compare the last entries' terms; with equal terms, the longer log is more up to date. */
  private candidateLogIsUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    const myLastTerm = this.lastLogTerm();
    if (lastLogTerm !== myLastTerm) return lastLogTerm > myLastTerm;
    return lastLogIndex >= this.log.length;
  }

  private lastLogTerm(): number {
    return this.log.length === 0 ? 0 : this.log[this.log.length - 1]!.term;
  }

  /** A fresh random timeout each time, so that split votes resolve (§5.2). */
  private resetElectionTimer(now: number): void {
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.config.timing;
    this.electionDeadline = now + uniform(this.random, electionTimeoutMinMs, electionTimeoutMaxMs);
  }

  private setLeader(leader: NodeId | null): void {
    this.leader = leader;
  }

  private persistDurable(): void {
    this.out.persist({ currentTerm: this.currentTerm, votedFor: this.votedFor, log: this.log });
  }
}
