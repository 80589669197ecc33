/**
 * FastLeaderElection (ZooKeeper's default election, FastLeaderElection.lookForLeader) as an
 * event-driven state machine: the blocking "poll the receive queue" loop of ZooKeeper becomes two
 * deadlines (the notification re-send timer and finalizeWait) and a `receive` entry point.
 *
 * One instance lives as long as the process, as in ZooKeeper: the logical clock (election round)
 * survives from one LOOKING period to the next and is lost on a crash.
 */
import { isQuorum, majority } from '../quorum.js';
import { increment, MAX_TERM } from '../bounds.js';
import type { ElectionEvent, NodeId } from '../types.js';
import type { Notification, ServerState } from './messages.js';

/** What a vote proposes: a leader, with the last zxid and the epoch that leader had. */
export interface Proposal {
  readonly leader: NodeId;
  readonly zxid: number;
  readonly peerEpoch: number;
}

/** A vote as tallied: a proposal in a round (electionEpoch), cast by a node in some state. */
export interface Vote extends Proposal {
  readonly electionEpoch: number;
  readonly state: ServerState;
}

/**
 * FLE's total order predicate: does `candidate` beat `current`? The higher epoch wins; with equal
 * epochs the higher zxid (the more up-to-date history); with equal zxids the higher server id. A strict
 * total order on (peerEpoch, zxid, leader), so every node that sees the same votes adopts the same one.
 * (ZooKeeper also refuses a candidate of weight 0, i.e. a non-voter: callers check `isVoter` first.)
 */
export function totalOrderPredicate(candidate: Proposal, current: Proposal): boolean {
  if (candidate.peerEpoch !== current.peerEpoch) return candidate.peerEpoch > current.peerEpoch;
  if (candidate.zxid !== current.zxid) return candidate.zxid > current.zxid;
  return candidate.leader > current.leader;
}

/**
 * Whether two tallied votes agree (ZooKeeper's Vote.equals): between LOOKING votes everything must
 * match, round included; a vote of a node already out of the election (FOLLOWING/LEADING) agrees with
 * another such vote when they name the same leader of the same epoch, whatever round each was cast in.
 */
export function sameVote(a: Vote, b: Vote): boolean {
  if (a.state === 'looking' || b.state === 'looking') {
    return a.leader === b.leader && a.zxid === b.zxid && a.electionEpoch === b.electionEpoch && a.peerEpoch === b.peerEpoch;
  }
  return a.leader === b.leader && a.peerEpoch === b.peerEpoch;
}

export interface ElectionTiming {
  /** How long to wait, once a quorum agrees, for a better notification (ZooKeeper: 200 ms). */
  readonly finalizeWaitMs: number;
  /** The first re-send interval of notifications when none arrive (ZooKeeper: finalizeWait). */
  readonly minNotificationIntervalMs: number;
  /** The cap of the doubling re-send interval (see docs/algorithms/zab.md on why not ZooKeeper's 60 s). */
  readonly maxNotificationIntervalMs: number;
}

/** What the election needs from its node. */
export interface ElectionHost {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  /** The node's own vote at the start of a round: (id, lastZxid, currentEpoch); null for an observer. */
  initialProposal(): Proposal | null;
  send(to: NodeId, notification: Notification): void;
  /** Reports a ceiling reached (src/core/bounds.ts). */
  emit(event: ElectionEvent): void;
}

/** How a round ended: the vote the node settled on, and the voters whose agreement decided it. */
export interface Decision {
  readonly vote: Vote;
  readonly quorum: readonly NodeId[];
  /** 'elected': a quorum of the round agreed after finalizeWait; 'joined': a quorum already follows a leader that says it leads. */
  readonly how: 'elected' | 'joined';
}

export class FastLeaderElection {
  private logicalclock = 0;
  private proposal: Proposal | null = null;
  /** The latest vote of each voter in the current round (its own included). */
  private readonly recvset = new Map<NodeId, Vote>();
  /** FOLLOWING/LEADING votes of any round: how a latecomer learns of an established leader. */
  private readonly outofelection = new Map<NodeId, Vote>();
  private notTimeout: number;
  /** When the notification queue poll times out (then: re-send, and back off). */
  private pollDeadline = Infinity;
  /** When finalizeWait ends without a better notification (then: decide). */
  private finalizeDeadline = Infinity;
  private finalizeQuorum: NodeId[] = [];
  private readonly voterSet: ReadonlySet<NodeId>;
  private readonly isVoter: boolean;
  /** A lower bound only, to skip work; isQuorum decides. */
  private readonly quorumSize: number;

  constructor(private readonly host: ElectionHost, private readonly timing: ElectionTiming) {
    this.notTimeout = timing.minNotificationIntervalMs;
    this.voterSet = new Set(host.voters);
    this.isVoter = this.voterSet.has(host.id);
    this.quorumSize = majority(host.voters.length);
  }

