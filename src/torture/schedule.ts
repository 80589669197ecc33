/**
 * The fault schedule of a torture run: one fault per cycle, drawn from the seed alone, so the same seed
 * gives the same schedule (the same kinds, targets, sizes and durations) on every machine. Only "the
 * leader" as a target is resolved when the fault starts (whoever leads then), and a fault this machine
 * cannot make is skipped or made another way (run.ts says which, per cycle). Pure.
 */
import type { NodeId } from '../core/types.js';
import { Prng } from '../core/prng.js';

/** Whom a fault hits: a fixed member, or whoever leads when it starts (a random member when nobody does). */
export type Target = { readonly leader: true } | { readonly id: NodeId };

export type FaultPlan =
  /** The members split into two groups that cannot reach each other (iptables; else bridge ports). */
  | { readonly kind: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  /** One member cut off from every other (iptables; else its bridge port taken off). */
  | { readonly kind: 'isolate'; readonly target: Target }
  /** One direction only: the target's packets to every other member are dropped ('outbound'), or theirs to it ('inbound'). */
  | { readonly kind: 'one-way'; readonly target: Target; readonly direction: 'outbound' | 'inbound' }
  /** A share of the packets leaving the target lost (tc netem; else iptables' statistic match). */
  | { readonly kind: 'loss'; readonly target: Target; readonly percent: number }
  /** Every packet leaving the target delayed (tc netem only). */
  | { readonly kind: 'delay'; readonly target: Target; readonly ms: number; readonly jitterMs: number }
  /** kill -9, started again (same data dir) when the fault ends. */
  | { readonly kind: 'kill'; readonly target: Target }
  /** SIGSTOP, SIGCONT when the fault ends. */
  | { readonly kind: 'pause'; readonly target: Target }
  /** SIGTERM (a clean stop: a Raft leader hands over), started again at once. */
  | { readonly kind: 'restart'; readonly target: Target };

export type FaultKind = FaultPlan['kind'];

export const FAULT_KINDS: readonly FaultKind[] = ['partition', 'isolate', 'one-way', 'loss', 'delay', 'kill', 'pause', 'restart'];

export interface Cycle {
  readonly cycle: number;
  readonly fault: FaultPlan;
  /** How long the fault holds before it is healed. */
  readonly durationMs: number;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Kinds to draw from (default all). */
  readonly kinds?: readonly FaultKind[];
  /** Fault durations are drawn uniformly from this range (default 1000–4000 ms). */
  readonly minDurationMs?: number;
  readonly maxDurationMs?: number;
}

/** The i-th cycle (1-based) of the schedule for these options; each cycle has its own stream, so cycle i never depends on how many came before. */
export function plannedCycle(options: ScheduleOptions, cycle: number): Cycle {
  const random = new Prng(options.seed, `torture:${cycle}`);
  const kinds = options.kinds ?? FAULT_KINDS;
  const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
  const target = (): Target => (random.chance(0.5) ? { leader: true } : { id: random.pick(ids) });
  const min = options.minDurationMs ?? 1000;
  const max = options.maxDurationMs ?? 4000;
  const durationMs = Math.round(min + random.next() * (max - min));
  const kind = random.pick(kinds);
  const fault = ((): FaultPlan => {
    switch (kind) {
      case 'partition': {
        // A minority of 1..floor((n-1)/2) members (at least one), the rest the majority.
        const shuffled = random.shuffle(ids);
        const minority = 1 + random.int(Math.max(1, Math.floor((options.nodes - 1) / 2)));
        return { kind, groups: [shuffled.slice(minority).sort((a, b) => a - b), shuffled.slice(0, minority).sort((a, b) => a - b)] };
      }
      case 'isolate':
      case 'kill':
      case 'pause':
      case 'restart':
        return { kind, target: target() };
      case 'one-way':
        return { kind, target: target(), direction: random.chance(0.5) ? 'outbound' : 'inbound' };
      case 'loss':
        return { kind, target: target(), percent: random.pick([10, 30, 60]) };
      case 'delay':
        return { kind, target: target(), ms: random.pick([50, 100, 200]), jitterMs: random.pick([0, 20, 50]) };
    }
  })();
  return { cycle, fault, durationMs };
}

/** A target as words: "the leader" or "node 3". */
export function describeTarget(target: Target): string {
  return 'leader' in target ? 'the leader' : `node ${target.id}`;
}

/** One line per planned fault, e.g. "loss 30% at the leader". */
export function describeFault(fault: FaultPlan): string {
  switch (fault.kind) {
    case 'partition':
      return `partition ${fault.groups.map((group) => group.join(',')).join(' | ')}`;
    case 'isolate':
      return `isolate ${describeTarget(fault.target)}`;
    case 'one-way':
      return fault.direction === 'outbound' ? `one-way cut: ${describeTarget(fault.target)} → others` : `one-way cut: others → ${describeTarget(fault.target)}`;
    case 'loss':
      return `loss ${fault.percent}% leaving ${describeTarget(fault.target)}`;
    case 'delay':
      return `delay ${fault.ms}±${fault.jitterMs} ms leaving ${describeTarget(fault.target)}`;
    case 'kill':
      return `kill -9 ${describeTarget(fault.target)}, then start it again`;
    case 'pause':
      return `SIGSTOP ${describeTarget(fault.target)}, then SIGCONT`;
    case 'restart':
      return `restart ${describeTarget(fault.target)} (SIGTERM, start)`;
  }
}
