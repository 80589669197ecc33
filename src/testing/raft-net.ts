/**
 * Helpers for tests that run real RaftNodes on the test network (src/core/testnet.ts), as a host runs
 * them: hand a node a local request, read what it reported, and read the run with the simulator's own
 * safety checkers (src/sim/checkers.ts, src/sim/checkers/replication.ts).
 */
import { leads } from '../core/driver.js';
import type { RaftDurable, RaftMessage } from '../core/raft/messages.js';
import type { RaftNode } from '../core/raft/raft.js';
import type { ElectionEvent, Input, NodeId } from '../core/types.js';
import { ElectionSafety } from '../sim/checkers.js';
import { LeaseSafety } from '../sim/checkers/lease-safety.js';
import { AckedDurable, LogAgreement } from '../sim/checkers/replication.js';
import type { Engine } from '../sim/engine.js';
import type { TestNet } from '../core/testnet.js';

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

/** Where in the run's event stream nodes crashed: event position → the nodes that crashed just before it. */
export type Crashes = Map<number, NodeId[]>;

/** Crashes `node` and notes where (its next incarnation applies its log again; its lease ends). */
export function crash(net: RaftNet, crashes: Crashes, node: NodeId): void {
  net.crash(node);
  const here = crashes.get(net.events.length);
  if (here === undefined) crashes.set(net.events.length, [node]);
  else here.push(node);
}

/** What log-agreement finds over every node's `committed` events of the run. */
export function logAgreement(net: RaftNet, crashes: Crashes = new Map()): string[] {
  const checker = new LogAgreement();
  const violations: string[] = [];
  net.events.forEach(({ node, event }, position) => {
    for (const crashed of crashes.get(position) ?? []) checker.observe({ type: 'crash', node: crashed, wasLeader: false });
    violations.push(...checker.observe({ type: 'driver', node, event }));
  });
  return violations;
}

/**
 * What the simulator's safety checkers find over the run: election-safety (one leader per term, from
 * every status change), log-agreement and acked-durable (from every `committed`, `proposed` and
 * `snapshot-installed`), and lease-safety (no two leases at once: the test network's clocks are its
 * own time, without drift).
 */
export function safetyViolations(net: RaftNet, crashes: Crashes = new Map()): string[] {
  // The lease checker reads the time, and converts a node's clock to it: here they are the same.
  const clock = { now: 0, node: () => ({}), virtualAt: (_node: unknown, local: number) => local };
  const checkers = [new LogAgreement(), new AckedDurable(), new LeaseSafety(clock as unknown as Engine)];
  const elections = new ElectionSafety();
  const violations: string[] = [];
  net.events.forEach(({ at, node, event }, position) => {
    clock.now = at;
    for (const crashed of crashes.get(position) ?? []) for (const checker of checkers) checker.observe({ type: 'crash', node: crashed, wasLeader: false });
    for (const checker of checkers) violations.push(...checker.observe({ type: 'driver', node, event }).map((v) => `${checker.name}: ${v}`));
    if (event.type === 'status') {
      const found = elections.observe({ type: 'status', node, previous: event.previous, status: event.status, wasLeader: leads(event.previous) });
      violations.push(...found.map((v) => `${elections.name}: ${v}`));
    }
  });
  return violations;
}
