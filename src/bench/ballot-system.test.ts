import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { algorithms } from '../core/algorithms.js';
import { freePortBlock, waitFor } from '../runtime/testing.js';
import { announcedLeader, announcement, ballotSystem } from './ballot-system.js';
import { agreementOf } from './failover.js';

test('the ballot adapter: start, agree, kill -9 the leader, survivors agree on another, stop', { skip: !algorithms.raft, timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ballot-adapter-'));
  const system = ballotSystem('raft');
  const options = { nodes: 3, basePort: await freePortBlock(6), dataDir, heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };
  assert.match(system.describe(options), /raft, 3 processes, heartbeat 50 ms, election timeout 150-300 ms/);
  const cluster = await system.start(options);
  try {
    assert.deepEqual(cluster.members, [1, 2, 3]);
    const agreed = async (members: readonly number[]): Promise<number | undefined> => agreementOf(await cluster.views(members), members) ?? undefined;
    const leader = await waitFor('agreement', 10_000, () => agreed(cluster.members));
    const views = await cluster.views(cluster.members);
    const own = views.get(leader)!;
    // ballot's Raft holds a lease (CheckQuorum, on by default): the adapter reports it.
    assert.equal(typeof own.lease, 'boolean');
    const said = new Map<number, number | null>();
    const stamps: number[] = [];
    const unsubscribe = cluster.announcements!((member, named, loggedAt) => {
      said.set(member, named);
      if (loggedAt !== undefined) stamps.push(loggedAt);
    });
    const killedAt = Date.now();
    await cluster.signal(leader, 'SIGKILL');
    const survivors = cluster.members.filter((id) => id !== leader);
    const next = await waitFor('a new leader', 10_000, async () => {
      const now = await agreed(survivors);
      return now !== undefined && now !== leader ? now : undefined;
    });
    // Each survivor's own log line names the new leader too (what the bench's named time reads).
    await waitFor('every survivor to announce the new leader', 10_000, () => (survivors.every((id) => said.get(id) === next) ? true : undefined));
    unsubscribe();
    assert.notEqual(next, leader);
    // Each line carries the node's own stamp, on the bench's clock: after the kill, not after it was read.
    assert.ok(stamps.length >= survivors.length && stamps.every((at) => at >= killedAt && at <= Date.now()), `stamps ${stamps.map((at) => at - killedAt).join(',')} ms after the kill`);
  } finally {
    await cluster.stop();
    await cluster.stop(); // safe twice
    rmSync(dataDir, { recursive: true, force: true });
  }
  await assert.rejects(ballotSystem('paxos' as 'raft').start(options), /not implemented/);
});

test('the ballot adapter reports no lease for ZAB, whose /status always says "lease": false (waiting for one would never end)', { timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ballot-adapter-'));
  const system = ballotSystem('zab');
  const options = { nodes: 3, basePort: await freePortBlock(6), dataDir, heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };
  const cluster = await system.start(options);
  try {
    const leader = await waitFor('agreement', 10_000, async () => agreementOf(await cluster.views(cluster.members), cluster.members) ?? undefined);
    const views = await cluster.views(cluster.members);
    assert.equal(views.get(leader)!.lease, undefined);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("log lines: the leader a node's 'leader-changed' line names, null for none; other lines say nothing", () => {
  assert.equal(announcedLeader('{"time":"t","level":"info","node":2,"event":"leader-changed","leader":3,"term":4,"role":"follower","atMs":1}'), 3);
  assert.equal(announcedLeader('{"time":"t","level":"info","node":2,"event":"leader-changed","leader":null,"term":4,"role":"candidate","atMs":1}'), null);
  assert.equal(announcedLeader('{"time":"t","level":"info","node":2,"event":"transfer-started","term":4,"to":3}'), undefined);
  assert.equal(announcedLeader('ballot node: something went wrong'), undefined);
  // With the node's own time stamp (the named time by the members' clocks).
  assert.deepEqual(announcement('{"time":"2026-11-30T17:45:25.877Z","level":"info","node":2,"event":"leader-changed","leader":1,"term":3,"role":"follower","atMs":1}'), { leader: 1, loggedAt: Date.UTC(2026, 10, 30, 17, 45, 25, 877) });
  assert.deepEqual(announcement('{"time":"t","level":"info","node":2,"event":"leader-changed","leader":1,"term":3,"role":"follower","atMs":1}'), { leader: 1, loggedAt: undefined });
  assert.equal(announcement('{"time":"2026-11-30T17:45:25.877Z","event":"stopped"}'), undefined);
});
