/**
 * The timeline: the events of the stream a reader wants to see, each a typed entry (`kind` and its
 * fields, for the page and the tests) with its line of text (for `ballot sim`).
 */
import type { Membership, NodeId, ReplicationEvent } from '../core/types.js';
import { roundMs, type Engine } from './engine.js';
import type { SimEvent, SimEventType, Subscriber } from './events.js';
import { describeConfiguration, type ConfigurationEntry } from './membership.js';
import { describeAction, type Action } from './schedule.js';
import type { NetworkChange, TimelineEntry } from './types.js';

/** Distributes over the union: each kind of entry without the two fields every entry has. */
type EntryFields<E> = E extends TimelineEntry ? Omit<E, 'atMs' | 'text'> : never;

/** A network change is worded as the action that made it (partition groups: as they are after it). */
function describeChange(change: NetworkChange): string {
  const { kind, ...fields } = change;
  return describeAction({ atMs: 0, do: kind, ...fields } as Action);
}

/** What changed from `before` to `after`, in words: `adds 6 as a learner`, `promotes 6`, `removes 3` (joined by commas). */
function describeMembershipDifference(before: Membership, after: Membership): string {
  const words: string[] = [];
  const wasMember = (id: NodeId): boolean => before.voters.includes(id) || before.observers.includes(id);
  for (const id of after.voters) {
    if (before.observers.includes(id)) words.push(`promotes ${id}`);
    else if (!before.voters.includes(id)) words.push(`adds ${id} as a voter`);
  }
  for (const id of after.observers) {
    if (before.voters.includes(id)) words.push(`makes ${id} a learner`);
    else if (!wasMember(id)) words.push(`adds ${id} as a learner`);
  }
  for (const id of [...before.voters, ...before.observers]) if (!after.voters.includes(id) && !after.observers.includes(id)) words.push(`removes ${id}`);
  return words.length > 0 ? words.join(', ') : 'same members';
}

export class Timeline implements Subscriber {
  readonly wants: readonly SimEventType[];
  readonly entries: TimelineEntry[] = [];
  /** Configurations already shown (`index voters/observers`): each once, by the first node to report it. */
  private readonly shownConfigurations = new Set<string>();
  /** The committed configuration last shown (the initial one, index 0, is the run's header). */
  private shownCommitted: ConfigurationEntry;

  constructor(private readonly engine: Engine) {
    // The nodes' own events are read only where the configuration may change: elsewhere the stream
    // keeps not publishing them (see EngineHooks.wants).
    this.wants = [
      'status', 'skipped', 'crash', 'restart', 'pause', 'resume', 'drift', 'network', 'dual-leaders', 'one-leader', 'leader-lost', 'agreed', 'violation',
      ...(engine.dynamic ? (['driver'] as const) : []),
    ];
    this.shownCommitted = engine.configurations.committed;
  }

  observe(event: SimEvent): void {
    switch (event.type) {
      case 'status':
        if (event.status.leader === event.node && !event.wasLeader) {
          this.add({ kind: 'became-leader', node: event.node, term: event.status.term }, `${event.node} becomes leader, term ${event.status.term}`);
        }
        return;
      case 'skipped':
        // A split is skipped only when it finds no leader to put in the minority.
        this.add({ kind: 'skipped', action: event.action }, `${event.action.do === 'split' ? 'split' : describeAction(event.action)}: no leader now, skipped`);
        return;
      case 'crash':
        this.add({ kind: 'crash', node: event.node }, `crash ${event.node}`);
        return;
      case 'restart':
        this.add({ kind: 'restart', node: event.node }, `restart ${event.node}`);
        return;
      case 'pause':
        this.add({ kind: 'pause', node: event.node, forMs: event.forMs }, `pause ${event.node} for ${event.forMs} ms`);
        return;
      case 'resume':
        this.add({ kind: 'resume', node: event.node }, `resume ${event.node}`);
        return;
      case 'drift':
        this.add({ kind: 'drift', node: event.node, rate: event.rate }, `clock of ${event.node} runs at ${event.rate} x`);
        return;
      case 'network':
        this.add(event.change, describeChange(event.change));
        return;
      case 'dual-leaders':
        this.add(
          { kind: 'dual-leaders', leaders: event.leaders },
          `dual leaders: ${event.leaders.map((l) => `${l.node} (term ${l.term})`).join(' and ')} each believe they lead`,
        );
        return;
      case 'one-leader':
        this.add({ kind: 'one-leader', afterMs: event.afterMs }, `one leader again, after ${event.afterMs} ms of dual leaders`);
        return;
      case 'leader-lost':
        this.add({ kind: 'leader-lost', leader: event.leader }, `leader ${event.leader} lost`);
        return;
      case 'agreed':
        this.add(
          { kind: 'agreed', leader: event.leader, term: event.term, afterMs: event.afterMs },
          `all agree on leader ${event.leader} (term ${event.term}) after ${event.afterMs} ms`,
        );
        return;
      case 'violation':
        this.add({ kind: 'violation', invariant: event.invariant, detail: event.detail }, `VIOLATION ${event.invariant}: ${event.detail}`);
        return;
      case 'driver':
        if (event.event.type === 'core') this.configurationEvent(event.node, event.event.event.type === 'membership-changed' ? event.event.event : null);
        return;
      case 'sent':
      case 'undeliverable':
      case 'delivered':
      case 'dropped':
      case 'fault':
        return;
    }
  }

  /**
   * A configuration entry a node reported (`changed`; null for any other event of its core), and the
   * cluster's committed configuration when it moved on. Each node reports every entry it appends (and
   * its log's newest when it starts): one line for the first report of each, normally the leader's
   * append, rather than one per node. The engine has updated `configurations` before the event is
   * published, so a commitment shows right after the event that made it known.
   */
  private configurationEvent(node: NodeId, changed: Extract<ReplicationEvent, { type: 'membership-changed' }> | null): void {
    if (changed !== null && changed.index > 0) {
      const { voters, observers } = changed.membership;
      const key = `${changed.index} ${voters.join(',')}/${observers.join(',')}`;
      if (!this.shownConfigurations.has(key)) {
        this.shownConfigurations.add(key);
        const previous = this.engine.configurations.previous(node);
        const change = previous === null ? '' : ` (${describeMembershipDifference(previous.membership, changed.membership)})`;
        this.add(
          { kind: 'membership-changed', node, index: changed.index, voters: [...voters], observers: [...observers] },
          `${node} appends configuration ${changed.index}${change}: ${describeConfiguration(changed.membership)}`,
        );
      }
    }
    const committed = this.engine.configurations.committed;
    if (committed === this.shownCommitted) return;
    this.shownCommitted = committed;
    const { voters, observers } = committed.membership;
    this.add(
      { kind: 'membership-committed', index: committed.index, voters: [...voters], observers: [...observers] },
      `configuration ${committed.index} committed: ${describeConfiguration(committed.membership)}`,
    );
  }

  private add(fields: EntryFields<TimelineEntry>, text: string): void {
    this.entries.push({ atMs: roundMs(this.engine.now), text, ...fields });
  }
}
