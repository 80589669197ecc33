import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { mainJs } from '../runtime/local-cluster.js';
import { UsageError } from './args.js';
import { main } from './main.js';
import { parseSimArgs } from './sim.js';

const work = mkdtempSync(join(tmpdir(), 'ballot-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function ballot(...args: string[]) {
  return spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', timeout: 30_000 });
}

async function runMain(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function schedule(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe('ballot sim: arguments', () => {
  test('defaults', () => {
    const command = parseSimArgs(['--algorithm', 'raft']);
    assert.notEqual(command, 'help');
    if (command === 'help') return;
    assert.equal(command.options.nodes, 5);
    assert.equal(command.options.seed, 1);
    assert.equal(command.options.scenario, 'cold-start');
    assert.equal(command.json, false);
  });

  test('timing knobs, latency and history are read', () => {
    const command = parseSimArgs(['--algorithm', 'raft', '--election-timeout', '100-200', '--heartbeat', '20', '--latency', '0-2', '--history', '1=3,2=5']);
    if (command === 'help') return assert.fail('help');
    assert.deepEqual(command.options.timing, { electionTimeoutMinMs: 100, electionTimeoutMaxMs: 200, heartbeatMs: 20 });
    assert.deepEqual(command.options.latency, { minMs: 0, maxMs: 2 });
    assert.deepEqual([...command.options.history!], [[1, 3], [2, 5]]);
  });

  const bad: [string, string[], RegExp][] = [
    ['missing algorithm', [], /--algorithm is required/],
    ['unknown algorithm', ['--algorithm', 'paxos'], /--algorithm must be one of/],
    ['nodes < 1', ['--algorithm', 'raft', '--nodes', '0'], /--nodes must be at least 1/],
    ['nodes not a number', ['--algorithm', 'raft', '--nodes', 'five'], /--nodes must be an integer/],
    ['unknown scenario', ['--algorithm', 'raft', '--scenario', 'meteor'], /--scenario must be one of/],
    ['unknown option', ['--algorithm', 'raft', '--colour'], /unknown option '--colour'/],
    ['bad range', ['--algorithm', 'raft', '--election-timeout', '300-150'], /MIN \(300\) is greater than MAX/],
    ['loss out of range', ['--algorithm', 'raft', '--loss', '1.5'], /--loss must be between 0 and 1/],
    ['history of an unknown node', ['--algorithm', 'raft', '--history', '9=3'], /unknown node id 9/],
    ['scenario and schedule', ['--algorithm', 'raft', '--scenario', 'random', '--schedule', 'x.json'], /either --scenario or --schedule/],
    ['missing schedule file', ['--algorithm', 'raft', '--schedule', '/nonexistent/s.json'], /cannot read \/nonexistent\/s.json \(ENOENT\)/],
  ];
  for (const [name, argv, message] of bad) {
    test(`rejects ${name}`, () => {
      assert.throws(() => parseSimArgs(argv), (error: unknown) => error instanceof UsageError && message.test(error.message));
    });
  }

  test('rejects malformed schedules with the entry that is wrong', () => {
    const cases: [string, RegExp][] = [
      ['{"atMs": 1}', /must be a JSON array/],
      ['[{"atMs": 1, "do": "crash"', /is not valid JSON/],
      ['[{"atMs": 1, "do": "explode", "node": 1}]', /entry 0: unknown action "explode"/],
      ['[{"atMs": 1, "do": "heal"}, {"atMs": 2, "do": "crash", "node": 9}]', /entry 1 \(crash\): unknown node id 9/],
      ['[{"atMs": -5, "do": "heal"}]', /entry 0 \(heal\): field "atMs"/],
      ['[{"atMs": 1, "do": "crash", "node": 1, "extra": true}]', /entry 0 \(crash\)/],
      ['[{"atMs": 1, "do": "loss", "p": 2}]', /entry 0 \(loss\): field "p"/],
      ['[{"atMs": 1, "do": "partition", "groups": [[1, 2], [2, 3]]}]', /entry 0 \(partition\): node 2 is in more than one group/],
      ['[{"atMs": 1, "do": "drift", "node": 1, "rate": 3}]', /entry 0 \(drift\): rate 3 is outside 1 ± 0.5/],
      ['[{"atMs": 1, "do": "pause", "node": 1, "forMs": -1}]', /entry 0 \(pause\): field "forMs"/],
    ];
    cases.forEach(([content, message], i) => {
      const path = schedule(`bad-${i}.json`, content);
      assert.throws(() => parseSimArgs(['--algorithm', 'raft', '--schedule', path]), (e: unknown) => e instanceof UsageError && message.test(e.message), content);
    });
  });
});

describe('ballot sim: the command', () => {
  test('a user mistake is one line on stderr and exit status 2, without a stack trace', () => {
    for (const args of [['sim', '--algorithm', 'nope'], ['sim', '--algorithm', 'raft', '--nodes', '0'], ['frobnicate']]) {
      const run = ballot(...args);
      assert.equal(run.status, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.doesNotMatch(run.stderr, /\bat .*\.js:\d+/);
    }
  });

  test('--json is byte-identical for the same seed, and different for another', () => {
    const args = ['sim', '--algorithm', 'raft', '--scenario', 'random', '--seed', '7', '--json'];
    const a = ballot(...args);
    const b = ballot(...args);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const parsed = JSON.parse(a.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['algorithm', 'nodes', 'observers', 'seed', 'scenario', 'durationMs', 'leaders', 'elections', 'messages', 'dualLeaderMs', 'leaseOverlapMs', 'final', 'violations']);
    assert.notEqual(ballot('sim', '--algorithm', 'raft', '--scenario', 'random', '--seed', '8', '--json').stdout, a.stdout);
  });

  test('a schedule file drives the run; "leader" names the leader of the moment', async () => {
    const path = schedule('good.json', JSON.stringify([{ atMs: 2000, do: 'crash', node: 'leader' }, { atMs: 4000, do: 'restart', node: 'all' }]));
    const run = await runMain('sim', '--algorithm', 'raft', '--schedule', path, '--json', '--seed', '3');
    assert.equal(run.code, 0, run.err);
    const result = JSON.parse(run.out) as { scenario: string; elections: { startMs: number }[]; final: { up: boolean }[] };
    assert.equal(result.scenario, 'schedule');
    assert.ok(result.elections.some((e) => e.startMs === 2000));
    assert.ok(result.final.every((f) => f.up));
  });

  test('pause and drift in a schedule show in the timeline; --deliver-stale is accepted; overlapping groups exit 2 on one line', async () => {
    const path = schedule('faults.json', JSON.stringify([{ atMs: 0, do: 'drift', node: 2, rate: 1.02 }, { atMs: 2000, do: 'pause', node: 'leader', forMs: 800 }]));
    const run = await runMain('sim', '--algorithm', 'raft', '--schedule', path, '--seed', '3', '--deliver-stale');
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /clock of 2 runs at 1\.02 x/);
    assert.match(run.out, /2000\.0 {2}pause \d for 800 ms/);
    assert.match(run.out, /2800\.0 {2}resume \d/);
    assert.match(run.out, /\d+ candidac(y|ies) in \d+ terms?/);
    const overlapping = schedule('overlap.json', JSON.stringify([{ atMs: 1, do: 'partition', groups: [[1, 2], [2, 3]] }]));
    const refused = ballot('sim', '--algorithm', 'raft', '--schedule', overlapping);
    assert.equal(refused.status, 2);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /node 2 is in more than one group/);
  });

  test('the timeline names the leader, the crash and the failover time', async () => {
    const run = await runMain('sim', '--algorithm', 'raft', '--scenario', 'leader-crash', '--seed', '7');
    assert.equal(run.code, 0);
    assert.match(run.out, /20[0-4]\d\.\d {2}crash \d/);
    assert.match(run.out, /all agree on leader \d \(term 2\) after \d+(\.\d+)? ms/);
    assert.match(run.out, /invariants: all held/);
  });

  test('--help lists every option and exits 0', async () => {
    const run = await runMain('sim', '--help');
    assert.equal(run.code, 0);
    for (const flag of ['--algorithm', '--nodes', '--observers', '--seed', '--scenario', '--schedule', '--duration', '--latency', '--loss', '--duplicate', '--election-timeout', '--heartbeat', '--history', '--deliver-stale', '--json']) {
      assert.ok(run.out.includes(flag), flag);
    }
  });
});
