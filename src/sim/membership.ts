/**
 * Membership change in the simulator (issue 15, item 6): what each node says its configuration is, which
 * configuration is known to be committed, and the membership nemesis that asks the leader for changes.
 *
 * - `Configurations` follows every node's `membership-changed`, `committed` and `snapshot-installed`
 *   events (the engine feeds it, src/sim/engine.ts): each node's configuration entries as its log holds
 *   them, what it has committed, and the newest configuration committed anywhere — the configuration the
 *   engine's agreement, convergence and the configuration-safety checker go by.
 * - `MembershipNemesis` draws when changes are asked for (a stream of its own, so a run without it is the
 *   run it always was) and which change, from the leader's configuration at that moment: add a node that
 *   is not a member as a learner, promote a learner, remove a member; never the last voter.
 * - `MembershipChanges` counts what the leaders answered (`--json`'s `membership`).
 */
import { majority } from '../core/quorum.js';
import type { Membership, MembershipChange, MembershipRefusal, NodeId, ReplicationEvent, Timing } from '../core/types.js';
import type { SimEvent, SimEventType, Subscriber } from './events.js';
import { Prng } from '../core/prng.js';
import { nemesisQuietAtMs, timeScale } from './scenarios.js';
import type { Action, MembershipChangeKind } from './schedule.js';
import type { ConfigurationSummary, MembershipOptions, MembershipSummary } from './types.js';

/** A configuration entry: its index in the log (0: the one a node was started with) and the membership. */
export interface ConfigurationEntry {
  readonly index: number;
  readonly membership: Membership;
}

/** What one node has told its host about its configuration and its commitment, in this incarnation. */
interface NodeConfigurations {
  /** Its configuration entries, ascending by index; the last is the one it uses (thesis §4.1). */
  entries: ConfigurationEntry[];
  /** The highest index it has committed (or holds in a snapshot) in this incarnation. */
  committedIndex: number;
  /** The term of the newest entry it committed (0: none yet in this incarnation). */
  committedTerm: number;
}

/** The events Configurations reads. */
export type ConfigurationEvent = Extract<ReplicationEvent, { type: 'membership-changed' | 'committed' | 'snapshot-installed' }>;

/** A configuration as the result reports it. */
export function summarize(entry: ConfigurationEntry): ConfigurationSummary {
  return { index: entry.index, voters: [...entry.membership.voters], observers: [...entry.membership.observers] };
}

/** A configuration in words, as `ballot sim` prints it: `voters 1,2,3, learners 4` (`-` for none). */
export function describeConfiguration(config: { readonly voters: readonly NodeId[]; readonly observers: readonly NodeId[] }): string {
  return `voters ${config.voters.join(',') || '-'}, learners ${config.observers.join(',') || '-'}`;
}

/**
 * Whether a majority of `a` and a majority of `b` can have no voter in common: then two leaders, one
 * elected (or committing) under each, could act at once. Single-server changes never allow it between a
 * configuration and the next (thesis §4.1); two changes at once can.
 */
export function majoritiesCanBeDisjoint(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const common = a.filter((id) => b.includes(id)).length;
  // Each majority takes as few common voters as it can: first the voters the other lacks.
  const fromCommonA = Math.max(0, majority(a.length) - (a.length - common));
  const fromCommonB = Math.max(0, majority(b.length) - (b.length - common));
  return fromCommonA + fromCommonB <= common;
}

export class Configurations {
  private readonly nodes = new Map<NodeId, NodeConfigurations>();
  private committedEntry: ConfigurationEntry;

  /** `initial`: the configuration the cluster's members start with (index 0, committed by definition). */
  constructor(initial: Membership) {
    this.committedEntry = { index: 0, membership: initial };
  }

  /** The newest configuration any node has reported committed (the initial one until then). */
  get committed(): ConfigurationEntry {
    return this.committedEntry;
  }

  /** The configuration `node` uses now (its newest entry), or null when it has reported none this incarnation. */
  latest(node: NodeId): ConfigurationEntry | null {
    const entries = this.nodes.get(node)?.entries;
    return entries?.[entries.length - 1] ?? null;
  }

  /** The entry before `node`'s newest, or null. */
  previous(node: NodeId): ConfigurationEntry | null {
    const entries = this.nodes.get(node)?.entries;
    return entries?.[entries.length - 2] ?? null;
  }

