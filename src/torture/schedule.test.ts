import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS, describeFault, plannedCycle } from './schedule.js';

test('the schedule is a function of the seed: the same seed gives the same cycles, another seed others', () => {
  const plan = (seed: number): string => JSON.stringify(Array.from({ length: 20 }, (_, i) => plannedCycle({ seed, nodes: 5 }, i + 1)));
  assert.equal(plan(42), plan(42));
  assert.notEqual(plan(42), plan(43));
});

test('over many cycles every kind is drawn, durations stay in range, and partitions split into a majority and a minority', () => {
  const seen = new Set<string>();
  for (let cycle = 1; cycle <= 400; cycle++) {
    const { fault, durationMs } = plannedCycle({ seed: 1, nodes: 5, minDurationMs: 500, maxDurationMs: 900 }, cycle);
    seen.add(fault.kind);
    assert.ok(durationMs >= 500 && durationMs <= 900, `duration ${durationMs}`);
    assert.notEqual(describeFault(fault), '');
    if (fault.kind === 'partition') {
      const [majority, minority] = fault.groups;
      assert.ok(majority!.length > minority!.length && minority!.length >= 1, JSON.stringify(fault.groups));
      assert.deepEqual([...majority!, ...minority!].sort(), [1, 2, 3, 4, 5]);
    }
  }
  assert.deepEqual([...seen].sort(), [...FAULT_KINDS].sort());
});

test('--faults narrows the kinds drawn', () => {
  for (let cycle = 1; cycle <= 50; cycle++) assert.ok(['kill', 'pause'].includes(plannedCycle({ seed: 3, nodes: 3, kinds: ['kill', 'pause'] }, cycle).fault.kind));
});
