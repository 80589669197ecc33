/**
 * A learner's side of the Zab phases after the election (ZooKeeper's Learner.registerWithLeader and
 * syncWithLeader, Follower.followLeader, Observer.observeLeader): promise the epoch (a follower),
 * take the leader's history (DIFF, TRUNC or SNAP), then log proposals and deliver commits (a follower)
 * or committed INFORMs (an observer). The leader's side, and the phases' shared types: establishment.ts.
 */
import { abandon, established, type PhaseHost, type PhaseStep, type PhaseTiming } from './establishment.js';
import { isPiece, SnapshotPieces } from '../chunks.js';
import type { NodeId } from '../types.js';
import type { AckEpoch, Inform, NewLeader, Proposal, SnapChunk, ZabMessage } from './messages.js';

/** How many proposals a learner holds back while it waits for an earlier one. */
const MAX_HELD_BACK = 1024;

export type LearnerStage = 'connecting' | 'epoch-acked' | 'synchronized' | 'serving';

/** The pieces of one chunked SNAP's snapshot received so far (SnapChunk): the leader's epoch, the snapshot's position. */
interface ChunkedSnapshot {
  readonly epoch: number;
  readonly index: number;
  readonly pieces: SnapshotPieces;
}

export class LearnerSession {
  private stageName: LearnerStage = 'connecting';
  private newEpoch: number | null = null;
  private ackEpoch: AckEpoch | null = null;
  private silenceDeadline: number;
  private resendDeadline: number;
  /** Proposals (INFORMs) that arrived before their predecessor, by the zxid they follow. */
  private readonly heldBack = new Map<number, Proposal | Inform>();
  /** The chunked snapshot being received, and the NEWLEADER waiting for all of it (not acknowledged yet). */
  private chunks: ChunkedSnapshot | null = null;
  private waitingNewLeader: NewLeader | null = null;
  /** A new piece arrived since the last handshake re-send: the leader is still sending, do not ask it again. */
  private chunkArrived = false;

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
        // A chunked SNAP's deadline runs from its first NEWLEADER and then from each new piece, so that
        // a transfer making progress goes on however long it takes, and one that stalls for good (no new
        // piece within the init timeout) fails like any other sync, however often NEWLEADER is re-sent.
        const chunked = message.sync === 'snap' && message.snapshotLength !== undefined;
        if (!chunked || this.waitingNewLeader === null) this.heard(now);
        if (!this.awaitsSync(message.epoch)) return null;
        if (!chunked) return this.synchronize(now, message, message.snapshot);
        const previous = this.waitingNewLeader;
        const resent = previous !== null && previous.epoch === message.epoch && previous.baseIndex === message.baseIndex && previous.snapshotLength === message.snapshotLength;
        this.waitingNewLeader = message;
        const step = this.completeChunkedSync(now);
        // Not all here: ask for pieces from the first one missing (a re-sent NEWLEADER resumes there),
        // unless its pieces are still arriving (a request would only duplicate the window in flight).
        if (step === null && (!resent || !this.chunkArrived)) this.requestSnapWindow();
        return step;
      }
      case 'SnapChunk':
        if (!this.awaitsSync(message.epoch)) return null;
        this.receiveChunk(now, message);
        return this.completeChunkedSync(now);
      case 'UpToDate':
        if (this.stageName !== 'synchronized' || message.epoch !== this.newEpoch) return null;
        this.stageName = 'serving';
        this.heard(now);
        this.commitUpTo(message.zxid);
        return established;
      case 'Proposal':
      case 'Inform':
        if (message.epoch !== this.newEpoch || (message.type === 'Inform') !== this.observer) return null;
        this.heard(now);
        this.log(message);
        return null;
      case 'Commit':
        if (message.epoch !== this.newEpoch || !this.isServing) return null;
        this.heard(now);
        this.commitUpTo(message.zxid);
        return null;
      case 'Ping': {
        if (message.epoch !== this.newEpoch) return null; // a ping of another session of that leader
        this.heard(now);
        if (this.stageName !== 'synchronized' && this.stageName !== 'serving') return null;
        // The leader pings only learners it sent UPTODATE: a ping stands in for an UPTODATE lost.
        const step = this.stageName === 'synchronized' ? established : null;
        this.stageName = 'serving';
        this.commitUpTo(message.zxid);
        this.host.send(this.leader, { type: 'PingReply', epoch: message.epoch, zxid: this.host.log.lastZxid, round: message.round });
        return step;
      }
      case 'Notification': // answered by the node
      case 'FollowerInfo':
      case 'ObserverInfo':
      case 'AckEpoch':
      case 'Ack':
      case 'PingReply':
      case 'SnapRequest':
        return null;
    }
  }

  /**
   * Logs a proposal (a follower, then ACK) or a committed transaction (an observer, then deliver), in
   * zxid order: one that arrives before its predecessor waits for it; a duplicate is acknowledged again.
   */
  private log(message: Proposal | Inform): void {
    const { log } = this.host;
    if (this.stageName === 'connecting' || this.stageName === 'epoch-acked' || message.prevZxid !== log.lastZxid) {
      if (message.zxid > log.lastZxid && this.heldBack.size < MAX_HELD_BACK) this.heldBack.set(message.prevZxid, message);
      else if (message.zxid <= log.lastZxid && !this.observer) this.host.send(this.leader, { type: 'Ack', epoch: this.newEpoch!, zxid: log.lastZxid });
      return;
    }
    let next: Proposal | Inform | undefined = message;
    while (next) {
      this.heldBack.delete(next.prevZxid);
      log.append(next.zxid, next.command);
      next = this.heldBack.get(log.lastZxid);
    }
    this.host.logChanged();
    if (this.observer) this.host.commit(log.lastIndex); // INFORMs carry committed transactions only
    else this.host.send(this.leader, { type: 'Ack', epoch: this.newEpoch!, zxid: log.lastZxid });
  }

  /** Delivers the history up to the leader's commit point `zxid` (a follower's history is a prefix of the leader's). */
  private commitUpTo(zxid: number): void {
    this.host.commit(this.host.log.indexAtMost(zxid));
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

  /**
   * Whether a NEWLEADER (or a piece of its snapshot) of `epoch` is what this learner waits for: a
   * follower takes the epoch it promised; an observer promised none (synchronize checks it).
   */
  private awaitsSync(epoch: number): boolean {
    const expected = this.observer ? 'connecting' : 'epoch-acked';
    return this.stageName === expected && (this.observer || epoch === this.newEpoch);
  }

  /**
   * Keeps one piece of a chunked snapshot (src/core/chunks.ts checks its place and length, so the
   * pieces kept never exceed its length however many arrive). Pieces already held are kept across
   * re-sends of the same snapshot (epoch, position, length); a piece of another snapshot of the
   * NEWLEADER waited for, or of an older one, is stale; without a NEWLEADER yet, a newer snapshot's
   * piece starts afresh. A new piece is progress: it keeps the sync alive, and once the learner holds
   * a whole window it asks for the next one at once.
   */
  private receiveChunk(now: number, chunk: SnapChunk): void {
    const { epoch, index, total, offset, data } = chunk;
    if (!isPiece(total, offset, data.length)) return;
    const waiting = this.waitingNewLeader;
    let current = this.chunks;
    if (waiting !== null) {
      if (epoch !== waiting.epoch || index !== waiting.baseIndex || total !== waiting.snapshotLength) return; // not the awaited snapshot
    } else if (current !== null && (epoch < current.epoch || (epoch === current.epoch && index < current.index))) {
      return; // a straggler of an older session, or of an older snapshot of this one
    }
    if (current === null || current.epoch !== epoch || current.index !== index || current.pieces.length !== total) {
      current = { epoch, index, pieces: new SnapshotPieces(total) };
      this.chunks = current;
    }
    const added = current.pieces.add(offset, data);
    if (added === 'duplicate') return;
    this.chunkArrived = true;
    this.heard(now);
    if (added === 'window-held' && !current.pieces.complete) this.requestSnapWindow();
  }

  /**
   * Asks the leader for the window of the awaited snapshot from the first piece missing: the one the
   * waiting NEWLEADER announced, or else the one whose pieces are arriving.
   */
  private requestSnapWindow(): void {
    const waiting = this.waitingNewLeader;
    const chunks = this.chunks;
    const epoch = waiting?.epoch ?? chunks?.epoch;
    const index = waiting?.baseIndex ?? chunks?.index;
    if (epoch === undefined || index === undefined) return;
    const held = chunks !== null && chunks.epoch === epoch && chunks.index === index && (waiting === null || chunks.pieces.length === waiting.snapshotLength);
    this.host.send(this.leader, { type: 'SnapRequest', epoch, index, offset: held ? chunks.pieces.missing : 0 });
  }

  /** Synchronizes by the waiting chunked NEWLEADER once every piece of its snapshot is here. */
  private completeChunkedSync(now: number): PhaseStep {
    const message = this.waitingNewLeader;
    const chunks = this.chunks;
    if (message === null || chunks === null) return null;
    if (chunks.epoch !== message.epoch || chunks.index !== message.baseIndex || chunks.pieces.length !== message.snapshotLength) return null;
    if (!chunks.pieces.complete) return null;
    this.chunks = null;
    this.waitingNewLeader = null;
    return this.synchronize(now, message, chunks.pieces.assemble());
  }

  /**
   * Synchronization: make the history the leader's (DIFF, TRUNC or SNAP, whose snapshot is
   * `snapshot`) and its epoch current, durably, then ACK.
   */
  private synchronize(now: number, message: NewLeader, snapshot: string): PhaseStep {
    const { epoch } = message;
    const durable = this.host.durable();
    if (epoch < durable.currentEpoch) {
      return abandon(`leader ${this.leader} is in epoch ${epoch}, behind the current epoch ${durable.currentEpoch}`);
    }
    const problem = this.adoptHistory(message, snapshot);
    if (problem) return abandon(problem);
    this.host.logChanged();
    this.host.update({ acceptedEpoch: Math.max(durable.acceptedEpoch, epoch), currentEpoch: epoch });
    this.newEpoch = epoch;
    if (this.observer) {
      // The leader syncs an observer only once established, only with committed history, and counts
      // nothing from it.
      this.stageName = 'serving';
      this.heard(now);
      this.host.commit(this.host.log.lastIndex);
      this.drainHeldBack();
      return established;
    }
    this.stageName = 'synchronized';
    this.drainHeldBack();
    this.host.send(this.leader, { type: 'Ack', epoch, zxid: this.host.log.lastZxid });
    return null;
  }

  /** ZooKeeper's Learner.syncWithLeader: apply DIFF, TRUNC or SNAP. Returns a problem, or null. */
  private adoptHistory(message: NewLeader, snapshotData: string): string | null {
    const { log } = this.host;
    const slice = { runs: message.runs, commands: message.commands };
    if (message.sync === 'snap') {
      const snapshot = { index: message.baseIndex, zxid: message.base, data: snapshotData };
      log.replace(snapshot, slice);
      this.host.installSnapshot(snapshot); // when it is ahead of what this node delivered
      return null;
    }
    const at = log.indexOf(message.base);
    if (at !== message.baseIndex) return `cannot ${message.sync} from ${message.base}: held at ${at}, the leader's at ${message.baseIndex}`;
    this.truncate(at);
    log.appendSlice(slice);
    return null;
  }

  /** TRUNC: drop the proposals after `index`, which the leader's history does not hold. */
  private truncate(index: number): void {
    this.host.log.truncateAfter(index);
  }

  /** Logs the proposals that arrived before synchronization finished. */
  private drainHeldBack(): void {
    const next = this.heldBack.get(this.host.log.lastZxid);
    if (next) this.log(next);
  }

  /**
   * Whether a new piece of a chunked snapshot arrived since the last re-send (and forgets it): the
   * leader is still sending its window, and asking again would only make it send the window twice.
   */
  private takeChunkArrived(): boolean {
    const arrived = this.chunkArrived;
    this.chunkArrived = false;
    return arrived;
  }

  /**
   * While synchronizing: nothing to re-send while pieces arrive; after a heartbeat without a new one (a
   * piece or a request was lost), the window from the first piece missing, once a chunked NEWLEADER
   * came. Returns whether that took the place of the handshake's re-send.
   */
  private resumeChunkedSync(): boolean {
    if (this.takeChunkArrived()) return true;
    if (this.waitingNewLeader === null) return false;
    this.requestSnapWindow();
    return true;
  }

  /** (Re-)sends the message the leader has not answered yet. */
  private sendHandshake(): void {
    switch (this.stageName) {
      case 'connecting':
        if (this.observer && this.resumeChunkedSync()) return;
        this.host.send(
          this.leader,
          this.observer
            ? { type: 'ObserverInfo', lastZxid: this.host.log.lastZxid }
            : { type: 'FollowerInfo', acceptedEpoch: this.host.durable().acceptedEpoch },
        );
        return;
      case 'epoch-acked':
        if (this.resumeChunkedSync()) return;
        this.host.send(this.leader, this.ackEpoch!);
        return;
      case 'synchronized':
        this.host.send(this.leader, { type: 'Ack', epoch: this.newEpoch!, zxid: this.host.log.lastZxid });
        return;
      case 'serving':
        return;
    }
  }
}
