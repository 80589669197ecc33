/**
 * A ZAB leader cut off from its quorum stops leading within its sync limit (ZooKeeper's syncLimit: the
 * leader's LearnerHandlers must hear from a quorum of voters, or Leader.lead gives up and the server
 * goes back to LOOKING). Without it a leader in a minority keeps serving stale reads for as long as the
 * partition lasts, beside the leader of a newer epoch.
 *
 * The bound is the core's own (leaderStepDownBoundMs, src/core/zab/zab.ts): once the last time a quorum
 * of voters (the leader included) was heard from is T, the leader leads no longer than T + the
 * session timeout + one heartbeat. Both T and the deadline are read on the leader's OWN clock, as the
 * core reads them, so a clock running fast or slow (drift) moves the deadline exactly as it moves the
 * core's. A paused leader cannot step down until it runs again: it is held to the bound from the
 * moment it resumes (what it does in that instant included), never while frozen.
 */
import { majority } from '../../core/quorum.js';
import type { NodeId } from '../../core/types.js';
import { leaderStepDownBoundMs } from '../../core/zab/zab.js';
import { roundMs, type Engine, type SimNode } from '../engine.js';
import { NO_VIOLATIONS, startsReign, type Checker, type SimEvent } from '../events.js';

/** Local times are computed the same way as the core's, but a tick lands a few ulps late: 1 µs of slack. */
const SLACK_MS = 0.001;

/** An established leader's reign, as far as this checker follows it. */
interface Reign {
  readonly node: SimNode;
  readonly epoch: number;
  /**
   * Per other voter: the leader's clock when it last read a message from it (at establishment every
   * voter counts as just heard, as the core counts its synchronized followers). Any message counts,
   * where the core counts only its serving followers' messages: the checker's quorum time is never
   * earlier than the core's, so it never expects a step-down the core was not bound to make.
   */
  readonly heard: Map<NodeId, number>;
  /** The step-down deadline last computed (leader's clock); it only grows, so it is recomputed only once passed. */
  deadline: number;
}

export class ZabSyncLimit implements Checker {
  readonly name = 'zab-sync-limit';
  /** Checked at every message sent or delivered and every fault (and at the end): the first of them past a deadline reports it. */
  readonly wants = ['status', 'sent', 'delivered', 'fault', 'crash', 'resume'] as const;
  private readonly boundMs: number;
  /** The other voters a leader must hear from: a quorum less itself. */
  private readonly othersNeeded: number;
  private readonly reigns = new Map<NodeId, Reign>();
  /** Per node: the virtual time it last resumed from a pause. */
  private readonly resumedAt = new Map<NodeId, number>();

  constructor(private readonly engine: Engine) {
    this.boundMs = leaderStepDownBoundMs(engine.timing);
    this.othersNeeded = majority(engine.voters.length) - 1;
  }

  observe(event: SimEvent): readonly string[] {
    switch (event.type) {
      case 'status': {
        if (startsReign(event)) {
          const node = this.engine.node(event.node)!;
          const now = this.engine.localNow(node);
          const heard = new Map<NodeId, number>();
          for (const voter of this.engine.voters) if (voter !== node.id) heard.set(voter, now);
          this.reigns.set(node.id, { node, epoch: event.status.term, heard, deadline: now + this.boundMs });
        } else if (event.status.leader !== event.node) {
          this.reigns.delete(event.node);
        }
        break;
      }
      case 'crash':
        this.reigns.delete(event.node);
        break;
      case 'resume':
        this.resumedAt.set(event.node, this.engine.now);
        break;
      case 'delivered': {
        const reign = this.reigns.get(event.to);
        if (reign?.heard.has(event.from)) reign.heard.set(event.from, this.engine.localNow(reign.node));
        break;
      }
      default:
        break;
    }
    return this.reigns.size === 0 ? NO_VIOLATIONS : this.overdue();
  }

  /** Leaders still leading past their deadline, however the run ends. */
  finish(): readonly string[] {
    return this.reigns.size === 0 ? NO_VIOLATIONS : this.overdue();
  }

  /** Each reign past its deadline is reported once, and then followed no further. */
  private overdue(): readonly string[] {
    let problems: string[] | null = null;
    for (const reign of this.reigns.values()) {
      const now = this.engine.localNow(reign.node);
      if (now <= reign.deadline + SLACK_MS) continue;
      const quorumHeard = this.quorumHeard(reign);
      reign.deadline = quorumHeard + this.boundMs;
      if (now <= reign.deadline + SLACK_MS) continue;
      // Frozen, or running again only this instant: the step-down it owes comes when it runs.
      if (this.engine.paused(reign.node) || this.resumedAt.get(reign.node.id) === this.engine.now) continue;
      this.reigns.delete(reign.node.id);
      (problems ??= []).push(
        `leader ${reign.node.id} of epoch ${reign.epoch} still leads ${roundMs(now - quorumHeard)} ms (its clock) after it last heard from a quorum; ` +
          `its sync limit is ${this.boundMs} ms (session timeout + heartbeat)`,
      );
    }
    return problems ?? NO_VIOLATIONS;
  }

  /** The leader's clock when it last heard from a quorum: the most recent time that enough other voters were all heard. */
  private quorumHeard(reign: Reign): number {
    if (this.othersNeeded === 0) return Infinity; // a single voter is its own quorum
    const times = [...reign.heard.values()].sort((a, b) => b - a);
    return times[this.othersNeeded - 1]!;
  }
}
