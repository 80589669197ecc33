/**
 * The configuration-safety checker on hand-written event streams, as a Raft leader with single-server
 * changes reports them (src/core/types.ts: membership-changed, proposed, committed). The broken core it
 * catches in whole runs is in src/testing/mutants.ts (docs/invariants.md, "Membership change").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Membership, NodeId, ReplicationEvent } from '../../core/types.js';
import type { SimEvent } from '../events.js';
import { Configurations, type ConfigurationEvent } from '../membership.js';
import { ConfigurationSafety } from './configuration.js';

const config = (voters: NodeId[], observers: NodeId[] = []): Membership => ({ voters, observers, addresses: {} });
const changed = (index: number, membership: Membership): ReplicationEvent => ({ type: 'membership-changed', index, membership });
const committed = (index: number, term: number): ReplicationEvent => ({ type: 'committed', index, term, command: '' });
const proposed = (index: number, term: number): ReplicationEvent => ({ type: 'proposed', id: 1_000_000_000 + index, index, term });

/** Feeds each event to the configurations first (as the engine does), then to the checker; returns what it found. */
function run(steps: readonly (readonly [NodeId, ReplicationEvent])[]): string[] {
  const configurations = new Configurations(config([1, 2, 3]));
  const checker = new ConfigurationSafety(configurations);
  const found: string[] = [];
  for (const [node, core] of steps) {
    if (core.type === 'membership-changed' || core.type === 'committed' || core.type === 'snapshot-installed') configurations.observe(node, core as ConfigurationEvent);
    const event: SimEvent = { type: 'driver', node, event: { type: 'core', atMs: 0, event: core } };
    found.push(...checker.observe(event));
  }
  return found;
}

/** Leader 1 of term 2 starts with [1,2,3] and commits its blank entry at index 1. */
const leaderReady: [NodeId, ReplicationEvent][] = [[1, changed(0, config([1, 2, 3]))], [1, committed(1, 2)]];

test('configuration-safety: changes one at a time, each after the previous committed, in either order of the events, are no violation', () => {
  const found = run([
    ...leaderReady,
    [1, changed(2, config([1, 2, 3], [4]))], [1, proposed(2, 2)],
    [1, committed(2, 2)],
    [1, proposed(3, 2)], [1, changed(3, config([1, 2, 3, 4]))], // proposed reported first
    [1, committed(3, 2)],
    [1, changed(4, config([1, 2, 4]))], [1, proposed(4, 2)],
    [2, changed(2, config([1, 2, 3], [4]))], // a follower's entries are no appends
    [2, changed(3, config([1, 2, 3, 4]))],
  ]);
  assert.deepEqual(found, []);
});

test('configuration-safety: a second change while the first is uncommitted is flagged, and disjoint majorities with it', () => {
  const found = run([
    ...leaderReady,
    [1, changed(2, config([1, 2]))], [1, proposed(2, 2)],
    [1, changed(3, config([1]))], [1, proposed(3, 2)],
  ]);
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(found[0]!, /node 1 appended configuration index 3: voters \[1\] in term 2 while its configuration index 2: voters \[1,2\] was not committed/);
  assert.match(found[1]!, /whose majorities can be disjoint from those of the committed configuration index 0: voters \[1,2,3\]/, 'from [1,2,3] to [1]: {2,3} and {1}');
  const disjoint = run([
    ...leaderReady,
    [1, changed(2, config([1, 2, 3, 4]))], [1, proposed(2, 2)],
    [1, committed(2, 2)],
    [1, changed(3, config([1, 2, 3]))], [1, proposed(3, 2)],
    [1, changed(4, config([1, 2]))], [1, proposed(4, 2)],
  ]);
  // Two at once, but from [1,2,3,4] (committed) to [1,2] a majority of either holds 1 or 2: only the first rule is broken.
  assert.equal(disjoint.length, 1, disjoint.join('\n'));
  assert.match(disjoint[0]!, /was not committed/);
});

test('configuration-safety: a client\'s proposal at an index where a configuration entry later arrives from another leader is no append', () => {
  const found = run([
    [5, changed(0, config([1, 2, 3]))], [5, committed(1, 1)],
    [5, { type: 'proposed', id: 7, index: 2, term: 1 }], // a client's write, accepted by a leader about to be deposed
    [5, changed(2, config([1, 2, 3], [4]))], // index 2 as the next leader wrote it, received later
  ]);
  assert.deepEqual(found, []);
});

test('configuration-safety: a new leader that changes the configuration before committing an entry of its own term is flagged', () => {
  const found = run([
    [1, changed(0, config([1, 2, 3]))], [1, committed(1, 1)], // term 1's entry; the leader of term 2 has committed nothing of its own
    [1, changed(2, config([1, 2, 3], [4]))], [1, proposed(2, 2)],
  ]);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /before committing an entry of its own term \(its newest committed entry is of term 1\)/);
});
