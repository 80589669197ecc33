import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { announcedLeader, etcdArgs, etcdLoggedTime, etcdBinary, etcdDefaultTiming, etcdSystem, etcdTiming, fetchStatus, parseEtcdStatus } from './etcd-system.js';
import { runFailoverBench } from './failover.js';
import { liveProcessCount } from './processes.js';
import { requires } from '../testing/requires.js';

const options = { nodes: 3, basePort: 20000, dataDir: '/data', heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };

test('matched timing: the same mean effective election timeout, heartbeat as close as E >= 5H allows', () => {
  // ballot's defaults: 50 ms, 150–300 (mean 225) → 35 / 175: campaigns 140–315 ms after the last heartbeat, mean 227.5.
  assert.deepEqual(etcdTiming(options), { heartbeatMs: 35, electionMs: 175, effectiveMs: [140, 315], effectiveMeanMs: 227.5 });
  // etcd's own defaults map to themselves.
  assert.deepEqual(etcdTiming(etcdDefaultTiming), { heartbeatMs: 100, electionMs: 1000, effectiveMs: [900, 1900], effectiveMeanMs: 1400 });
  // When the 5-tick rule allows it, ballot's heartbeat is kept.
  assert.deepEqual(etcdTiming({ heartbeatMs: 50, electionTimeoutMinMs: 250, electionTimeoutMaxMs: 550 }), { heartbeatMs: 50, electionMs: 300, effectiveMs: [250, 550], effectiveMeanMs: 400 });
  assert.deepEqual(etcdTiming({ heartbeatMs: 50, electionTimeoutMinMs: 200, electionTimeoutMaxMs: 450 }).electionMs, 250);
  // Never below etcd's 5 ticks, whatever is asked.
  for (const [h, min, max] of [[1, 1, 1], [50, 10, 20], [1000, 150, 300], [7, 3000, 3001]] as const) {
    const t = etcdTiming({ heartbeatMs: h, electionTimeoutMinMs: min, electionTimeoutMaxMs: max });
    assert.ok(t.electionMs >= 5 * t.heartbeatMs && t.heartbeatMs >= 1, `${h} ${min}-${max}`);
    assert.ok(Math.abs(t.effectiveMeanMs - (min + max) / 2) <= Math.max(t.heartbeatMs, 7), `${h} ${min}-${max}: mean ${t.effectiveMeanMs}`);
  }
});

test('every member listens on 127.0.0.1 only, in a static initial cluster', () => {
  const args = etcdArgs(options, 2, 'tok');
  assert.ok(args.includes('--listen-client-urls=http://127.0.0.1:20002'));
  assert.ok(args.includes('--listen-peer-urls=http://127.0.0.1:20003'));
  assert.ok(args.includes('--initial-cluster=n1=http://127.0.0.1:20001,n2=http://127.0.0.1:20003,n3=http://127.0.0.1:20005'));
  assert.ok(args.includes('--heartbeat-interval=35'));
  assert.ok(args.includes('--election-timeout=175'));
  assert.ok(args.includes(`--data-dir=${join('/data', 'n2')}`));
  assert.ok(args.every((a) => !a.includes('0.0.0.0') && !a.includes('localhost')));
});

test("log lines: the leader a member's raft names (hex in the log, decimal like the status API), null when it lost it", () => {
  const line = (msg: string): string => JSON.stringify({ level: 'info', ts: '2026-11-30T12:04:46.177Z', caller: 'raft/node.go:327', msg });
  assert.equal(announcedLeader(line('raft.node: 50dc888c673e741 elected leader f40ed421a73a6d09 at term 3')), BigInt('0xf40ed421a73a6d09').toString());
  assert.equal(announcedLeader(line('raft.node: 50dc888c673e741 changed leader from 50dc888c673e741 to 9 at term 4')), '9');
  assert.equal(announcedLeader(line('raft.node: 50dc888c673e741 lost leader 50dc888c673e741 at term 3')), null);
  assert.equal(announcedLeader(line('50dc888c673e741 became leader at term 2')), undefined);
  assert.equal(announcedLeader('not json at all'), undefined);
  // The member's own stamp on the line (zap's ts, ms resolution).
  assert.equal(etcdLoggedTime(line('raft.node: 50dc888c673e741 elected leader 9 at term 3')), Date.UTC(2026, 10, 30, 12, 4, 46, 177));
  assert.equal(etcdLoggedTime('not json at all'), undefined);
});

