/**
 * Named scenarios (CONTRACT.md) and the random nemesis. Scenario times scale with the election timeout
 * so a run with slow timings still has time to elect before the first fault.
 */
import type { NodeId, Timing } from '../core/types.js';
import type { LatencyRange } from './network.js';
import { Prng } from '../core/prng.js';
import type { Action } from './schedule.js';

export const scenarioNames = ['cold-start', 'leader-crash', 'leader-isolate', 'partition', 'flapping', 'random'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

/** 1 for the default timings; proportionally more for slower ones. */
export function timeScale(timing: Timing): number {
  return Math.max(1, timing.electionTimeoutMaxMs / 300);
}

export function defaultDurationMs(timing: Timing): number {
  return 10_000 * timeScale(timing);
}

/** The time after which the random nemesis stops injecting faults (and heals everything). */
export function nemesisQuietAtMs(timing: Timing): number {
  return 6_000 * timeScale(timing);
}

/**
 * Where in the leader's heartbeat cycle a scenario's faults fall: a seeded fraction of one heartbeat
 * interval, added to every fault time. Without it a leader elected at a fixed time (Bully's coordinator
 * declares at t = 0, and heartbeats every 50 ms) would always be crashed at the same phase, just after a
 * heartbeat, which understated Bully's failover by about 25 ms against a real kill -9 at a random phase.
 */
export function scenarioPhaseMs(seed: number, timing: Timing): number {
  return new Prng(seed, 'scenario-phase').next() * timing.heartbeatMs;
}

/**
 * The fixed actions of a named scenario ('random' has none: its faults come from the Nemesis), at the
 * nominal times (2 s, 6 s, ... scaled with slow timings) plus `phaseMs` (see scenarioPhaseMs).
 */
export function scenarioActions(name: ScenarioName, voters: readonly NodeId[], timing: Timing, phaseMs = 0): Action[] {
  const s = timeScale(timing);
  const at = (ms: number) => ms * s + phaseMs;
  const highest = Math.max(...voters);
  switch (name) {
    case 'cold-start':
    case 'random':
      return [];
    case 'leader-crash':
      return [{ atMs: at(2000), do: 'crash', node: 'leader' }];
    case 'leader-isolate':
      return [
        { atMs: at(2000), do: 'isolate', node: 'leader' },
        { atMs: at(6000), do: 'heal' },
      ];
    case 'partition': {
      // The leader ends up in the minority, so the majority must elect anew (and Bully splits its brain).
      const minority = Math.max(1, Math.ceil(voters.length / 2) - 1);
      if (voters.length < 2) return [];
      return [
        { atMs: at(2000), do: 'split', minority },
        { atMs: at(6000), do: 'heal' },
      ];
    }
    case 'flapping': {
      // The highest id crashes and comes back, again and again: Bully's "frequent leader switches".
      const actions: Action[] = [];
      for (let t = 2000; t < 9000; t += 2000) {
        actions.push({ atMs: at(t), do: 'crash', node: highest });
        actions.push({ atMs: at(t + 1000), do: 'restart', node: highest });
      }
      return actions;
    }
  }
}

/**
 * The clock drift bound ρ the random nemesis draws within (rates in 1 ± ρ), unless a run sets its own:
 * 5 %, far beyond a real quartz clock (~0.01 %), so that timeouts that depend on clocks are stressed.
 */
export const DEFAULT_MAX_CLOCK_DRIFT = 0.05;

/**
 * The random nemesis: a seeded stream of faults. Each run first draws its own fault mix ("swarm
 * testing"), so rare combinations get tried across seeds. Faults stop at `quietAtMs`, when everything is
 * healed and restarted; the run must then converge (checked by the simulator). The stream depends only
 * on the seed, never on the cluster's state or the run's duration, so appending to or cutting a run
 * short never changes its beginning.
 */
export class Nemesis {
  private readonly random: Prng;
  /**
   * Spurious resets come from a stream of their own, so that adding them left every other fault of a
   * seed as it was: after each fault, with this run's probability, a node (or every node) is told that
   * its connection to a live peer (often the leader) closed.
   */
  private readonly resets: Prng;
  private readonly resetChance: number;
  /**
   * Leadership transfers (`node.transferLeadership()`, a rolling restart's first step) come from a stream
   * of their own too, drawn after the reset, so every other fault of a seed stayed as it was.
   */
  private readonly transfers: Prng;
  private readonly transferChance: number;
  private readonly members: readonly NodeId[];
  private readonly quietAtMs: number;
  private readonly meanGapMs: number;
  private readonly weights: Record<
    'crash' | 'bounce' | 'restart' | 'partition' | 'isolate' | 'cut' | 'heal' | 'loss' | 'duplicate' | 'latency' | 'pause' | 'drift',
    number
  >;
  /** Pause lengths are drawn in units of the longest election timeout (a pause shorter than it changes little). */
  private readonly timeoutMs: number;
  private done = false;

  /** `maxClockDrift` (ρ): the clock rates it draws lie within 1 ± ρ. */
  constructor(
    seed: number,
    members: readonly NodeId[],
    timing: Timing,
    private readonly baseLatency: LatencyRange,
    private readonly maxClockDrift = DEFAULT_MAX_CLOCK_DRIFT,
    private readonly spuriousResets = true,
  ) {
    this.random = new Prng(seed, 'nemesis');
    this.resets = new Prng(seed, 'nemesis-resets');
    this.resetChance = this.resets.pick([0, 0, 0.1, 0.3, 0.6]);
    this.transfers = new Prng(seed, 'nemesis-transfers');
    this.transferChance = this.transfers.pick([0, 0, 0.1, 0.3, 0.6]);
    this.members = members;
    this.quietAtMs = nemesisQuietAtMs(timing);
    const r = this.random;
    this.meanGapMs = (100 + r.int(700)) * timeScale(timing);
    this.weights = {
      crash: r.int(5),
      // A crash followed by a quick restart: the case where a vote that was not made durable would
      // be cast twice in one term.
      bounce: r.int(5),
      restart: 1 + r.int(5),
      partition: r.int(4),
      isolate: r.int(4),
      cut: r.int(3),
      heal: 1 + r.int(4),
      loss: r.int(3),
      duplicate: r.int(2),
      latency: r.int(3),
      // A frozen process (GC stall, SIGSTOP): a leader that still believes it leads when it wakes.
      pause: r.int(4),
      drift: r.int(3),
    };
    this.timeoutMs = timing.electionTimeoutMaxMs;
  }

  /** The next faults after `afterMs` (usually one, two for a bounce; and maybe a spurious reset), or null once faults have stopped. */
  next(afterMs: number): Action[] | null {
    const faults = this.nextFault(afterMs);
    if (faults === null) return null;
    return [...faults, ...this.spuriousReset(faults[0]!.atMs), ...this.transfer(faults[0]!.atMs)];
  }

  private spuriousReset(faultAtMs: number): Action[] {
    if (!this.spuriousResets || !this.resets.chance(this.resetChance)) return [];
    const r = this.resets;
    const peer = r.chance(0.7) ? 'leader' : r.pick(this.members);
    const node = r.chance(0.4) ? 'all' : r.pick(this.members);
    const atMs = faultAtMs + r.next() * this.meanGapMs;
    return atMs >= this.quietAtMs ? [] : [{ atMs, do: 'disconnect', node, peer }];
  }

  private transfer(faultAtMs: number): Action[] {
    const t = this.transfers;
    if (!t.chance(this.transferChance)) return [];
    const atMs = faultAtMs + t.next() * this.meanGapMs;
    const to = t.chance(0.5) ? t.pick(this.members) : undefined;
    if (atMs >= this.quietAtMs) return [];
    return [to === undefined ? { atMs, do: 'transfer' } : { atMs, do: 'transfer', to }];
  }

  private nextFault(afterMs: number): Action[] | null {
    if (this.done) return null;
    const r = this.random;
    const atMs = afterMs + 1 + r.next() * 2 * this.meanGapMs;
    if (atMs >= this.quietAtMs) {
      this.done = true;
      return null;
    }
    const entries = Object.entries(this.weights) as [keyof Nemesis['weights'], number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let pick = r.next() * total;
    let kind: keyof Nemesis['weights'] = 'heal';
    for (const [name, weight] of entries) {
      if (pick < weight) {
        kind = name;
        break;
      }
      pick -= weight;
    }
    const anyNode = (): NodeId | 'leader' => (r.chance(0.4) ? 'leader' : r.pick(this.members));
    switch (kind) {
      case 'crash':
        return [{ atMs, do: 'crash', node: anyNode() }];
      case 'bounce': {
        const node = r.pick(this.members);
        return [
          { atMs, do: 'crash', node },
          { atMs: atMs + r.next() * 20, do: 'restart', node },
        ];
      }
      case 'restart':
        return [{ atMs, do: 'restart', node: r.chance(0.2) ? 'all' : r.pick(this.members) }];
      case 'partition': {
        const shuffled = r.shuffle(this.members);
        const cut = 1 + r.int(Math.max(1, shuffled.length - 1));
        return [{ atMs, do: 'partition', groups: [shuffled.slice(0, cut)] }];
      }
      case 'isolate':
        return [{ atMs, do: 'isolate', node: anyNode() }];
      case 'cut':
        return [{ atMs, do: 'cut', from: anyNode(), to: r.pick(this.members) }];
      case 'heal':
        return [{ atMs, do: 'heal' }];
      case 'loss':
        return [{ atMs, do: 'loss', p: r.pick([0, 0.05, 0.2, 0.5]) }];
      case 'duplicate':
        return [{ atMs, do: 'duplicate', p: r.pick([0, 0.1, 0.3]) }];
      case 'latency': {
        const [minMs, maxMs] = r.pick([[0, 1], [1, 5], [5, 30], [1, 100]] as const);
        return [{ atMs, do: 'latency', minMs, maxMs }];
      }
      case 'pause':
        return [{ atMs, do: 'pause', node: anyNode(), forMs: r.pick([0.25, 0.5, 1, 2, 4]) * this.timeoutMs }];
      case 'drift': {
        // A rate within 1 ± ρ, rounded to a readable step (0.1 % of ρ); the extremes are drawn often.
        const rho = this.maxClockDrift;
        const rate = r.chance(0.3) ? (r.chance(0.5) ? 1 - rho : 1 + rho) : 1 + Math.round((2 * r.next() - 1) * 1000) * rho / 1000;
        return [{ atMs, do: 'drift', node: r.pick(this.members), rate }];
      }
    }
  }

  /** The actions that end the fault phase: everything healed and restarted, latency as configured. */
  quietActions(): Action[] {
    const atMs = this.quietAtMs;
    return [
      { atMs, do: 'heal' },
      { atMs, do: 'loss', p: 0 },
      { atMs, do: 'duplicate', p: 0 },
      { atMs, do: 'latency', ...this.baseLatency },
      { atMs, do: 'restart', node: 'all' },
    ];
  }
}
