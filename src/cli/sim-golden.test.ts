/**
 * `ballot sim --json` must stay byte-identical across refactors of the simulator, the cores and the
 * host loop (CONTRACT.md: the same seed and arguments give the same output). This test runs the
 * command for 200 seeds of every algorithm and scenario, plus smaller sweeps of the other knobs, and
 * compares a SHA-256 of each output with the digests recorded in testdata/sim-golden.json.
 *
 * A change that alters the output on purpose (a fixed bug, a new field) regenerates the record, with
 * the reason written into it:
 *   BALLOT_GOLDEN_WRITE="why the output changed" node --test dist/cli/sim-golden.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runSim } from './sim.js';

const recordPath = fileURLToPath(new URL('../../src/cli/testdata/sim-golden.json', import.meta.url));

const algorithms = ['bully', 'raft', 'zab'] as const;
const scenarios = ['cold-start', 'leader-crash', 'leader-isolate', 'partition', 'flapping', 'random'] as const;

/** Every command line of the record: the main grid, then the other knobs on fewer seeds. */
function commandLines(): string[][] {
  const lines: string[][] = [];
  for (const algorithm of algorithms) {
    for (const scenario of scenarios) {
      for (let seed = 1; seed <= 200; seed++) lines.push(['--algorithm', algorithm, '--scenario', scenario, '--seed', String(seed)]);
    }
  }
  const variants: string[][] = [
    ['--algorithm', 'raft', '--nodes', '3', '--observers', '2', '--scenario', 'random'],
    ['--algorithm', 'zab', '--nodes', '3', '--observers', '2', '--scenario', 'random'],
    ['--algorithm', 'raft', '--nodes', '5', '--history', '1=3,2=5', '--scenario', 'leader-crash'],
    ['--algorithm', 'zab', '--nodes', '5', '--history', '1=3,2=5', '--scenario', 'leader-crash'],
    ['--algorithm', 'bully', '--bully-mode', 'stable', '--scenario', 'flapping'],
    ['--algorithm', 'raft', '--nodes', '7', '--loss', '0.1', '--duplicate', '0.1', '--latency', '2-20', '--scenario', 'random'],
    ['--algorithm', 'zab', '--nodes', '4', '--loss', '0.1', '--duplicate', '0.1', '--scenario', 'partition'],
    ['--algorithm', 'bully', '--nodes', '6', '--loss', '0.05', '--scenario', 'random'],
    ['--algorithm', 'raft', '--election-timeout', '300-600', '--heartbeat', '100', '--scenario', 'leader-isolate', '--duration', '25000'],
  ];
  for (const variant of variants) for (let seed = 1; seed <= 20; seed++) lines.push([...variant, '--seed', String(seed), '--json']);
  return lines.map((line) => (line.includes('--json') ? line : [...line, '--json']));
}

function digest(argv: readonly string[]): string {
  let out = '';
  runSim(argv, (text) => (out += text));
  return createHash('sha256').update(out).digest('hex');
}

interface Record {
  readonly reason: string;
  readonly digests: { readonly [command: string]: string };
}

test('ballot sim --json is byte-identical to the recorded outputs (200 seeds x 3 algorithms x 6 scenarios, and variants)', () => {
  const digests: { [command: string]: string } = {};
  for (const argv of commandLines()) digests[argv.join(' ')] = digest(argv);
  const reason = process.env['BALLOT_GOLDEN_WRITE'];
  if (reason !== undefined) {
    if (reason.trim() === '') throw new Error('BALLOT_GOLDEN_WRITE must state why the output changed');
    writeFileSync(recordPath, JSON.stringify({ reason, digests } satisfies Record, null, 1) + '\n');
    return;
  }
  const record = JSON.parse(readFileSync(recordPath, 'utf8')) as Record;
  const changed = Object.keys(digests).filter((command) => record.digests[command] !== digests[command]);
  assert.deepEqual(Object.keys(record.digests).length, Object.keys(digests).length, 'the recorded command lines differ from the test\'s');
  assert.equal(
    changed.length,
    0,
    `${changed.length} outputs changed; the first: ballot sim ${changed[0]}\n` +
      '(an intended change regenerates the record: BALLOT_GOLDEN_WRITE="reason" node --test dist/cli/sim-golden.test.js)',
  );
});
