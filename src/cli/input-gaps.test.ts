/**
 * What a new user types wrong, on the real command (a spawned `ballot`): one line on stderr naming the
 * problem, exit status 2, never a stack trace and never a hang.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mainJs } from '../runtime/local-cluster.js';
import { startNode } from '../runtime/node.js';
import { algorithms } from '../core/algorithms.js';
import { DurableStore } from '../runtime/storage.js';

const work = mkdtempSync(join(tmpdir(), 'ballot-input-gaps-'));
after(() => rmSync(work, { recursive: true, force: true }));

function ballot(...args: string[]) {
  // SIGKILL on timeout: a spinning process ignores nothing else reliably (the /proc case used to).
  return spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
}

function assertOneLine(args: string[], expected: RegExp): void {
  const result = ballot(...args);
  assert.equal(result.status, 2, `ballot ${args.join(' ')}: exit ${result.status} (signal ${result.signal}), stderr ${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^[^\n]+\n$/, 'one line');
  assert.match(result.stderr, expected);
}

const node = (id: number, ...extra: string[]): string[] => ['node', '--id', String(id), '--algorithm', 'raft', '--peers', `${id}=127.0.0.1:1`, ...extra];

test('negative numbers are parsed and refused with their range, not called ambiguous', () => {
  assertOneLine(['sim', '--algorithm', 'raft', '--seed', '-1'], /^ballot sim: --seed must be ≥ 0, got -1$/m);
  assertOneLine(['sim', '--algorithm', 'raft', '--loss', '-0.5'], /^ballot sim: --loss must be ≥ 0, got -0\.5$/m);
  assertOneLine(['sim', '--algorithm', 'raft', '--loss', '-.5'], /--loss must be ≥ 0, got -0\.5/);
  assertOneLine(['cluster', '--algorithm', 'raft', '--nodes', '-3'], /^ballot cluster: --nodes must be at least 1, got -3$/m);
});

test('a heartbeat not shorter than the election timeout is refused on every command that runs nodes', () => {
  assertOneLine(['sim', '--algorithm', 'raft', '--heartbeat', '200'], /^ballot sim: --heartbeat \(200 ms\) must be shorter than the election timeout's minimum \(150 ms\)/);
  assertOneLine(['sim', '--algorithm', 'zab', '--election-timeout', '100-200', '--heartbeat', '100'], /--heartbeat \(100 ms\) must be shorter than the election timeout's minimum \(100 ms\)/);
  assertOneLine(['sim', '--algorithm', 'bully', '--election-timeout', '40-80'], /--heartbeat \(50 ms\) must be shorter than the election timeout's minimum \(40 ms\)/);
  assertOneLine([...node(1, '--data-dir', join(work, 'hb')), '--heartbeat', '300'], /^ballot node: --heartbeat \(300 ms\)/);
  assertOneLine(['cluster', '--algorithm', 'raft', '--heartbeat', '150'], /^ballot cluster: --heartbeat \(150 ms\)/);
});

test('startNode refuses the same timing with a ConfigError', async () => {
  await assert.rejects(
    startNode({ id: 1, algorithm: 'raft', peers: { 1: '127.0.0.1:1' }, dataDir: join(work, 'api'), timing: { heartbeatMs: 400, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 } }),
    { name: 'Error', message: /^heartbeat \(400 ms\) must be shorter than the election timeout's minimum \(300 ms\)/ },
  );
  assert.equal(existsSync(join(work, 'api')), false, 'refused before touching the data dir');
});

test('a data dir under /proc fails at once with one line', { skip: existsSync('/proc/self') ? false : 'no /proc here' }, () => {
  const started = Date.now();
  assertOneLine(node(1, '--data-dir', '/proc/ballot-input-gaps/data'), /^ballot node: cannot use data dir \/proc\/ballot-input-gaps\/data \(ENOENT\)$/m);
  assert.ok(Date.now() - started < 20_000);
});

test('ballot with no arguments prints the usage on stderr and exits 2', () => {
  const result = ballot();
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^Usage: ballot <command> \[options\]/);
  const help = ballot('--help');
  assert.equal(help.status, 0, '--help still succeeds');
  assert.match(help.stdout, /^Usage: ballot <command>/);
});

test("a data dir of another algorithm is named as such, not called corrupt", () => {
  const dir = join(work, 'raft-dir');
  DurableStore.open(dir, algorithms.raft!, 1).store.save(algorithms.raft!.initialDurable(0));
  const args = ['node', '--id', '1', '--algorithm', 'zab', '--peers', '1=127.0.0.1:1', '--data-dir', dir];
  assertOneLine(args, /^ballot node: .*state\.json is the state of a raft node, not zab; refusing to start/);
  assert.doesNotMatch(ballot(...args).stderr, /corrupt/);
});
