/**
 * node.transferLeadership() and stop()'s hand-over on three in-process nodes over TCP on 127.0.0.1
 * (Raft TimeoutNow, thesis §3.10; docs/embedding.md, "Graceful restart"); Bully refuses (resolves false).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config.js';
import { startNode, type NodeHandle } from './node.js';
import { freePorts, waitFor } from './testing.js';

/** Slow timing: a loaded machine's stalls must not depose anyone while the test looks. */
const timing = { electionTimeoutMinMs: 1000, electionTimeoutMaxMs: 2000, heartbeatMs: 100 };

async function cluster(algorithm: 'raft' | 'bully', run: (nodes: NodeHandle[]) => Promise<void>): Promise<void> {
  const ports = await freePorts(3);
  const peers = Object.fromEntries(ports.map((port, i) => [i + 1, `127.0.0.1:${port}`]));
  const dataDir = mkdtempSync(join(tmpdir(), 'ballot-transfer-'));
  const nodes: NodeHandle[] = [];
  try {
    for (const id of [1, 2, 3]) nodes.push(await startNode({ id, algorithm, peers, dataDir: join(dataDir, String(id)), timing }));
    await run(nodes);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const leaderOf = (nodes: NodeHandle[], lease: boolean) =>
  waitFor('a leader every node names', 30_000, () => {
    const leader = nodes.find((n) => n.isLeader() && (!lease || n.status().lease === true));
    return leader && nodes.every((n) => n.status().leader === leader.id) ? leader : undefined;
  });

test('raft: transferLeadership(to) makes `to` the leader of the next term; its lead() job ends first; bad targets throw', { timeout: 60_000 }, async () => {
  await cluster('raft', async (nodes) => {
    const leader = await leaderOf(nodes, true);
    const follower = nodes.find((n) => n !== leader)!;
    assert.equal(await follower.transferLeadership(), false, 'a follower has nothing to hand over');
    await assert.rejects(leader.transferLeadership(leader.id), ConfigError);
    await assert.rejects(leader.transferLeadership(9), ConfigError);
    const target = nodes.find((n) => n !== leader && n !== follower) ?? follower;
    const { term } = leader.status();
    let aborted: number | null = null;
    const job = leader.lead(async (signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      aborted = target.status().term;
    });
    await waitFor('the job runs', 10_000, () => (job.running ? true : undefined));
    assert.equal(await leader.transferLeadership(target.id), true);
    assert.equal(aborted, term, 'the job ended while the target had not yet campaigned');
    const next = await leaderOf(nodes, false);
    assert.equal(next.id, target.id);
    assert.equal(next.status().term, term + 1);
    await job.stop();
  });
});

test('raft: stop() of the leader hands leadership over before closing', { timeout: 60_000 }, async () => {
  await cluster('raft', async (nodes) => {
    const leader = await leaderOf(nodes, true);
    const { term } = leader.status();
    await leader.stop();
    const survivors = nodes.filter((n) => n !== leader);
    // Sooner than the minimum election timeout (1 s) after stop() resolved: no election was waited for.
    const next = await waitFor('the survivors agree', 900, () => {
      const named = survivors.map((n) => n.status().leader);
      return named.every((id) => id !== null && id !== leader.id && id === named[0]) ? named[0] : undefined;
    });
    assert.ok(survivors.some((n) => n.id === next));
    assert.ok(survivors.every((n) => n.status().term === term + 1));
  });
});

test('bully: transferLeadership() resolves false and leadership stays', { timeout: 60_000 }, async () => {
  await cluster('bully', async (nodes) => {
    const leader = await leaderOf(nodes, false);
    assert.equal(await leader.transferLeadership(), false);
    assert.ok(leader.isLeader());
  });
});
