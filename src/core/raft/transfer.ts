/**
 * Leadership transfer at the leader (thesis §3.10, etcd's MsgTimeoutNow): the transfer under way, its
 * target and deadline, and the TimeoutNow that asks the target to campaign once its log matches the
 * leader's. The node (raft.ts) gives its lease up when a transfer starts, refuses requests meanwhile, and
 * judges the target's side (a TimeoutNow received, a transfer vote granted) with its own promises.
 * Why leases never overlap: docs/algorithms/raft.md, "Leadership transfer".
 */
import type { ElectionEvent, NodeId } from '../types.js';
import type { TimeoutNow } from './messages.js';

/** What a transfer needs of its node (the leader). */
export interface TransferHost {
  readonly id: NodeId;
  /** The voters of the configuration in force: only one of them can be handed leadership. */
  voters(): readonly NodeId[];
  term(): number;
  /** The last index of the leader's log. */
  lastIndex(): number;
  /** The highest index known replicated on `voter` (replication.ts). */
  matchOf(voter: NodeId): number;
  /** The highest heartbeat round `voter` acknowledged (lease.ts). */
  ackedRound(voter: NodeId): number;
  send(to: NodeId, message: TimeoutNow): void;
  emit(event: ElectionEvent): void;
}

/** A transfer under way. TimeoutNow leaves once the target's log matches the leader's (`timeoutNowSent`). */
interface Transfer {
  readonly to: NodeId;
  /** The last heartbeat round of the leader's lease: the target campaigns only if it acknowledged none after it. */
  readonly round: number;
  readonly deadline: number;
  timeoutNowSent: boolean;
}

export class LeadershipTransfer {
  private readonly host: TransferHost;
  private current: Transfer | null = null;

  constructor(host: TransferHost) {
    this.host = host;
  }

  /** Whether a transfer is under way (the leader accepts no proposal, read or change meanwhile). */
  get underway(): boolean {
    return this.current !== null;
  }

  /** When the transfer under way is abandoned (Infinity: none). */
  get deadline(): number {
    return this.current === null ? Infinity : this.current.deadline;
  }

  /**
   * Starts handing leadership to `to`, or to the most up-to-date voter (see `target`), after heartbeat
   * round `round`; it is abandoned at `deadline`. Returns the target, or null when there is none to hand
   * to (the leader alone, or `to` is itself or not a voter): nothing started.
   */
  start(to: NodeId | null, round: number, deadline: number): NodeId | null {
    const target = to ?? this.target();
    if (target === null || target === this.host.id || !this.host.voters().includes(target)) return null;
    this.current = { to: target, round, deadline, timeoutNowSent: false };
    this.host.emit({ type: 'transfer-started', term: this.host.term(), to: target, deadline });
    return target;
  }

  /** Thesis §3.10: TimeoutNow leaves once the target holds the leader's whole log; false while it does not (it is sent what it lacks). */
  sendTimeoutNowIfCaughtUp(): boolean {
    const transfer = this.current;
    if (transfer === null || transfer.timeoutNowSent || this.host.matchOf(transfer.to) !== this.host.lastIndex()) return false;
    transfer.timeoutNowSent = true;
    const timeoutNow: TimeoutNow = { type: 'TimeoutNow', term: this.host.term(), round: transfer.round };
    this.host.send(transfer.to, timeoutNow);
    return true;
  }

  /** `member` answered the leader: if it is the target and now holds the whole log, TimeoutNow leaves. */
  answered(member: NodeId): void {
    if (this.current === null || this.current.to !== member) return;
    this.sendTimeoutNowIfCaughtUp();
  }

  /**
   * etcd abandons a transfer after an election timeout: the target did not win; lead on. True when
   * the transfer under way was abandoned now ('transfer-abandoned').
   */
  abandonIfExpired(now: number): boolean {
    if (this.current === null || now < this.current.deadline) return false;
    this.host.emit({ type: 'transfer-abandoned', term: this.host.term(), to: this.current.to });
    this.current = null;
    return true;
  }

  /** The node stopped leading, or leads anew: no transfer is under way. */
  cancel(): void {
    this.current = null;
  }

  /** The most up-to-date other voter: the highest matchIndex, then the newest heartbeat round acknowledged, then the lowest id; null in a cluster of one. */
  private target(): NodeId | null {
    let best: NodeId | null = null;
    let bestMatch = -1;
    let bestRound = -1;
    for (const voter of [...this.host.voters()].sort((a, b) => a - b)) {
      if (voter === this.host.id) continue;
      const match = this.host.matchOf(voter);
      const round = this.host.ackedRound(voter);
      if (match > bestMatch || (match === bestMatch && round > bestRound)) [best, bestMatch, bestRound] = [voter, match, round];
    }
    return best;
  }
}
