/**
 * zab-sync-limit: a ZAB leader cut off from its quorum stops leading within its sync limit, read on its
 * own clock. The correct core meets the bound exactly as stated (leaderStepDownBoundMs), with a slow
 * clock, a fast clock and a pause; the catalog's leader that never steps down is caught at the bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyAlgorithm, NodeId } from '../../core/types.js';
import { zab, leaderStepDownBoundMs, sessionTimeoutMs } from '../../core/zab/index.js';
import { mutants, withMutant } from '../../testing/mutants.js';
import type { Action } from '../schedule.js';
import { createRun } from '../simulation.js';
import type { Violation } from '../types.js';

const algorithm = zab as unknown as AnyAlgorithm;
const bound = leaderStepDownBoundMs(zab.defaultTiming); // 300 ms session timeout + 50 ms heartbeat
const neverStepsDown = mutants.find((m) => m.name === 'zab-leader-never-steps-down')!;
const CUT_MS = 1000;

interface Outcome {
  readonly leader: NodeId;
  /** When the cut-off leader stopped leading (true time), or null if it still led at the end. */
  readonly steppedDownMs: number | null;
  readonly violations: readonly Violation[];
}

/**
 * 5 voters start cold; `before` actions shape the leader's clock; at CUT_MS the leader is isolated;
 * `after` actions follow. Steps event by event and notes when the isolated leader stops leading.
 */
function cutOff(before: readonly Action[], after: readonly Action[] = [], seed = 1): Outcome {
  const schedule: Action[] = [...before, { atMs: CUT_MS, do: 'isolate', node: 'leader' }, ...after];
  const run = createRun({ algorithm, nodes: 5, seed, schedule, durationMs: 4000 });
  run.stepUntil(CUT_MS - 1);
  const leading = run.snapshot().nodes.find((n) => n.up && n.leader === n.node);
  assert.ok(leading, 'a leader was elected before the cut');
  let steppedDownMs: number | null = null;
  while (run.nowMs < run.durationMs && run.step()) {
    const view = run.snapshot().nodes.find((n) => n.node === leading.node)!;
    if (run.nowMs >= CUT_MS && view.leader !== leading.node) {
      steppedDownMs = run.nowMs;
      break;
    }
  }
  run.stepUntil(run.durationMs);
  return { leader: leading.node, steppedDownMs, violations: run.finish().violations };
}

const syncLimitViolations = (o: Outcome) => o.violations.filter((v) => v.invariant === 'zab-sync-limit');

test('the bound is the core timing: the leader session timeout (the high end of the election timeout) plus one heartbeat', () => {
  assert.equal(sessionTimeoutMs(zab.defaultTiming, true), 300);
  assert.equal(bound, 350);
});

test('a leader cut off steps down after its session timeout and within the bound, and nothing is flagged', () => {
  const o = cutOff([]);
  assert.deepEqual(o.violations, []);
  assert.ok(o.steppedDownMs !== null, 'the isolated leader stepped down');
  // It last heard from its quorum at most one ping round before the cut, and at most 350 ms before stepping down.
  const afterCut = o.steppedDownMs - CUT_MS;
  assert.ok(afterCut > sessionTimeoutMs(zab.defaultTiming, true) - zab.defaultTiming.heartbeatMs && afterCut <= bound, `stepped down ${afterCut} ms after the cut`);
});

test('a leader that never steps down is caught at its bound', () => {
  const o = withMutant(neverStepsDown, () => cutOff([]));
  assert.equal(o.steppedDownMs, null);
  const [first] = syncLimitViolations(o);
  assert.ok(first, `not caught: ${JSON.stringify(o.violations)}`);
  assert.match(first.detail, new RegExp(`^leader ${o.leader} of epoch \\d+ still leads`));
  // Reported at the first event past the deadline: a quorum was last heard just before the cut.
  assert.ok(first.atMs > CUT_MS + bound - zab.defaultTiming.heartbeatMs && first.atMs < CUT_MS + bound + zab.defaultTiming.heartbeatMs, `at ${first.atMs} ms`);
});

test('a slow clock: the leader steps down later in true time than the bound, and is not flagged for it', () => {
  const slow: Action[] = [{ atMs: 500, do: 'drift', node: 'leader', rate: 0.5 }];
  const o = cutOff(slow);
  assert.deepEqual(o.violations, []);
  // 300-350 ms of its clock are 600-700 ms of true time: a bound read on true time would flag this.
  assert.ok(o.steppedDownMs !== null && o.steppedDownMs - CUT_MS > bound, `stepped down at ${o.steppedDownMs}`);
  // The broken core, on the same slow clock, is still caught.
  assert.ok(syncLimitViolations(withMutant(neverStepsDown, () => cutOff(slow))).length > 0);
});

test('a fast clock: the bound shrinks in true time, and a leader that never steps down is caught sooner', () => {
  const fast: Action[] = [{ atMs: 500, do: 'drift', node: 'leader', rate: 2 }];
  const o = cutOff(fast);
  assert.deepEqual(o.violations, []);
  assert.ok(o.steppedDownMs !== null && o.steppedDownMs - CUT_MS <= bound / 2, `stepped down at ${o.steppedDownMs}`);
  // 350 ms of its clock are 175 ms of true time: at CUT + 200 ms the broken leader is overdue by its
  // clock, not yet by true time. The checker looks at every message and fault; the network is quiet
  // then (the others wait out FLE's finalize wait), so a harmless fault makes that instant an event.
  const probe: Action = { atMs: CUT_MS + 200, do: 'latency', minMs: 1, maxMs: 5 };
  const [first] = syncLimitViolations(withMutant(neverStepsDown, () => cutOff(fast, [probe])));
  assert.equal(first?.atMs, probe.atMs);
});

test('a paused leader steps down when it runs again, and is held to the bound only from then', () => {
  const pause: Action[] = [{ atMs: CUT_MS + 100, do: 'pause', node: 'leader', forMs: 1000 }];
  const o = cutOff([], pause);
  assert.deepEqual(o.violations, []);
  assert.equal(o.steppedDownMs, CUT_MS + 1100, 'it stepped down the instant it resumed');
  const [first] = syncLimitViolations(withMutant(neverStepsDown, () => cutOff([], pause)));
  assert.ok(first && first.atMs > CUT_MS + 1100, `caught at ${first?.atMs}`);
});
