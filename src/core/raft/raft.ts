/**
 * Raft leader election (Ongaro & Ousterhout 2014, §5.1, §5.2, §5.4.1) as a pure state machine.
 *
 * Every input goes through one door (`receive`), where the term rules of §5.1 are applied once
 * (a higher term makes the receiver a follower of that term; a lower term is answered with the current
 * one so a stale sender learns it is stale), then the role's own handler runs.
 */
import { believable, increment, MAX_TERM, MAX_TERM_STEP } from '../bounds.js';
import { OutputBuffer } from '../output.js';
import { tallyVotes } from '../quorum.js';
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
  RaftDurable,
  RaftMessage,
  RequestVote,
  RequestVoteResponse,
} from './messages.js';

export type RaftRole = 'follower' | 'candidate' | 'leader' | 'learner';

export class RaftNode implements ElectionNode<RaftMessage, RaftDurable> {
  readonly id: NodeId;
  private readonly config: NodeConfig;
  private readonly random: Random;
  private readonly out = new OutputBuffer<RaftMessage, RaftDurable>();
  /** Voters and non-voters: the leader's heartbeats go to both. */
  private readonly members: readonly NodeId[];
  private readonly isVoter: boolean;

  // Durable state (Figure 2): persisted before any message that depends on it is sent.
  private currentTerm: number;
  private votedFor: NodeId | null;
  private readonly log: RaftDurable['log'];

  // Volatile state.
  private role: RaftRole;
  private leader: NodeId | null = null;
  /** Votes answered in the current candidacy (true = granted). */
  private votes = new Map<NodeId, boolean>();
  private electionDeadline = Infinity;
  private heartbeatDeadline = Infinity;

  constructor(config: NodeConfig, durable: RaftDurable, random: Random, now: number) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.members = [...config.voters, ...config.observers];
    this.isVoter = config.voters.includes(config.id);
    this.currentTerm = durable.currentTerm;
    this.votedFor = durable.votedFor;
    this.log = durable.log;
    // §5.2: servers start up as followers (learners never campaign, so they need no election timer).
    this.role = this.isVoter ? 'follower' : 'learner';
    if (this.isVoter) this.resetElectionTimer(now);
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** The single door (src/core/types.ts, Input): every host delivers messages and ticks here. */
  step(now: number, input: Input<RaftMessage>): void {
    applyInput(this, now, input);
  }

  receive(now: number, from: NodeId, message: RaftMessage): void {
    // Bounds (src/core/bounds.ts): no correct peer is 2^32 terms ahead, so such a term is forged or
    // corrupt; adopting it would spend the term space. Drop the message: Raft tolerates any loss.
    if (!believable(message.term, this.currentTerm, MAX_TERM_STEP)) {
      this.out.emit({ type: 'message-ignored', counter: 'term', value: message.term });
      return;
    }
    // §5.1: "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
    // follower." A heartbeat also names the sender as leader of that term.
    if (message.term > this.currentTerm) {
      this.becomeFollower(now, message.term, message.type === 'AppendEntries' ? from : null);
    }
    switch (message.type) {
      case 'RequestVote':
        return this.handleRequestVote(now, from, message);
      case 'RequestVoteResponse':
        return this.handleRequestVoteResponse(now, from, message);
      case 'AppendEntries':
        return this.handleAppendEntries(now, from, message);
      case 'AppendEntriesResponse':
        return this.handleAppendEntriesResponse(message);
    }
  }

  tick(now: number): void {
    if (this.role === 'leader') {
      if (now >= this.heartbeatDeadline) this.broadcastHeartbeat(now);
      return;
    }
    // §5.2: "If election timeout elapses without receiving AppendEntries from current leader or granting
    // vote to candidate: convert to candidate." A candidate whose election timed out (split vote) starts
    // a new one with a new randomized timeout.
    if (this.isVoter && now >= this.electionDeadline) this.becomeCandidate(now);
  }

  nextDeadline(): number {
    return this.role === 'leader' ? this.heartbeatDeadline : this.electionDeadline;
  }

