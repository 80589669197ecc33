/**
 * A ZooKeeper server's election life as a pure state machine (QuorumPeer's main loop):
 *
 *   LOOKING   -- FastLeaderElection settles on a vote -->  LEADING | FOLLOWING | OBSERVING
 *   LEADING   -- discovery + synchronization with a quorum --> established (status().leader === id)
 *   any other -- its leader or its quorum is lost, or the handshake fails --> LOOKING
 *
 * Every input comes through `receive` or `tick`. Notifications are answered here whatever the state,
 * as ZooKeeper's WorkerReceiver does: a node out of the election tells a LOOKING peer whom it follows.
 */
import { believable, MAX_EPOCH_STEP, MAX_TERM_STEP } from '../bounds.js';
import { OutputBuffer } from '../output.js';
import {
  applyInput,
  type Command,
  type MembershipRefusal,
  type ElectionNode,
  type Input,
  type NodeConfig,
  type NodeId,
  type Output,
  type Random,
  type Status,
  type Timing,
} from '../types.js';
import { FastLeaderElection, toNotification, totalOrderPredicate, type Decision, type ElectionTiming, type Vote } from './election.js';
import { LeaderSession, type PhaseHost, type PhaseStep } from './establishment.js';
import { LearnerSession } from './learner.js';
import { historyFields, historyOf, type ZabLog } from './log.js';
import {
  epochOfZxid,
  MAX_COMMAND_LENGTH,
  MAX_SNAPSHOT_LENGTH,
  type Notification,
  type ServerState,
  type ZabDurable,
  type ZabMessage,
  type ZabSnapshot,
} from './messages.js';

export type ZabOptions = ElectionTiming;

/** ZooKeeper's FastLeaderElection constants, except the re-send cap (docs/algorithms/zab.md). */
export const defaultZabOptions: ZabOptions = {
  finalizeWaitMs: 200,
  minNotificationIntervalMs: 200,
  maxNotificationIntervalMs: 800,
};

type Phase =
  | { readonly state: 'looking' }
  | { readonly state: 'following' | 'observing'; readonly learner: LearnerSession }
  | { readonly state: 'leading'; readonly leader: LeaderSession };

export class ZabNode implements ElectionNode<ZabMessage, ZabDurable> {
  readonly id: NodeId;
  private readonly config: NodeConfig;
  private readonly out = new OutputBuffer<ZabMessage, ZabDurable>();
  private readonly isVoter: boolean;
  private readonly fle: FastLeaderElection;
  private readonly host: PhaseHost;

  // Durable state (Zab's acceptedEpoch, currentEpoch and history).
  private durable: ZabDurable;
  /** The history (durable: written into `durable` with each batch that changed it). */
  private readonly log: ZabLog;
  private logDirty = false;
  /** The position up to which the history was delivered (`committed` events) in this incarnation. */
  private committed: number;

  // Volatile state.
  private phase: Phase = { state: 'looking' };
  /** The vote this node settled on when it left LOOKING (ZooKeeper's currentVote). */
  private settledVote: Vote | null = null;
  /** The decision that ended the last election, for tests and timelines. */
  private lastDecisionValue: Decision | null = null;
  /** FOLLOWERINFO/OBSERVERINFO received while still LOOKING: handled on becoming LEADING (a listen backlog). */
  private readonly earlyInfos = new Map<NodeId, ZabMessage>();
  /**
   * Voters that told us, during this LOOKING period, that they were still FOLLOWING/LEADING: our vote
   * reached them while they were not looking, so they never tallied it (extension, see answerLooking).
   */
  private readonly missedOurVote = new Set<NodeId>();
  /** Observers that asked for our vote during the last LOOKING period: told once we are established. */
  private readonly askedBy = new Set<NodeId>();
  /** The last LOOKING notification of each voter during this LOOKING period (to spot repeats). */
  private readonly lastHeardVote = new Map<NodeId, Notification>();

