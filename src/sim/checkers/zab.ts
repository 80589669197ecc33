/**
 * ZAB's own invariants (Junqueira, Reed, Serafini 2011, "Zab: high-performance broadcast"), checked
 * against every node's durable state (acceptedEpoch, currentEpoch, lastZxid) and every message.
 */
import { isQuorum } from '../../core/quorum.js';
import type { NodeId } from '../../core/types.js';
import { isMoreRecent } from '../../core/zab/establishment.js';
import { counterOfZxid, epochOfZxid, formatZxid, makeZxid, type ZabDurable, type ZabMessage } from '../../core/zab/messages.js';
import type { Engine } from '../engine.js';
import { NO_VIOLATIONS, startsReign, type Checker, type SimEvent } from '../events.js';

const durableOf = (engine: Engine, id: NodeId): ZabDurable => engine.node(id)!.durable as ZabDurable;

/** A history summary, as ZooKeeper's StateSummary: the epoch last made current, then the last zxid. */
interface Summary {
  readonly currentEpoch: number;
  readonly lastZxid: number;
}

const summaryOf = ({ currentEpoch, lastZxid }: ZabDurable): Summary => ({ currentEpoch, lastZxid });
const describe = (s: Summary): string => `epoch ${s.currentEpoch}, zxid ${formatZxid(s.lastZxid)}`;

/**
 * No committed entry is lost (Zab's "primary order" / integrity; the paper's Phase 1 picks the most
 * up-to-date history of the quorum). Two checks at each leader's establishment:
 *   - its history is at least every history of the quorum it took the epoch from: each fresh promise
 *     (ACKEPOCH) that reached it while it was still in discovery for that epoch (ZooKeeper's
 *     "Follower is ahead of the leader", checked in waitForEpochAck until electionFinished). A promise
 *     that reaches it later is not part of that quorum: the paper's Phase 3 (a late CEPOCH is
 *     answered with NEWEPOCH and NEWLEADER) and ZooKeeper's LearnerHandler synchronize such a late
 *     follower to the leader's history (TRUNC, DIFF or SNAP), and anything committed it held is in
 *     the quorum's histories already;
 *   - its history holds every committed entry: each zxid that a quorum of voters has held at any time
 *     so far. A zxid names one entry and its prefix (an epoch is one leader's, and its leader proposes
 *     in counter order), but a larger zxid does not hold a smaller one: histories diverge when a new
 *     epoch truncates what a minority held (sweep seed 187 with clients: 1, 4 and 5 held 3:113 and
 *     3:114, 2, 3 and 8 went on to 4:1 from 3:112; no quorum held 3:114, and leader 7 of epoch 5 was
 *     right to drop it). So what a quorum held is counted per epoch: in epoch e, the highest counter
 *     that a quorum holds.
 */
export class ZabHistory implements Checker {
  readonly name = 'zab-history';
  readonly wants = ['status', 'sent', 'delivered', 'driver'] as const;
  /** Epoch → the highest counter of that epoch that a quorum of voters has held (committed). */
  private readonly committed = new Map<number, number>();
  /** Each voter's held counters per epoch (heldCounters), as of its last persisted state. */
  private readonly heldBy = new Map<NodeId, Map<number, number>>();
  /**
   * `${leader}:${epoch}` → the most recent history freshly promised to it for that epoch while it was
   * in discovery (its quorum), and by whom.
   */
  private readonly promised = new Map<string, Summary & { readonly voter: NodeId }>();
  /** `${leader}:${epoch}` → the leader's own history when it proposed the epoch (its first LEADERINFO). */
  private readonly proposedWith = new Map<string, Summary>();

  constructor(private readonly engine: Engine) {
    for (const id of engine.voters) this.heldBy.set(id, this.heldCounters(durableOf(engine, id)));
    for (const id of engine.voters) this.updateCommitted(id);
  }