  /** The election round (ZooKeeper's logicalclock). */
  get round(): number {
    return this.logicalclock;
  }

  get active(): boolean {
    return this.pollDeadline !== Infinity || this.finalizeDeadline !== Infinity;
  }

  /** Whether finalizeWait is running (a quorum agreed; waiting for a better notification). */
  get finalizing(): boolean {
    return this.finalizeDeadline !== Infinity;
  }

  /** This node's vote in the current round, as it would send it; null for an observer without one. */
  currentVote(): Vote | null {
    return this.proposal && { ...this.proposal, electionEpoch: this.logicalclock, state: 'looking' };
  }

  nextDeadline(): number {
    return Math.min(this.pollDeadline, this.finalizeDeadline);
  }

  /** lookForLeader: a new round, voting for ourselves, told to every voter. */
  start(now: number): Decision | null {
    const round = increment(this.logicalclock, MAX_TERM);
    // At the ceiling (src/core/bounds.ts) the round saturates: it is volatile (a restart begins at 0
    // again) and the epoch quorum, not the round, keeps leaders unique, so electing again in the same
    // round is safe; it only lets that round's earlier votes count again.
    if (round === null) this.host.emit({ type: 'ceiling-reached', counter: 'round', value: this.logicalclock });
    else this.logicalclock = round;
    this.recvset.clear();
    this.outofelection.clear();
    this.proposal = this.host.initialProposal();
    this.notTimeout = this.timing.minNotificationIntervalMs;
    this.finalizeDeadline = Infinity;
    this.sendNotifications();
    this.pollDeadline = now + this.notTimeout;
    this.checkQuorum(now); // a single voter agrees with itself
    return null;
  }

  /** Leaves the election (ZooKeeper's leaveInstance): no more timers until the next `start`. */
  stop(): void {
    this.pollDeadline = Infinity;
    this.finalizeDeadline = Infinity;
    this.finalizeQuorum = [];
  }

  tick(now: number): Decision | null {
    if (now >= this.finalizeDeadline) {
      // finalizeWait passed without a better notification: the proposal stands.
      return this.decide(this.currentVote()!, this.finalizeQuorum, 'elected');
    }
    if (now >= this.pollDeadline) {
      // No notification for notTimeout: tell everyone our vote again (a lost message, a peer that was
      // down) and back off exponentially.
      this.sendNotifications();
      this.notTimeout = Math.min(this.notTimeout * 2, this.timing.maxNotificationIntervalMs);
      this.pollDeadline = now + this.notTimeout;
    }
    return null;
  }

  /**
   * A notification from a voter, as lookForLeader takes it off its queue. (Notifications from
   * non-voters never reach the queue: the node answers them directly and never counts them.)
   */
  receive(now: number, from: NodeId, n: Notification): Decision | null {
    if (!this.voterSet.has(from)) return null;
    if (n.leader === null || !this.voterSet.has(n.leader)) return null; // a vote for a non-voter is void
    const vote: Vote = { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch, electionEpoch: n.electionEpoch, state: n.state };
    if (this.finalizeDeadline !== Infinity) {
      if (n.state === 'following' || n.state === 'leading') {
        // Extension: the word of a node that has already settled is no competing vote; it goes to the
        // join check (a quorum following a leader that says it leads ends the wait). ZooKeeper drops it
        // here like any other, and restarts the wait.
        return this.receiveSettled(from, vote);
      }
      // Inside finalizeWait, a notification that does not beat our proposal is dropped and the wait
      // starts over (ZooKeeper polls again for finalizeWait); a better one ends the wait and is handled.
      if (!this.beats(n, this.proposal)) {
        this.finalizeDeadline = now + this.timing.finalizeWaitMs;
        return null;
      }
      this.finalizeDeadline = Infinity;
    }
    // The queue poll returned a notification, so no re-send yet. Only news counts (a deviation: in
    // ZooKeeper any notification does): answers from settled nodes that were not enough to join, and
    // a peer's unchanged re-sends, must not keep postponing our own next re-send forever.
    const previous = this.recvset.get(from);
    const repeat = previous !== undefined && sameVote(previous, vote);
    if (n.state === 'looking' && !repeat) this.pollDeadline = now + this.notTimeout;
    switch (n.state) {
      case 'looking':
        this.receiveLooking(from, vote);
        this.checkQuorum(now);
        return null;
      case 'observing':
        return null; // observers never vote
      case 'following':
      case 'leading':
        return this.receiveSettled(from, vote);
    }
  }

  // ---- lookForLeader's cases ----------------------------------------------------------------------

