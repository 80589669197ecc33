/**
 * `ballot torture` end to end, short: a few fault cycles on three real Raft nodes in namespaces, the
 * JSON result, Ctrl-C in the middle of a run, and the refusals (not root, bad arguments). Every test
 * asserts that nothing carrying its run's tag (namespace, link; rules live inside the namespaces) is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../testing/requires.js';
import { namesWithPrefix, removeLeftovers, toolsPresent } from '../torture/netns.js';
import type { TortureResult } from '../torture/run.js';
import { main } from './main.js';
import { mainJs } from '../runtime/local-cluster.js';

const tools = toolsPresent();
const ready = tools.root && tools.ip && tools.iptables && tools.tc;
const needs = 'needs root, ip, iptables and tc (network namespaces and faults)';

/** Runs `ballot torture ARGS` as a child; `onErr` sees each stderr line (to signal it mid-run). */
function torture(args: readonly string[], onErr?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [mainJs, 'torture', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    err += text;
    for (const line of text.split('\n')) if (line !== '') onErr?.(line, child);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

function tagOf(err: string): string {
  const match = /namespaces (bt-[0-9a-z]+-[0-9a-z]{3})-n1/.exec(err);
  assert.ok(match, `the run names its namespaces on stderr:\n${err}`);
  return match[1]!;
}

test('ballot torture: 3 fault cycles on 3 raft nodes pass every check, report in --json, and leave nothing behind', { ...requires(ready, needs), timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-torture-test-'));
  try {
    const { code, out, err } = await torture(['--algorithm', 'raft', '--cycles', '3', '--seed', '11', '--faults', 'isolate,kill,pause,partition,one-way', '--fault-ms', '800-1500', '--election-timeout', '500-1000', '--heartbeat', '100', '--json', '--history', join(dir, 'h.jsonl')]);
    const tag = tagOf(err);
    assert.deepEqual(namesWithPrefix(tag), [], 'no namespace or link of the run is left');
    assert.equal(code, 0, `exit 0\n${out}\n${err}`);
    const result = JSON.parse(out) as TortureResult;
    assert.equal(result.tag, tag);
    assert.equal(result.cycles.length, 3);
    assert.deepEqual(result.violations, []);
    assert.deepEqual(result.remaining, []);
    assert.equal(result.capabilities.iptables, true);
    for (const cycle of result.cycles) {
      assert.ok(['isolate', 'kill', 'pause', 'partition', 'one-way'].includes(cycle.fault.kind));
      assert.ok(cycle.how !== null && cycle.targets.length > 0, `cycle ${cycle.cycle} was made: ${JSON.stringify(cycle)}`);
      assert.ok(cycle.agreedAfterMs !== null && cycle.agreedAfterMs <= result.boundMs, `agreed within the bound: ${JSON.stringify(cycle)}`);
    }
    assert.ok(result.samples > 100, `${result.samples} status answers`);
    assert.ok(result.leaders.length >= 1);
    assert.match(err, /cycle 1: .* via (iptables|signal)/, 'progress on stderr');
    if (result.kv === null) assert.match(result.kvSkipped ?? '', /do not serve the key-value API/);
    else {
      assert.equal(result.kv.result, 'linearizable');
      assert.equal(readFileSync(join(dir, 'h.jsonl'), 'utf8').trim().split('\n').length, result.kv.ops);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ballot torture: Ctrl-C in the middle of a run heals, stops the nodes, removes everything and exits 130', { ...requires(ready, needs), timeout: 120_000 }, async () => {
  let interrupted = false;
  const { code, out, err } = await torture(['--cycles', '50', '--seed', '3', '--faults', 'pause,isolate', '--fault-ms', '3000-4000'], (line, child) => {
    if (!interrupted && /cycle 1: (?!healed)/.test(line)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const tag = tagOf(err);
  assert.ok(interrupted, err);
  assert.match(err, /SIGINT: ending the run/);
  assert.equal(code, 130, `${out}\n${err}`);
  assert.match(out, /^interrupted, no violation so far/);
  assert.deepEqual(namesWithPrefix(tag), [], 'no namespace or link of the run is left');
});

test('ballot torture: without root, one line on stderr and exit 2; bad arguments too; --cleanup removes leftovers', { ...requires(ready, needs), timeout: 60_000 }, async () => {
  const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, mainJs, 'torture'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(asNobody.status, 2);
  assert.equal(asNobody.stderr, 'ballot torture: needs root (it creates network namespaces, links and firewall rules)\n');
  for (const args of [['--nodes', '2'], ['--algorithm', 'paxos'], ['--faults', 'meteor'], ['--fault-ms', '10-20'], ['--cycles', '0']]) {
    let err = '';
    const code = await main(['torture', ...args], { out: () => {}, err: (text) => void (err += text) });
    assert.equal(code, 2, args.join(' '));
    assert.equal(err.trim().split('\n').length, 1, err);
  }
  let out = '';
  assert.equal(await main(['torture', '--cleanup'], { out: (text) => void (out += text), err: () => {} }), 0);
  assert.match(out, /^(nothing to remove|removed )/);
  assert.deepEqual(removeLeftovers().removed, [], 'after --cleanup nothing of a dead run is left');
});