  observe(event: SimEvent): readonly string[] {
    switch (event.type) {
      case 'driver':
        if (event.event.type === 'persisted' && this.heldBy.has(event.node)) {
          this.heldBy.set(event.node, this.heldCounters(event.event.state as ZabDurable));
          this.updateCommitted(event.node);
        }
        return NO_VIOLATIONS;
      case 'sent': {
        const message = event.message as ZabMessage;
        if (message.type !== 'LeaderInfo') return NO_VIOLATIONS;
        const key = `${event.from}:${message.epoch}`;
        if (!this.proposedWith.has(key)) this.proposedWith.set(key, summaryOf(durableOf(this.engine, event.from)));
        return NO_VIOLATIONS;
      }
      case 'delivered': {
        // Only fresh promises make up the establishing quorum (an old promise is not counted, as
        // ZooKeeper's ACKEPOCH -1; its sender is synchronized later, and may lose uncommitted entries),
        // and only those read while the leader is still in discovery: it makes the epoch current (on
        // disk) the moment a quorum has promised, and a promise read after that joins an epoch already
        // taken (sweep seed 24691: voter 4, leader of an epoch no quorum synchronized with, promised
        // epoch 6 to leader 5 after 2 and 3 had; 5 synchronized 4 to its history, as ZooKeeper does).
        // A delivery is published before the receiver reads it, so its durable state is still the one
        // it read the promise with.
        const message = event.message as ZabMessage;
        if (message.type !== 'AckEpoch' || !message.newlyAccepted || !this.engine.voters.includes(event.from)) return NO_VIOLATIONS;
        if (durableOf(this.engine, event.to).currentEpoch >= message.epoch) return NO_VIOLATIONS;
        const key = `${event.to}:${message.epoch}`;
        const best = this.promised.get(key);
        if (!best || isMoreRecent(message, best)) this.promised.set(key, { currentEpoch: message.currentEpoch, lastZxid: message.lastZxid, voter: event.from });
        return NO_VIOLATIONS;
      }
      case 'status': {
        if (!startsReign(event)) return NO_VIOLATIONS;
        const mine = durableOf(this.engine, event.node).lastZxid;
        const epoch = event.status.term;
        const ahead = this.promised.get(`${event.node}:${epoch}`);
        const own = this.proposedWith.get(`${event.node}:${epoch}`);
        const problems: string[] = [];
        if (ahead && own && isMoreRecent(ahead, own)) {
          problems.push(`leader ${event.node} of epoch ${epoch} (history ${describe(own)}) took the epoch from a quorum with voter ${ahead.voter}, whose history ${describe(ahead)} is ahead`);
        }
        const held = this.heldCounters(durableOf(this.engine, event.node));
        for (const [committedEpoch, counter] of [...this.committed].sort(([a], [b]) => b - a)) {
          if ((held.get(committedEpoch) ?? 0) >= counter) continue;
          problems.push(`leader ${event.node} of epoch ${epoch} lacks committed history: its last zxid ${formatZxid(mine)}, a quorum held ${formatZxid(makeZxid(committedEpoch, counter))}`);
          break;
        }
        return problems;
      }
      default:
        return NO_VIOLATIONS;
    }
  }

  /** For the epochs `changed` holds: the quorum-th highest counter the voters hold now; committed stays committed. */
  private updateCommitted(changed: NodeId): void {
    const quorumSize = Math.floor(this.engine.voters.length / 2) + 1;
    for (const epoch of this.heldBy.get(changed)!.keys()) {
      const counters = [...this.heldBy.values()].map((counters) => counters.get(epoch) ?? 0).sort((a, b) => b - a);
      const counter = counters[quorumSize - 1] ?? 0;
      if (counter > (this.committed.get(epoch) ?? 0)) this.committed.set(epoch, counter);
    }
  }

  /**
   * Epoch → the highest counter of that epoch in a durable history (an epoch's entries in a history are
   * its leader's first ones, without gaps). The runs after the snapshot give theirs; the snapshot's own
   * epoch is held up to its zxid, and an earlier epoch only as far as it was committed (a snapshot is of
   * committed entries). Without runs or snapshot, the history is `lastZxid`'s counter entries of its
   * epoch (src/core/zab/log.ts historyOf).
   */
  private heldCounters(durable: ZabDurable): Map<number, number> {
    const held = new Map<number, number>();
    const raise = (epoch: number, counter: number): void => {
      if (counter > (held.get(epoch) ?? 0)) held.set(epoch, counter);
    };
    if (durable.runs === undefined && durable.snapshot === undefined) {
      raise(epochOfZxid(durable.lastZxid), counterOfZxid(durable.lastZxid));
      return held;
    }
    const snapshotZxid = durable.snapshot?.zxid ?? 0;
    const snapshotEpoch = epochOfZxid(snapshotZxid);
    for (const [epoch, counter] of this.committed) if (epoch < snapshotEpoch) raise(epoch, counter);
    raise(snapshotEpoch, counterOfZxid(snapshotZxid));
    for (const run of durable.runs ?? []) raise(run.epoch, run.first + run.count - 1);
    return held;
  }
}

