/**
 * Configuration safety (Raft thesis §4.1, single-server membership changes), for runs whose
 * configuration may change (src/sim/membership.ts). A leader appends a configuration entry when it
 * accepts a change: the core reports the entry (`membership-changed`, the node's newest configuration)
 * and the acceptance (`proposed` at the same index, with the id of the simulator's request, from
 * MEMBERSHIP_REQUEST_BASE) in one output. At that moment:
 *
 *   1. one change at a time: the leader's previous configuration entry is committed (as the leader knows
 *      it: it has committed that index), so at most one configuration entry per leader is uncommitted;
 *   2. the leader has committed an entry of its own term (the thesis's correction, raft-dev 2015: a new
 *      leader that changes the configuration before it can overlap with one an earlier leader had begun);
 *   3. no two configurations whose majorities can be disjoint: a majority of the new configuration and a
 *      majority of the newest configuration the leader knows committed share a voter. One change at a
 *      time keeps every configuration within one voter of the committed one; two uncommitted changes can
 *      make majorities disjoint, and then two leaders can be elected in one term.
 *
 * It reads only the replication interface (src/core/types.ts), so it holds any core with membership
 * change to the same rules.
 */
import type { NodeId } from '../../core/types.js';
import { NO_VIOLATIONS, type Checker, type SimEvent } from '../events.js';
import { majoritiesCanBeDisjoint, MEMBERSHIP_REQUEST_BASE, type ConfigurationEntry, type Configurations } from '../membership.js';

const describe = (entry: ConfigurationEntry): string =>
  `index ${entry.index}: voters [${entry.membership.voters.join(',')}]${entry.membership.observers.length > 0 ? ` learners [${entry.membership.observers.join(',')}]` : ''}`;

export class ConfigurationSafety implements Checker {
  readonly name = 'configuration-safety';
  readonly wants = ['driver'] as const;
  /** Per node: the index and term of its last proposal, when its configuration entry has not been reported yet. */
  private readonly waiting = new Map<NodeId, { readonly index: number; readonly term: number }>();

  /** `configurations`: the engine's, which has taken each event before any checker sees it. */
  constructor(private readonly configurations: Configurations) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'driver' || event.event.type !== 'core') return NO_VIOLATIONS;
    const core = event.event.event;
    const node = event.node;
    const configurations = this.configurations;
    switch (core.type) {
      case 'proposed': {
        // The simulator's membership requests have ids of their own (MembershipChanges): this proposal
        // is a configuration entry, reported in the same output as its acceptance, in either order.
        if (core.id < MEMBERSHIP_REQUEST_BASE) return NO_VIOLATIONS;
        if (configurations.latest(node)?.index === core.index) return this.appended(node, core.term);
        this.waiting.set(node, { index: core.index, term: core.term });
        return NO_VIOLATIONS;
      }
      case 'membership-changed': {
        const proposal = this.waiting.get(node);
        this.waiting.delete(node);
        return proposal?.index === core.index ? this.appended(node, proposal.term) : NO_VIOLATIONS;
      }
      default:
        return NO_VIOLATIONS;
    }
  }

  /** `leader` has just appended its newest configuration entry, in `term`. */
  private appended(leader: NodeId, term: number): readonly string[] {
    const configurations = this.configurations;
    const entry = configurations.latest(leader)!;
    const previous = configurations.previous(leader);
    const commitment = configurations.commitment(leader);
    const problems: string[] = [];
    if (previous !== null && previous.index > commitment.index) {
      problems.push(`node ${leader} appended configuration ${describe(entry)} in term ${term} while its configuration ${describe(previous)} was not committed (it had committed up to ${commitment.index})`);
    }
    if (commitment.term !== term) {
      problems.push(`node ${leader} appended configuration ${describe(entry)} in term ${term} before committing an entry of its own term (its newest committed entry is of term ${commitment.term})`);
    }
    const committed = configurations.committedAt(leader) ?? configurations.committed;
    if (majoritiesCanBeDisjoint(committed.membership.voters, entry.membership.voters)) {
      problems.push(`node ${leader} appended configuration ${describe(entry)} in term ${term}, whose majorities can be disjoint from those of the committed configuration ${describe(committed)}`);
    }
    return problems;
  }
}
