/**
 * What follows the election in Zab: the prospective leader establishes itself with a quorum before it
 * may call itself leader (Junqueira, Reed, Serafini 2011, phases 1 and 2; ZooKeeper's Leader.lead,
 * LearnerHandler and Learner.registerWithLeader / syncWithLeader).
 *
 *   discovery:        FOLLOWERINFO(acceptedEpoch) from a quorum -> new epoch = max + 1
 *                     LEADERINFO(epoch) -> ACKEPOCH from a quorum of new promises
 *   synchronization:  NEWLEADER(epoch, history) -> ACK from a quorum: ESTABLISHED, then UPTODATE
 *   broadcast:        PING / PING reply; a leader without a quorum, a learner without a leader: LOOKING
 *
 * The epoch is unique to one leader because each voter promises a given epoch at most once
 * (acceptedEpoch only grows, and is on disk before ACKEPOCH leaves) and any two quorums meet.
 *
 * The simulated network may lose what TCP would not; a learner re-sends its last handshake message
 * every heartbeat until the next step arrives, and the leader answers each message idempotently.
 */
import { increment, MAX_EPOCH } from '../bounds.js';
import { isQuorum } from '../quorum.js';
import type { ElectionEvent, NodeId } from '../types.js';
import type { AckEpoch, ZabDurable, ZabMessage } from './messages.js';

/** What the phases need from their node. */
export interface PhaseHost {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  durable(): ZabDurable;
  /** Changes durable state; the node persists it before any message of the same batch is sent. */
  update(changes: Partial<ZabDurable>): void;
  send(to: NodeId, message: ZabMessage): void;
  /** Reports a ceiling reached (src/core/bounds.ts). */
  emit(event: ElectionEvent): void;
}

export interface PhaseTiming {
  /** The leader's ping interval (Timing.heartbeatMs); also the learners' handshake re-send interval. */
  readonly heartbeatMs: number;
  /**
   * How long an established leader may go without hearing from a quorum, and a serving learner without
   * hearing from its leader (ZooKeeper's syncLimit).
   */
  readonly sessionTimeoutMs: number;
  /**
   * How long discovery + synchronization may take, and a learner may wait for each step of it
   * (ZooKeeper's initLimit). Longer than the session timeout: the peers of one election leave LOOKING
   * up to a finalizeWait apart.
   */
  readonly initTimeoutMs: number;
}

/** What a step of a phase asks of its node. */
export type PhaseStep =
  | null
  /** The leader is established; a learner is synchronized and serving. */
  | { readonly kind: 'established' }
  /** Back to LOOKING. */
  | { readonly kind: 'abandon'; readonly reason: string };

const established: PhaseStep = { kind: 'established' };
const abandon = (reason: string): PhaseStep => ({ kind: 'abandon', reason });

/** A history summary: who is more up to date (ZooKeeper's StateSummary.isMoreRecentThan). */
export function isMoreRecent(a: { currentEpoch: number; lastZxid: number }, b: { currentEpoch: number; lastZxid: number }): boolean {
  return a.currentEpoch > b.currentEpoch || (a.currentEpoch === b.currentEpoch && a.lastZxid > b.lastZxid);
}

// ---- the leader -----------------------------------------------------------------------------------

export type LeaderPhase = 'discovery' | 'synchronization' | 'broadcast';

export class LeaderSession {
  private phaseName: LeaderPhase = 'discovery';
  /** The new epoch, once a quorum of voters has told its acceptedEpoch. */
  private newEpoch: number | null = null;
  /** Voters that sent FOLLOWERINFO (this node included). */
  private readonly connecting = new Set<NodeId>();
  private maxAcceptedEpoch: number;
  /** Learners that acknowledged the new epoch (any answer), to be sent NEWLEADER. */
  private readonly epochAcked = new Set<NodeId>();
  /** Voters whose ACKEPOCH was a new promise (ZooKeeper's electingFollowers). */
  private readonly electing = new Set<NodeId>();
  /** Voters that acknowledged NEWLEADER (this node included). */
  private readonly newLeaderAcks = new Set<NodeId>();
  /** Observers waiting for the leader to be established. */
  private readonly pendingObservers = new Set<NodeId>();
  /** Synchronized learners that receive pings, with the time each was last heard from. */
  private readonly serving = new Map<NodeId, number>();
  /** The leader's history when it started leading (ZooKeeper's leaderStateSummary). */
  private readonly summary: { readonly currentEpoch: number; readonly lastZxid: number };
  private readonly initDeadline: number;
  private pingDeadline = Infinity;
  private readonly observerSet: ReadonlySet<NodeId>;

