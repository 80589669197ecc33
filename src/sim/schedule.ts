/**
 * Scripted fault schedules (CONTRACT.md, "Schedule files"): a JSON array of timed actions.
 * Validation happens here, at the edge, with a clear message naming the offending entry.
 */
import { z } from 'zod';
import type { NodeId } from '../core/types.js';

/** A node reference: an id, or the leader at the moment the action runs. */
export type NodeRef = NodeId | 'leader';

export type Action =
  | { readonly atMs: number; readonly do: 'crash'; readonly node: NodeRef }
  | { readonly atMs: number; readonly do: 'restart'; readonly node: NodeId | 'all' }
  /** Nodes not listed in any group form one more group together. "leader" may appear in a group. */
  | { readonly atMs: number; readonly do: 'partition'; readonly groups: readonly (readonly NodeRef[])[] }
  /** Extension: cut the leader off together with the `minority - 1` lowest other ids. */
  | { readonly atMs: number; readonly do: 'split'; readonly minority: number }
  | { readonly atMs: number; readonly do: 'isolate'; readonly node: NodeRef }
  /** Extension: a one-way link failure — messages from `from` to `to` are lost, the other way not. */
  | { readonly atMs: number; readonly do: 'cut'; readonly from: NodeRef; readonly to: NodeRef }
  | { readonly atMs: number; readonly do: 'heal' }
  | { readonly atMs: number; readonly do: 'loss'; readonly p: number }
  | { readonly atMs: number; readonly do: 'duplicate'; readonly p: number }
  /** Extension: the one-way latency range from now on. */
  | { readonly atMs: number; readonly do: 'latency'; readonly minMs: number; readonly maxMs: number }
  /**
   * The node freezes for `forMs` (a GC stall, SIGSTOP): its clock runs on, what reaches it waits, then
   * it takes it all in order. A paused leader still believes it leads. Nothing happens to a node that is down.
   */
  | { readonly atMs: number; readonly do: 'pause'; readonly node: NodeRef; readonly forMs: number }
  /** The node's clock runs at `rate` × true time from now on (1.01: 1 % fast); its deadlines scale with it. */
  | { readonly atMs: number; readonly do: 'drift'; readonly node: NodeRef; readonly rate: number }
  /**
   * A spurious reset: `node` (every other node for "all") is told its connection to `peer` closed, though
   * `peer` lives and the network carries on (a middlebox, a flapping NIC). Crashes deliver the true
   * "peer down" by themselves; this tries the lie.
   */
  | { readonly atMs: number; readonly do: 'disconnect'; readonly node: NodeRef | 'all'; readonly peer: NodeRef }
  /**
   * The current leader is asked to hand its leadership to `to` (omitted: a target of its choosing), as
   * `node.transferLeadership(to)` asks a real one (Raft: TimeoutNow; Bully and ZAB ignore it).
   */
  | { readonly atMs: number; readonly do: 'transfer'; readonly to?: NodeId }
  /**
   * The current leader is asked to change the membership (Input 'change-membership'): add `node` as a
   * learner, promote the learner `node`, or remove `node`. Omitted `change` or `node`: the membership
   * nemesis (src/sim/membership.ts) picks a plausible one from the leader's configuration. Only for
   * algorithms with membership change.
   */
  | { readonly atMs: number; readonly do: 'change-membership'; readonly change?: MembershipChangeKind; readonly node?: NodeRef };

/** The three single-server changes (MembershipChange['type'], src/core/types.ts). */
export type MembershipChangeKind = 'add-learner' | 'promote' | 'remove';
export const membershipChangeKinds = ['add-learner', 'promote', 'remove'] as const satisfies readonly MembershipChangeKind[];

/** The largest clock rate change a schedule may ask for, either way (`rate` within 1 ± this). */
export const MAX_SCHEDULE_DRIFT = 0.5;

const nodeId = z.number().int().positive();
const nodeRef = z.union([nodeId, z.literal('leader')]);
const atMs = z.number().finite().nonnegative();
const probability = z.number().min(0).max(1);

const actionSchema = z.discriminatedUnion('do', [
  z.strictObject({ atMs, do: z.literal('crash'), node: nodeRef }),
  z.strictObject({ atMs, do: z.literal('restart'), node: z.union([nodeId, z.literal('all')]) }),
  z.strictObject({ atMs, do: z.literal('partition'), groups: z.array(z.array(nodeRef).min(1)).min(1) }),
  z.strictObject({ atMs, do: z.literal('split'), minority: z.number().int().positive() }),
  z.strictObject({ atMs, do: z.literal('isolate'), node: nodeRef }),
  z.strictObject({ atMs, do: z.literal('cut'), from: nodeRef, to: nodeRef }),
  z.strictObject({ atMs, do: z.literal('heal') }),
  z.strictObject({ atMs, do: z.literal('loss'), p: probability }),
  z.strictObject({ atMs, do: z.literal('duplicate'), p: probability }),
  z.strictObject({ atMs, do: z.literal('latency'), minMs: z.number().finite().nonnegative(), maxMs: z.number().finite().nonnegative() })
    .refine((a) => a.minMs <= a.maxMs, { message: 'minMs must not exceed maxMs' }),
  z.strictObject({ atMs, do: z.literal('pause'), node: nodeRef, forMs: z.number().finite().positive() }),
  z.strictObject({ atMs, do: z.literal('drift'), node: nodeRef, rate: z.number().finite().positive() }),
  z.strictObject({ atMs, do: z.literal('disconnect'), node: z.union([nodeRef, z.literal('all')]), peer: nodeRef }),
  z.strictObject({ atMs, do: z.literal('transfer'), to: nodeId.optional() }),
  z.strictObject({ atMs, do: z.literal('change-membership'), change: z.enum(membershipChangeKinds).optional(), node: nodeRef.optional() }),
]);

