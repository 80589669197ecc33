/**
 * Helpers for tests that run real RaftNodes on the test network (src/sim/testnet.ts), as a host runs
 * them: hand a node a local request, read what it reported, and read the run with the simulator's own
 * safety checkers (src/sim/checkers.ts, src/sim/checkers/replication.ts).
 */
import { leads } from '../core/driver.js';
import type { RaftDurable, RaftMessage } from '../core/raft/messages.js';
import type { RaftNode } from '../core/raft/raft.js';
import type { ElectionEvent, Input, NodeId } from '../core/types.js';
import { ElectionSafety } from '../sim/checkers.js';
import { AckedDurable, LogAgreement } from '../sim/checkers/replication.js';
import type { TestNet } from '../sim/testnet.js';

export type RaftNet = TestNet<RaftMessage, RaftDurable, RaftNode>;

/** Hands `node` a local request, as a host does (through its driver, so its output is drained in order). */
export function local(net: RaftNet, node: NodeId, input: Input<RaftMessage>): void {
  net.driver(node).step(net.now, input);
}

/** The core events `node` reported of one type, in order (every incarnation). */
export function reported<T extends ElectionEvent['type']>(net: RaftNet, node: NodeId, type: T): Extract<ElectionEvent, { type: T }>[] {
  const out: Extract<ElectionEvent, { type: T }>[] = [];
  for (const { node: from, event } of net.events) if (from === node && event.type === 'core' && event.event.type === type) out.push(event.event as Extract<ElectionEvent, { type: T }>);
  return out;
}

/**
 * What log-agreement finds over every node's `committed` events of the run; `crashes`: event position →
 * the node that crashed just before it (its next incarnation applies its log again).
 */
export function logAgreement(net: RaftNet, crashes: ReadonlyMap<number, NodeId> = new Map()): string[] {
  const checker = new LogAgreement();
  const violations: string[] = [];
  net.events.forEach(({ node, event }, position) => {
    const crashed = crashes.get(position);
    if (crashed !== undefined) checker.observe({ type: 'crash', node: crashed, wasLeader: false });
    violations.push(...checker.observe({ type: 'driver', node, event }));
  });
  return violations;
}

/**
 * What the simulator's safety checkers find over the run: election-safety (one leader per term, from
 * every status change), log-agreement and acked-durable (from every `committed`, `proposed` and
 * `snapshot-installed`); `crashes` as for logAgreement.
 */
export function safetyViolations(net: RaftNet, crashes: ReadonlyMap<number, NodeId> = new Map()): string[] {
  const checkers = [new LogAgreement(), new AckedDurable()];
  const elections = new ElectionSafety();
  const violations: string[] = [];
  net.events.forEach(({ node, event }, position) => {
    const crashed = crashes.get(position);
    if (crashed !== undefined) for (const checker of checkers) checker.observe({ type: 'crash', node: crashed, wasLeader: false });
    for (const checker of checkers) violations.push(...checker.observe({ type: 'driver', node, event }).map((v) => `${checker.name}: ${v}`));
    if (event.type === 'status') {
      const found = elections.observe({ type: 'status', node, previous: event.previous, status: event.status, wasLeader: leads(event.previous) });
      violations.push(...found.map((v) => `${elections.name}: ${v}`));
    }
  });
  return violations;
}
