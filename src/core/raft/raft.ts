/**
 * Raft (Ongaro & Ousterhout 2014) as a pure state machine: leader election (§5.1, §5.2, §5.4.1), log
 * replication and commitment (§5.3, §5.4.2), log compaction with InstallSnapshot (§7), linearizable
 * reads by ReadIndex (thesis §6.4), with PreVote (Ongaro's thesis §9.6), CheckQuorum and a leader lease
 * (thesis §6.4, §4.2.3), leadership transfer (thesis §3.10) and single-server membership changes
 * (thesis §4.1–§4.2); the safety argument of the lease and the departures from the paper are in
 * docs/algorithms/raft.md.
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
  type Command,
  type ElectionNode,
  type Input,
  type Membership,
  type MembershipChange,
  type MembershipRefusal,
  type NodeConfig,
  type NodeId,
  type Output,
  type Random,
  type Status,
} from '../types.js';
import {
  MAX_COMMAND_CHARS,
  MAX_SNAPSHOT_CHARS,
  type AppendEntries,
  type AppendEntriesResponse,
  type InstallSnapshot,
  type InstallSnapshotResponse,
  type PreVote,
  type PreVoteResponse,
  type RaftDurable,
  type RaftMessage,
  type RequestVote,
  type RequestVoteResponse,
  type TimeoutNow,
} from './messages.js';
import { LeaderLease } from './lease.js';
import { FastStart } from './fast-start.js';
import { IncomingSnapshot } from './incoming-snapshot.js';
import { RaftLog } from './log.js';
import { PromisesToLeaders } from './promises.js';
import { ReadIndexQueue } from './reads.js';
import { LeadershipTransfer } from './transfer.js';
import { LeaderReplication } from './replication.js';
import { ConfigurationInUse } from './configuration.js';
import { changedMembership, startingMembership } from './membership.js';
import { defaultRaftOptions, type RaftOptions, type RaftRole } from './options.js';

export { defaultRaftOptions, type RaftOptions, type RaftRole } from './options.js';

export class RaftNode implements ElectionNode<RaftMessage, RaftDurable> {
  readonly id: NodeId;
  private readonly config: NodeConfig;
  private readonly random: Random;
  private readonly out = new OutputBuffer<RaftMessage, RaftDurable>();
  /** The configuration this node uses (thesis §4.1; configuration.ts): every quorum is counted among its voters. */
  private readonly configuration: ConfigurationInUse;
  private readonly options: RaftOptions;

  // Durable state (Figure 2): persisted before any message that depends on it is sent.
  private currentTerm: number;
  private votedFor: NodeId | null;
  /** The log and its snapshot (§5.3, §7). */
  private readonly log: RaftLog;

  // Volatile state on all servers (Figure 2).
  /** The highest index known committed. */
  private commitIndex: number;
  /** The highest index reported by a `committed` event in this incarnation (Figure 2's lastApplied). */
  private reportedIndex: number;

  // Volatile state.
  private role: RaftRole;
  private leader: NodeId | null = null;
  /** (Pre-)votes answered in the current (pre-)candidacy (true = granted). */
  private votes = new Map<NodeId, boolean>();
  private electionDeadline = Infinity;
  private heartbeatDeadline = Infinity;
  /** When the current (pre-)candidacy started, by this node's clock. */
  private candidacyStartedAt = 0;
  /** The last status handed out (see `status`). */
  private lastStatus: Status = { id: 0, role: '', leader: null, term: -1 };
  /** Leader: the last heartbeat round sent (0: none yet in this term). */
  private round = 0;

  // The parts, each owning its own state (one file each; docs/algorithms/raft.md lists them).
  /** The promises not to vote this node made to the leaders it heard (thesis §4.2.3). */
  private readonly promises: PromisesToLeaders;
  /** Follower: the leader's snapshot being received in chunks (Figure 13). */
  private readonly incoming = new IncomingSnapshot();
  /** Fast start (RaftOptions.fastStart). */
  private readonly fastStart: FastStart;
  /** Leader: the heartbeat rounds each voter acknowledged, and the lease resting on them (thesis §6.4, with CheckQuorum). */
  private readonly lease: LeaderLease;
  /** Leader: replication to each member (Figure 2, "Volatile state on leaders"), reset at each election. */
  private readonly replication: LeaderReplication;
  /** Leader: ReadIndex reads waiting for a heartbeat quorum or for this term's first commit (thesis §6.4). */
  private readonly reads: ReadIndexQueue;
  /** Leader: the leadership transfer under way, if any (thesis §3.10). */
  private readonly transfer: LeadershipTransfer;

  constructor(config: NodeConfig, durable: RaftDurable, random: Random, now: number, options: RaftOptions = defaultRaftOptions) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.options = options;
    this.lease = new LeaderLease(
      {
        id: this.id,
        voters: () => this.configuration.voters,
        isVoter: () => this.configuration.isVoter,
        renewed: (until) => this.out.emit({ type: 'lease-renewed', term: this.currentTerm, until }),
      },
      config.timing.electionTimeoutMinMs,
      options.maxClockDrift,
    );
    this.transfer = new LeadershipTransfer({
      id: this.id,
      voters: () => this.configuration.voters,
      term: () => this.currentTerm,
      lastIndex: () => this.log.lastIndex(),
      matchOf: (voter) => this.replication.matchOf(voter),
      ackedRound: (voter) => this.lease.ackedRound(voter),
      send: (to, message) => this.out.send(to, message),
      emit: (event) => this.out.emit(event),
    });
    this.reads = new ReadIndexQueue({
      readIndex: () => (this.committedInOwnTerm() ? this.commitIndex : null),
      emit: (event) => this.out.emit(event),
    });
    this.fastStart = new FastStart(options.fastStart === true, random, config.timing);
    // The quiet period protects leases resting on acknowledgements (heartbeats, votes) this node gave
    // before it restarted; a node that never adopted a term never gave one (see FastStart.isFresh).
    const neverAcknowledged = this.fastStart.isFresh(durable.currentTerm);
    const { electionTimeoutMinMs } = config.timing;
    this.promises = new PromisesToLeaders(neverAcknowledged ? now : now + electionTimeoutMinMs, electionTimeoutMinMs);
    this.currentTerm = durable.currentTerm;
    this.votedFor = durable.votedFor;
    this.log = new RaftLog(durable);
    this.replication = new LeaderReplication({
      id: this.id,
      log: this.log,
      members: () => this.configuration.members,
      term: () => this.currentTerm,
      commitIndex: () => this.commitIndex,
      round: () => this.round,
      send: (to, message) => this.out.send(to, message),
    });
    // Thesis §4.1: the latest configuration in the log (or the snapshot), else the one it was started with.
    this.configuration = new ConfigurationInUse(this.id, startingMembership(config), this.log);
    // A snapshot holds only committed entries: the state machine starts from it (types.ts, committed).
    this.commitIndex = this.reportedIndex = this.log.snapshotIndex();
    if (this.log.snapshot !== null) {
      const { index, term, data } = this.log.snapshot;
      this.out.emit({ type: 'snapshot-installed', index, term, snapshot: data });
    }
    this.out.emit({ type: 'membership-changed', index: this.configuration.index, membership: this.configuration.membership });
    // §5.2: servers start up as followers (learners never campaign, so they need no election timer).
    this.role = this.campaigns() ? 'follower' : 'learner';
    if (this.role === 'follower') this.resetElectionTimer(now);
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
      case 'InstallSnapshot':
        return this.handleInstallSnapshot(now, from, message);
      case 'InstallSnapshotResponse':
        return this.handleInstallSnapshotResponse(now, from, message);
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
    this.fastStart.disconnected(peer);
    if (!this.options.preVote || !this.options.checkQuorum) return; // the paper's Raft would depose a live leader on a lie
    if (this.role !== 'follower' || peer !== this.leader) return;
    this.promises.leaderConnectionLost();
    this.electionDeadline = Math.min(this.electionDeadline, now + uniform(this.random, 0, this.config.timing.heartbeatMs));
  }

  /**
   * An established connection (src/core/types.ts, 'peer-up'). With fast start, a fresh follower
   * connected to a quorum of voters campaigns early (fast-start.ts: a departure from §5.2's full timeout).
   */
  peerUp(now: number, peer: NodeId): void {
    if (!this.fastStart.enabled || !this.configuration.voters.includes(peer)) return;
    this.fastStart.connected(peer);
    this.startEarlyIfConnected(now);
  }

  /** Fast start (see peerUp): once, for a follower that has never adopted a term and knows no leader. */
  private startEarlyIfConnected(now: number): void {
    if (this.role !== 'follower' || this.currentTerm !== 0 || this.leader !== null) return;
    const delay = this.fastStart.earlyCampaignDelay(this.configuration.voters);
    if (delay !== null) this.electionDeadline = Math.min(this.electionDeadline, now + delay);
  }

  /**
   * Thesis §3.10 (etcd's MsgTimeoutNow): hand leadership to `to`, or to the most up-to-date voter (the
   * highest matchIndex, then the newest heartbeat round acknowledged, then the lowest id). The leader
   * gives up its lease at once, BEFORE TimeoutNow leaves (the host drains the lease's end with this
   * step), and never again counts a round up to the current one; heartbeats during the transfer repeat
   * that round, so they keep followers quiet without promising anything new. Leases never overlap:
   * docs/algorithms/raft.md, "Leadership transfer". It accepts no proposal meanwhile, and first brings
   * the target's log up to its own (§3.10): TimeoutNow leaves once the target's matchIndex is the last
   * index — within the same deadline, after which the transfer is abandoned.
   */
  transferLeadership(now: number, to: NodeId | null): void {
    this.checkLease(now);
    if (this.role !== 'leader' || this.transfer.underway) return;
    const target = this.transfer.start(to, this.round, now + this.config.timing.electionTimeoutMinMs);
    if (target === null) return;
    this.lease.giveUp(this.round);
    // Reads waiting for a new round would wait for the transfer's end: refuse them now (no leader to name).
    this.reads.refuseAll(null);
    if (!this.transfer.sendTimeoutNowIfCaughtUp()) this.replication.replicateTo(target);
  }

  /**
   * A client's command (types.ts, 'propose'). §5.3: the leader appends it to its log, makes it durable
   * (in this step's output, before the AppendEntries that carry it leave) and sends it to every
   * follower. A node that does not lead, a leader handing over (thesis §3.10), and a command longer than
   * MAX_COMMAND_CHARS (hosts check first, to say why) are refused.
   */
  propose(now: number, id: number, command: Command): void {
    this.checkLease(now);
    if (this.role !== 'leader' || this.transfer.underway || command.length > MAX_COMMAND_CHARS) {
      this.out.emit({ type: 'request-refused', id, leader: this.refusalLeader() });
      return;
    }
    this.appendOwnEntry(now, command, undefined, id);
    this.replication.replicateToAll();
  }

  /**
   * A change of membership (types.ts, 'change-membership'; thesis §4.1): the leader appends a
   * configuration entry — the current configuration with one server added, promoted or removed — and
   * uses it at once, committed or not; it replicates like any entry and is done when it commits. One
   * change at a time: refused ('change-pending') while the last configuration entry is uncommitted, and
   * until this leader has committed an entry of its own term (the correction of the single-server
   * algorithm on raft-dev, 2015: without it, a change made by a new leader and one made by its deposed
   * predecessor could each reach a different majority). A learner becomes a voter only once it holds
   * every committed entry ('not-caught-up', §4.2.1), or its arrival could stall commitment.
   */
  changeMembership(now: number, id: number, change: MembershipChange): void {
    this.checkLease(now);
    if (this.role !== 'leader' || this.transfer.underway) {
      this.out.emit({ type: 'request-refused', id, leader: this.refusalLeader() });
      return;
    }
    const next = this.nextMembership(change);
    if (typeof next === 'string') {
      // 'invalid' breaks a bound the host checks first (membership.ts); refused like a too-long command.
      this.out.emit(next === 'invalid' ? { type: 'request-refused', id, leader: null } : { type: 'request-refused', id, leader: null, reason: next });
      return;
    }
    this.appendOwnEntry(now, '', next, id);
    // (Still the leader: a change that removes it commits only once another voter holds it.)
    this.replication.replicateToAll();
  }

  /** The configuration `change` makes of the one in force, or why the leader refuses it now (see changeMembership). */
  private nextMembership(change: MembershipChange): Membership | MembershipRefusal | 'invalid' {
    if (this.changePending()) return 'change-pending';
    const next = changedMembership(this.configuration.membership, change);
    if (typeof next === 'string') return next;
    if (change.type === 'promote' && this.replication.matchOf(change.peer) < this.commitIndex) return 'not-caught-up';
    return next;
  }

  /**
   * Thesis §4.1: a configuration entry is uncommitted, or (raft-dev, 2015) this leader has not committed
   * an entry of its own term yet: no new change may start.
   */
  private changePending(): boolean {
    return this.configuration.index > this.commitIndex || !this.committedInOwnTerm();
  }

  /** A linearizable read (thesis §6.4, ReadIndex; see reads.ts), taken only by a leader that is not handing over. */
  read(now: number, id: number): void {
    this.checkLease(now);
    if (this.role !== 'leader' || this.transfer.underway) {
      this.out.emit({ type: 'request-refused', id, leader: this.refusalLeader() });
      return;
    }
    if (this.reads.arrive(id, this.lease.held, this.round)) return;
    // A new heartbeat round now, shared by every read that arrives before it leaves.
    this.heartbeatDeadline = Math.min(this.heartbeatDeadline, now);
  }

  /**
   * §7: the host's state machine holds every entry up to `index` in `snapshot`: keep the snapshot in
   * the durable state and drop the entries it covers. Only what was reported committed can be compacted.
   */
  compact(_now: number, index: number, snapshot: string): void {
    if (!this.compacts(index, snapshot)) return;
    this.log.compact(index, snapshot);
    this.persistDurable();
  }

  /** The durable `snapshot` that compact(index, snapshot) would hold now (ElectionNode.compactionPreview). */
  compactionPreview(index: number, snapshot: string): { readonly field: string; readonly value: unknown } | null {
    return this.compacts(index, snapshot) ? { field: 'snapshot', value: this.log.compacted(index, snapshot) } : null;
  }

  /** Whether compact(index, snapshot) compacts: past the current snapshot, reported committed, not too large. */
  private compacts(index: number, snapshot: string): boolean {
    return index > this.log.snapshotIndex() && index <= this.reportedIndex && snapshot.length <= MAX_SNAPSHOT_CHARS;
  }

  tick(now: number): void {
    this.checkLease(now);
    if (this.role === 'leader') {
      if (this.transfer.abandonIfExpired(now)) {
        // The target did not win; lead on. The next heartbeat starts a new round, and a lease can rest
        // only on rounds after the floor.
        this.heartbeatDeadline = now;
        // CheckQuorum's grace starts again, as for a new leader (no lease is held meanwhile).
        this.lease.restartGrace(now);
      }
      if (this.options.checkQuorum) this.lease.refresh(now);
      if (now >= this.heartbeatDeadline) this.broadcastHeartbeat(now);
      return;
    }
    // §5.2: "If election timeout elapses without receiving AppendEntries from current leader or granting
    // vote to candidate: convert to candidate." A candidate whose election timed out (split vote) starts
    // a new one with a new randomized timeout; with PreVote (thesis §9.6) every attempt asks for
    // pre-votes first — except, with fast start, a node of term 0 (see FastStart.isFresh).
    if (this.campaigns() && now >= this.electionDeadline) {
      if (this.options.preVote && !this.fastStart.isFresh(this.currentTerm)) this.becomePreCandidate(now);
      else this.becomeCandidate(now);
    }
  }

  nextDeadline(): number {
    if (this.role !== 'leader') return this.electionDeadline;
    // During a transfer the lease is given up and CheckQuorum waits for the transfer's end (checkLease).
    if (this.transfer.underway) return Math.min(this.heartbeatDeadline, this.transfer.deadline);
    if (!this.options.checkQuorum) return this.heartbeatDeadline;
    return Math.min(this.heartbeatDeadline, this.lease.nextDeadline());
  }

  takeOutput(): Output<RaftMessage, RaftDurable> {
    return this.out.take();
  }

  status(): Status {
    // Asked after every input: the same object while nothing in it changed (the simulator's hot path).
    const last = this.lastStatus;
    const lease = this.options.checkQuorum ? this.lease.held : undefined;
    if (last.role === this.role && last.leader === this.leader && last.term === this.currentTerm && last.lease === lease) return last;
    // Without CheckQuorum there is no lease to report (like Bully and ZAB).
    this.lastStatus =
      lease === undefined
        ? { id: this.id, role: this.role, leader: this.leader, term: this.currentTerm }
        : { id: this.id, role: this.role, leader: this.leader, term: this.currentTerm, lease };
    return this.lastStatus;
  }

  // ---- handlers -----------------------------------------------------------------------------------

  /**
   * Any node answers, whatever its own configuration says it is: the candidate counts the vote only if
   * its configuration makes this node a voter. Thesis §4.1: a server "grants its vote to a candidate that
   * is not part of the server's latest configuration"; and a learner votes (etcd's TestLearnerCanVote),
   * for it may have been promoted by an entry it has not received yet, and the cluster may need its vote.
   */
  private handleRequestVote(now: number, candidate: NodeId, request: RequestVote, transferPromiseMs: number | null): void {
    // Dropped at the door (term and all): a node hearing a live leader does not even answer.
    if (request.term > this.currentTerm) return;
    const grant =
      request.term === this.currentTerm &&
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
      // §5.2: granting a vote resets the election timer (a non-voter has none).
      if (this.campaigns()) this.resetElectionTimer(now);
    }
    const promiseUntil = transferPromiseMs !== null ? now + transferPromiseMs : this.promises.until;
    const promiseMs = grant && this.options.checkQuorum ? Math.max(0, Math.ceil(promiseUntil - now)) : 0;
    const response: RequestVoteResponse = { type: 'RequestVoteResponse', term: this.currentTerm, voteGranted: grant, promiseMs };
    this.out.send(candidate, response);
  }

  private handleRequestVoteResponse(now: number, voter: NodeId, response: RequestVoteResponse): void {
    if (this.role !== 'candidate' || response.term !== this.currentTerm) return; // stale answer
    this.votes.set(voter, response.voteGranted);
    if (response.voteGranted && response.promiseMs > 0) this.lease.awaitVoterPromise(now, response.promiseMs);
    // §5.2: a candidate wins with votes from a majority of the voters, for this term.
    if (tallyVotes(this.configuration.voters, this.votes) === 'won') this.becomeLeader(now);
  }

  /**
   * Thesis §9.6: a pre-vote is granted to a node whose log is up to date (§5.4.1) for a term above ours,
   * and only when no live leader was heard within the minimum election timeout. Nothing changes here:
   * no term, no vote, no timer. Like a vote, it is answered whatever this node's configuration says it
   * is (see handleRequestVote); a removed server's pre-vote is refused by every node that hears the
   * leader, or holds the entry that removed it (thesis §4.2.3).
   */
  private handlePreVote(now: number, candidate: NodeId, request: PreVote): void {
    const grant =
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
    if (tallyVotes(this.configuration.voters, this.votes) === 'won') this.becomeCandidate(now);
  }

  private handleAppendEntries(now: number, leader: NodeId, request: AppendEntries): void {
    if (request.term < this.currentTerm) {
      // A stale leader learns the newer term from the refusal and steps down.
      this.out.send(leader, { type: 'AppendEntriesResponse', term: this.currentTerm, success: false, round: request.round, matchIndex: 0 });
      return;
    }
    if (!this.hearLeader(now, leader, request.round)) return;
    let { prevLogIndex, prevLogTerm, entries } = request;
    const snapshotIndex = this.log.snapshotIndex();
    if (prevLogIndex < snapshotIndex) {
      // Entries up to our snapshot are committed, hence the leader's too (§5.4, Leader Completeness):
      // skip them, and check the rest against the snapshot's last entry.
      entries = entries.slice(Math.min(entries.length, snapshotIndex - prevLogIndex));
      prevLogIndex = snapshotIndex;
      prevLogTerm = this.log.snapshot!.term;
    }
    // §5.3: "Reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm."
    if (!this.logMatches(prevLogIndex, prevLogTerm)) {
      this.out.send(leader, { type: 'AppendEntriesResponse', term: this.currentTerm, success: false, round: request.round, matchIndex: this.log.conflictHint(prevLogIndex) });
      return;
    }
    const { changed, deletedFrom } = this.log.merge(prevLogIndex, entries);
    // Never for a correct leader (§5.4.3): a committed entry is in every later leader's log. Should a
    // broken core delete one, it is committed again from the leader's, and the replacement is reported
    // (the simulator's log checker sees two entries at one index).
    if (deletedFrom !== null && deletedFrom <= this.commitIndex) this.commitIndex = this.reportedIndex = deletedFrom - 1;
    if (changed) {
      this.persistDurable(); // before the answer leaves
      // Thesis §4.1: a configuration entry is in force as soon as it is in the log, and the one before it
      // again as soon as a conflicting leader's entries delete it.
      if ((deletedFrom !== null && deletedFrom <= this.configuration.index) || entries.some((entry) => entry.membership !== undefined)) this.useLatestMembership(now);
    }
    const lastNewIndex = prevLogIndex + entries.length;
    // Figure 2: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)."
    if (request.leaderCommit > this.commitIndex) this.commitUpTo(Math.min(request.leaderCommit, lastNewIndex));
    this.refreshRole(now); // a removed server that learns its removal committed stops campaigning
    const response: AppendEntriesResponse = { type: 'AppendEntriesResponse', term: this.currentTerm, success: true, round: request.round, matchIndex: lastNewIndex };
    this.out.send(leader, response);
  }

  /**
   * A message of this term's leader (AppendEntries, InstallSnapshot) arrived: follow it, reset the
   * election timer and promise not to vote for a while (CheckQuorum). False when this node is itself
   * the leader of the term: the message is ignored.
   */
  private hearLeader(now: number, leader: NodeId, round: number): boolean {
    // Same term: the sender won this term's election. §5.2: a candidate "recognizes the leader as
    // legitimate and returns to follower state" (and so does a precandidate).
    if (this.role === 'candidate' || this.role === 'precandidate') this.becomeFollower(now, this.currentTerm, leader);
    if (this.role === 'leader') {
      // Election safety makes a second leader of our term impossible among correct nodes; it can only
      // come from a peer that lost its durable state (a wiped data dir). Ignore it rather than crash:
      // the simulator's election-safety invariant reports such a case, and a real node keeps serving.
      return false;
    }
    this.setLeader(leader);
    this.promises.heard(now, round);
    if (this.campaigns()) this.resetElectionTimer(now);
    return true;
  }

  /** §5.3's consistency check: our log holds an entry at `index` of `term` (index 0: the empty prefix). */
  private logMatches(index: number, term: number): boolean {
    return this.log.termAt(index) === term;
  }

  /**
   * A higher term has already made us a follower at the door. The leader advances the follower's
   * nextIndex/matchIndex (§5.3) and commits what a quorum holds (§5.4.2); any answer of this term also
   * acknowledges its round (see acknowledged).
   */
  private handleAppendEntriesResponse(now: number, from: NodeId, response: AppendEntriesResponse): void {
    if (this.role !== 'leader' || response.term !== this.currentTerm || from === this.id || !this.configuration.members.includes(from)) return;
    if (response.success) {
      if (this.replication.matched(from, response.matchIndex)) {
        if (this.configuration.voters.includes(from)) this.advanceCommit(now);
        if (this.role !== 'leader') return;
      }
      this.replication.continueTo(from);
    } else {
      this.replication.rejected(from, response.matchIndex);
    }
    this.acknowledged(now, from, response.round);
    // Thesis §3.10: once the transfer's target holds our whole log, TimeoutNow leaves.
    if (this.role === 'leader') this.transfer.answered(from);
  }

  /**
   * A voter of this term answered heartbeat round `round`. With CheckQuorum the leader counts it for
   * its lease: once a quorum of voters (itself included) acknowledged round r, its lease runs from the
   * send time of r. ReadIndex reads waiting for a round are served when a quorum acknowledged it.
   */
  private acknowledged(now: number, from: NodeId, round: number): void {
    if (this.role !== 'leader' || !this.configuration.voters.includes(from) || round > this.round) return;
    if (!this.lease.acknowledge(from, round)) return;
    if (this.options.checkQuorum) this.lease.renew(now);
    this.serveReads();
  }

  /**
   * §7, Figure 13: a chunk of the leader's snapshot, taken in order (IncomingSnapshot); on the last, the
   * snapshot replaces the log — keeping the entries after it if our log holds its last entry (step 6) —
   * and the host's state machine (`snapshot-installed`).
   */
  private handleInstallSnapshot(now: number, leader: NodeId, request: InstallSnapshot): void {
    const { lastIncludedIndex: index, lastIncludedTerm: term, round } = request;
    const answer = (offset: number, done: boolean) => {
      const response: InstallSnapshotResponse = { type: 'InstallSnapshotResponse', term: this.currentTerm, lastIncludedIndex: index, offset, done, round };
      this.out.send(leader, response);
    };
    if (request.term < this.currentTerm) return answer(0, false);
    if (!this.hearLeader(now, leader, round)) return;
    // Everything it covers is committed here already: nothing to install.
    if (index <= this.commitIndex) return answer(request.offset + request.data.length, true);
    const received = this.incoming.receive(request);
    if (!received.done) return answer(received.offset, false);
    const { data } = received;
    const { membership } = request;
    this.log.install(membership === undefined ? { index, term, data } : { index, term, data, membership });
    this.commitIndex = this.reportedIndex = index;
    this.persistDurable();
    this.out.emit({ type: 'snapshot-installed', index, term, snapshot: data });
    // The snapshot's configuration, unless the entries kept after it hold a newer one (§7 step 6).
    this.useLatestMembership(now);
    this.refreshRole(now);
    answer(data.length, true);
  }

  private handleInstallSnapshotResponse(now: number, from: NodeId, response: InstallSnapshotResponse): void {
    if (this.role !== 'leader' || response.term !== this.currentTerm || from === this.id || !this.configuration.members.includes(from)) return;
    if (response.done) {
      if (this.replication.snapshotInstalled(from, response.lastIncludedIndex) && this.configuration.voters.includes(from)) this.advanceCommit(now);
      if (this.role === 'leader') this.replication.continueAfterSnapshot(from, response.lastIncludedIndex);
    } else {
      this.replication.chunkAcknowledged(from, response.lastIncludedIndex, response.offset);
    }
    this.acknowledged(now, from, response.round);
    // Thesis §3.10: once the transfer's target holds our whole log, TimeoutNow leaves.
    if (this.role === 'leader') this.transfer.answered(from);
  }

  /**
   * Thesis §3.10: the target of a transfer campaigns at once, skipping PreVote (its leader asked), unless
   * it has acknowledged a round after the transfer's (the leader gave up, and leads on with a lease that
   * rests on such rounds) or the message is stale.
   */
  private handleTimeoutNow(now: number, leader: NodeId, request: TimeoutNow): void {
    if (request.term !== this.currentTerm || this.role !== 'follower' || this.leader !== leader) return;
    if (this.promises.round > request.round) return;
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
    return this.promises.transferPromiseMs(now, request.transfer, this.role === 'leader' ? this.round : null);
  }

  // ---- role changes -------------------------------------------------------------------------------

  private becomeFollower(now: number, term: number, leader: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    this.lease.forfeit();
    this.transfer.cancel();
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.promises.newTerm();
      this.persistDurable();
    }
    this.role = this.campaigns() ? 'follower' : 'learner';
    this.votes.clear();
    this.heartbeatDeadline = Infinity;
    if (wasLeader && this.role === 'follower') this.resetElectionTimer(now);
    this.setLeader(leader);
    // A deposed leader answers its waiting reads: not ready here; try the leader it now knows.
    this.reads.refuseAll(leader);
  }

  /**
   * Thesis §9.6: before disrupting anyone with a new term, ask whether a majority would vote for us in
   * term + 1. Our term, our vote and our log stay as they are.
   */
  private becomePreCandidate(now: number): void {
    if (!this.campaigns()) throw new Error(`raft: learner ${this.id} cannot campaign`);
    if (this.atTermCeiling(now)) return;
    this.role = 'precandidate';
    this.setLeader(null);
    this.candidacyStartedAt = now;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer(now);
    if (tallyVotes(this.configuration.voters, this.votes) === 'won') {
      this.becomeCandidate(now); // a cluster of one
      return;
    }
    const request: PreVote = { type: 'PreVote', term: this.currentTerm + 1, lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm() };
    this.out.broadcast(this.configuration.voters, this.id, request);
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
    if (!this.campaigns()) throw new Error(`raft: learner ${this.id} cannot campaign`);
    // §5.2: increment currentTerm, vote for self, reset election timer, send RequestVote to all others.
    if (this.atTermCeiling(now)) return;
    const term = this.currentTerm + 1;
    // Without PreVote the candidacy starts here; with it, when the pre-vote round started (the lease
    // of a leader it becomes is measured from the earlier of the two: both precede every vote).
    if (this.role !== 'precandidate') this.candidacyStartedAt = now;
    // Our own vote: its promise must end too (PromisesToLeaders.campaign).
    this.lease.startCandidacy(this.promises.campaign(transfer));
    this.role = 'candidate';
    this.currentTerm = term;
    this.votedFor = this.id;
    this.persistDurable();
    this.setLeader(null);
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer(now);
    this.out.emit({ type: 'election-started', term: this.currentTerm });
    if (tallyVotes(this.configuration.voters, this.votes) === 'won') {
      this.becomeLeader(now); // a cluster of one
      return;
    }
    const request: RequestVote = {
      type: 'RequestVote',
      term: this.currentTerm,
      lastLogIndex: this.log.lastIndex(),
      lastLogTerm: this.log.lastTerm(),
      transfer,
    };
    this.out.broadcast(this.configuration.voters, this.id, request);
  }

  private becomeLeader(now: number): void {
    if (this.role !== 'candidate') throw new Error(`raft: node ${this.id} cannot lead from role ${this.role}`);
    this.role = 'leader';
    this.votes.clear();
    this.electionDeadline = Infinity;
    // CheckQuorum: the lease's grace runs from the candidacy's start (see LeaderLease.lead).
    this.round = 0;
    this.lease.lead(this.candidacyStartedAt);
    this.transfer.cancel();
    this.setLeader(this.id);
    this.replication.lead();
    // Thesis §6.4 / paper §8: a blank entry of the new term at once, so that the leader can commit (and
    // with it every earlier entry, §5.4.2) and serve reads without waiting for a client's write.
    this.appendOwnEntry(now, '');
    // §5.2: the new leader sends heartbeats at once "to establish its authority and prevent new elections";
    // they carry the blank entry.
    this.broadcastHeartbeat(now);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * CheckQuorum (thesis §6.4): a leader whose lease ran out steps down — before any rival can be
   * elected, by the inequality of leaseDurationMs. It stays in its term, names no leader, and may
   * campaign again after an election timeout.
   */
  private checkLease(now: number): void {
    // During a transfer (at most an election timeout) the lease is already given up: stepping down would
    // only stop the heartbeats that keep the followers quiet while the target campaigns.
    if (this.role !== 'leader' || !this.options.checkQuorum || this.transfer.underway || now < this.lease.expiresAt()) return;
    this.becomeFollower(now, this.currentTerm, null);
  }

  /** Whether a live leader was heard within electionTimeoutMin (a leader hears itself). */
  private hearsLeader(now: number): boolean {
    return this.role === 'leader' || this.promises.hearsLeader(now);
  }

  /**
   * §5.2: a heartbeat to every other member, carrying what it still lacks (LeaderReplication.heartbeat).
   * During a transfer the given-up round is repeated, keeping followers quiet without a new promise.
   */
  private broadcastHeartbeat(now: number): void {
    if (!this.transfer.underway) {
      this.round++;
      if (this.options.checkQuorum) {
        // Nobody has acknowledged it yet: `acknowledged` ignores rounds above the last one sent.
        this.lease.sent(this.round, now); // a cluster of one is its own quorum
      }
    }
    this.replication.heartbeat();
    this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
    this.serveReads(); // a cluster of one acknowledges its own rounds
  }

  /** The leader appends an entry of its term, durably (before this step's messages leave); returns its index. */
  private appendOwnEntry(now: number, command: Command, membership?: Membership, proposal?: number): number {
    const index = this.log.append(this.currentTerm, command, membership);
    this.persistDurable();
    if (membership !== undefined) this.useMembership(now, index, membership); // thesis §4.1: in force at once
    // A client's entry is announced ('proposed') before the 'committed' that answers it (types.ts): a
    // cluster of one commits at once, right below.
    if (proposal !== undefined) this.out.emit({ type: 'proposed', id: proposal, index, term: this.currentTerm });
    this.advanceCommit(now); // a cluster of one commits at once
    return index;
  }

  /**
   * §5.3/§5.4.2: the highest index a quorum of voters holds (the leader holds its whole log) is
   * committed — if its entry is of the leader's own term, which commits every entry before it too.
   * An entry of an earlier term is never committed by counting its replicas (Figure 8). The quorum is
   * of the configuration in use (thesis §4.1); a leader it no longer names does not count itself.
   */
  private advanceCommit(now: number): void {
    const { voters } = this.configuration;
    if (this.role !== 'leader' || voters.length === 0) return;
    const quorumIndex = this.replication.quorumIndex(voters, majority(voters.length));
    if (quorumIndex <= this.commitIndex || !this.commitsByCounting(quorumIndex)) return;
    this.commitUpTo(quorumIndex);
    this.serveReads();
    this.stepDownIfRemoved(now);
  }

  /**
   * Thesis §4.2.2: a leader that is not a voter of its configuration (it removed itself) manages the
   * cluster until that configuration entry commits, then steps down. Its last AppendEntries tell the
   * members the entry is committed; the voters elect a leader among themselves once their election
   * timeouts run out (a host that wants it sooner transfers leadership before removing the leader).
   */
  private stepDownIfRemoved(now: number): void {
    if (this.role !== 'leader' || this.configuration.isVoter || this.commitIndex < this.configuration.index) return;
    this.replication.replicateToAll();
    this.becomeFollower(now, this.currentTerm, null);
  }

  /** §5.4.2: "only log entries from the leader's current term are committed by counting replicas". */
  private commitsByCounting(index: number): boolean {
    return this.log.termAt(index) === this.currentTerm;
  }

  /** Advances commitIndex to `index` and reports each newly committed entry, in index order (types.ts, committed). */
  private commitUpTo(index: number): void {
    if (index <= this.commitIndex) return;
    this.commitIndex = index;
    while (this.reportedIndex < this.commitIndex) {
      const next = this.reportedIndex + 1;
      const entry = this.log.entryAt(next);
      this.reportedIndex = next;
      this.out.emit({ type: 'committed', index: next, term: entry.term, command: entry.command ?? '' });
    }
  }

  /** Whether an entry of the leader's own term is committed (its no-op): thesis §6.4's precondition for reads. */
  private committedInOwnTerm(): boolean {
    return this.log.termAt(this.commitIndex) === this.currentTerm;
  }

  /** Answers the waiting reads whose round a quorum of voters acknowledged, once this term has committed. */
  private serveReads(): void {
    if (!this.reads.waiting || this.role !== 'leader') return;
    this.reads.serve(this.lease.quorumRound(this.round));
  }

  /** The leader a refused request is pointed at: the one this node knows, none while it hands over. */
  private refusalLeader(): NodeId | null {
    return this.role === 'leader' ? null : this.leader;
  }

  /** §5.4.1: compare the last entries' terms; with equal terms, the longer log is more up to date. */
  private candidateLogIsUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    const myLastTerm = this.log.lastTerm();
    if (lastLogTerm !== myLastTerm) return lastLogTerm > myLastTerm;
    return lastLogIndex >= this.log.lastIndex();
  }

  /** A fresh random timeout each time, so that split votes resolve (§5.2). */
  private resetElectionTimer(now: number): void {
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.config.timing;
    this.electionDeadline = now + uniform(this.random, electionTimeoutMinMs, electionTimeoutMaxMs);
  }

  /** Thesis §4.1: the latest configuration in the log (or the snapshot), else the starting one. */
  private useLatestMembership(now: number): void {
    const latest = this.configuration.latestIn(this.log);
    this.useMembership(now, latest.index, latest.membership);
  }

  /**
   * Puts the configuration of the entry at `index` in force (thesis §4.1), and reports it when it
   * differs from the one in force. A leader starts replicating to the members it adds — from the
   * configuration entry on, the consistency check walking back as for any follower (Figure 2) — and
   * forgets what it knew of those it removes (one added again later may come back with an empty log). A
   * node that becomes a voter starts its election timer; one that stops campaigning (see `campaigns`)
   * stops it. A leader leads on until the entry commits (§4.2.2).
   */
  private useMembership(now: number, index: number, membership: Membership): void {
    if (!this.configuration.use(index, membership)) return;
    this.out.emit({ type: 'membership-changed', index, membership });
    this.refreshRole(now);
    if (this.role === 'leader') {
      for (const removed of this.replication.membersChanged(index)) this.lease.forget(removed);
    }
    this.lease.recount(); // the voters changed: so may each pending round's count
  }

  /** Whether this node campaigns when its election timer runs out (ConfigurationInUse.campaigns, thesis §4.2.2). */
  private campaigns(): boolean {
    return this.configuration.campaigns(this.commitIndex);
  }

  /** A node that does not lead is a 'follower' with an election timer while it campaigns, else a 'learner' without one. */
  private refreshRole(now: number): void {
    if (this.role === 'leader') return;
    const campaigns = this.campaigns();
    if (campaigns && this.role === 'learner') {
      this.role = 'follower';
      this.resetElectionTimer(now);
    } else if (!campaigns && this.role !== 'learner') {
      this.role = 'learner';
      this.votes.clear();
      this.electionDeadline = Infinity;
    }
  }

  private setLeader(leader: NodeId | null): void {
    this.leader = leader;
  }

  private persistDurable(): void {
    this.out.persist({ currentTerm: this.currentTerm, votedFor: this.votedFor, ...this.log.durable() });
  }
}
