/** `ballot sim --workload kv[:RATE]` (src/sim/workload.ts): the flag, the `kv` object of --json, the summary line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWorkload } from '../sim/workload.js';
import { runSim } from './sim.js';

test('ballot sim --workload: kv in --json with its six fields, a summary line in the text, exit 2 on a bad rate', () => {
  let out = '';
  assert.equal(runSim(['--algorithm', 'bully', '--scenario', 'partition', '--workload', 'kv:80', '--json'], (text) => (out += text)), 0);
  const json = JSON.parse(out) as { kv: Record<string, unknown> };
  assert.deepEqual(Object.keys(json.kv), ['ops', 'acked', 'lostAcked', 'linearizable', 'staleReads', 'unavailableMs']);
  assert.equal(json.kv['linearizable'], false);
  out = '';
  runSim(['--algorithm', 'bully', '--workload', 'kv'], (text) => (out += text));
  assert.match(out, /key-value workload: \d+ operations, \d+ writes acknowledged, 0 of them lost, 0 stale reads, 0\.0 ms without a writable leader; linearizable: yes/);
  assert.throws(() => runSim(['--algorithm', 'bully', '--workload', 'kv:0'], () => undefined), /RATE must be/);
  assert.deepEqual(parseWorkload('kv'), { rate: 50 });
  assert.deepEqual(parseWorkload('kv:12.5'), { rate: 12.5 });
  assert.match(parseWorkload('bank') as string, /must be kv or kv:RATE/);
});