  constructor(
    private readonly host: PhaseHost,
    observers: readonly NodeId[],
    private readonly timing: PhaseTiming,
    now: number,
  ) {
    const durable = host.durable();
    this.summary = { currentEpoch: durable.currentEpoch, lastZxid: durable.lastZxid };
    this.maxAcceptedEpoch = durable.acceptedEpoch;
    this.observerSet = new Set(observers);
    this.initDeadline = now + timing.initTimeoutMs;
    this.connecting.add(host.id);
  }

  get phase(): LeaderPhase {
    return this.phaseName;
  }

  get isEstablished(): boolean {
    return this.phaseName === 'broadcast';
  }

  /** The epoch being established, once decided. */
  get epoch(): number | null {
    return this.newEpoch;
  }

  /** The voters that acknowledged NEWLEADER when the leader became established (itself included). */
  get establishedBy(): readonly NodeId[] {
    return [...this.newLeaderAcks].sort((a, b) => a - b);
  }

  nextDeadline(): number {
    return this.isEstablished ? this.pingDeadline : this.initDeadline;
  }

  /** Entering LEADING: a single voter is its own quorum. */
  start(now: number): PhaseStep {
    return this.advance(now);
  }

  receive(now: number, from: NodeId, message: ZabMessage): PhaseStep {
    const voter = this.host.voters.includes(from);
    if (this.serving.has(from)) this.serving.set(from, now);
    switch (message.type) {
      case 'FollowerInfo':
        if (!voter) return null; // an observer's promise is worth nothing (and checkSend flags it)
        if (this.newEpoch === null) {
          this.connecting.add(from);
          this.maxAcceptedEpoch = Math.max(this.maxAcceptedEpoch, message.acceptedEpoch);
          return this.advance(now);
        }
        if (message.acceptedEpoch > this.newEpoch) {
          // Extension: this voter promised a later epoch (to a leader whose discovery failed) and Zab
          // forbids it to accept ours, ever. ZooKeeper's learner throws and retries until the leader
          // changes; stepping down lets the next election pick an epoch above that promise.
          return abandon(`voter ${from} promised epoch ${message.acceptedEpoch}, above ours (${this.newEpoch})`);
        }
        this.host.send(from, { type: 'LeaderInfo', epoch: this.newEpoch });
        return null;
      case 'AckEpoch':
        if (!voter || message.epoch !== this.newEpoch) return null;
        return this.receiveAckEpoch(now, from, message);
      case 'Ack':
        if (!voter || message.epoch !== this.newEpoch) return null;
        if (!this.isEstablished) {
          this.newLeaderAcks.add(from);
          return this.advance(now);
        }
        this.host.send(from, { type: 'UpToDate', epoch: this.newEpoch });
        this.serving.set(from, now);
        return null;
      case 'ObserverInfo':
        if (!this.observerSet.has(from)) return null;
        if (this.isEstablished) this.syncObserver(now, from);
        else this.pendingObservers.add(from);
        return null;
      case 'PingReply':
        return null; // `serving` was refreshed above
      case 'Notification': // answered by the node
      case 'LeaderInfo':
      case 'NewLeader':
      case 'UpToDate':
      case 'Ping':
        return null; // another would-be leader's messages: not ours to follow while LEADING
    }
  }

  tick(now: number): PhaseStep {
    if (!this.isEstablished) {
      // ZooKeeper's initLimit: a quorum must promise the epoch and synchronize in time.
      if (now >= this.initDeadline) return abandon(`not established within ${this.timing.initTimeoutMs} ms (${this.phaseName})`);
      return null;
    }
    if (now < this.pingDeadline) return null;
    // ZooKeeper's syncLimit check: a quorum of voters (this one included) heard from recently.
    const since = now - this.timing.sessionTimeoutMs;
    const alive = [this.host.id];
    for (const [learner, heard] of this.serving) {
      if (heard < since) this.serving.delete(learner); // gone: stop pinging it
      else if (this.host.voters.includes(learner)) alive.push(learner);
    }
    if (!isQuorum(this.host.voters, alive)) return abandon('lost its quorum');
    for (const learner of this.serving.keys()) this.host.send(learner, { type: 'Ping', epoch: this.newEpoch! });
    this.pingDeadline = now + this.timing.heartbeatMs;
    return null;
  }