  takeOutput(): Output<RaftMessage, RaftDurable> {
    return this.out.take();
  }

  status(): Status {
    return { id: this.id, role: this.role, leader: this.leader, term: this.currentTerm };
  }

  // ---- handlers -----------------------------------------------------------------------------------

  private handleRequestVote(now: number, candidate: NodeId, request: RequestVote): void {
    const grant =
      request.term === this.currentTerm &&
      this.isVoter &&
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
    const response: RequestVoteResponse = { type: 'RequestVoteResponse', term: this.currentTerm, voteGranted: grant };
    this.out.send(candidate, response);
  }

  private handleRequestVoteResponse(now: number, voter: NodeId, response: RequestVoteResponse): void {
    if (this.role !== 'candidate' || response.term !== this.currentTerm) return; // stale answer
    this.votes.set(voter, response.voteGranted);
    // §5.2: a candidate wins with votes from a majority of the voters, for this term.
    if (tallyVotes(this.config.voters, this.votes) === 'won') this.becomeLeader(now);
  }

  private handleAppendEntries(now: number, leader: NodeId, request: AppendEntries): void {
    if (request.term < this.currentTerm) {
      // A stale leader learns the newer term from the refusal and steps down.
      this.out.send(leader, { type: 'AppendEntriesResponse', term: this.currentTerm, success: false });
      return;
    }
    // Same term: the sender won this term's election. §5.2: a candidate "recognizes the leader as
    // legitimate and returns to follower state".
    if (this.role === 'candidate') this.becomeFollower(now, this.currentTerm, leader);
    if (this.role === 'leader') {
      // Election safety makes a second leader of our term impossible among correct nodes; it can only
      // come from a peer that lost its durable state (a wiped data dir). Ignore it rather than crash:
      // the simulator's election-safety invariant reports such a case, and a real node keeps serving.
      return;
    }
    this.setLeader(leader);
    if (this.isVoter) this.resetElectionTimer(now);
    const response: AppendEntriesResponse = { type: 'AppendEntriesResponse', term: this.currentTerm, success: true };
    this.out.send(leader, response);
  }

  private handleAppendEntriesResponse(_response: AppendEntriesResponse): void {
    // Term handling at the door is all election needs: a higher term has already made us a follower.
  }

  // ---- role changes -------------------------------------------------------------------------------

  private becomeFollower(now: number, term: number, leader: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.persistDurable();
    }
    this.role = this.isVoter ? 'follower' : 'learner';
    this.votes.clear();
    this.heartbeatDeadline = Infinity;
    if (wasLeader && this.isVoter) this.resetElectionTimer(now);
    this.setLeader(leader);
  }

  private becomeCandidate(now: number): void {
    if (!this.isVoter) throw new Error(`raft: learner ${this.id} cannot campaign`);
    // §5.2: increment currentTerm, vote for self, reset election timer, send RequestVote to all others.
    const term = increment(this.currentTerm, MAX_TERM);
    if (term === null) {
      // At the ceiling: never persist a term no node could read back. Stay a follower of this term (a
      // leader of it may still appear) and try again at the next timeout.
      this.out.emit({ type: 'ceiling-reached', counter: 'term', value: this.currentTerm });
      this.resetElectionTimer(now);
      return;
    }
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
    };
    this.out.broadcast(this.config.voters, this.id, request);
  }

  private becomeLeader(now: number): void {
    if (this.role !== 'candidate') throw new Error(`raft: node ${this.id} cannot lead from role ${this.role}`);
    this.role = 'leader';
    this.votes.clear();
    this.electionDeadline = Infinity;
    this.setLeader(this.id);
    // §5.2: the new leader sends heartbeats at once "to establish its authority and prevent new elections".
    this.broadcastHeartbeat(now);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private broadcastHeartbeat(now: number): void {
    const heartbeat: AppendEntries = { type: 'AppendEntries', term: this.currentTerm, leaderCommit: 0 };
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
