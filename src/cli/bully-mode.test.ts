/** `ballot sim --algorithm bully --bully-mode preempt|stable`: parsing and its mistakes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bully, bullyStable } from '../core/bully/index.js';
import { UsageError } from './args.js';
import { parseSimArgs, runSim } from './sim.js';

function algorithmOf(argv: string[]) {
  const command = parseSimArgs(argv);
  assert.notEqual(command, 'help');
  return command === 'help' ? undefined : command.options.algorithm;
}

test('--bully-mode: preempt by default, stable on request', () => {
  assert.equal(algorithmOf(['--algorithm', 'bully']), bully);
  assert.equal(algorithmOf(['--algorithm', 'bully', '--bully-mode', 'preempt']), bully);
  assert.equal(algorithmOf(['--algorithm', 'bully', '--bully-mode', 'stable']), bullyStable);
});

test('--bully-mode: a bad mode, or a mode for another algorithm, is a usage error', () => {
  assert.throws(() => parseSimArgs(['--algorithm', 'bully', '--bully-mode', 'calm']), UsageError);
  assert.throws(() => parseSimArgs(['--algorithm', 'raft', '--bully-mode', 'stable']), /applies to --algorithm bully only/);
});

test('ballot sim --algorithm bully --scenario flapping: the timeline names each takeover', () => {
  let text = '';
  const status = runSim(['--algorithm', 'bully', '--scenario', 'flapping'], (t) => (text += t));
  assert.equal(status, 0);
  assert.equal(text.match(/5 becomes leader/g)?.length, 5);
  assert.match(text, /invariants: all held/);
});

test('--json says which Bully mode ran: "variant": "stable" for the stable mode, nothing for the default', () => {
  const json = (argv: string[]): Record<string, unknown> => {
    let out = '';
    runSim(argv, (text) => (out += text));
    return JSON.parse(out) as Record<string, unknown>;
  };
  assert.equal(json(['--algorithm', 'bully', '--bully-mode', 'stable', '--json'])['variant'], 'stable');
  assert.ok(!('variant' in json(['--algorithm', 'bully', '--json'])));
});