  private receiveAckEpoch(now: number, from: NodeId, ack: AckEpoch): PhaseStep {
    this.epochAcked.add(from);
    if (this.phaseName === 'discovery') {
      if (!ack.newlyAccepted) return null; // ZooKeeper's -1: an old promise, not counted, synced later
      // A quorum member more up to date than the leader: FLE should have elected it. Leading would
      // truncate its history, so give up and elect again (ZooKeeper: "Follower is ahead of the leader").
      if (isMoreRecent(ack, this.summary)) return abandon(`follower ${from} is ahead of the leader`);
      this.electing.add(from);
      return this.advance(now);
    }
    this.host.send(from, this.newLeaderMessage());
    return null;
  }

  /** Moves through the phases as far as the quorums received allow. */
  private advance(now: number): PhaseStep {
    const { id, voters } = this.host;
    if (this.newEpoch === null) {
      if (!isQuorum(voters, this.connecting)) return null;
      // Discovery: an epoch above every epoch promised by a quorum, promised first by the leader itself.
      const epoch = increment(this.maxAcceptedEpoch, MAX_EPOCH);
      if (epoch === null) {
        // The end of this implementation's epochs (src/core/bounds.ts): no zxid of a later epoch fits a
        // JS number, and persisting one would leave a state no node could read back. Refuse to lead.
        this.host.emit({ type: 'ceiling-reached', counter: 'epoch', value: this.maxAcceptedEpoch });
        return abandon(`epoch ${this.maxAcceptedEpoch} is the ceiling; no new epoch can be proposed`);
      }
      this.newEpoch = epoch;
      this.host.update({ acceptedEpoch: this.newEpoch });
      this.electing.add(id);
      for (const learner of this.connecting) {
        if (learner !== id) this.host.send(learner, { type: 'LeaderInfo', epoch: this.newEpoch });
      }
    }
    if (this.phaseName === 'discovery') {
      if (!isQuorum(voters, this.electing)) return null;
      // A quorum promised the epoch: it is ours. Synchronize everyone who acknowledged it.
      this.phaseName = 'synchronization';
      this.host.update({ currentEpoch: this.newEpoch });
      this.newLeaderAcks.add(id);
      for (const learner of this.epochAcked) this.host.send(learner, this.newLeaderMessage());
    }
    if (this.phaseName === 'synchronization') {
      if (!isQuorum(voters, this.newLeaderAcks)) return null;
      // A quorum holds the leader's history in its epoch: established.
      this.phaseName = 'broadcast';
      for (const learner of this.newLeaderAcks) {
        if (learner === id) continue;
        this.host.send(learner, { type: 'UpToDate', epoch: this.newEpoch });
        this.serving.set(learner, now);
      }
      for (const observer of this.pendingObservers) this.syncObserver(now, observer);
      this.pendingObservers.clear();
      this.pingDeadline = now + this.timing.heartbeatMs;
      return established;
    }
    return null;
  }

  private syncObserver(now: number, observer: NodeId): void {
    this.host.send(observer, this.newLeaderMessage());
    this.serving.set(observer, now);
  }

  private newLeaderMessage(): ZabMessage {
    return { type: 'NewLeader', epoch: this.newEpoch!, zxid: this.summary.lastZxid };
  }
}

// ---- a learner: follower or observer --------------------------------------------------------------

export type LearnerStage = 'connecting' | 'epoch-acked' | 'synchronized' | 'serving';

export class LearnerSession {
  private stageName: LearnerStage = 'connecting';
  private newEpoch: number | null = null;
  private ackEpoch: AckEpoch | null = null;
  private silenceDeadline: number;
  private resendDeadline: number;

  constructor(
    private readonly host: PhaseHost,
    /** The leader this learner settled on. */
    readonly leader: NodeId,
    private readonly observer: boolean,
    private readonly timing: PhaseTiming,
    now: number,
  ) {
    this.silenceDeadline = now + timing.initTimeoutMs;
    this.resendDeadline = now + timing.heartbeatMs;
  }

  get stage(): LearnerStage {
    return this.stageName;
  }

  get isServing(): boolean {
    return this.stageName === 'serving';
  }

  nextDeadline(): number {
    return Math.min(this.silenceDeadline, this.isServing ? Infinity : this.resendDeadline);
  }

