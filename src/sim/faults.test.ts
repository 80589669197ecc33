/**
 * The faults the sweeps could not make before: process pauses, clock drift, stale deliveries to a
 * restarted node, a crash before a node's first word, and the schedule checks that come with them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bully } from '../core/bully/index.js';
import { raft } from '../core/raft/index.js';
import { zab } from '../core/zab/index.js';
import { DEFAULT_MAX_CLOCK_DRIFT } from './scenarios.js';
import { parseSchedule, ScheduleError, type Action } from './schedule.js';
import { createRun, simulate, type SimOptions } from './simulation.js';

const raft5: SimOptions = { algorithm: raft, nodes: 5, seed: 3 };

describe('pause (a GC stall, SIGSTOP)', () => {
  test('a paused leader keeps believing it leads while the others elect anew, and steps down when it resumes', () => {
    const probe = simulate({ ...raft5, durationMs: 1000 });
    const leader = probe.leaders[0]!.node;
    const run = createRun({ ...raft5, timeline: true, schedule: [{ atMs: 1000, do: 'pause', node: leader, forMs: 1500 }] });
    run.stepUntil(2400);
    const frozen = run.snapshot();
    assert.equal(frozen.nodes.find((n) => n.node === leader)!.role, 'leader', 'frozen, it still believes it leads');
    const successor = frozen.nodes.find((n) => n.node !== leader && n.role === 'leader')?.node;
    assert.ok(successor !== undefined, 'the others elected a new leader meanwhile');
    assert.equal(frozen.agreedLeader, null, 'no agreement while the frozen node names itself');
    run.stepUntil(2600);
    const woken = run.snapshot();
    const old = woken.nodes.find((n) => n.node === leader)!;
    assert.equal(old.role, 'follower', 'on resuming it read the newer term and stepped down');
    assert.equal(old.leader, successor);
    const kinds = woken.timeline.map((e) => e.kind);
    assert.ok(kinds.indexOf('pause') < kinds.indexOf('dual-leaders'), 'dual leaders follow the pause');
    assert.deepEqual(woken.timeline.filter((e) => e.kind === 'pause' || e.kind === 'resume').map((e) => [e.kind, e.atMs]), [['pause', 1000], ['resume', 2500]]);
    const result = run.finish();
    assert.ok(result.dualLeaderMs > 0 && result.dualLeaderMs <= 1500, `dual leaders only during the pause: ${result.dualLeaderMs} ms`);
    assert.deepEqual(result.violations, []);
  });

  test('inputs wait in order: a follower woken with heartbeats and a late timer queued takes the heartbeats first and does not campaign', () => {
    const probe = simulate({ ...raft5, durationMs: 1000 });
    const leader = probe.leaders[0]!.node;
    const follower = leader === 1 ? 2 : 1;
    const termBefore = probe.final.find((f) => f.node === follower)!.term;
    // 2 s is many election timeouts: the follower's timer falls due while it is frozen, after the
    // heartbeats that reached it first. Taken in order, the heartbeats push its deadline back.
    const result = simulate({ ...raft5, durationMs: 5000, timeline: true, schedule: [{ atMs: 1000, do: 'pause', node: follower, forMs: 2000 }] });
    assert.deepEqual(result.leaders.map((l) => l.node), [leader], 'no election happened');
    assert.equal(result.final.find((f) => f.node === follower)!.term, termBefore, 'the woken follower did not start a term');
    assert.deepEqual(result.violations, []);
  });

  test('timers fire late: a node paused alone (nothing to deliver) campaigns only after it resumes', () => {
    // Bully with the highest id paused from the start: it cannot declare itself before it wakes.
    const result = simulate({ algorithm: bully, nodes: 3, seed: 1, durationMs: 3000, schedule: [{ atMs: 0, do: 'pause', node: 3, forMs: 1000 }] });
    const reigns = result.leaders.filter((l) => l.node === 3);
    assert.ok(reigns.length > 0, 'it leads once awake');
    assert.ok(reigns.every((l) => l.atMs >= 1000), `never before it resumed: ${JSON.stringify(reigns)}`);
  });

  test('a pause of a node that is down does nothing, and a crash ends a pause', () => {
    const result = simulate({
      ...raft5,
      durationMs: 3000,
      timeline: true,
      schedule: [
        { atMs: 500, do: 'crash', node: 2 },
        { atMs: 600, do: 'pause', node: 2, forMs: 5000 },
        { atMs: 700, do: 'pause', node: 3, forMs: 5000 },
        { atMs: 800, do: 'crash', node: 3 },
        { atMs: 900, do: 'restart', node: 3 },
      ],
    });
    const timeline = result.timeline!;
    assert.deepEqual(timeline.filter((e) => e.kind === 'pause').map((e) => e.kind === 'pause' && e.node), [3]);
    assert.equal(result.final.find((f) => f.node === 3)!.role, 'follower', 'restarted after the crash, it runs (not paused)');
  });
});

describe('clock drift', () => {
  /** Heartbeats the cluster sent in 10 s with every clock at `rate`. */
  function heartbeats(rate: number): number {
    const schedule: Action[] = [1, 2, 3].map((node) => ({ atMs: 0, do: 'drift', node, rate }));
    const result = simulate({ algorithm: raft, nodes: 3, seed: 4, durationMs: 10_000, schedule });
    assert.deepEqual(result.violations, []);
    return result.messages.byType['AppendEntries'] ?? 0;
  }

  test("a node's deadlines scale with its clock: at rate 2 it heartbeats twice as often, at 0.5 half as often", () => {
    const normal = heartbeats(1);
    const fast = heartbeats(2) / normal;
    const slow = heartbeats(0.5) / normal;
    assert.ok(fast > 1.9 && fast < 2.1, `rate 2: ${fast}× the heartbeats`);
    assert.ok(slow > 0.45 && slow < 0.55, `rate 0.5: ${slow}× the heartbeats`);
  });

  test('a drift of 1 changes nothing: the run is byte-identical', () => {
    const crash: Action[] = [{ atMs: 2000, do: 'crash', node: 'leader' }];
    const drifted = simulate({ ...raft5, schedule: [{ atMs: 0, do: 'drift', node: 2, rate: 1 }, ...crash] });
    const plain = simulate({ ...raft5, schedule: crash });
    assert.equal(JSON.stringify(drifted), JSON.stringify(plain));
  });
});

