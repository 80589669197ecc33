/**
 * The timeline: the events of the stream a reader wants to see, each a typed entry (`kind` and its
 * fields, for the page and the tests) with its line of text (for `ballot sim`).
 */
import { roundMs, type Engine } from './engine.js';
import type { SimEvent, Subscriber } from './events.js';
import { describeAction, type Action } from './schedule.js';
import type { NetworkChange, TimelineEntry } from './types.js';

/** Distributes over the union: each kind of entry without the two fields every entry has. */
type EntryFields<E> = E extends TimelineEntry ? Omit<E, 'atMs' | 'text'> : never;

/** A network change is worded as the action that made it (partition groups: as they are after it). */
function describeChange(change: NetworkChange): string {
  const { kind, ...fields } = change;
  return describeAction({ atMs: 0, do: kind, ...fields } as Action);
}

export class Timeline implements Subscriber {
  readonly wants = [
    'status', 'skipped', 'crash', 'restart', 'pause', 'resume', 'drift', 'network', 'dual-leaders', 'one-leader', 'leader-lost', 'agreed', 'violation',
  ] as const;
  readonly entries: TimelineEntry[] = [];

  constructor(private readonly engine: Engine) {}

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
      case 'sent':
      case 'undeliverable':
      case 'delivered':
      case 'dropped':
      case 'fault':
        return;
    }
  }

  private add(fields: EntryFields<TimelineEntry>, text: string): void {
    this.entries.push({ atMs: roundMs(this.engine.now), text, ...fields });
  }
}