  /** The highest index `node` has committed in this incarnation, and the term of the newest entry it committed. */
  commitment(node: NodeId): { readonly index: number; readonly term: number } {
    const state = this.nodes.get(node);
    return { index: state?.committedIndex ?? 0, term: state?.committedTerm ?? 0 };
  }

  /** The newest configuration `node` itself knows to be committed (its entries up to its commit index), or null. */
  committedAt(node: NodeId): ConfigurationEntry | null {
    const state = this.nodes.get(node);
    if (state === undefined) return null;
    for (let i = state.entries.length - 1; i >= 0; i--) if (state.entries[i]!.index <= state.committedIndex) return state.entries[i]!;
    return null;
  }

  /** A node crashed: its next incarnation reports its configuration and commitment afresh. */
  crashed(node: NodeId): void {
    this.nodes.delete(node);
  }

  observe(node: NodeId, event: ConfigurationEvent): void {
    let state = this.nodes.get(node);
    if (state === undefined) this.nodes.set(node, (state = { entries: [], committedIndex: 0, committedTerm: 0 }));
    switch (event.type) {
      case 'membership-changed': {
        // Entries after the one reported are gone (a conflicting leader's entries replaced them).
        const entries = state.entries;
        while (entries.length > 0 && entries[entries.length - 1]!.index > event.index) entries.pop();
        if (entries[entries.length - 1]?.index === event.index) entries.pop();
        entries.push({ index: event.index, membership: event.membership });
        this.learnCommitted(state);
        return;
      }
      case 'committed':
        state.committedIndex = Math.max(state.committedIndex, event.index);
        state.committedTerm = event.term;
        this.learnCommitted(state);
        return;
      case 'snapshot-installed':
        state.committedIndex = Math.max(state.committedIndex, event.index);
        state.committedTerm = Math.max(state.committedTerm, event.term);
        this.learnCommitted(state);
        return;
    }
  }

  /** A node's configuration entries up to its commit index are committed: the newest becomes the cluster's. */
  private learnCommitted(state: NodeConfigurations): void {
    for (let i = state.entries.length - 1; i >= 0; i--) {
      const entry = state.entries[i]!;
      if (entry.index > state.committedIndex) continue;
      if (entry.index > this.committedEntry.index) this.committedEntry = entry;
      return;
    }
  }
}

/**
 * Request ids of membership changes start here, far above the workload's (which count from 1), so that
 * a node's answers to either never mix (an id is the host's, unique per node incarnation).
 */
export const MEMBERSHIP_REQUEST_BASE = 1_000_000_000;

/**
 * The membership nemesis. Its times come from the seed alone (stream 'nemesis-membership'): from two
 * maximum election timeouts after the start (a first leader is elected by then) until the nemesis's
 * quiet time, a change every `meanGap` on average, and with the run's `backToBack` chance a second one
 * right behind it. Which change is drawn when it is carried out (stream 'membership-choice'), from the
 * configuration the leader uses then.
 */
export class MembershipNemesis {
  private readonly choice: Prng;
  readonly actions: Action[] = [];

  /** `options` null: no changes of its own, only the picking for a schedule's changes. */
  constructor(seed: number, timing: Timing, options: MembershipOptions | null) {
    this.choice = new Prng(seed, 'membership-choice');
    if (options === null) return;
    const times = new Prng(seed, 'nemesis-membership');
    const backToBack = options.backToBack ?? times.pick([0, 0.2, 0.5]);
    const meanGapMs = (200 + times.int(800)) * timeScale(timing);
    const quietAtMs = nemesisQuietAtMs(timing);
    for (let atMs = timing.electionTimeoutMaxMs * 2 + times.next() * meanGapMs; atMs < quietAtMs; atMs += 1 + times.next() * 2 * meanGapMs) {
      this.actions.push({ atMs, do: 'change-membership' });
      if (times.chance(backToBack)) this.actions.push({ atMs: atMs + times.next() * 2, do: 'change-membership' });
    }
  }

