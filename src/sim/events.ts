/**
 * The simulator's one typed event stream. The engine publishes what the nodes' drivers report and what
 * it does itself (faults, deliveries, drops); the election metrics publish what they derive (agreement,
 * dual leaders); checkers publish violations. Metrics, invariant checkers and the timeline subscribe to
 * it; none of them is called from inside the engine.
 *
 * The events of the hot path ('driver', 'sent', 'delivered', 'dropped') are one reused object each, so
 * a delivery allocates nothing for the stream: a subscriber reads them during `observe` and keeps
 * nothing of the event object itself (copy the fields it needs).
 */
import type { DriverEvent } from '../core/driver.js';
import type { Message, NodeId, Status } from '../core/types.js';
import type { Action } from './schedule.js';
import type { NetworkChange } from './types.js';

export type SimEvent =
  /** Every event of a node's NodeDriver, in its order (reused object). */
  | { readonly type: 'driver'; readonly node: NodeId; readonly event: DriverEvent }
  /**
   * A node's status changed as the simulator sees it: `previous` is the last status it reported (kept
   * across a crash, so a restarted node is compared with what it reported before it crashed), and
   * `wasLeader` whether it believed it led just before (false after a crash).
   */
  | { readonly type: 'status'; readonly node: NodeId; readonly previous: Status; readonly status: Status; readonly wasLeader: boolean }
  /** A node handed a message to the network (reused object). */
  | { readonly type: 'sent'; readonly from: NodeId; readonly to: NodeId; readonly message: Message }
  /** A node sent a message to a node that is not a member (nothing is queued). */
  | { readonly type: 'undeliverable'; readonly from: NodeId; readonly to: NodeId; readonly message: Message }
  /** A message reached its receiver (reused object). */
  | { readonly type: 'delivered'; readonly from: NodeId; readonly to: NodeId; readonly message: Message }
  /** A message arrived but was dropped: its receiver crashed meanwhile, or a partition cut it off (reused). */
  | { readonly type: 'dropped'; readonly from: NodeId; readonly to: NodeId; readonly message: Message; readonly reason: 'crashed' | 'partitioned' }
  /** A scheduled or injected action is being applied (even when it turns out to change nothing). */
  | { readonly type: 'fault'; readonly action: Action }
  /** A fault naming "the leader" found none to name. */
  | { readonly type: 'skipped'; readonly action: Action }
  | { readonly type: 'crash'; readonly node: NodeId; readonly wasLeader: boolean }
  | { readonly type: 'restart'; readonly node: NodeId }
  /** A node froze for `forMs` (a GC stall, SIGSTOP): its clock runs on, its inputs wait. */
  | { readonly type: 'pause'; readonly node: NodeId; readonly forMs: number }
  /** A paused node runs again and takes the inputs that waited, in order. */
  | { readonly type: 'resume'; readonly node: NodeId }
  /** A node's clock runs at `rate` × true time from now on. */
  | { readonly type: 'drift'; readonly node: NodeId; readonly rate: number }
  /** A fault changed the network (a split of the leader into a minority is a partition). */
  | { readonly type: 'network'; readonly change: NetworkChange }
  /** Derived by the election metrics: two or more live nodes believe they lead (with their terms). */
  | { readonly type: 'dual-leaders'; readonly leaders: readonly { readonly node: NodeId; readonly term: number }[] }
  /** Derived: at most one believer again, after `afterMs` of dual leaders. */
  | { readonly type: 'one-leader'; readonly afterMs: number }
  /** Derived: the agreed leader was lost (crashed, stepped down, or cut off from the largest group). */
  | { readonly type: 'leader-lost'; readonly leader: NodeId }
  /** Derived: every live node of the largest group agrees on `leader`, `afterMs` after the election began. */
  | { readonly type: 'agreed'; readonly leader: NodeId; readonly term: number; readonly afterMs: number }
  /** A checker found an invariant broken. */
  | { readonly type: 'violation'; readonly invariant: string; readonly detail: string };

export type SimEventType = SimEvent['type'];

/**
 * Whether a 'status' event starts a reign: the node now leads, and either did not just before or leads
 * under a new term (a Bully coordinator re-declaring itself with a new generation: the driver's
 * `became-leader` with `again: true`). The one test of a reign for leaders[] and every checker.
 */
export function startsReign(event: Extract<SimEvent, { type: 'status' }>): boolean {
  return event.status.leader === event.node && (!event.wasLeader || event.previous.term !== event.status.term);
}

/**
 * Anything that follows the stream. `wants` names the event types it reads: the stream routes only
 * those to it, so the hot path's events (deliveries, sends) cost nothing where nobody reads them.
 */
export interface Subscriber {
  readonly wants: readonly SimEventType[];
  observe(event: SimEvent): void;
}

/**
 * An invariant, checked as the stream goes by. `observe` and `finish` return the details of what broke
 * (usually nothing: return NO_VIOLATIONS, which allocates nothing); the simulator records each as a
 * violation named `name`, at the current time, and publishes it.
 */
export interface Checker {
  readonly name: string;
  /** The event types `observe` reads (see Subscriber). */
  readonly wants: readonly SimEventType[];
  observe(event: SimEvent): readonly string[];
  /** Checks made once, when the run ends. */
  finish?(): readonly string[];
}

export const NO_VIOLATIONS: readonly string[] = Object.freeze([]);