  private receiveLooking(from: NodeId, n: Vote): void {
    if (n.electionEpoch > this.logicalclock) {
      // A later round: join it, forget this round's tally, and vote for the better of the sender's
      // proposal and our own initial vote.
      this.logicalclock = n.electionEpoch;
      this.recvset.clear();
      const own = this.host.initialProposal();
      this.proposal = this.beats(n, own) ? proposalOf(n) : own;
      this.sendNotifications();
    } else if (n.electionEpoch < this.logicalclock) {
      return; // an earlier round: not counted (the node has answered the laggard with its vote)
    } else if (this.beats(n, this.proposal)) {
      // FLE: adopt the better vote and tell everyone.
      this.proposal = proposalOf(n);
      this.sendNotifications();
    }
    this.recvset.set(from, n);
  }

  /** A notification from a node already FOLLOWING or LEADING. */
  private receiveSettled(from: NodeId, n: Vote): Decision | null {
    if (n.electionEpoch === this.logicalclock) {
      // Same round: such votes are tallied with the others of the round.
      this.recvset.set(from, n);
      const quorum = this.agreeing(this.recvset, n);
      if (isQuorum(this.host.voters, quorum) && this.checkLeader(this.recvset, n.leader, n.electionEpoch)) {
        return this.decide(n, quorum, 'joined');
      }
    }
    // Any round: before joining an established ensemble, a quorum must follow the same leader, and the
    // leader itself must say it leads (ZooKeeper's outofelection set, ZOOKEEPER-1732).
    this.outofelection.set(from, n);
    const quorum = this.agreeing(this.outofelection, n);
    if (isQuorum(this.host.voters, quorum) && this.checkLeader(this.outofelection, n.leader, n.electionEpoch)) {
      this.logicalclock = n.electionEpoch;
      return this.decide(n, quorum, 'joined');
    }
    return null;
  }

  /**
   * ZooKeeper's checkLeader: a quorum naming a leader is not enough, the leader must have said LEADING
   * (else peers would follow a crashed leader forever). If the leader named is this node, it must be
   * of this very round.
   */
  private checkLeader(votes: ReadonlyMap<NodeId, Vote>, leader: NodeId, electionEpoch: number): boolean {
    if (leader !== this.host.id) return votes.get(leader)?.state === 'leading';
    return this.logicalclock === electionEpoch;
  }

  /** Once a quorum of the round agrees with our proposal, start finalizeWait. */
  private checkQuorum(now: number): void {
    const own = this.currentVote();
    if (!own || this.finalizeDeadline !== Infinity) return;
    const quorum = this.agreeing(this.recvset, own);
    if (isQuorum(this.host.voters, quorum)) {
      // From here ZooKeeper polls only for finalizeWait: no re-sends until the wait ends.
      this.finalizeQuorum = quorum;
      this.finalizeDeadline = now + this.timing.finalizeWaitMs;
      this.pollDeadline = Infinity;
    }
  }

  /** The voters whose tallied vote agrees with `vote`: empty unless they could form a quorum (cheap). */
  private agreeing(votes: ReadonlyMap<NodeId, Vote>, vote: Vote): NodeId[] {
    if (votes.size < this.quorumSize) return [];
    const ids: NodeId[] = [];
    for (const [id, v] of votes) if (sameVote(v, vote)) ids.push(id);
    return ids.length < this.quorumSize ? [] : ids.sort((a, b) => a - b);
  }

  private decide(vote: Vote, quorum: readonly NodeId[], how: Decision['how']): Decision {
    this.stop();
    return { vote: { ...proposalOf(vote), electionEpoch: vote.electionEpoch, state: vote.state }, quorum, how };
  }

  /** The total order predicate, refusing non-voters (ZooKeeper: a candidate of weight 0 never wins). */
  private beats(candidate: Notification | Proposal, current: Proposal | null): boolean {
    if (candidate.leader === null || !this.voterSet.has(candidate.leader)) return false;
    return current === null || totalOrderPredicate(candidate as Proposal, current);
  }

  /**
   * sendNotifications: a voter tells every voter its vote (and counts its own at once, as ZooKeeper's
   * message to itself does); an observer, which has no vote, asks every voter for theirs.
   */
  private sendNotifications(): void {
    const { id, voters } = this.host;
    if (this.isVoter) {
      const own = this.currentVote()!;
      this.recvset.set(id, own);
      for (const to of voters) {
        if (to !== id) this.host.send(to, toNotification(own));
      }
    } else {
      const ask: Notification = {
        type: 'Notification',
        leader: null,
        zxid: 0,
        electionEpoch: this.logicalclock,
        peerEpoch: 0,
        state: 'observing',
      };
      for (const to of voters) this.host.send(to, ask);
    }
  }
}

function proposalOf(v: Proposal): Proposal {
  return { leader: v.leader, zxid: v.zxid, peerEpoch: v.peerEpoch };
}

/** A vote on the wire. */
export function toNotification(vote: Vote): Notification {
  return {
    type: 'Notification',
    leader: vote.leader,
    zxid: vote.zxid,
    electionEpoch: vote.electionEpoch,
    peerEpoch: vote.peerEpoch,
    state: vote.state,
  };
}
