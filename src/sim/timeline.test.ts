/**
 * The timeline is typed: each entry's kind and fields say what happened, and its text is the line
 * `ballot sim` prints. Tests and the page read the kind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { simulate } from './simulation.js';
import type { Action } from './schedule.js';

const schedule: Action[] = [
  { atMs: 0, do: 'crash', node: 'leader' },
  { atMs: 0, do: 'split', minority: 2 },
  { atMs: 1000, do: 'split', minority: 2 },
  { atMs: 1500, do: 'cut', from: 'leader', to: 1 },
  { atMs: 2000, do: 'latency', minMs: 2, maxMs: 9 },
  { atMs: 2500, do: 'heal' },
  { atMs: 3000, do: 'crash', node: 2 },
  { atMs: 3500, do: 'restart', node: 'all' },
];

test('every fault, leader and agreement is an entry of its kind, with its fields and its line of text', () => {
  const result = simulate({ algorithm: algorithms.raft, nodes: 5, seed: 4, schedule, timeline: true });
  const timeline = result.timeline!;
  const kinds = timeline.map((e) => e.kind);
  assert.deepEqual(kinds.slice(0, 2), ['skipped', 'skipped'], 'no leader at 0 ms: nothing to crash or split');
  const skipped = timeline[1]!;
  assert.ok(skipped.kind === 'skipped' && skipped.action.do === 'split');
  assert.equal(skipped.text, 'split: no leader now, skipped');

  const first = timeline.find((e) => e.kind === 'became-leader');
  assert.ok(first?.kind === 'became-leader');
  assert.equal(first.text, `${first.node} becomes leader, term ${first.term}`);
  assert.deepEqual(result.leaders[0], { atMs: first.atMs, node: first.node, term: first.term });

  const agreed = timeline.filter((e) => e.kind === 'agreed');
  assert.deepEqual(agreed.map((e) => e.kind === 'agreed' && [e.leader, e.term]), result.elections.map((e) => [e.leader, e.term]));

  const partition = timeline.find((e) => e.kind === 'partition');
  assert.ok(partition?.kind === 'partition' && partition.atMs === 1000);
  assert.equal(partition.groups.length, 2);
  assert.ok(partition.groups.some((g) => g.length === 2 && g.includes(first.node)), 'the leader went into the minority of 2');

  for (const kind of ['cut', 'latency', 'heal', 'crash', 'restart'] as const) assert.ok(kinds.includes(kind), kind);
  const crash = timeline.find((e) => e.kind === 'crash');
  assert.ok(crash?.kind === 'crash' && crash.node === 2 && crash.text === 'crash 2');
  assert.equal(timeline.filter((e) => e.kind === 'restart').length, 1, 'restart all restarts only the node that was down');
  for (const entry of timeline) assert.notEqual(entry.kind, 'violation');
});

test('dual leaders are an entry with each believer and its term, and their end says how long it lasted', () => {
  const result = simulate({ algorithm: algorithms.bully, nodes: 5, seed: 1, scenario: 'partition', timeline: true });
  const dual = result.timeline!.find((e) => e.kind === 'dual-leaders');
  assert.ok(dual?.kind === 'dual-leaders');
  assert.deepEqual(dual.leaders.map((l) => l.node).sort(), [4, 5]);
  const ended = result.timeline!.find((e) => e.kind === 'one-leader');
  assert.ok(ended?.kind === 'one-leader');
  assert.equal(ended.afterMs, result.dualLeaderMs);
});

test('a membership change is an entry when its configuration is first appended, and another when it commits', () => {
  const changes: Action[] = [
    { atMs: 1000, do: 'change-membership', change: 'add-learner', node: 4 },
    { atMs: 2000, do: 'change-membership', change: 'promote', node: 4 },
    { atMs: 3000, do: 'change-membership', change: 'remove', node: 'leader' },
  ];
  const result = simulate({ algorithm: algorithms.raft, nodes: 3, spares: 1, seed: 2, schedule: changes, timeline: true });
  const timeline = result.timeline!;
  const appended = timeline.filter((e) => e.kind === 'membership-changed');
  const committed = timeline.filter((e) => e.kind === 'membership-committed');
  assert.equal(appended.length, 3, 'one line per configuration, not one per node that reports it');
  assert.deepEqual(appended.slice(0, 2).map((e) => e.kind === 'membership-changed' && [e.voters, e.observers]), [
    [[1, 2, 3], [4]],
    [[1, 2, 3, 4], []],
  ]);
  const [learner, promoted, removed] = appended;
  assert.ok(learner?.kind === 'membership-changed' && promoted?.kind === 'membership-changed' && removed?.kind === 'membership-changed');
  const leaderThen = result.leaders.filter((l) => l.atMs <= learner.atMs).at(-1)!.node;
  assert.equal(learner.node, leaderThen, 'the first to report a configuration is the leader that appends it');
  assert.equal(learner.text, `${leaderThen} appends configuration ${learner.index} (adds 4 as a learner): voters 1,2,3, learners 4`);
  assert.match(promoted.text, /^\d+ appends configuration \d+ \(promotes 4\): voters 1,2,3,4, learners -$/);
  assert.equal(removed.voters.length, 3);
  assert.deepEqual(removed.observers, []);
  assert.ok(!removed.voters.includes(removed.node), 'the leader removed itself');
  assert.match(removed.text, new RegExp(`\\(removes ${removed.node}\\)`));

  assert.deepEqual(committed.map((e) => e.kind === 'membership-committed' && e.index), appended.map((e) => e.kind === 'membership-changed' && e.index));
  for (let i = 0; i < committed.length; i++) assert.ok(committed[i]!.atMs >= appended[i]!.atMs, 'committed after appended');
  assert.equal(committed.at(-1)!.text, `configuration ${removed.index} committed: voters ${removed.voters.join(',')}, learners -`);
  assert.deepEqual(result.membership?.configuration, { index: removed.index, voters: [...removed.voters], observers: [] });
});

test('a run whose configuration cannot change has no membership entries', () => {
  const result = simulate({ algorithm: algorithms.raft, nodes: 3, seed: 2, scenario: 'random', timeline: true });
  assert.ok(result.timeline!.every((e) => e.kind !== 'membership-changed' && e.kind !== 'membership-committed'));
});
