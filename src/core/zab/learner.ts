/**
 * A learner's side of the Zab phases after the election (ZooKeeper's Learner.registerWithLeader and
 * syncWithLeader, Follower.followLeader, Observer.observeLeader): promise the epoch (a follower),
 * take the leader's history (DIFF, TRUNC or SNAP), then log proposals and deliver commits (a follower)
 * or committed INFORMs (an observer). The leader's side, and the phases' shared types: establishment.ts.
 */
import { abandon, established, type PhaseHost, type PhaseStep, type PhaseTiming } from './establishment.js';
import type { NodeId } from '../types.js';
import { MAX_SNAPSHOT_LENGTH, SNAPSHOT_CHUNK_CHARS, type AckEpoch, type Inform, type NewLeader, type Proposal, type SnapChunk, type ZabMessage } from './messages.js';

/** How many proposals a learner holds back while it waits for an earlier one. */
const MAX_HELD_BACK = 1024;

export type LearnerStage = 'connecting' | 'epoch-acked' | 'synchronized' | 'serving';

/** The pieces of one chunked SNAP's snapshot received so far (SnapChunk), by offset. */
interface ChunkedSnapshot {
  readonly epoch: number;
  readonly index: number;
  readonly total: number;
  readonly pieces: Map<number, string>;
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
  /** A piece arrived since the last handshake re-send: the leader is still sending, do not ask it again. */
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
        // A chunked SNAP's deadline runs from its first NEWLEADER, so that a sync that never completes
        // (a piece lost for good) times out like any other failed one, however often it is re-sent.
        const chunked = message.sync === 'snap' && message.snapshotLength !== undefined;
        if (!chunked || this.waitingNewLeader === null) this.heard(now);
        if (!this.awaitsSync(message.epoch)) return null;
        if (!chunked) return this.synchronize(now, message, message.snapshot);
        this.waitingNewLeader = message;
        return this.completeChunkedSync(now);
      }
      case 'SnapChunk':
        if (!this.awaitsSync(message.epoch)) return null;
        this.receiveChunk(message);
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
   * Keeps one piece of a chunked snapshot. Pieces of another snapshot (another epoch, position or
   * length) start afresh: the leader compacted again, or this is a new leader session. A piece must
   * sit on the SNAPSHOT_CHUNK_CHARS grid and fill its cell exactly, so the pieces kept never exceed
   * `total` characters however many arrive, duplicates included.
   */
  private receiveChunk(chunk: SnapChunk): void {
    const { epoch, index, total, offset, data } = chunk;
    if (total > MAX_SNAPSHOT_LENGTH || offset >= total || offset % SNAPSHOT_CHUNK_CHARS !== 0) return;
    if (data.length !== Math.min(SNAPSHOT_CHUNK_CHARS, total - offset)) return;
    const current = this.chunks;
    if (current === null || current.epoch !== epoch || current.index !== index || current.total !== total) {
      if (current !== null && epoch < current.epoch) return; // a straggler of an older session
      this.chunks = { epoch, index, total, pieces: new Map() };
    }
    this.chunks!.pieces.set(offset, data);
    this.chunkArrived = true;
  }

  /** Synchronizes by the waiting chunked NEWLEADER once every piece of its snapshot is here. */
  private completeChunkedSync(now: number): PhaseStep {
    const message = this.waitingNewLeader;
    const chunks = this.chunks;
    if (message === null || chunks === null) return null;
    const length = message.snapshotLength!;
    if (chunks.epoch !== message.epoch || chunks.index !== message.baseIndex || chunks.total !== length) return null;
    if (chunks.pieces.size !== Math.ceil(length / SNAPSHOT_CHUNK_CHARS)) return null;
    const data = [...chunks.pieces.entries()].sort(([a], [b]) => a - b).map(([, piece]) => piece).join('');
    this.chunks = null;
    this.waitingNewLeader = null;
    return this.synchronize(now, message, data);
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
   * Whether a piece of a chunked snapshot arrived since the last re-send (and forgets it): the leader
   * is still sending it, and asking again would only make it send the whole snapshot once more.
   */
  private takeChunkArrived(): boolean {
    const arrived = this.chunkArrived;
    this.chunkArrived = false;
    return arrived;
  }

  /** (Re-)sends the message the leader has not answered yet. */
  private sendHandshake(): void {
    switch (this.stageName) {
      case 'connecting':
        if (this.observer && this.takeChunkArrived()) return;
        this.host.send(
          this.leader,
          this.observer
            ? { type: 'ObserverInfo', lastZxid: this.host.log.lastZxid }
            : { type: 'FollowerInfo', acceptedEpoch: this.host.durable().acceptedEpoch },
        );
        return;
      case 'epoch-acked':
        if (this.takeChunkArrived()) return;
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