  constructor(config: NodeConfig, durable: ZabDurable, _random: Random, now: number, private readonly options: ZabOptions = defaultZabOptions) {
    this.id = config.id;
    this.config = config;
    this.log = historyOf(durable);
    this.durable = { ...durable, lastZxid: this.log.lastZxid };
    this.committed = this.log.snapshot.index;
    this.isVoter = config.voters.includes(config.id);
    // Restarting from a snapshot: the state machine starts from it (types.ts, snapshot-installed).
    if (durable.snapshot && durable.snapshot.index > 0) this.out.emit({ type: 'snapshot-installed', ...this.snapshotEvent(durable.snapshot) });
    this.fle = new FastLeaderElection(
      {
        id: this.id,
        voters: config.voters,
        initialProposal: () =>
          this.isVoter ? { leader: this.id, zxid: this.durable.lastZxid, peerEpoch: this.durable.currentEpoch } : null,
        send: (to, notification) => this.out.send(to, notification),
        emit: (event) => this.out.emit(event),
      },
      options,
    );
    this.host = {
      id: this.id,
      voters: config.voters,
      durable: () => this.durable,
      update: (changes) => {
        this.durable = { ...this.durable, ...changes };
        this.out.persist(this.durable);
      },
      log: this.log,
      logChanged: () => {
        this.logDirty = true;
        this.durable = { ...this.durable, lastZxid: this.log.lastZxid };
      },
      committedIndex: () => this.committed,
      commit: (index) => this.deliver(index),
      installSnapshot: (snapshot) => {
        if (snapshot.index <= this.committed) return;
        this.committed = snapshot.index;
        this.out.emit({ type: 'snapshot-installed', ...this.snapshotEvent(snapshot) });
      },
      send: (to, message) => this.out.send(to, message),
      emit: (event) => this.out.emit(event),
    };
    // A server starts LOOKING.
    this.lookForLeader(now);
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** The single door (src/core/types.ts, Input): every host delivers messages and ticks here. */
  step(now: number, input: Input<ZabMessage>): void {
    applyInput(this, now, input);
  }

  receive(now: number, from: NodeId, message: ZabMessage): void {
    if (this.implausible(message)) return;
    if (message.type === 'Notification') {
      this.receiveNotification(now, from, message);
      return;
    }
    const phase = this.phase;
    switch (phase.state) {
      case 'looking':
        if (message.type === 'FollowerInfo' || message.type === 'ObserverInfo') this.earlyInfos.set(from, message);
        return;
      case 'leading':
        this.actOnPhase(now, phase.leader.receive(now, from, message));
        return;
      case 'following':
      case 'observing':
        this.actOnPhase(now, phase.learner.receive(now, from, message));
        return;
    }
  }

  /**
   * The connection to our leader closed: a ZooKeeper follower's read from the leader's socket fails at
   * once (Follower.followLeader), it shuts the session down and goes LOOKING, without waiting out its
   * syncLimit. Anything else (a learner's socket closing at the leader, a peer while LOOKING) waits
   * for the timeouts, as in ZooKeeper.
   */
  peerDown(now: number, peer: NodeId): void {
    const phase = this.phase;
    if ((phase.state === 'following' || phase.state === 'observing') && phase.learner.leader === peer) this.lookForLeader(now);
  }

  tick(now: number): void {
    const phase = this.phase;
    switch (phase.state) {
      case 'looking': {
        const decision = this.fle.tick(now);
        if (decision) this.settle(now, decision);
        return;
      }
      case 'leading':
        this.actOnPhase(now, phase.leader.tick(now));
        return;
      case 'following':
      case 'observing':
        this.actOnPhase(now, phase.learner.tick(now));
        return;
    }
  }

  nextDeadline(): number {
    const phase = this.phase;
    switch (phase.state) {
      case 'looking':
        return this.fle.nextDeadline();
      case 'leading':
        return phase.leader.nextDeadline();
      case 'following':
      case 'observing':
        return phase.learner.nextDeadline();
    }
  }

  takeOutput(): Output<ZabMessage, ZabDurable> {
    if (this.logDirty) {
      this.logDirty = false;
      const { acceptedEpoch, currentEpoch } = this.durable;
      this.durable = { acceptedEpoch, currentEpoch, ...historyFields(this.log) };
      this.out.persist(this.durable);
    }
    return this.out.take();
  }

  // ---- replication (types.ts, Input 'propose' | 'read' | 'compact') --------------------------------

  /** A client's command: the established leader proposes it; anyone else refuses, naming its leader. */
  propose(_now: number, id: number, command: Command): void {
    const phase = this.phase;
    const accepted = phase.state === 'leading' && command.length <= MAX_COMMAND_LENGTH ? phase.leader.propose(command) : null;
    if (accepted) this.out.emit({ type: 'proposed', id, ...accepted });
    else this.out.emit({ type: 'request-refused', id, leader: this.currentLeader() === this.id ? null : this.currentLeader() });
  }

  /** Membership is fixed at start here (Algorithm.membershipChange): every change is refused as such. */
  refuse(id: number, reason: MembershipRefusal): void {
    this.out.emit({ type: 'request-refused', id, leader: this.currentLeader(), reason });
  }

  /** A linearizable read: the established leader's barrier (LeaderSession.read); anyone else refuses. */
  read(now: number, id: number): void {
    const phase = this.phase;
    if (phase.state === 'leading' && phase.leader.read(now, id)) return;
    this.out.emit({ type: 'request-refused', id, leader: this.currentLeader() === this.id ? null : this.currentLeader() });
  }

  /** The host's state machine holds every entry up to `index` in `snapshot`: keep it, drop those entries. */
  compact(_now: number, index: number, snapshot: string): void {
    if (this.compactionPreview(index, snapshot) === null) return;
    this.log.compact(index, snapshot);
    this.logDirty = true;
  }

  /** The durable `snapshot` that compact(index, snapshot) would hold now (ElectionNode.compactionPreview). */
  compactionPreview(index: number, snapshot: string): { readonly field: string; readonly value: unknown } | null {
    if (index <= this.log.snapshot.index || index > this.committed || snapshot.length > MAX_SNAPSHOT_LENGTH) return null;
    const zxid = this.log.zxidAt(index);
    return zxid === null ? null : { field: 'snapshot', value: { index, zxid, data: snapshot } };
  }

  /** Reports the history up to `index` as committed, in order, each position once. */
  private deliver(index: number): void {
    const upTo = Math.min(index, this.log.lastIndex);
    for (let position = this.committed + 1; position <= upTo; position++) {
      const entry = this.log.entry(position);
      if (entry === null) break;
      this.out.emit({ type: 'committed', index: position, term: epochOfZxid(entry.zxid), command: entry.command });
      this.committed = position;
    }
  }

  private snapshotEvent(snapshot: ZabSnapshot): { index: number; term: number; snapshot: string } {
    return { index: snapshot.index, term: epochOfZxid(snapshot.zxid), snapshot: snapshot.data };
  }

  status(): Status {
    return { id: this.id, role: this.phase.state, leader: this.currentLeader(), term: this.durable.currentEpoch };
  }

  // ---- for tests, timelines and the curious -------------------------------------------------------

  get state(): ServerState {
    return this.phase.state;
  }

  /** The election round (FLE's logical clock). */
  get round(): number {
    return this.fle.round;
  }

  get durableState(): ZabDurable {
    return this.durable;
  }

  /** The history as this node holds it (for tests and the curious). */
  get history(): ZabLog {
    return this.log;
  }

  /** The position up to which this node delivered the history. */
  get committedIndex(): number {
    return this.committed;
  }

  /** How the last election ended for this node (null before the first one ends). */
  get lastDecision(): Decision | null {
    return this.lastDecisionValue;
  }

  /** While LEADING: the voters that acknowledged NEWLEADER (the quorum that established the leader). */
  get establishedBy(): readonly NodeId[] | null {
    return this.phase.state === 'leading' && this.phase.leader.isEstablished ? this.phase.leader.establishedBy : null;
  }

  /** The stage of the Zab phases this node is in, e.g. 'leading/discovery' or 'following/serving'. */
  get stage(): string {
    const phase = this.phase;
    switch (phase.state) {
      case 'looking':
        return this.fle.finalizing ? 'looking/finalizing' : 'looking';
      case 'leading':
        return `leading/${phase.leader.phase}`;
      case 'following':
      case 'observing':
        return `${phase.state}/${phase.learner.stage}`;
    }
  }

  // ---- FastLeaderElection -------------------------------------------------------------------------

  private receiveNotification(now: number, from: NodeId, n: Notification): void {
    if (!this.config.voters.includes(from)) {
      // A non-voter (an observer) asks for our vote: answer at once, never count it.
      if (!this.isVoter) return;
      this.answer(from);
      if (this.phase.state === 'looking') this.askedBy.add(from);
      return;
    }
    if (this.phase.state !== 'looking') {
      // Out of the election: tell a LOOKING voter whom we follow, so it can join without an election.
      if (n.state === 'looking' && this.isVoter) this.answer(from);
      return;
    }
    if (this.isVoter) this.answerLooking(from, n);
    const decision = this.fle.receive(now, from, n);
    if (decision) this.settle(now, decision);
  }

  /** ZooKeeper's WorkerReceiver, while LOOKING: who gets our vote back. */
  private answerLooking(from: NodeId, n: Notification): void {
    if (n.state !== 'looking') {
      this.missedOurVote.add(from);
      return;
    }
    // FLE: a voter still in an earlier round gets our vote back, so it catches up.
    if (n.electionEpoch < this.fle.round) {
      this.answer(from);
      return;
    }
    // Extensions, both for peers of our round that evidently never tallied our vote. ZooKeeper leaves
    // them to our next re-send, which may never come: every notification we receive restarts our poll.
    // ZooKeeper gets away with it because TCP does the work: a crashed leader's closed connections send
    // all its followers LOOKING at the same instant, and a connection coming back up re-sends the last
    // notification. Here (and in ballot's runtime) followers notice by timeout, at different times.
    //  - a voter that was still FOLLOWING/LEADING when our vote reached it, now LOOKING with another vote;
    //  - a voter that repeats (re-sends) a vote that ours beats: it has not seen ours.
    const previous = this.lastHeardVote.get(from);
    this.lastHeardVote.set(from, n);
    const own = this.fle.currentVote();
    if (!own || own.electionEpoch !== n.electionEpoch) return;
    const differs = own.leader !== n.leader || own.zxid !== n.zxid || own.peerEpoch !== n.peerEpoch;
    const repeated =
      previous !== undefined &&
      previous.electionEpoch === n.electionEpoch &&
      previous.leader === n.leader &&
      previous.zxid === n.zxid &&
      previous.peerEpoch === n.peerEpoch;
    if (this.missedOurVote.delete(from) ? differs : repeated && n.leader !== null && totalOrderPredicate(own, { ...n, leader: n.leader })) {
      this.answer(from);
    }
  }

  /** Sends our current vote, and our state, to `to`. */
  private answer(to: NodeId): void {
    const vote = this.phase.state === 'looking' ? this.fle.currentVote() : this.settledVote && { ...this.settledVote, state: this.phase.state };
    if (vote) this.out.send(to, toNotification(vote));
  }

  private lookForLeader(now: number): void {
    // A leader that steps down refuses the reads it could not confirm.
    if (this.phase.state === 'leading') {
      for (const id of this.phase.leader.takePendingReads()) this.out.emit({ type: 'request-refused', id, leader: null });
    }
    this.phase = { state: 'looking' };
    this.earlyInfos.clear();
    this.missedOurVote.clear();
    this.askedBy.clear();
    this.lastHeardVote.clear();
    // "rounds" in the simulator's election records: LOOKING periods started by voters.
    if (this.isVoter) this.out.emit({ type: 'election-started', term: this.durable.currentEpoch });
    const decision = this.fle.start(now);
    if (decision) this.settle(now, decision);
  }

  /** The election is over for this node: lead, follow or observe the leader it settled on. */
  private settle(now: number, decision: Decision): void {
    this.lastDecisionValue = decision;
    const sessionTimeout = sessionTimeoutMs(this.config.timing, this.isVoter && decision.vote.leader === this.id);
    const timing = {
      heartbeatMs: this.config.timing.heartbeatMs,
      sessionTimeoutMs: sessionTimeout,
      initTimeoutMs: sessionTimeout + this.options.finalizeWaitMs,
    };
    const leader = decision.vote.leader;
    if (!this.isVoter) {
      this.settledVote = { ...decision.vote, state: 'observing' };
      const learner = new LearnerSession(this.host, leader, true, timing, now);
      this.phase = { state: 'observing', learner };
      this.actOnPhase(now, learner.start());
    } else if (leader === this.id) {
      this.settledVote = { ...decision.vote, state: 'leading' };
      const session = new LeaderSession(this.host, this.config.observers, timing, now);
      this.phase = { state: 'leading', leader: session };
      if (this.actOnPhase(now, session.start(now))) {
        // Learners that reached us before we left LOOKING (a listen backlog).
        for (const [from, message] of this.earlyInfos) {
          if (this.phase.state !== 'leading' || this.phase.leader !== session) break;
          this.actOnPhase(now, session.receive(now, from, message));
        }
      }
    } else {
      this.settledVote = { ...decision.vote, state: 'following' };
      const learner = new LearnerSession(this.host, leader, false, timing, now);
      this.phase = { state: 'following', learner };
      this.actOnPhase(now, learner.start());
    }
    this.earlyInfos.clear();
    this.missedOurVote.clear();
    this.lastHeardVote.clear();
  }

  /** Acts on what a phase asked for; returns whether the node is still in that phase. */
  private actOnPhase(now: number, result: PhaseStep): boolean {
    if (result === null) return true;
    switch (result.kind) {
      case 'established':
        // ZOOKEEPER-1732: once in the new epoch, advertise it as the vote's epoch, so that every member
        // of the ensemble tells a newcomer the same (leader, epoch), however it joined.
        if (this.settledVote) this.settledVote = { ...this.settledVote, peerEpoch: this.durable.currentEpoch };
        // Extension: observers that asked during the election are told its outcome now, rather than
        // finding it at their next re-send (ZooKeeper's observers poll, backing off from 200 ms).
        for (const observer of this.askedBy) this.answer(observer);
        this.askedBy.clear();
        return true;
      case 'abandon': {
        this.lookForLeader(now);
        return false;
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * Bounds (src/core/bounds.ts): a message naming an epoch more than MAX_EPOCH_STEP above every epoch
   * this node has accepted, or a round more than MAX_TERM_STEP above its own, comes from no correct
   * peer (it is forged or corrupt); following it would spend the epoch space, the lifetime of the
   * ensemble. It is ignored, as if lost: FLE re-sends and Zab's phases time out, so loss is safe.
   */
  private implausible(message: ZabMessage): boolean {
    const ownEpoch = this.durable.acceptedEpoch;
    let epoch: number;
    switch (message.type) {
      case 'Notification':
        if (!believable(message.electionEpoch, this.fle.round, MAX_TERM_STEP)) {
          this.out.emit({ type: 'message-ignored', counter: 'round', value: message.electionEpoch });
          return true;
        }
        epoch = Math.max(message.peerEpoch, epochOfZxid(message.zxid));
        break;
      case 'FollowerInfo':
        epoch = message.acceptedEpoch;
        break;
      case 'AckEpoch':
        epoch = Math.max(message.epoch, message.currentEpoch, epochOfZxid(message.lastZxid));
        break;
      case 'NewLeader':
        epoch = Math.max(message.epoch, epochOfZxid(message.zxid), epochOfZxid(message.base));
        break;
      case 'LeaderInfo':
      case 'SnapChunk':
      case 'SnapRequest':
        epoch = message.epoch;
        break;
      case 'Ack':
      case 'UpToDate':
      case 'Commit':
      case 'Ping':
      case 'PingReply':
        epoch = Math.max(message.epoch, epochOfZxid(message.zxid));
        break;
      case 'Proposal':
      case 'Inform':
        epoch = Math.max(message.epoch, epochOfZxid(message.zxid), epochOfZxid(message.prevZxid));
        break;
      case 'ObserverInfo':
        epoch = epochOfZxid(message.lastZxid);
        break;
    }
    if (believable(epoch, ownEpoch, MAX_EPOCH_STEP)) return false;
    this.out.emit({ type: 'message-ignored', counter: 'epoch', value: epoch });
    return true;
  }

  /** The leader this node vouches for: itself once established, its leader once synchronized. */
  private currentLeader(): NodeId | null {
    const phase = this.phase;
    switch (phase.state) {
      case 'looking':
        return null;
      case 'leading':
        return phase.leader.isEstablished ? this.id : null;
      case 'following':
      case 'observing':
        return phase.learner.isServing ? phase.learner.leader : null;
    }
  }
}

/**
 * ZooKeeper's syncLimit here: how long a learner may go without hearing from its leader (the low end of
 * the election-timeout range), and a leader without hearing from a quorum (the high end). Not
 * randomized: FLE's total order, not timing, breaks ties, so a random draw would only delay the
 * slowest detector. The leader waits longer than its followers, so a leader cut off steps down before
 * they establish another.
 */
export function sessionTimeoutMs(timing: Timing, leading: boolean): number {
  return leading ? timing.electionTimeoutMaxMs : timing.electionTimeoutMinMs;
}

/**
 * The latest an established leader still leads, by its own clock, after it last heard from a quorum
 * of voters (itself included) at local time T: T + this bound. It checks its quorum at each ping,
 * every heartbeat, and steps down at the first check that finds no quorum heard within the session
 * timeout (LeaderSession.tick): that check comes at most one heartbeat after T + the session timeout.
 * A pause delays the check to the moment the leader runs again. (src/sim/checkers/zab-sync-limit.ts)
 */
export function leaderStepDownBoundMs(timing: Timing): number {
  return sessionTimeoutMs(timing, true) + timing.heartbeatMs;
}