describe('stale deliveries to a restarted node (deliverStale)', () => {
  function staleInFlight(deliverStale: boolean): number {
    const run = createRun({ ...raft5, latency: { minMs: 20, maxMs: 30 }, deliverStale });
    run.stepUntil(1000);
    const target = run.snapshot().agreedLeader === 1 ? 2 : 1;
    const toTarget = () => run.snapshot().inFlight.filter((m) => m.to === target).length;
    while (toTarget() === 0) run.step(); // until a heartbeat is on its way to it
    const crashMs = run.nowMs;
    run.inject({ atMs: 0, do: 'crash', node: target });
    run.inject({ atMs: 0, do: 'restart', node: target });
    run.stepUntil(crashMs);
    return run.snapshot().inFlight.filter((m) => m.to === target && m.sentMs <= crashMs).length;
  }

  test('off (the default): what was sent to the old incarnation is dropped; on: it reaches the restarted node', () => {
    assert.equal(staleInFlight(false), 0);
    assert.ok(staleInFlight(true) > 0, 'heartbeats sent before the crash are still on their way to it');
  });

  test('on: safety holds over many random runs of every algorithm', () => {
    for (const algorithm of [raft, zab, bully]) {
      for (let seed = 1; seed <= 60; seed++) {
        const result = simulate({ algorithm, nodes: 5, seed, scenario: 'random', deliverStale: true });
        assert.deepEqual(result.violations, [], `${algorithm.name} seed ${seed}`);
      }
    }
  });
});

