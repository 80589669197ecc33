/**
 * What follows the election in Zab: the prospective leader establishes itself with a quorum before it
 * may call itself leader (Junqueira, Reed, Serafini 2011, phases 1 and 2; ZooKeeper's Leader.lead,
 * LearnerHandler and Learner.registerWithLeader / syncWithLeader).
 *
 *   discovery:        FOLLOWERINFO(acceptedEpoch) from a quorum -> new epoch = max + 1
 *                     LEADERINFO(epoch) -> ACKEPOCH from a quorum of new promises
 *   synchronization:  NEWLEADER(epoch, DIFF | TRUNC | SNAP) -> ACK from a quorum: ESTABLISHED (the
 *                     leader's history is committed), then UPTODATE
 *   broadcast:        PROPOSAL -> ACK from a quorum -> COMMIT (INFORM to observers), in zxid order;
 *                     PING / PING reply; a leader without a quorum, a learner without a leader: LOOKING
 *
 * The epoch is unique to one leader because each voter promises a given epoch at most once
 * (acceptedEpoch only grows, and is on disk before ACKEPOCH leaves) and any two quorums meet.
 *
 * The simulated network may lose, duplicate and reorder what TCP would not; a learner re-sends its
 * last handshake message every heartbeat until the next step arrives, and the leader answers each
 * message idempotently. In broadcast, acknowledgements and commits are cumulative (a zxid covers the
 * history up to it), a learner holds back a proposal that arrives before its predecessor, and the
 * leader re-sends what a learner has not acknowledged by the next ping.
 *
 * This module holds the leader's side (LeaderSession) and what the phases share; the learner's side
 * is in learner.ts.
 */
import { increment, MAX_EPOCH } from '../bounds.js';
import { windowPieces } from '../chunks.js';
import { isQuorum } from '../quorum.js';
import type { Command, ElectionEvent, NodeId } from '../types.js';
import { encodedLength, syncPoint, utf8Length, type ZabLog } from './log.js';
import {
  epochOfZxid,
  makeZxid,
  MAX_WHOLE_SNAPSHOT_LENGTH,
  ZXID_COUNTER_MAX,
  type AckEpoch,
  type Inform,
  type NewLeader,
  type Proposal,
  type SnapRequest,
  type ZabDurable,
  type ZabMessage,
  type ZabSnapshot,
} from './messages.js';

/** What the phases need from their node. */
export interface PhaseHost {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  durable(): ZabDurable;
  /** Changes durable state; the node persists it before any message of the same batch is sent. */
  update(changes: Partial<ZabDurable>): void;
  /** The node's history; after changing it, call `logChanged` (persisted with the batch, before its messages). */
  readonly log: ZabLog;
  logChanged(): void;
  /** The position up to which this node knows the history committed (and has reported it). */
  committedIndex(): number;
  /** Delivers the history up to `index` (`committed` events, in order, once each). */
  commit(index: number): void;
  /** Replaces the state machine with a snapshot the leader sent, when it is ahead of what was delivered. */
  installSnapshot(snapshot: ZabSnapshot): void;
  send(to: NodeId, message: ZabMessage): void;
  /** Reports a ceiling reached (src/core/bounds.ts), a read made ready. */
  emit(event: ElectionEvent): void;
}

/**
 * How many bytes of snapshot and commands, JSON-encoded, one NEWLEADER may carry: a frame is 64 KiB
 * (src/runtime/frames.ts). What does not fit follows as proposals (INFORMs), under flow control.
 */
export const NEWLEADER_BUDGET_BYTES = 56 * 1024;
/** How many bytes of commands a learner is sent at once while it catches up (then it must acknowledge). */
export const CATCH_UP_BUDGET_BYTES = 32 * 1024;

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

