import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreedLeader, leaderViewsOf } from '../core/agreement.js';
import { algorithms } from '../core/algorithms.js';
import { freePortBlock, waitFor } from '../runtime/testing.js';
import { ballotSystem } from './ballot-system.js';

test('the ballot adapter: start, agree, kill -9 the leader, survivors agree on another, stop', { skip: !algorithms.raft, timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ballot-adapter-'));
  const system = ballotSystem('raft');
  const options = { nodes: 3, basePort: await freePortBlock(6), dataDir, heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };
  assert.match(system.describe(options), /raft, 3 processes, heartbeat 50 ms, election timeout 150-300 ms/);
  const cluster = await system.start(options);
  try {
    assert.deepEqual(cluster.members, [1, 2, 3]);
    const agreed = (views: Map<number, number | null>): number | undefined => agreedLeader(leaderViewsOf(views, views.keys()))?.leader;
    const leader = await waitFor('agreement', 10_000, async () => agreed(await cluster.leaderViews()));
    await cluster.kill(leader);
    const views = await cluster.leaderViews();
    assert.deepEqual([...views.keys()].sort(), [1, 2, 3].filter((id) => id !== leader), 'a killed member is left out');
    const next = await waitFor('a new leader', 10_000, async () => {
      const now = agreed(await cluster.leaderViews());
      return now !== undefined && now !== leader ? now : undefined;
    });
    assert.notEqual(next, leader);
  } finally {
    await cluster.stop();
    await cluster.stop(); // safe twice
    rmSync(dataDir, { recursive: true, force: true });
  }
  await assert.rejects(ballotSystem('paxos' as 'raft').start(options), /not implemented/);
});