/**
 * Epoch promises (Zab Phase 1; ZooKeeper's acceptedEpoch and its ACKEPOCH -1): a voter promises each
 * epoch at most once, only an epoch above every one it promised before, and only once the promise is
 * durable; a leader moves past discovery (sends NEWLEADER) only with fresh promises from a quorum.
 * Together these make an epoch one leader's.
 */
export class ZabEpochPromise implements Checker {
  readonly name = 'zab-epoch-promise';
  readonly wants = ['sent', 'delivered', 'driver'] as const;
  /** Per voter: its durable acceptedEpoch, and the one before the last raise. */
  private readonly accepted = new Map<NodeId, { now: number; before: number }>();
  /** `${voter}:${epoch}` → the leader it was promised to. */
  private readonly promisedTo = new Map<string, NodeId>();
  /** `${leader}:${epoch}` → voters whose fresh promise reached it. */
  private readonly freshAt = new Map<string, Set<NodeId>>();
  /** `${leader}:${epoch}` already checked at its first NEWLEADER. */
  private readonly synchronizing = new Set<string>();

  constructor(private readonly engine: Engine) {
    for (const id of engine.voters) {
      const epoch = durableOf(engine, id).acceptedEpoch;
      this.accepted.set(id, { now: epoch, before: epoch });
    }
  }

  observe(event: SimEvent): readonly string[] {
    switch (event.type) {
      case 'driver': {
        if (event.event.type !== 'persisted') return NO_VIOLATIONS;
        const accepted = this.accepted.get(event.node);
        const epoch = (event.event.state as ZabDurable).acceptedEpoch;
        if (accepted && epoch > accepted.now) {
          accepted.before = accepted.now;
          accepted.now = epoch;
        }
        return NO_VIOLATIONS;
      }
      case 'sent':
        return this.sent(event.from, event.to, event.message as ZabMessage);
      case 'delivered': {
        const message = event.message as ZabMessage;
        if (message.type !== 'AckEpoch' || !message.newlyAccepted || !this.engine.voters.includes(event.from)) return NO_VIOLATIONS;
        const key = `${event.to}:${message.epoch}`;
        const fresh = this.freshAt.get(key) ?? new Set<NodeId>();
        fresh.add(event.from);
        this.freshAt.set(key, fresh);
        return NO_VIOLATIONS;
      }
      default:
        return NO_VIOLATIONS;
    }
  }

  private sent(from: NodeId, to: NodeId, message: ZabMessage): readonly string[] {
    if (message.type === 'NewLeader') {
      const key = `${from}:${message.epoch}`;
      if (!this.engine.voters.includes(from) || this.synchronizing.has(key)) return NO_VIOLATIONS;
      this.synchronizing.add(key);
      const fresh = new Set(this.freshAt.get(key));
      fresh.add(from); // the leader's own promise
      if (isQuorum(this.engine.voters, fresh)) return NO_VIOLATIONS;
      return [`leader ${from} synchronizes epoch ${message.epoch} with fresh promises from only ${[...fresh].sort((a, b) => a - b).join(',')}`];
    }
    if (message.type !== 'AckEpoch' || !message.newlyAccepted) return NO_VIOLATIONS;
    const accepted = this.accepted.get(from);
    if (!accepted) return NO_VIOLATIONS; // an observer: checkSend reports it
    const key = `${from}:${message.epoch}`;
    const earlier = this.promisedTo.get(key);
    if (earlier === to) return NO_VIOLATIONS; // the same promise, re-sent
    if (earlier !== undefined) return [`voter ${from} promised epoch ${message.epoch} to ${earlier} and again to ${to}`];
    this.promisedTo.set(key, to);
    if (accepted.now !== message.epoch) return [`voter ${from} promised epoch ${message.epoch} to ${to} before it was durable (acceptedEpoch on disk: ${accepted.now})`];
    if (message.epoch <= accepted.before) return [`voter ${from} promised epoch ${message.epoch} to ${to}, not above its earlier promise ${accepted.before}`];
    return NO_VIOLATIONS;
  }
}
