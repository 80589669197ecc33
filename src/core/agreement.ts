/**
 * "Do the nodes agree on a leader?" — asked by the simulator (election periods, convergence), the real
 * bench (when a failover ends), `ballot cluster`, and tests of real clusters. One answer for all of them
 * (issue 10, item 6), so that a simulated and a real failover end at the same moment by definition.
 *
 * Pure: hosts gather the views (from `status()`, `/status`, or another system's API) and pass them in.
 */
import type { NodeId } from './types.js';

/** One node's view of the cluster, as its host sees it. */
export interface LeaderView {
  readonly id: NodeId;
  /** Whom the node names as leader; null when it knows none. */
  readonly leader: NodeId | null;
  /** Its term (Raft term, ZAB epoch, Bully generation); absent when the system does not report one. */
  readonly term?: number;
  /** False for a node known to be down: it has no say and cannot lead. Absent means up. */
  readonly up?: boolean;
}

export interface Agreement {
  readonly leader: NodeId;
  /** The leader's own term (the fencing token its followers see); undefined when views carry no term. */
  readonly term: number | undefined;
}

/**
 * The leader every view names, or null when there is none. Agreement needs:
 * - at least one node that is up, and an answer from each of them: a null or undefined entry stands for a
 *   node that should have answered and did not (a poll that timed out), and means no agreement yet;
 * - every node that is up naming the same leader;
 * - that leader among the views, up, and naming itself: a node believes it is THE leader exactly when
 *   `leader === id` (core/types.ts, Status). So a dead or removed leader that others still name, or one
 *   outside the group asked (the other side of a partition, a non-member), is no agreement.
 */
export function agreedLeader(views: Iterable<LeaderView | null | undefined>): Agreement | null {
  let leader: NodeId | null = null;
  const seen: LeaderView[] = [];
  for (const view of views) {
    if (view === null || view === undefined) return null;
    if (view.up === false) continue;
    if (view.leader === null) return null;
    if (leader === null) leader = view.leader;
    else if (view.leader !== leader) return null;
    seen.push(view);
  }
  if (leader === null) return null;
  const own = seen.find((view) => view.id === leader);
  if (own === undefined) return null;
  return { leader, term: own.term };
}

/**
 * The views of `members` from a map of member → named leader (what the bench's adapters report); a member
 * missing from the map did not answer. Members outside `members` are ignored.
 */
export function leaderViewsOf(named: ReadonlyMap<NodeId, NodeId | null>, members: Iterable<NodeId>): (LeaderView | null)[] {
  return Array.from(members, (id) => {
    const leader = named.get(id);
    return leader === undefined ? null : { id, leader };
  });
}
