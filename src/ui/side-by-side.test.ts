/**
 * The visualizer's model without a browser: one clock for every pane, clicks applied to all at the same
 * instant, a rewind that equals a fresh run, moments that survive a URL, and captions and timers taken
 * from the simulator's typed data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { createRun } from '../sim/index.js';
import { SideBySide, caption, clickAction, compare, defaultSetup, messageColours, momentQuery, parseMoment, type Setup } from './side-by-side.js';

const state = (model: SideBySide) => JSON.stringify(model.panes.map((p) => p.run.snapshot()));

test('a click crashes the leader of every pane at the same virtual time', () => {
  const model = new SideBySide(defaultSetup);
  model.advanceTo(1000.37);
  const leaders = model.panes.map((p) => p.run.snapshot().agreedLeader);
  assert.ok(leaders.every((l) => l !== null), `every pane elected: ${leaders.join(',')}`);
  const click = model.click(clickAction('crash', 'leader', 5)!);
  assert.equal(click.atMs, 1001, 'rounded up to the 1 ms grid');
  model.panes.forEach((pane, i) => {
    const snap = pane.run.snapshot();
    const crash = snap.timeline.filter((e) => e.kind === 'crash');
    assert.deepEqual(crash.map((e) => [e.atMs, e.kind === 'crash' && e.node]), [[1001, leaders[i]]], pane.algorithm.name);
    assert.equal(snap.nodes.find((n) => n.node === leaders[i])!.up, false);
  });
  model.advanceTo(3000);
  for (const pane of model.panes) assert.ok(pane.run.snapshot().elections.length >= 2, `${pane.algorithm.name} failed over`);
  // A clock a hair past the grid (frames add floating-point times) still rounds up, never back.
  model.advanceTo(3738.000000000002);
  const late = model.click(clickAction('crash', 1, 5)!);
  assert.equal(late.atMs, 3739);
  for (const pane of model.panes) assert.equal(pane.run.snapshot().nodes[0]!.up, false, pane.algorithm.name);
});

test('going back re-runs the simulation: the state equals a fresh run with the same clicks', () => {
  const setup: Setup = { ...defaultSetup, seed: 4, scenario: 'partition' };
  const model = new SideBySide(setup);
  model.advanceTo(700);
  model.click(clickAction('isolate', 'leader', 5)!);
  for (let t = 700; t < 1500; t += 13.7) model.advanceTo(t); // frames of uneven length
  model.click(clickAction('heal', null, 5)!);
  model.click(clickAction('crash', 3, 5)!);
  model.advanceTo(2600);
  for (const target of [1234.5, 701, 0, 2600]) {
    model.seek(target);
    const fresh = new SideBySide(setup, model.clicks);
    fresh.advanceTo(target);
    assert.equal(state(model), state(fresh), `at ${target}`);
  }
  // A click after a rewind starts a new history: the clicks recorded after it are forgotten.
  model.seek(1000);
  model.click(clickAction('restart', 'all', 5)!);
  assert.deepEqual(model.clicks.map((c) => [c.atMs, c.action.do]), [[700, 'isolate'], [1000, 'restart']]);
});

test('a moment survives its URL', () => {
  const model = new SideBySide({ nodes: 7, seed: 9, scenario: 'flapping', latency: { minMs: 1, maxMs: 5 } });
  model.advanceTo(800.25);
  model.click(clickAction('split', null, 7)!);
  model.advanceTo(950);
  model.click(clickAction('crash', 'leader', 7)!);
  model.advanceTo(1200);
  model.click(clickAction('restart', 'all', 7)!);
  model.advanceTo(1333.3);
  const query = momentQuery({ setup: model.setup, clicks: model.clicks, atMs: model.nowMs });
  assert.equal(query, '?nodes=7&seed=9&scenario=flapping&latency=1-5&t=1333.3&clicks=801-split-3%7E950-crash-leader%7E1200-restart-all');
  const parsed = parseMoment(query);
  assert.ok('moment' in parsed, JSON.stringify(parsed));
  const restored = new SideBySide(parsed.moment.setup, parsed.moment.clicks);
  restored.seek(parsed.moment.atMs);
  assert.equal(state(restored), state(model));
  for (const [bad, error] of [
    ['?nodes=2', /nodes/],
    ['?scenario=meteor', /unknown scenario meteor/],
    ['?clicks=100-explode-3', /cannot read "100-explode-3"/],
    ['?clicks=100-crash-12', /cannot read/],
    ['?latency=5-1', /latency/],
  ] as const) {
    const result = parseMoment(bad);
    assert.ok('error' in result && error.test(result.error), `${bad}: ${JSON.stringify(result)}`);
  }
});

test('the first Raft candidate is captioned as the node whose timer ran out first', () => {
  const run = createRun({ algorithm: algorithms.raft, nodes: 5, seed: 1 });
  const first = [...run.snapshot().nodes].sort((a, b) => a.timer!.atMs - b.timer!.atMs)[0]!;
  run.stepUntil(first.timer!.atMs);
  assert.equal(caption(algorithms.raft, run.snapshot()), `${first.node} timed out first: it asks whether a majority would vote for it in term 1 (PreVote)`);
});

test('captions use each algorithm\'s own words; the comparison counts what happened', () => {
  const model = new SideBySide(defaultSetup);
  model.advanceTo(1000);
  model.click(clickAction('crash', 'leader', 5)!);
  const words = model.panes.map((p) => caption(p.algorithm, p.run.snapshot()));
  assert.ok(words.every((w) => /^Leader \d crashed: the /.test(w)), words.join('\n'));
  model.advanceTo(4000);
  const byName = new Map(model.panes.map((p) => [p.algorithm.name, caption(p.algorithm, p.run.snapshot())]));
  assert.match(byName.get('zab')!, /epoch/);
  assert.match(byName.get('bully')!, /generation/);
  for (const pane of model.panes) {
    const c = compare(pane.algorithm, pane.run.snapshot());
    assert.ok(c.elections >= 2 && c.leaderChanges >= 2 && c.firstElectionMs! > 0 && c.lastFailoverMs! > 0, JSON.stringify(c));
    assert.equal(c.messages, pane.run.snapshot().messagesSent);
    assert.equal(c.leader, pane.run.snapshot().agreedLeader);
  }
});

test('message types are grouped by purpose, each with its own colour', () => {
  for (const algorithm of Object.values(algorithms)) {
    const colours = messageColours(algorithm);
    const heartbeat = [...colours].filter(([, c]) => c.group === 'heartbeat').map(([type]) => type);
    assert.deepEqual(heartbeat.sort(), [...algorithm.heartbeatTypes].sort(), algorithm.name);
    assert.ok([...colours.values()].some((c) => c.group === 'election'), algorithm.name);
    const used = [...colours.values()].map((c) => c.colour);
    assert.equal(new Set(used).size, used.length, `${algorithm.name}: distinct colours`);
  }
});
