/**
 * The stepping API (createRun): the same engine as simulate(), advanced by its host.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { createRun, simulate, type SimOptions } from './simulation.js';

test('stepping to the end in uneven slices gives the same result as simulate()', () => {
  for (const name of ['bully', 'raft', 'zab'] as const) {
    for (const scenario of ['leader-crash', 'partition', 'random'] as const) {
      const options: SimOptions = { algorithm: algorithms[name], nodes: 5, seed: 11, scenario, timeline: true, loss: 0.02 };
      const run = createRun(options);
      let t = 0;
      for (let i = 0; t < run.durationMs; i++) {
        t = Math.min(run.durationMs, t + 1 + ((i * 37) % 61)); // uneven frames, like a browser's
        run.stepUntil(t);
      }
      assert.equal(JSON.stringify(run.finish()), JSON.stringify(simulate(options)), `${name} ${scenario}`);
    }
  }
});

test('a snapshot shows the messages in flight with their send and delivery times', () => {
  const run = createRun({ algorithm: algorithms.raft, nodes: 5, seed: 3 });
  let seen = 0;
  while (run.nowMs < 2000 && run.step()) {
    const snap = run.snapshot();
    for (const m of snap.inFlight) {
      assert.ok(m.sentMs <= snap.nowMs && snap.nowMs <= m.deliverMs, `${m.sentMs} <= ${snap.nowMs} <= ${m.deliverMs}`);
      assert.ok(m.from !== m.to && m.from >= 1 && m.to <= 5);
      assert.ok((algorithms.raft.messageTypes as readonly string[]).includes(m.type), m.type);
      seen++;
    }
  }
  assert.ok(seen > 0, 'some message was seen in flight');
  const snap = run.snapshot();
  assert.equal(snap.nodes.length, 5);
  assert.ok(snap.agreedLeader !== null, 'raft elects within 2 s');
  assert.equal(snap.leaders.at(-1)!.node, snap.agreedLeader);
});

test('inject crashes the leader now and the cluster elects another', () => {
  const run = createRun({ algorithm: algorithms.raft, nodes: 3, seed: 5, timeline: true });
  run.stepUntil(2000);
  const first = run.snapshot().agreedLeader;
  assert.ok(first !== null);
  run.inject({ atMs: 0, do: 'crash', node: first });
  run.stepUntil(run.nowMs);
  assert.equal(run.snapshot().nodes.find((n) => n.node === first)!.up, false);
  assert.ok(run.snapshot().timeline.some((e) => e.kind === 'crash' && e.node === first && e.atMs === 2000));
  run.stepUntil(5000);
  const second = run.snapshot().agreedLeader;
  assert.ok(second !== null && second !== first, `new leader ${second}`);
  run.inject({ atMs: 0, do: 'partition', groups: [[second]] });
  run.stepUntil(run.nowMs);
  assert.equal(run.snapshot().components.length, 2);
  assert.deepEqual(run.finish().violations, []);
});

test('each node view carries its timer: a timeout until the node leads, then its heartbeat; none while down', () => {
  const run = createRun({ algorithm: algorithms.raft, nodes: 5, seed: 1 });
  const { electionTimeoutMinMs, electionTimeoutMaxMs, heartbeatMs } = algorithms.raft.defaultTiming;
  for (const n of run.snapshot().nodes) {
    assert.equal(n.timer?.purpose, 'timeout');
    assert.ok(n.timer.atMs >= electionTimeoutMinMs && n.timer.atMs <= electionTimeoutMaxMs, String(n.timer.atMs));
  }
  // Raft §5.2: the first candidate is the node whose election timeout ran out first (with PreVote,
  // thesis §9.6, it first asks for pre-votes as a precandidate).
  const first = [...run.snapshot().nodes].sort((a, b) => a.timer!.atMs - b.timer!.atMs)[0]!;
  run.stepUntil(first.timer!.atMs);
  assert.equal(run.snapshot().nodes.find((n) => n.node === first.node)!.role, 'precandidate');
  run.stepUntil(1000);
  const snap = run.snapshot();
  const leader = snap.nodes.find((n) => n.node === snap.agreedLeader)!;
  assert.equal(leader.timer?.purpose, 'heartbeat');
  assert.ok(leader.timer.atMs > snap.nowMs && leader.timer.atMs <= snap.nowMs + heartbeatMs);
  for (const n of snap.nodes) if (n.node !== leader.node) assert.equal(n.timer?.purpose, 'timeout', `follower ${n.node}`);
  run.inject({ atMs: 0, do: 'crash', node: leader.node });
  run.stepUntil(1000);
  assert.equal(run.snapshot().nodes.find((n) => n.node === leader.node)!.timer, null, 'a crashed node has no timer');
  assert.equal(run.snapshot().messagesSent, run.finish().messages.total);
});
