/**
 * Faults: queues a scenario's (or a schedule's) actions and the random nemesis's, and applies each when
 * its time comes — crashes and restarts through the engine, partitions, cuts, loss, duplication and
 * latency on its network — publishing what it did on the event stream.
 */
import type { NodeId, Timing } from '../core/types.js';
import type { Engine, SimNode } from './engine.js';
import type { SimEvent } from './events.js';
import type { MembershipChanges, MembershipNemesis } from './membership.js';
import { Nemesis, scenarioActions, scenarioPhaseMs, type ScenarioName } from './scenarios.js';
import type { Action, MembershipChangeKind, NodeRef } from './schedule.js';

type ResolvedAction =
  | { readonly do: 'crash' | 'isolate'; readonly node: NodeId }
  | { readonly do: 'pause'; readonly node: NodeId; readonly forMs: number }
  | { readonly do: 'drift'; readonly node: NodeId; readonly rate: number }
  | { readonly do: 'cut'; readonly from: NodeId; readonly to: NodeId }
  | { readonly do: 'disconnect'; readonly node: NodeId | 'all'; readonly peer: NodeId }
  | { readonly do: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly do: 'change-membership'; readonly change?: MembershipChangeKind; readonly node?: NodeId }
  | Exclude<Action, { do: 'crash' | 'isolate' | 'cut' | 'partition' | 'pause' | 'drift' | 'disconnect' | 'change-membership' }>;

export interface FaultPlan {
  readonly seed: number;
  readonly scenario: ScenarioName;
  /** Explicit actions that replace the scenario's. */
  readonly schedule?: readonly Action[];
  /** ρ for the random nemesis's clock rates (SimOptions.maxClockDrift). */
  readonly maxClockDrift?: number;
  /** SimOptions.closedConnections: false draws no spurious resets. */
  readonly closedConnections?: boolean;
  /**
   * Membership change (src/sim/membership.ts): the nemesis that picks each change (and, when it is on,
   * queues its own requests) and the counter of requests; null where the configuration cannot change.
   */
  readonly membership?: { readonly nemesis: MembershipNemesis; readonly changes: MembershipChanges } | null;
}

export class Faults {
  private readonly nemesis: Nemesis | null;
  private readonly membership: FaultPlan['membership'];

  /**
   * Queues the plan's actions on the engine. `currentLeader` names the node a "leader" reference
   * resolves to at the moment an action is applied (null: none, and the action is skipped).
   */
  constructor(
    private readonly engine: Engine,
    plan: FaultPlan,
    private readonly currentLeader: () => NodeId | null,
    private readonly publish: (event: SimEvent) => void,
  ) {
    const timing: Timing = engine.timing;
    const actions = plan.schedule ?? scenarioActions(plan.scenario, engine.voters, timing, scenarioPhaseMs(plan.seed, timing));
    for (const action of actions) engine.pushAction(action, false);
    this.membership = plan.membership ?? null;
    for (const action of this.membership?.nemesis.actions ?? []) engine.pushAction(action, false);
    const members = engine.nodes.map((n) => n.id);
    this.nemesis = !plan.schedule && plan.scenario === 'random' ? new Nemesis(plan.seed, members, timing, engine.network.latency, plan.maxClockDrift, plan.closedConnections ?? true) : null;
    if (this.nemesis) {
      this.pushNemesis(0);
      for (const action of this.nemesis.quietActions()) engine.pushAction(action, false);
    }
  }

  /** Applies `action` now; a nemesis action first queues the nemesis's next faults. */
  apply(action: Action, nemesis: boolean): void {
    this.carryOut(action);
    if (nemesis) this.pushNemesis(this.engine.now);
  }

  /** Queues the nemesis's next faults; the first of them, when it runs, asks for the ones after. */
  private pushNemesis(afterMs: number): void {
    const actions = this.nemesis?.next(afterMs);
    actions?.forEach((action, index) => this.engine.pushAction(action, index === 0));
  }