describe('a crash at time 0', () => {
  test('the node never spoke: Bully\'s highest id crashed at 0 never declares itself', () => {
    const run = createRun({ algorithm: bully, nodes: 5, seed: 1, schedule: [{ atMs: 0, do: 'crash', node: 5 }] });
    assert.deepEqual(run.snapshot().inFlight.filter((m) => m.from === 5), [], 'nothing of node 5 on the wire at 0');
    run.stepUntil(3000);
    const result = run.finish();
    assert.ok(result.leaders.length > 0 && result.leaders.every((l) => l.node !== 5), JSON.stringify(result.leaders));
    assert.equal(result.leaders[0]!.node, 4);
  });

  test('a node crashed and restarted at 0 starts once', () => {
    const result = simulate({
      algorithm: bully,
      nodes: 3,
      seed: 1,
      durationMs: 1000,
      schedule: [{ atMs: 0, do: 'crash', node: 3 }, { atMs: 0, do: 'restart', node: 3 }],
    });
    assert.deepEqual(result.leaders.map((l) => l.node), [3]);
  });
});

describe('schedules: pause, drift and partition groups', () => {
  const members = [1, 2, 3, 4, 5];
  const refusal = (json: unknown): string => {
    try {
      parseSchedule(json, members);
    } catch (error) {
      assert.ok(error instanceof ScheduleError);
      return error.message;
    }
    return 'accepted';
  };

  test('pause and drift parse; "leader" is allowed', () => {
    const actions = parseSchedule([{ atMs: 5, do: 'pause', node: 'leader', forMs: 800 }, { atMs: 1, do: 'drift', node: 3, rate: 1.01 }], members);
    assert.deepEqual(actions.map((a) => a.do), ['drift', 'pause']);
  });

  test('overlapping partition groups are refused with one line', () => {
    assert.match(refusal([{ atMs: 0, do: 'partition', groups: [[1, 2], [2, 3]] }]), /^schedule entry 0 \(partition\): node 2 is in more than one group/);
    assert.match(refusal([{ atMs: 0, do: 'partition', groups: [['leader', 1], ['leader']] }]), /node "leader" is in more than one group/);
    assert.equal(refusal([{ atMs: 0, do: 'partition', groups: [[1, 2], [3]] }]), 'accepted');
  });

  test('drift rates outside 1 ± ρ, zero or negative pauses, and unknown ids are refused', () => {
    assert.match(refusal([{ atMs: 0, do: 'drift', node: 1, rate: 2 }]), /rate 2 is outside 1 ± 0.5/);
    assert.match(refusal([{ atMs: 0, do: 'drift', node: 1, rate: 0 }]), /rate/);
    assert.match(refusal([{ atMs: 0, do: 'pause', node: 1, forMs: 0 }]), /forMs/);
    assert.match(refusal([{ atMs: 0, do: 'pause', node: 9, forMs: 10 }]), /unknown node id 9/);
    assert.throws(() => parseSchedule([{ atMs: 0, do: 'drift', node: 1, rate: 1.02 }], members, 0.01), /outside 1 ± 0.01/);
  });
});

describe('the random nemesis draws pauses and drift', () => {
  test('over 100 seeds it pauses nodes and changes clocks, rates within 1 ± ρ, and safety holds for every algorithm', () => {
    let pauses = 0;
    let drifts = 0;
    for (const algorithm of [raft, zab, bully]) {
      for (let seed = 1; seed <= 100; seed++) {
        const result = simulate({ algorithm, nodes: 5, seed, scenario: 'random', timeline: true });
        assert.deepEqual(result.violations, [], `${algorithm.name} seed ${seed}`);
        for (const entry of result.timeline!) {
          if (entry.kind === 'pause') pauses++;
          if (entry.kind === 'drift') {
            drifts++;
            assert.ok(Math.abs(entry.rate - 1) <= DEFAULT_MAX_CLOCK_DRIFT + 1e-12, `rate ${entry.rate}`);
          }
        }
      }
    }
    assert.ok(pauses > 50 && drifts > 50, `pauses ${pauses}, drifts ${drifts}`);
  });

  test('maxClockDrift bounds the rates it draws', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const result = simulate({ ...raft5, seed, scenario: 'random', timeline: true, maxClockDrift: 0.001 });
      for (const entry of result.timeline!) if (entry.kind === 'drift') assert.ok(Math.abs(entry.rate - 1) <= 0.001 + 1e-12, `rate ${entry.rate}`);
    }
  });
});
