/**
 * The replicated log's safety (issue 15), for any core that speaks the replication interface of
 * src/core/types.ts (ReplicationEvent) and promises consensus (`Algorithm.replication === 'consensus'`:
 * Raft, ZAB). They read only the events every such core reports — `proposed`, `committed`,
 * `snapshot-installed` — so they hold every algorithm to the same rules without knowing its messages.
 * Bully ('primary-backup') acknowledges before any copy exists and loses writes by design: the
 * workload measures its losses (src/sim/workload.ts) instead of flagging them.
 */
import type { Command, NodeId, ReplicationEvent } from '../../core/types.js';
import { NO_VIOLATIONS, type Checker, type SimEvent } from '../events.js';
import type { Workload } from '../workload.js';

/** A replication event a node reported, or null for any other event. */
function replicationEvent(event: SimEvent): ReplicationEvent | null {
  if (event.type !== 'driver' || event.event.type !== 'core') return null;
  const core = event.event.event;
  switch (core.type) {
    case 'proposed':
    case 'committed':
    case 'snapshot-installed':
      return core;
    default:
      return null;
  }
}

/** An entry as some node committed it; `command` is unknown when the node learned it from a snapshot. */
interface KnownEntry {
  readonly node: NodeId;
  readonly term: number;
  readonly command: Command | undefined;
}

const describe = (entry: KnownEntry): string =>
  `(term ${entry.term}${entry.command === undefined ? ', from a snapshot' : `, ${JSON.stringify(entry.command)}`}) on node ${entry.node}`;

/**
 * State Machine Safety (Raft §5.4.3, Figure 3; Zab's "agreement" and "total order"): if a node has
 * applied an entry at an index, no node ever applies a different entry at that index. An entry is
 * its (term, command); a snapshot covers its indexes, and the term of its last entry is compared too.
 * Also, per node and incarnation, what it applies is its log in order: `committed` indexes are
 * contiguous and increasing from 1, or from a snapshot's index + 1 (the interface's "in index order,
 * each index once per node incarnation"), and a snapshot never takes the state machine back.
 */
export class LogAgreement implements Checker {
  readonly name = 'log-agreement';
  readonly wants = ['driver', 'crash'] as const;
  /** index → the entry first reported there (by any node, any incarnation). */
  private readonly entries = new Map<number, KnownEntry>();
  /** node → the last index its state machine holds in this incarnation (absent: nothing yet). */
  private readonly applied = new Map<NodeId, number>();

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'crash') {
      this.applied.delete(event.node); // a new incarnation applies its log again, from its snapshot
      return NO_VIOLATIONS;
    }
    const replication = replicationEvent(event);
    if (replication === null || event.type !== 'driver') return NO_VIOLATIONS;
    const node = event.node;
    const applied = this.applied.get(node) ?? 0;
    switch (replication.type) {
      case 'committed': {
        const { index, term, command } = replication;
        this.applied.set(node, Math.max(applied, index));
        const problems: string[] = [];
        if (index !== applied + 1) problems.push(`node ${node} committed index ${index} after index ${applied} (committed indexes must be contiguous and increasing per incarnation)`);
        const clash = this.agree(index, { node, term, command });
        if (clash) problems.push(clash);
        return problems;
      }
      case 'snapshot-installed': {
        const { index, term } = replication;
        this.applied.set(node, Math.max(applied, index));
        const problems: string[] = [];
        if (index < applied) problems.push(`node ${node} installed a snapshot at index ${index} after applying index ${applied} (its state machine went back)`);
        const clash = this.agree(index, { node, term, command: undefined });
        if (clash) problems.push(clash);
        return problems;
      }
      default:
        return NO_VIOLATIONS;
    }
  }

  /** Records `entry` at `index`, or describes how it differs from the entry already known there. */
  private agree(index: number, entry: KnownEntry): string | null {
    const known = this.entries.get(index);
    if (known === undefined || (known.command === undefined && entry.command !== undefined && known.term === entry.term)) {
      this.entries.set(index, entry); // the first report, or the command a snapshot did not say
      return null;
    }
    const differs = known.term !== entry.term || (known.command !== undefined && entry.command !== undefined && known.command !== entry.command);
    return differs ? `index ${index}: ${describe(entry)} but ${describe(known)}` : null;
  }
}

/**
 * Durability of acknowledged writes (Raft §5.3: "once the entry has been safely replicated ... the
 * leader ... returns the result of that execution to the client"; Zab: a delivered transaction is
 * delivered by every process): a proposal is acknowledged when the leader that accepted it (`proposed`
 * at (index, term)) commits that same (index, term) — the moment a host answers its client. From then
 * on, every node that commits that index commits the same entry, and every snapshot that ends there has
 * its term. Another node's entry at that index, after the ack, is an acknowledged write lost.
 */
export class AckedDurable implements Checker {
  readonly name = 'acked-durable';
  readonly wants = ['driver', 'crash'] as const;
  /** node → index → the term of the proposal it accepted there, not yet committed (this incarnation). */
  private readonly proposals = new Map<NodeId, Map<number, number>>();
  /** index → the acknowledged entry. */
  private readonly acked = new Map<number, KnownEntry>();

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'crash') {
      this.proposals.delete(event.node); // its clients learn nothing more from it
      return NO_VIOLATIONS;
    }
    const replication = replicationEvent(event);
    if (replication === null || event.type !== 'driver') return NO_VIOLATIONS;
    const node = event.node;
    switch (replication.type) {
      case 'proposed': {
        let pending = this.proposals.get(node);
        if (pending === undefined) this.proposals.set(node, (pending = new Map()));
        pending.set(replication.index, replication.term);
        return NO_VIOLATIONS;
      }
      case 'committed': {
        const { index, term, command } = replication;
        const acked = this.acked.get(index);
        if (acked !== undefined && (acked.term !== term || acked.command !== command)) {
          return [`node ${node} committed index ${index} (term ${term}, ${JSON.stringify(command)}) after node ${acked.node} acknowledged ${describe(acked)}: an acknowledged write is lost`];
        }
        const pending = this.proposals.get(node);
        const proposedTerm = pending?.get(index);
        if (proposedTerm === undefined) return NO_VIOLATIONS;
        pending!.delete(index);
        // Committed as proposed: acknowledged. Another term there: the proposal failed (the client is told so).
        if (proposedTerm === term && acked === undefined) this.acked.set(index, { node, term, command });
        return NO_VIOLATIONS;
      }
      case 'snapshot-installed': {
        const acked = this.acked.get(replication.index);
        if (acked === undefined || acked.term === replication.term) return NO_VIOLATIONS;
        return [`node ${node} installed a snapshot ending at index ${replication.index} in term ${replication.term} after node ${acked.node} acknowledged ${describe(acked)}: an acknowledged write is lost`];
      }
      default:
        return NO_VIOLATIONS;
    }
  }
}

/**
 * Linearizability of what the workload's clients saw (`--workload kv`, src/sim/workload.ts): the
 * history of their operations, in virtual time, has a linearization under the key-value model
 * (src/check/kv.ts; Herlihy & Wing 1990), checked once the run ends. Raft's reads go through
 * ReadIndex or its lease (§6.4), ZAB's through a sync: a history without a linearization is a bug.
 */
export class KvLinearizable implements Checker {
  readonly name = 'linearizable';
  readonly wants = [] as const;

  constructor(private readonly workload: Workload) {}

  observe(): readonly string[] {
    return NO_VIOLATIONS;
  }

  finish(): readonly string[] {
    this.workload.finish();
    return this.workload.notLinearizable === null ? NO_VIOLATIONS : [this.workload.notLinearizable];
  }
}
