/**
 * Bully's own invariants (Garcia-Molina 1982; the textbook Election/Alive/Victory form of
 * src/core/bully/bully.ts).
 */
import type { BullyMessage } from '../../core/bully/messages.js';
import type { NodeId } from '../../core/types.js';
import { roundMs, type Engine } from '../engine.js';
import { NO_VIOLATIONS, startsReign, type Checker, type SimEvent } from '../events.js';
import { AfterFaults } from './quiet.js';

/**
 * A node declares victory only when no higher id answered its election: an Alive from a higher id
 * means "I am alive and take over", so the asker must wait for that node's Victory (T'), and elect
 * again if none comes, rather than crown itself.
 */
export class BullyVictory implements Checker {
  readonly name = 'bully-victory';
  readonly wants = ['delivered', 'driver', 'status', 'crash'] as const;
  /** Per node: the higher ids that answered Alive in its current election. */
  private readonly answered = new Map<NodeId, Set<NodeId>>();

  observe(event: SimEvent): readonly string[] {
    switch (event.type) {
      case 'driver':
        if (event.event.type === 'core' && event.event.event.type === 'election-started') this.answered.delete(event.node);
        return NO_VIOLATIONS;
      case 'crash':
        this.answered.delete(event.node);
        return NO_VIOLATIONS;
      case 'delivered': {
        const message = event.message as BullyMessage;
        if (message.type !== 'Alive' || event.from < event.to) return NO_VIOLATIONS;
        const higher = this.answered.get(event.to) ?? new Set<NodeId>();
        higher.add(event.from);
        this.answered.set(event.to, higher);
        return NO_VIOLATIONS;
      }
      case 'status': {
        if (!startsReign(event) || event.wasLeader) return NO_VIOLATIONS;
        const higher = this.answered.get(event.node);
        if (!higher || higher.size === 0) return NO_VIOLATIONS;
        return [`node ${event.node} declared victory (generation ${event.status.term}) although ${[...higher].join(',')} answered its election`];
      }
      default:
        return NO_VIOLATIONS;
    }
  }
}

/**
 * Preempting Bully's promise under a partition: once the faults have been quiet for `boundMs`, every
 * connected component (of nodes that all reach each other both ways, no loss) follows its highest
 * live id. Bully has no quorum, so each side of a partition crowns its own highest id.
 */
export class BullyComponents extends AfterFaults {
  readonly name = 'bully-components';

  constructor(
    engine: Engine,
    private readonly boundMs: number,
  ) {
    super(engine);
  }

  finish(): readonly string[] {
    const { engine } = this;
    const { network, now } = engine;
    if (!this.quietFor(this.boundMs)) return NO_VIOLATIONS;
    const problems: string[] = [];
    for (const component of network.components()) {
      const live = component.filter((id) => engine.node(id)!.up);
      if (live.length === 0) continue;
      // A one-way cut inside a component: no promise.
      if (live.some((a) => live.some((b) => a !== b && !network.connected(a, b)))) continue;
      const highest = Math.max(...live);
      const strays = live.filter((id) => engine.node(id)!.status.leader !== highest);
      if (strays.length > 0) {
        problems.push(`component ${live.join(',')} does not follow its highest live id ${highest} ${roundMs(now - this.lastDisturbanceMs)} ms after the last fault (${strays.map((id) => `${id}:${engine.node(id)!.status.leader ?? '-'}`).join(' ')})`);
      }
    }
    return problems;
  }
}