test('status replies: own member id and leader id; 0 or absent means no leader', () => {
  assert.deepEqual(parseEtcdStatus('{"header":{"member_id":"33198"},"leader":"77"}'), { memberId: '33198', leaderId: '77' });
  assert.deepEqual(parseEtcdStatus('{"header":{"member_id":"33198"},"leader":"0"}'), { memberId: '33198', leaderId: null });
  assert.deepEqual(parseEtcdStatus('{"header":{"member_id":"33198"}}'), { memberId: '33198', leaderId: null });
  assert.equal(parseEtcdStatus('{"error":"etcdserver: not capable"}'), null);
  assert.equal(parseEtcdStatus('not json'), null);
});

test('status is fetched with POST over a keep-alive connection; a silent member is null, not a hang', async () => {
  const seen: { method: string | undefined; url: string | undefined; socket: unknown }[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, socket: req.socket });
    if (seen.length === 3) return; // never answers
    res.setHeader('content-type', 'application/json');
    res.end('{"header":{"member_id":"5"},"leader":"9"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.deepEqual(await fetchStatus(agent, port, 500), { memberId: '5', leaderId: '9' });
    assert.deepEqual(await fetchStatus(agent, port, 500), { memberId: '5', leaderId: '9' });
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v3/maintenance/status');
    assert.equal(seen[0]!.socket, seen[1]!.socket, 'one connection reused');
    const started = performance.now();
    assert.equal(await fetchStatus(agent, port, 100), null);
    assert.ok(performance.now() - started < 1000);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

// One real smoke test: a 3-member etcd cluster, one kill -9, about 1–3 s. Skipped when etcd is absent.
const binary = etcdBinary();
const installed = binary.includes('/') ? existsSync(binary) : false;
test(
  'etcd smoke: one real failover of a 3-member cluster, no process left behind',
  { ...requires(installed, `etcd is not installed (${binary}); see scripts/install-comparison-systems.sh`), timeout: 40_000 },
  async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'ballot-etcd-smoke-'));
    try {
      const report = await runFailoverBench(etcdSystem, {
        nodes: 3,
        trials: 1,
        timing: { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 },
        basePort: 29100, // below the ephemeral range (32768+), where outgoing connections take ports
        workDir,
        settleMs: 100,
        startTimeoutMs: 20_000,
        failoverTimeoutMs: 10_000,
      });
      const trial = report.trials[0]!;
      assert.equal(trial.failure, null, trial.failure?.message);
      assert.ok(trial.failoverMs! > 0 && trial.failoverMs! < 10_000);
      assert.notEqual(trial.newLeader, trial.killed);
      assert.equal(liveProcessCount(), 0, 'every etcd process was stopped');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  },
);

test("a kept etcd trial keeps its members' logs, not their preallocated write-ahead logs", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'ballot-etcd-kept-'));
  try {
    for (const member of [1, 2]) {
      await mkdir(join(dataDir, `n${member}`, 'member', 'wal'), { recursive: true });
      await writeFile(join(dataDir, `n${member}`, 'member', 'wal', '0.tmp'), 'x'.repeat(1024));
      await writeFile(join(dataDir, `n${member}.log`), 'elected leader\n');
    }
    await etcdSystem.trimKept!(dataDir, 2);
    for (const member of [1, 2]) {
      assert.equal(existsSync(join(dataDir, `n${member}`)), false);
      assert.equal(existsSync(join(dataDir, `n${member}.log`)), true);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