export const established: PhaseStep = { kind: 'established' };
export const abandon = (reason: string): PhaseStep => ({ kind: 'abandon', reason });

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
  /** Observers waiting for the leader to be established, with their last zxid. */
  private readonly pendingObservers = new Map<NodeId, number>();
  /** Synchronized learners that receive pings, with the time each was last heard from. */
  private readonly serving = new Map<NodeId, number>();
  /** Learners sent NEWLEADER in this session: they receive proposals (followers) or INFORMs (observers). */
  private readonly progress = new Map<NodeId, LearnerProgress>();
  /** The ping round last sent, and when (reads wait for a round sent after they arrived). */
  private round = 0;
  private roundSentAt = -Infinity;
  /** Linearizable reads waiting for a quorum to answer `round` (ZooKeeper's sync, as a barrier). */
  private readonly reads: { readonly id: number; readonly index: number; readonly round: number }[] = [];
  /** The leader's history when it started leading (ZooKeeper's leaderStateSummary). */
  private readonly summary: { readonly currentEpoch: number; readonly lastZxid: number };
  /** Each learner's last zxid, as its ACKEPOCH told it: where its synchronization starts. */
  private readonly learnerZxid = new Map<NodeId, number>();
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

  /**
   * Broadcast: an established leader logs `command` as the next zxid of its epoch (persisted before
   * the PROPOSAL leaves, with the batch) and sends it to its followers. Returns the entry's position
   * and epoch, or null when not established or the epoch's counter is exhausted.
   */
  propose(command: Command): { readonly index: number; readonly term: number } | null {
    if (!this.isEstablished) return null;
    const epoch = this.newEpoch!;
    const { log } = this.host;
    const prevZxid = log.lastZxid;
    const counter = epochOfZxid(prevZxid) === epoch ? prevZxid - makeZxid(epoch, 0) + 1 : 1;
    // ZooKeeper forces a new election when the counter rolls over; here the leader refuses instead.
    if (counter > ZXID_COUNTER_MAX) return null;
    const zxid = makeZxid(epoch, counter);
    log.append(zxid, command);
    this.host.logChanged();
    const proposal: Proposal = { type: 'Proposal', epoch, zxid, prevZxid, command };
    for (const [learner, progress] of this.progress) {
      // A follower still catching up gets it in turn (flow control, `catchUp`).
      if (progress.observer || progress.sentUpTo !== log.lastIndex - 1) continue;
      this.host.send(learner, proposal);
      progress.sentUpTo = log.lastIndex;
    }
    this.advanceCommit();
    return { index: log.lastIndex, term: epoch };
  }

  /**
   * A linearizable read: ready at the commit point of its arrival once a quorum of voters answered a
   * ping round sent after it arrived, which shows that no other leader had been established by then
   * (ZooKeeper's sync makes a follower's next read reflect the leader's commits; this is its barrier,
   * done at the leader). Returns false when not established.
   */
  read(now: number, id: number): boolean {
    if (!this.isEstablished) return false;
    if (this.roundSentAt !== now || this.reads.length === 0) this.pingRound(now);
    this.reads.push({ id, index: this.host.committedIndex(), round: this.round });
    this.releaseReads();
    return true;
  }

  /** The reads still waiting, which a leader that steps down must refuse. */
  takePendingReads(): number[] {
    return this.reads.splice(0).map((read) => read.id);
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
        this.acknowledged(from, message.zxid);
        this.catchUp(from);
        if (!this.isEstablished) {
          // NEWLEADER is acknowledged once the follower holds the leader's whole history: only then
          // may the leader commit it (a NEWLEADER too large for one frame is followed by proposals).
          if ((this.progress.get(from)?.acked ?? -1) >= this.host.log.lastIndex) this.newLeaderAcks.add(from);
          return this.advance(now);
        }
        if (!this.serving.has(from)) {
          // A late follower acknowledged NEWLEADER: it serves from now on.
          this.host.send(from, { type: 'UpToDate', epoch: this.newEpoch, zxid: this.commitZxid() });
          this.serving.set(from, now);
        }
        this.advanceCommit();
        return null;
      case 'ObserverInfo':
        if (!this.observerSet.has(from)) return null;
        if (this.isEstablished) this.syncObserver(now, from, message.lastZxid);
        else this.pendingObservers.set(from, message.lastZxid);
        return null;
      case 'PingReply': {
        // `serving` was refreshed above.
        if (message.epoch !== this.newEpoch) return null;
        const progress = this.progress.get(from);
        if (progress) progress.round = Math.max(progress.round, message.round);
        this.acknowledged(from, message.zxid);
        this.catchUp(from);
        if (voter) this.advanceCommit();
        this.releaseReads();
        return null;
      }
      case 'SnapRequest':
        if (message.epoch === this.newEpoch) this.answerSnapRequest(from, message);
        return null;
      case 'Notification': // answered by the node
      case 'LeaderInfo':
      case 'NewLeader':
      case 'SnapChunk':
      case 'UpToDate':
      case 'Proposal':
      case 'Commit':
      case 'Inform':
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
    this.resendLagging();
    this.pingRound(now);
    this.pingDeadline = now + this.timing.heartbeatMs;
    return null;
  }

  /** Pings every serving learner with a new round number and the commit point. */
  private pingRound(now: number): void {
    this.round += 1;
    this.roundSentAt = now;
    const ping: ZabMessage = { type: 'Ping', epoch: this.newEpoch!, zxid: this.commitZxid(), round: this.round };
    for (const learner of this.serving.keys()) this.host.send(learner, ping);
  }

  /** Emits read-ready for every read whose round a quorum of voters (this leader included) answered. */
  private releaseReads(): void {
    while (this.reads.length > 0) {
      const read = this.reads[0]!;
      const answered = [this.host.id];
      for (const [learner, progress] of this.progress) if (!progress.observer && progress.round >= read.round) answered.push(learner);
      if (!isQuorum(this.host.voters, answered)) return;
      this.reads.shift();
      this.host.emit({ type: 'read-ready', id: read.id, index: read.index });
    }
  }

  /** A learner holds the history up to `zxid` (this leader's history: it synchronized it). */
  private acknowledged(from: NodeId, zxid: number): void {
    const progress = this.progress.get(from);
    const index = this.host.log.indexOf(zxid);
    if (progress && index !== null) progress.acked = Math.max(progress.acked, index);
    // It holds the chunked snapshot it was sent: no more pieces of it are needed.
    if (progress?.snapshot && progress.acked >= progress.snapshot.index) progress.snapshot = null;
  }

  /** The leader's commit point as a zxid (what COMMIT, UPTODATE and PING carry). */
  private commitZxid(): number {
    return this.host.log.zxidAt(this.host.committedIndex()) ?? this.host.log.snapshot.zxid;
  }

  /**
   * Commits, in zxid order, every proposal a quorum of voters has logged (the leader's own log counts:
   * it is on disk before the proposal leaves), then tells followers (COMMIT) and observers (INFORM).
   */
  private advanceCommit(): void {
    if (!this.isEstablished) return;
    const { log, voters, id } = this.host;
    const acked = voters.map((voter) => (voter === id ? log.lastIndex : this.progress.get(voter)?.acked ?? 0)).sort((a, b) => b - a);
    const quorumIndex = acked[Math.floor(voters.length / 2)] ?? 0;
    const before = this.host.committedIndex();
    if (quorumIndex <= before) return;
    this.host.commit(quorumIndex);
    const commit: ZabMessage = { type: 'Commit', epoch: this.newEpoch!, zxid: this.commitZxid() };
    for (const [learner, progress] of this.progress) {
      if (!progress.observer) this.host.send(learner, commit);
      else if (progress.sentUpTo === before) {
        for (let index = before + 1; index <= quorumIndex; index++) this.host.send(learner, this.inform(index));
        progress.sentUpTo = quorumIndex;
      }
    }
  }

  private inform(index: number): Inform {
    const { log } = this.host;
    const entry = log.entry(index)!;
    return { type: 'Inform', epoch: this.newEpoch!, zxid: entry.zxid, prevZxid: log.zxidAt(index - 1)!, command: entry.command };
  }

  /** What a learner is to hold: a follower the whole history, an observer the committed part. */
  private targetOf(progress: LearnerProgress): number {
    return progress.observer ? this.host.committedIndex() : this.host.log.lastIndex;
  }

  /** A learner that holds everything sent to it and lacks more gets the next part (flow control). */
  private catchUp(learner: NodeId): void {
    const progress = this.progress.get(learner);
    if (progress && progress.acked >= progress.sentUpTo && progress.sentUpTo < this.targetOf(progress)) this.sendFrom(learner, progress, progress.sentUpTo + 1);
  }

  /** Sends a learner the history from `index` on, as proposals (INFORMs to an observer), within the budget. */
  private sendFrom(learner: NodeId, progress: LearnerProgress, index: number): void {
    const target = this.targetOf(progress);
    // Each proposal is a frame of its own; the budget paces a learner far behind (at least one each time).
    for (let bytes = 0; index <= target && bytes < CATCH_UP_BUDGET_BYTES; index++) {
      const message = progress.observer ? this.inform(index) : this.proposalAt(index);
      bytes += utf8Length(message.command) + 64;
      this.host.send(learner, message);
      progress.sentUpTo = Math.max(progress.sentUpTo, index);
    }
  }

  /**
   * Re-sends, once a ping interval passed without progress, what a serving learner lacks: proposals to
   * a follower, committed transactions to an observer (standing in for TCP's retransmission). A learner
   * that lacks entries compacted away is dropped: it times out and synchronizes again, by SNAP.
   */
  private resendLagging(): void {
    for (const [learner, progress] of this.progress) {
      if (!this.serving.has(learner)) continue;
      const stalled = progress.acked === progress.ackedAtLastPing;
      progress.ackedAtLastPing = progress.acked;
      if (progress.acked >= this.targetOf(progress) || !stalled) continue;
      if (progress.acked < this.host.log.snapshot.index) {
        this.serving.delete(learner);
        this.progress.delete(learner);
        continue;
      }
      this.sendFrom(learner, progress, progress.acked + 1);
    }
  }

  private proposalAt(index: number): Proposal {
    const { log } = this.host;
    const entry = log.entry(index)!;
    return { type: 'Proposal', epoch: this.newEpoch!, zxid: entry.zxid, prevZxid: log.zxidAt(index - 1)!, command: entry.command };
  }

  private receiveAckEpoch(now: number, from: NodeId, ack: AckEpoch): PhaseStep {
    this.epochAcked.add(from);
    this.learnerZxid.set(from, ack.lastZxid);
    if (this.phaseName === 'discovery') {
      if (!ack.newlyAccepted) return null; // ZooKeeper's -1: an old promise, not counted, synced later
      // A quorum member more up to date than the leader: FLE should have elected it. Leading would
      // truncate its history, so give up and elect again (ZooKeeper: "Follower is ahead of the leader").
      if (isMoreRecent(ack, this.summary)) return abandon(`follower ${from} is ahead of the leader`);
      this.electing.add(from);
      return this.advance(now);
    }
    this.host.send(from, this.newLeaderMessage(from, false));
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
      for (const learner of this.epochAcked) this.host.send(learner, this.newLeaderMessage(learner, false));
    }
    if (this.phaseName === 'synchronization') {
      if (!isQuorum(voters, this.newLeaderAcks)) return null;
      // A quorum holds the leader's history in its epoch: established, and that history committed.
      this.phaseName = 'broadcast';
      this.host.commit(this.host.log.lastIndex);
      for (const learner of this.newLeaderAcks) {
        if (learner === id) continue;
        this.host.send(learner, { type: 'UpToDate', epoch: this.newEpoch, zxid: this.commitZxid() });
        this.serving.set(learner, now);
      }
      for (const [observer, lastZxid] of this.pendingObservers) this.syncObserver(now, observer, lastZxid);
      this.pendingObservers.clear();
      this.pingDeadline = now + this.timing.heartbeatMs;
      return established;
    }
    return null;
  }

  private syncObserver(now: number, observer: NodeId, lastZxid: number): void {
    this.learnerZxid.set(observer, lastZxid);
    this.host.send(observer, this.newLeaderMessage(observer, true));
    this.serving.set(observer, now);
  }

  /**
   * NEWLEADER for one learner, with what makes its history the leader's (ZooKeeper's
   * LearnerHandler.syncFollower): DIFF when it holds a prefix of the leader's history, TRUNC (then the
   * DIFF) when it holds proposals the leader does not, SNAP when the leader compacted away where they
   * part, or cannot tell where that is. An observer is synchronized up to the commit point only.
   * Entries beyond SYNC_BUDGET_BYTES follow as re-sent proposals.
   */
  private newLeaderMessage(learner: NodeId, observer: boolean): NewLeader {
    const { log } = this.host;
    const upTo = observer ? this.host.committedIndex() : log.lastIndex;
    const peerZxid = this.learnerZxid.get(learner) ?? 0;
    const { sync, baseIndex } = syncPoint(log, peerZxid, upTo);
    const snapshot = sync === 'snap' ? log.snapshot.data : undefined;
    // A snapshot too large for the NEWLEADER frame follows it in chunks (SnapChunk), a window for each
    // SnapRequest of the learner (answerSnapRequest).
    const chunked = snapshot !== undefined && encodedLength(snapshot) > MAX_WHOLE_SNAPSHOT_LENGTH;
    // One frame: the snapshot (if whole), then as many entries as fit; the rest follow.
    let bytes = snapshot === undefined || chunked ? 0 : encodedLength(snapshot);
    let end = baseIndex;
    while (end < upTo) {
      bytes += encodedLength(log.commandAt(end + 1)) + 32;
      if (bytes > NEWLEADER_BUDGET_BYTES) break;
      end += 1;
    }
    const slice = log.slice(baseIndex, end);
    // A follower synchronizing (again: it restarted) serves once it acknowledges, told by UPTODATE.
    if (!observer) this.serving.delete(learner);
    const known = this.progress.get(learner);
    this.progress.set(learner, {
      observer,
      acked: known?.acked ?? 0,
      ackedAtLastPing: -1,
      sentUpTo: end,
      round: known?.round ?? 0,
      snapshot: chunked ? log.snapshot : null,
    });
    return {
      type: 'NewLeader',
      epoch: this.newEpoch!,
      zxid: log.zxidAt(end)!,
      sync,
      base: log.zxidAt(baseIndex)!,
      baseIndex,
      snapshot: chunked ? '' : snapshot ?? '',
      ...(chunked ? { snapshotLength: snapshot.length } : {}),
      runs: slice.runs,
      commands: slice.commands,
    };
  }

  /**
   * A learner asks for the next window of the chunked snapshot its NEWLEADER announced: the pieces
   * from `offset`, the first it lacks (src/core/chunks.ts). ZooKeeper's LearnerHandler writes the
   * whole snapshot to the follower's socket after SNAP, and TCP's flow control paces it; here each
   * piece is a frame of its own, and a runtime peer link drops the oldest frames of a burst beyond its
   * queue (src/runtime/links.ts), so the leader sends one window per request and the learner's
   * requests pace the transfer. A lost piece costs one request from where the learner stands, never
   * the whole snapshot again. The pieces come from the snapshot the learner was told of, kept for it
   * (a compaction meanwhile does not restart its transfer). A request for another snapshot (its
   * NEWLEADER is older than the last one sent it, which was lost) is answered with NEWLEADER again; a
   * request from a learner being sent no chunked snapshot, or with an offset that starts no piece, is
   * ignored.
   */
  private answerSnapRequest(learner: NodeId, request: SnapRequest): void {
    const progress = this.progress.get(learner);
    const snapshot = progress?.snapshot;
    if (progress === undefined || snapshot == null) return;
    if (request.index !== snapshot.index) {
      this.host.send(learner, this.newLeaderMessage(learner, progress.observer));
      return;
    }
    const { index, data } = snapshot;
    for (const piece of windowPieces(data, request.offset)) {
      this.host.send(learner, { type: 'SnapChunk', epoch: this.newEpoch!, index, total: data.length, ...piece });
    }
  }
}

/** What the leader knows of one learner it synchronized. */
interface LearnerProgress {
  readonly observer: boolean;
  /** The position up to which the learner acknowledged holding this leader's history. */
  acked: number;
  /** `acked` at the last ping, to re-send only to a learner that made no progress since. */
  ackedAtLastPing: number;
  /** The position up to which the history was sent to it (NEWLEADER, then proposals or INFORMs). */
  sentUpTo: number;
  /** The last ping round it answered. */
  round: number;
  /** The chunked snapshot its NEWLEADER announced, until it acknowledges holding it (null: none). */
  snapshot: ZabSnapshot | null;
}