export const actionNames = ['crash', 'restart', 'partition', 'split', 'isolate', 'cut', 'heal', 'loss', 'duplicate', 'latency', 'pause', 'drift', 'disconnect', 'transfer', 'change-membership'] as const;

export class ScheduleError extends Error {}

/**
 * Parses and validates a schedule against the cluster's member ids. Throws ScheduleError with one
 * readable line on any problem (unknown action, unknown id, bad field, a node in two partition groups,
 * a clock rate outside 1 ± `maxClockDrift`, default MAX_SCHEDULE_DRIFT).
 */
export function parseSchedule(json: unknown, members: readonly NodeId[], maxClockDrift = MAX_SCHEDULE_DRIFT): Action[] {
  if (!Array.isArray(json)) throw new ScheduleError('a schedule must be a JSON array of actions');
  const known = new Set(members);
  const actions: Action[] = [];
  json.forEach((raw, index) => {
    const where = `schedule entry ${index}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ScheduleError(`${where}: not an object`);
    const kind = (raw as { do?: unknown }).do;
    if (typeof kind !== 'string' || !(actionNames as readonly string[]).includes(kind)) {
      throw new ScheduleError(`${where}: unknown action ${JSON.stringify(kind)} (known: ${actionNames.join(', ')})`);
    }
    const parsed = actionSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue && issue.path.length > 0 ? ` field "${issue.path.join('.')}"` : '';
      throw new ScheduleError(`${where} (${kind}):${path} ${issue?.message ?? 'invalid'}`);
    }
    const action = parsed.data as Action;
    for (const id of referencedIds(action)) {
      if (!known.has(id)) throw new ScheduleError(`${where} (${kind}): unknown node id ${id} (members: ${members.join(', ')})`);
    }
    if (action.do === 'partition') {
      // A node in two groups would be connected to both: the groups would not be a partition at all.
      const seen = new Set<NodeRef>();
      for (const ref of action.groups.flat()) {
        if (seen.has(ref)) throw new ScheduleError(`${where} (partition): node ${JSON.stringify(ref)} is in more than one group (groups must not overlap)`);
        seen.add(ref);
      }
    }
    if (action.do === 'drift' && Math.abs(action.rate - 1) > maxClockDrift) {
      throw new ScheduleError(`${where} (drift): rate ${action.rate} is outside 1 ± ${maxClockDrift} (from ${1 - maxClockDrift} to ${1 + maxClockDrift})`);
    }
    if (action.do === 'split' && action.minority >= members.length) {
      throw new ScheduleError(`${where} (split): minority ${action.minority} must be smaller than the cluster (${members.length})`);
    }
    actions.push(action);
  });
  // A stable sort keeps same-instant actions in file order.
  return actions.map((action, index) => ({ action, index }))
    .sort((x, y) => x.action.atMs - y.action.atMs || x.index - y.index)
    .map(({ action }) => action);
}

function referencedIds(action: Action): NodeId[] {
  const ids = (refs: readonly (NodeRef | 'all')[]) => refs.filter((r): r is NodeId => typeof r === 'number');
  switch (action.do) {
    case 'crash':
    case 'isolate':
    case 'pause':
    case 'drift':
      return ids([action.node]);
    case 'restart':
      return ids([action.node]);
    case 'partition':
      return ids(action.groups.flat());
    case 'cut':
      return ids([action.from, action.to]);
    case 'disconnect':
      return ids([action.node, action.peer]);
    case 'transfer':
      return action.to === undefined ? [] : ids([action.to]);
    case 'change-membership':
      return action.node === undefined ? [] : ids([action.node]);
    case 'split':
    case 'heal':
    case 'loss':
    case 'duplicate':
    case 'latency':
      return [];
  }
}

/** One line describing an action, for the timeline. */
export function describeAction(action: Action): string {
  switch (action.do) {
    case 'crash':
    case 'isolate':
      return `${action.do} ${action.node}`;
    case 'restart':
      return `restart ${action.node}`;
    case 'partition':
      return `partition ${action.groups.map((g) => `[${g.join(',')}]`).join(' ')}`;
    case 'split':
      return `split leader into a minority of ${action.minority}`;
    case 'cut':
      return `cut ${action.from} -> ${action.to}`;
    case 'heal':
      return 'heal';
    case 'loss':
    case 'duplicate':
      return `${action.do} ${action.p}`;
    case 'latency':
      return `latency ${action.minMs}-${action.maxMs} ms`;
    case 'pause':
      return `pause ${action.node} for ${action.forMs} ms`;
    case 'drift':
      return `clock of ${action.node} runs at ${action.rate} x`;
    case 'disconnect':
      return `${action.node === 'all' ? 'every node' : action.node} told its connection to ${action.peer} closed`;
    case 'transfer':
      return `the leader asked to hand over to ${action.to ?? 'a node of its choosing'}`;
    case 'change-membership':
      return `the leader asked to ${action.change ?? 'change the membership'}${action.node === undefined ? '' : ` ${action.node}`}`;
  }
}