  /**
   * The change to ask of a leader that uses `config`, among `nodes` (every node of the simulation), or null
   * when none fits. `asked` fixes the kind of change or the node (a schedule's action); the rest is
   * drawn: promote a learner (most often: learners exist to be promoted), add a node that is not a
   * member, remove a voter (more often when there are more voters than at the start) or a learner.
   */
  pick(
    config: Membership,
    nodes: readonly NodeId[],
    initialVoters: number,
    asked: { readonly change?: MembershipChangeKind; readonly node?: NodeId },
  ): MembershipChange | null {
    const r = this.choice;
    const learners = config.observers;
    const outsiders = nodes.filter((id) => !config.voters.includes(id) && !learners.includes(id));
    // Never the last voter. The leader itself may go (thesis §4.2.2: it leads until the change commits).
    const removable = config.voters.length > 1 ? [...config.voters, ...learners] : [...learners];
    const candidates: Record<MembershipChangeKind, readonly NodeId[]> = { 'add-learner': outsiders, promote: learners, remove: removable };
    let kind = asked.change;
    if (kind === undefined && asked.node !== undefined) {
      const node = asked.node;
      kind = config.voters.includes(node) ? 'remove' : learners.includes(node) ? 'promote' : 'add-learner';
    }
    if (kind === undefined) {
      const weights: [MembershipChangeKind, number][] = [
        ['promote', learners.length > 0 ? 3 : 0],
        ['add-learner', outsiders.length > 0 ? 2 : 0],
        ['remove', removable.length === 0 ? 0 : config.voters.length > initialVoters ? 3 : 1],
      ];
      const total = weights.reduce((sum, [, w]) => sum + w, 0);
      if (total === 0) return null;
      let roll = r.next() * total;
      kind = weights.find(([, w]) => (roll -= w) < 0)?.[0] ?? 'remove';
    }
    // A schedule may name a node the change does not fit: it is asked all the same (the leader refuses).
    const node = asked.node ?? (candidates[kind].length > 0 ? r.pick(candidates[kind]) : null);
    if (node === null) return null;
    switch (kind) {
      case 'add-learner':
        return { type: 'add-learner', peer: node, address: '' };
      case 'promote':
        return { type: 'promote', peer: node };
      case 'remove':
        return { type: 'remove', peer: node };
    }
  }
}

/**
 * Counts the changes asked for and how the leaders answered (`--json`'s `membership`). It reads the
 * answers to the requests it made (ids from MEMBERSHIP_REQUEST_BASE) and the commitment of the entries
 * accepted.
 */
export class MembershipChanges implements Subscriber {
  readonly wants: readonly SimEventType[] = ['driver'];
  private nextId = MEMBERSHIP_REQUEST_BASE;
  private requested = 0;
  private accepted = 0;
  private committed = 0;
  private refused = 0;
  private readonly refusedBy = new Map<MembershipRefusal | 'not-leader', number>();
  /** Accepted changes not yet committed: `${node}:${index}` → term. */
  private readonly open = new Map<string, number>();

  constructor(private readonly configurations: Configurations) {}

  /** A new request id, counted as requested. */
  request(): number {
    this.requested++;
    return this.nextId++;
  }

  observe(event: SimEvent): void {
    if (event.type !== 'driver' || event.event.type !== 'core') return;
    const core = event.event.event;
    switch (core.type) {
      case 'proposed':
        if (core.id < MEMBERSHIP_REQUEST_BASE) return;
        this.accepted++;
        this.open.set(`${event.node}:${core.index}`, core.term);
        return;
      case 'request-refused': {
        if (core.id < MEMBERSHIP_REQUEST_BASE) return;
        this.refused++;
        const reason = core.reason ?? 'not-leader';
        this.refusedBy.set(reason, (this.refusedBy.get(reason) ?? 0) + 1);
        return;
      }
      case 'committed': {
        const key = `${event.node}:${core.index}`;
        const term = this.open.get(key);
        if (term === undefined) return;
        this.open.delete(key);
        if (term === core.term) this.committed++;
        return;
      }
      default:
        return;
    }
  }

  summary(): MembershipSummary {
    const refusedBy: Record<string, number> = {};
    for (const [reason, count] of [...this.refusedBy].sort(([a], [b]) => a.localeCompare(b))) refusedBy[reason] = count;
    return {
      requested: this.requested,
      accepted: this.accepted,
      committed: this.committed,
      refused: this.refused,
      refusedBy,
      configuration: summarize(this.configurations.committed),
    };
  }
}