  start(): PhaseStep {
    this.sendHandshake();
    return null;
  }

  receive(now: number, from: NodeId, message: ZabMessage): PhaseStep {
    if (from !== this.leader) return null;
    switch (message.type) {
      case 'LeaderInfo':
        this.heard(now);
        if (this.observer || this.stageName !== 'connecting') return null;
        return this.acceptEpoch(message.epoch);
      case 'NewLeader': {
        this.heard(now);
        const expected = this.observer ? 'connecting' : 'epoch-acked';
        if (this.stageName !== expected || (!this.observer && message.epoch !== this.newEpoch)) return null;
        return this.synchronize(now, message.epoch, message.zxid);
      }
      case 'UpToDate':
        if (this.stageName !== 'synchronized' || message.epoch !== this.newEpoch) return null;
        this.stageName = 'serving';
        this.heard(now);
        return established;
      case 'Ping':
        if (message.epoch !== this.newEpoch) return null; // a ping of another session of that leader
        this.heard(now);
        if (this.stageName === 'synchronized' || this.stageName === 'serving') {
          this.host.send(this.leader, { type: 'PingReply', epoch: message.epoch });
        }
        return null;
      case 'Notification': // answered by the node
      case 'FollowerInfo':
      case 'ObserverInfo':
      case 'AckEpoch':
      case 'Ack':
      case 'PingReply':
        return null;
    }
  }

  tick(now: number): PhaseStep {
    if (now >= this.silenceDeadline) return abandon(`leader ${this.leader} silent (${this.stageName})`);
    if (!this.isServing && now >= this.resendDeadline) {
      this.sendHandshake();
      this.resendDeadline = now + this.timing.heartbeatMs;
    }
    return null;
  }

  /** The leader spoke: wait for it again, for a step of the handshake or, once serving, for a ping. */
  private heard(now: number): void {
    this.silenceDeadline = now + (this.isServing ? this.timing.sessionTimeoutMs : this.timing.initTimeoutMs);
  }

  /** Discovery, follower side: promise the new epoch if it is above every epoch promised before. */
  private acceptEpoch(epoch: number): PhaseStep {
    const durable = this.host.durable();
    if (epoch < durable.acceptedEpoch) {
      return abandon(`leader ${this.leader} proposed epoch ${epoch}, below the accepted epoch ${durable.acceptedEpoch}`);
    }
    const newlyAccepted = epoch > durable.acceptedEpoch;
    if (newlyAccepted) this.host.update({ acceptedEpoch: epoch }); // on disk before the ACKEPOCH leaves
    this.newEpoch = epoch;
    this.ackEpoch = {
      type: 'AckEpoch',
      epoch,
      currentEpoch: durable.currentEpoch,
      lastZxid: durable.lastZxid,
      newlyAccepted,
    };
    this.stageName = 'epoch-acked';
    this.host.send(this.leader, this.ackEpoch);
    return null;
  }

  /** Synchronization: take the leader's history and make its epoch current, durably, then ACK. */
  private synchronize(now: number, epoch: number, zxid: number): PhaseStep {
    const durable = this.host.durable();
    if (epoch < durable.currentEpoch) {
      return abandon(`leader ${this.leader} is in epoch ${epoch}, behind the current epoch ${durable.currentEpoch}`);
    }
    this.host.update({ acceptedEpoch: Math.max(durable.acceptedEpoch, epoch), currentEpoch: epoch, lastZxid: zxid });
    this.newEpoch = epoch;
    if (this.observer) {
      // The leader syncs an observer only once established, and counts nothing from it.
      this.stageName = 'serving';
      this.heard(now);
      return established;
    }
    this.stageName = 'synchronized';
    this.host.send(this.leader, { type: 'Ack', epoch });
    return null;
  }

  /** (Re-)sends the message the leader has not answered yet. */
  private sendHandshake(): void {
    switch (this.stageName) {
      case 'connecting':
        this.host.send(
          this.leader,
          this.observer ? { type: 'ObserverInfo' } : { type: 'FollowerInfo', acceptedEpoch: this.host.durable().acceptedEpoch },
        );
        return;
      case 'epoch-acked':
        this.host.send(this.leader, this.ackEpoch!);
        return;
      case 'synchronized':
        this.host.send(this.leader, { type: 'Ack', epoch: this.newEpoch! });
        return;
      case 'serving':
        return;
    }
  }
}
