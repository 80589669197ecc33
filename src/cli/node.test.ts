import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainJs, fetchStatus } from '../runtime/local-cluster.js';
import { freePorts, waitFor } from '../runtime/testing.js';
import { main } from './main.js';
import { ConfigError } from '../runtime/index.js';
import { fatalExitCode, parseNodeArgs } from './node.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-cli-node-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', ...argv], { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

test('ballot node parses the contract command line', () => {
  const command = parseNodeArgs([
    '--id', '1', '--algorithm', 'raft', '--listen', '127.0.0.1:7001', '--http', '127.0.0.1:8001',
    '--peers', '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003', '--data-dir', './data/n1',
    '--observers', '4=127.0.0.1:7004', '--cluster-id', 'prod', '--election-timeout', '200-400', '--heartbeat', '60',
  ]);
  assert.notEqual(command, 'help');
  if (command === 'help') return;
  assert.equal(command.options.id, 1);
  assert.deepEqual([...(command.options.peers as Map<number, string>).keys()], [1, 2, 3]);
  assert.deepEqual(command.options.timing, { electionTimeoutMinMs: 200, electionTimeoutMaxMs: 400, heartbeatMs: 60 });
  assert.equal(command.options.clusterId, 'prod');
  assert.equal(command.options.joinNew, undefined);
  assert.equal(command.log, 'info');
});

test('--join-new is parsed; a node that stopped itself exits 2 when the user must act, else 1', () => {
  const command = parseNodeArgs(['--id', '1', '--algorithm', 'raft', '--peers', '1=127.0.0.1:7001', '--data-dir', 'd', '--join-new']);
  assert.ok(command !== 'help' && command.options.joinNew === true);
  assert.equal(fatalExitCode(new ConfigError('data dir d is empty but node 3 knows node 1 as an existing member')), 2);
  assert.equal(fatalExitCode(new Error('cannot persist durable state: EIO')), 1);
});

test('configuration mistakes: one line on stderr, exit 2', async () => {
  const [free] = await freePorts(1);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const busy = (blocker.address() as import('node:net').AddressInfo).port;
  const file = join(dir, 'file');
  writeFileSync(file, '');
  mkdirSync(join(dir, 'corrupt'));
  writeFileSync(join(dir, 'corrupt', 'state.json'), 'not json');
  const base = ['--algorithm', 'raft', '--data-dir', join(dir, 'ok')];
  const cases: [string[], RegExp][] = [
    [['--id', '1', '--algorithm', 'raft', '--peers', '1=127.0.0.1:7001,1=127.0.0.1:7002', '--data-dir', dir], /node 1 is given twice/],
    [['--id', '3', ...base, '--peers', '1=127.0.0.1:7001,2=127.0.0.1:7002'], /own id 3 is missing/],
    [['--id', '1', ...base, '--peers', `1=127.0.0.1:${busy}`], /127\.0\.0\.1:\d+ .*address already in use/],
    [['--id', '1', ...base, '--peers', `1=127.0.0.1:${free}`, '--http', `127.0.0.1:${busy}`], /cannot serve HTTP .*address already in use/],
    [['--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${free}`, '--data-dir', file], /cannot use data dir/],
    [['--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${free}`, '--data-dir', join(dir, 'corrupt')], /corrupt \(not JSON\)/],
    [['--id', '1', '--algorithm', 'paxos', '--peers', `1=127.0.0.1:${free}`, '--data-dir', dir], /--algorithm must be one of/],
    [['--id', '1', '--algorithm', 'raft', '--peers', '1=localhost', '--data-dir', dir], /expected HOST:PORT/],
    [['--algorithm', 'raft', '--peers', `1=127.0.0.1:${free}`, '--data-dir', dir], /--id is required/],
    [['--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${free}`, '--data-dir', dir, '--election-timeout', '300-100'], /greater than MAX/],
  ];
  try {
    for (const [argv, expected] of cases) {
      const { code, out, err } = await run(argv);
      assert.equal(code, 2, `${argv.join(' ')} → ${err}`);
      assert.equal(out, '');
      assert.match(err, expected);
      assert.match(err, /^ballot node: [^\n]+\n$/, 'exactly one line');
    }
  } finally {
    blocker.close();
  }
});

test('ballot node --help', async () => {
  const { code, out } = await run(['--help']);
  assert.equal(code, 0);
  assert.match(out, /--peers ID=HOST:PORT/);
  assert.match(out, /--join-new {2}.*data dir is empty/);
  assert.match(out, /\/livez, \/readyz/);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`a real ballot node stops cleanly on ${signal} (exit 0)`, { timeout: 15_000 }, async () => {
    const [peer, http] = await freePorts(2);
    const child = spawn(process.execPath, [mainJs, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peer}`, '--http', `127.0.0.1:${http}`, '--data-dir', join(dir, signal)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // A cluster of one elects itself.
      await waitFor('the node to lead', 10_000, () => fetchStatus(http!).then((s) => (s?.leader === 1 ? s : undefined)));
      child.kill(signal);
      assert.equal(await exited, 0);
      const events = stderr.trim().split('\n').map((line) => (JSON.parse(line) as { event: string }).event);
      assert.deepEqual([events[0], events.at(-1)], ['started', 'stopped']);
      assert.ok(events.includes('leader-changed'), 'a leadership change is logged');
    } finally {
      child.kill('SIGKILL');
    }
  });
}
