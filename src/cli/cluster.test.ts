import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreedLeader } from '../core/agreement.js';
import { mainJs, fetchStatus } from '../runtime/local-cluster.js';
import { freePortBlock, waitFor } from '../runtime/testing.js';
import { parseClusterArgs } from './cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-cli-cluster-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('ballot cluster arguments: defaults, overlap, unknown algorithm', () => {
  const command = parseClusterArgs(['--algorithm', 'raft']);
  assert.notEqual(command, 'help');
  if (command === 'help') return;
  assert.deepEqual([command.nodes, command.basePort, command.httpBasePort, command.dataDir], [5, 7001, 8001, null]);
  assert.throws(() => parseClusterArgs(['--algorithm', 'raft', '--base-port', '8000', '--http-base-port', '8003']), /overlap/);
  assert.throws(() => parseClusterArgs(['--algorithm', 'raft', '--nodes', '0']), /at least 1/);
});

function startCluster(argv: string[]): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [mainJs, 'cluster', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

test('ballot cluster starts real nodes that elect a leader, and Ctrl-C stops every one of them', { timeout: 30_000 }, async () => {
  const base = await freePortBlock(6);
  const { child, output, exited } = startCluster(['--algorithm', 'raft', '--nodes', '3', '--base-port', String(base), '--http-base-port', String(base + 3), '--data-dir', join(dir, 'run')]);
  try {
    const pids = await waitFor('the three pids', 10_000, () => {
      const found = [...output().matchAll(/^node (\d) pid (\d+)/gm)].map((match) => Number(match[2]));
      return found.length === 3 ? found : undefined;
    });
    const leader = await waitFor('one leader named by all three', 15_000, async () => {
      const views = await Promise.all([3, 4, 5].map((offset) => fetchStatus(base + offset)));
      return agreedLeader(views)?.leader;
    });
    // The plain (non-terminal) view reports each change as a line.
    await waitFor('the table to show the leader', 5000, () => (output().includes(`leader ${leader}, term`) ? true : undefined));
    child.kill('SIGINT');
    assert.equal(await exited, 0, output());
    assert.match(output(), /stopped 3 nodes/);
    assert.deepEqual(pids.filter(alive), [], 'no child outlives the cluster');
  } finally {
    child.kill('SIGKILL');
  }
});

test('ballot cluster: a node that cannot start (port in use) stops the rest; exit 2 with one line', { timeout: 30_000 }, async () => {
  const base = await freePortBlock(6);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: base + 1 }, resolve));
  const { child, output, exited } = startCluster(['--algorithm', 'raft', '--nodes', '3', '--base-port', String(base), '--http-base-port', String(base + 3), '--data-dir', join(dir, 'busy')]);
  try {
    assert.equal(await exited, 2);
    assert.match(output(), /ballot cluster: node 2 could not start: cannot listen for peers on 127\.0\.0\.1:\d+ \(address already in use\)\n/);
    const pids = [...output().matchAll(/^node (\d) pid (\d+)/gm)].map((match) => Number(match[2]));
    assert.equal(pids.length, 3);
    assert.deepEqual(pids.filter(alive), []);
  } finally {
    child.kill('SIGKILL');
    blocker.close();
  }
});

test('a cluster killed with kill -9 leaves no orphans: its children stop when their stdin closes', { timeout: 30_000 }, async () => {
  const base = await freePortBlock(4);
  const { child, output, exited } = startCluster(['--algorithm', 'raft', '--nodes', '2', '--base-port', String(base), '--http-base-port', String(base + 2), '--data-dir', join(dir, 'orphans')]);
  const pids = await waitFor('the two pids', 10_000, () => {
    const found = [...output().matchAll(/^node (\d) pid (\d+)/gm)].map((match) => Number(match[2]));
    return found.length === 2 ? found : undefined;
  });
  await waitFor('both nodes to serve', 10_000, async () => ((await fetchStatus(base + 2)) && (await fetchStatus(base + 3)) ? true : undefined));
  child.kill('SIGKILL');
  await exited;
  try {
    await waitFor('the orphans to exit', 10_000, () => (pids.some(alive) ? undefined : true));
  } finally {
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
  }
});
