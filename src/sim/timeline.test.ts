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