  private carryOut(action: Action): void {
    const { engine } = this;
    const network = engine.network;
    this.publish({ type: 'fault', action });
    const resolved = this.resolve(action);
    if (resolved === null) {
      this.publish({ type: 'skipped', action });
      return;
    }
    switch (resolved.do) {
      case 'crash': {
        const node = engine.node(resolved.node)!;
        if (node.up) engine.crash(node);
        return;
      }
      case 'restart': {
        const targets: SimNode[] = resolved.node === 'all' ? engine.nodes : [engine.node(resolved.node)!];
        for (const node of targets) {
          if (node.up) continue;
          this.publish({ type: 'restart', node: node.id });
          engine.start(node);
        }
        return;
      }
      case 'pause': {
        const node = engine.node(resolved.node)!;
        if (engine.pause(node, resolved.forMs)) this.publish({ type: 'pause', node: node.id, forMs: resolved.forMs });
        return;
      }
      case 'drift':
        engine.drift(engine.node(resolved.node)!, resolved.rate);
        this.publish({ type: 'drift', node: resolved.node, rate: resolved.rate });
        return;
      case 'disconnect': {
        const peer = resolved.peer;
        const told = resolved.node === 'all' ? engine.nodes.filter((n) => n.id !== peer) : [engine.node(resolved.node)!];
        for (const node of told) engine.peerDown(node, peer);
        return;
      }
      case 'transfer': {
        const leader = this.currentLeader();
        if (leader === null) {
          this.publish({ type: 'skipped', action });
          return;
        }
        engine.local(engine.node(leader)!, { type: 'transfer-leadership', to: resolved.to ?? null });
        return;
      }
      case 'change-membership':
        this.changeMembership(action, resolved);
        return;
      case 'partition':
        network.partition(resolved.groups);
        this.publish({ type: 'network', change: { kind: 'partition', groups: network.components() } });
        return;
      case 'split': {
        const leader = this.currentLeader();
        if (leader === null) {
          this.publish({ type: 'skipped', action });
          return;
        }
        const others = engine.nodes.map((n) => n.id).filter((id) => id !== leader);
        network.partition([[leader, ...others.slice(0, resolved.minority - 1)]]);
        this.publish({ type: 'network', change: { kind: 'partition', groups: network.components() } });
        return;
      }
      case 'isolate':
        network.isolate(resolved.node);
        this.publish({ type: 'network', change: { kind: 'isolate', node: resolved.node } });
        return;
      case 'cut':
        network.cut(resolved.from, resolved.to);
        this.publish({ type: 'network', change: { kind: 'cut', from: resolved.from, to: resolved.to } });
        return;
      case 'heal':
        if (!network.faulty) return;
        network.heal();
        this.publish({ type: 'network', change: { kind: 'heal' } });
        return;
      case 'loss':
        if (network.loss === resolved.p) return;
        network.loss = resolved.p;
        this.publish({ type: 'network', change: { kind: 'loss', p: resolved.p } });
        return;
      case 'duplicate':
        if (network.duplicate === resolved.p) return;
        network.duplicate = resolved.p;
        this.publish({ type: 'network', change: { kind: 'duplicate', p: resolved.p } });
        return;
      case 'latency':
        network.latency = { minMs: resolved.minMs, maxMs: resolved.maxMs };
        this.publish({ type: 'network', change: { kind: 'latency', minMs: resolved.minMs, maxMs: resolved.maxMs } });
        return;
    }
  }

  /**
   * Asks the current leader for a membership change: the one the action names, or one the membership
   * nemesis picks from the configuration the leader uses now. Nothing to ask of no leader (skipped), nor
   * when no change fits (a single voter and nobody else).
   */
  private changeMembership(action: Action, resolved: Extract<ResolvedAction, { do: 'change-membership' }>): void {
    const { engine } = this;
    const leader = this.currentLeader();
    if (leader === null || !this.membership) {
      this.publish({ type: 'skipped', action });
      return;
    }
    const { nemesis, changes } = this.membership;
    const config = engine.configurations.latest(leader)?.membership ?? engine.configurations.committed.membership;
    const asked = { ...(resolved.change ? { change: resolved.change } : {}), ...(resolved.node !== undefined ? { node: resolved.node } : {}) };
    const change = nemesis.pick(config, engine.nodes.map((n) => n.id), engine.voters.length, asked);
    if (change === null) return;
    engine.local(engine.node(leader)!, { type: 'change-membership', id: changes.request(), change });
  }

  /** Replaces "leader" references by the current leader's id; null when there is none to name. */
  private resolve(action: Action): ResolvedAction | null {
    const leader = this.currentLeader();
    const ref = (r: NodeRef): NodeId | null => (r === 'leader' ? leader : r);
    switch (action.do) {
      case 'crash':
      case 'isolate': {
        const node = ref(action.node);
        return node === null ? null : { do: action.do, node };
      }
      case 'pause': {
        const node = ref(action.node);
        return node === null ? null : { do: 'pause', node, forMs: action.forMs };
      }
      case 'drift': {
        const node = ref(action.node);
        return node === null ? null : { do: 'drift', node, rate: action.rate };
      }
      case 'disconnect': {
        const peer = ref(action.peer);
        const node = action.node === 'all' ? 'all' : ref(action.node);
        return peer === null || node === null || node === peer ? null : { do: 'disconnect', node, peer };
      }
      case 'cut': {
        const from = ref(action.from);
        const to = ref(action.to);
        return from === null || to === null ? null : { do: 'cut', from, to };
      }
      case 'partition': {
        const groups: NodeId[][] = [];
        for (const group of action.groups) {
          const ids = group.map(ref);
          if (ids.some((id) => id === null)) return null;
          groups.push(ids as NodeId[]);
        }
        return { do: 'partition', groups };
      }
      case 'change-membership': {
        if (action.node === undefined) return { do: 'change-membership', ...(action.change ? { change: action.change } : {}) };
        const node = ref(action.node);
        return node === null ? null : { do: 'change-membership', ...(action.change ? { change: action.change } : {}), node };
      }
      case 'restart':
      case 'split':
      case 'heal':
      case 'loss':
      case 'duplicate':
      case 'latency':
      case 'transfer':
        return action;
    }
  }
}
