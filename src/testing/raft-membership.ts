/**
 * Why Raft changes one server at a time, and only once the previous change is committed (Ongaro's
 * thesis §4.1, its disjoint majorities): a deterministic run of five real RaftNodes on the
 * test network (src/core/testnet.ts), checked by the simulator's own log checker (log-agreement,
 * src/sim/checkers/replication.ts). Shared by the core's tests and the mutation catalog
 * (src/testing/mutants.ts: `raft-membership-unchecked`), because the random sweep changes no membership.
 *
 * The cluster starts as voters {1, 2, 3} with learners 4 and 5, all caught up, and node 3 leading. The
 * network splits into {1, 2} and {3, 4, 5}; then node 3 is asked to promote 4, and at once to promote 5.
 * The correct core refuses the second change ('change-pending': the first is not committed), so the
 * side {3, 4, 5} holds at most {1, 2, 3, 4}, of which it is 2 voters out of 4: no majority, nothing
 * commits, and its leader steps down when its lease ends. A core that accepts both changes gives that
 * side {1, 2, 3, 4, 5}, of which 3, 4 and 5 are a majority: it commits both entries and a write — while
 * {1, 2}, a majority of {1, 2, 3}, elects node 1 in the next term and commits its blank entry at the same
 * index. Two committed entries at one index: log-agreement's violation.
 */
import { RaftNode } from '../core/raft/raft.js';
import { raft } from '../core/raft/index.js';
import type { Membership, NodeId } from '../core/types.js';
import { TestNet } from '../core/testnet.js';
import { local, logAgreement, reported, type RaftNet } from './raft-net.js';

/** The configuration `node` reported last (membership-changed), with its index. */
export function membershipOf(net: RaftNet, node: NodeId): { readonly index: number; readonly membership: Membership } {
  const last = reported(net, node, 'membership-changed').at(-1);
  if (last === undefined) throw new Error(`node ${node} reported no configuration`);
  return { index: last.index, membership: last.membership };
}

/** Cuts every link between the two sides, both ways. */
export function split(net: RaftNet, side: readonly NodeId[], other: readonly NodeId[]): void {
  for (const node of side) net.isolate(node, other);
}

export interface DisjointMajoritiesOutcome {
  /** What node 3 answered to each promotion ('proposed', or the refusal's reason). */
  readonly answers: readonly string[];
  /** What log-agreement found, over every node's `committed` events. */
  readonly violations: readonly string[];
  /** Each node's configuration at the end, after the partition healed. */
  readonly final: ReadonlyMap<NodeId, { readonly index: number; readonly membership: Membership }>;
  readonly net: RaftNet;
}

export function disjointMajorities(): DisjointMajoritiesOutcome {
  // Node 3 times out first (the shortest timeouts), then 1, then 2: no split votes on either side.
  const order: Record<NodeId, number> = { 3: 0, 1: 0.4, 2: 0.7 };
  const net: RaftNet = new TestNet({
    algorithm: raft,
    voters: 3,
    observers: 2,
    latencyMs: 1,
    random: (id) => ({ next: () => order[id] ?? 0.9 }),
    create: (config, durable, random, now) => new RaftNode(config, durable, random, now),
  });
  net.runUntilTrue(() => net.status(3).role === 'leader' && [1, 2, 4, 5].every((id) => net.status(id).leader === 3));
  net.run(200); // the blank entry commits everywhere; the learners are caught up
  split(net, [1, 2], [3, 4, 5]);
  const answers: string[] = [];
  for (const [id, peer] of [[1, 4], [2, 5]] as const) {
    const before = net.events.length;
    local(net, 3, { type: 'change-membership', id, change: { type: 'promote', peer } });
    const answer = net.events.slice(before).find(({ event }) => event.type === 'core' && (event.event.type === 'proposed' || event.event.type === 'request-refused'));
    const reported = answer?.event.type === 'core' ? answer.event.event : undefined;
    answers.push(reported?.type === 'request-refused' ? (reported.reason ?? 'not-leader') : (reported?.type ?? 'nothing'));
  }
  local(net, 3, { type: 'propose', id: 3, command: 'written by {3, 4, 5}' });
  net.run(3_000); // {1, 2} elect node 1; under the broken rule, {3, 4, 5} commit too
  net.heal();
  net.run(3_000);
  const final = new Map(net.members.map((id) => [id, membershipOf(net, id)] as const));
  return { answers, violations: logAgreement(net), final, net };
}
