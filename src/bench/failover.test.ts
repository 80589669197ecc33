/**
 * The harness's own logic — what it times, when it gives up, what it cleans up — against an in-process
 * fake system on a virtual clock, so every number is exact and no test waits for real time. The real
 * systems are exercised by the bench itself (and etcd by one smoke test in etcd-system.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterOptions, PORT_BLOCK_SIZE, PORT_BLOCKS, runFailoverBench, type Clock, type FailoverBenchOptions } from './failover.js';
import type { ClusterOptions, ClusterUnderTest, SystemUnderTest } from './system.js';

/**
 * Virtual time: `sleep` registers a timer; one timer fires per macrotask turn (setImmediate), so all
 * promise work that does not sleep — the fake system's answers — settles before time moves on.
 */
class VirtualClock implements Clock {
  private time = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  private pumping = false;

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      const onAbort = (): void => {
        this.timers = this.timers.filter((t) => t !== timer);
        reject(new Error('aborted'));
      };
      const timer = {
        at: this.time + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.time = Math.max(this.time, next.at);
      next.resolve();
      if (this.timers.length > 0) this.pump();
    });
  }
}

interface FakeScript {
  /** Virtual ms from start until all members agree (default 300). */
  coldStartMs?: number;
  /** Virtual ms from the kill until the survivors agree; Infinity: never (default 200). */
  failoverMs?: number;
  /** Until this long after the kill, survivors still name the killed leader (stale views). */
  staleMs?: number;
  /** The first leader (default: the highest id). */
  leader?: number;
  startRejects?: string;
  startHangs?: boolean;
  viewsThrowAfterKill?: string;
  pollHangsAfterKill?: boolean;
}

interface FakeLog {
  starts: ClusterOptions[];
  kills: number[];
  stops: number;
  killedAt: number[];
}

function fakeSystem(clock: VirtualClock, script: FakeScript, log: FakeLog): SystemUnderTest {
  return {
    name: 'fake',
    describe: (o) => `heartbeat ${o.heartbeatMs}`,
    async start(options) {
      log.starts.push(options);
      if (script.startRejects) throw new Error(script.startRejects);
      if (script.startHangs) await new Promise(() => undefined);
      const members = Array.from({ length: options.nodes }, (_, i) => i + 1);
      const startedAt = clock.now();
      const first = script.leader ?? options.nodes;
      let killed: number | null = null;
      let killedAt = 0;
      let stopped = false;
      const cluster: ClusterUnderTest = {
        members,
        async leaderViews() {
          if (stopped) throw new Error('polled after stop');
          const now = clock.now();
          const live = members.filter((m) => m !== killed);
          const views = new Map<number, number | null>();
          if (killed === null) {
            for (const m of live) views.set(m, now - startedAt >= (script.coldStartMs ?? 300) ? first : null);
            return views;
          }
          if (script.viewsThrowAfterKill) throw new Error(script.viewsThrowAfterKill);
          if (script.pollHangsAfterKill) return new Promise(() => undefined);
          const since = now - killedAt;
          const successor = live[0]!;
          live.forEach((m, i) => {
            if (since < (script.staleMs ?? 0)) views.set(m, killed);
            else if (since >= (script.failoverMs ?? 200)) views.set(m, successor);
            else views.set(m, i === 0 ? successor : null);
          });
          return views;
        },
        async kill(member) {
          killed = member;
          killedAt = clock.now();
          log.kills.push(member);
          log.killedAt.push(killedAt);
        },
        async stop() {
          stopped = true;
          log.stops += 1;
        },
      };
      return cluster;
    },
  };
}

async function withWorkDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ballot-failover-test-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const timing = { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };

function run(script: FakeScript, extra: Partial<FailoverBenchOptions> & { workDir: string }) {
  const clock = new VirtualClock();
  const log: FakeLog = { starts: [], kills: [], stops: 0, killedAt: [] };
  const options: FailoverBenchOptions = { nodes: 3, trials: 3, timing, basePort: 30000, clock, random: () => 0.5, ...extra };
  return { clock, log, result: runFailoverBench(fakeSystem(clock, script, log), options) };
}

test('each trial gets a fresh data directory and its own rotating port block', () => {
  const a = clusterOptions({ nodes: 3, basePort: 20000, timing }, 0, '/x');
  const b = clusterOptions({ nodes: 3, basePort: 20000, timing }, 1, '/y');
  const wrap = clusterOptions({ nodes: 3, basePort: 20000, timing }, PORT_BLOCKS, '/z');
  assert.equal(a.basePort, 20000);
  assert.equal(b.basePort, 20000 + PORT_BLOCK_SIZE);
  assert.equal(wrap.basePort, 20000);
  assert.equal(a.heartbeatMs, 50);
  assert.equal(a.electionTimeoutMaxMs, 300);
});

test('measures cold start and failover to within one poll interval, kills the agreed leader, stops every cluster', async () => {
  await withWorkDir(async (workDir) => {
    const { log, result } = run({ coldStartMs: 300, failoverMs: 200 }, { workDir, trials: 4, settleMs: 1000 });
    const report = await result;
    assert.equal(report.trials.length, 4);
    assert.equal(report.failures, 0);
    assert.equal(log.stops, 4, 'every cluster stopped');
    assert.equal(new Set(log.starts.map((s) => s.dataDir)).size, 4, 'a fresh data directory per trial');
    for (const t of report.trials) {
      assert.ok(t.ok);
      assert.ok(t.coldStartMs! >= 300 && t.coldStartMs! < 305, `cold start ${t.coldStartMs}`);
      assert.ok(t.failoverMs! >= 200 && t.failoverMs! < 205, `failover ${t.failoverMs}`);
      assert.equal(t.killed, 3, 'the leader all members named');
      assert.equal(t.newLeader, 1);
      // settle 1000 + 0.5 of a 50 ms heartbeat, plus at most one poll.
      assert.ok(t.killDelayMs! >= 1025 && t.killDelayMs! < 1031, `kill delay ${t.killDelayMs}`);
      assert.ok(t.failoverPolls >= 40 && t.failoverPolls <= 42, `polled every 5 ms: ${t.failoverPolls}`);
    }
    assert.equal(report.failover!.count, 4);
    assert.equal(report.coldStart!.count, 4);
    assert.deepEqual(await readdir(workDir), [], 'data of successful trials removed');
  });
});

test('survivors still naming the killed leader are not a failover', async () => {
  await withWorkDir(async (workDir) => {
    const report = await run({ staleMs: 150, failoverMs: 400 }, { workDir, trials: 1 }).result;
    assert.ok(report.trials[0]!.failoverMs! >= 400);
    assert.notEqual(report.trials[0]!.newLeader, report.trials[0]!.killed);
  });
});

test('a failover that never converges is a failed trial after the timeout, not a hang; its cluster is stopped and its data kept', async () => {
  await withWorkDir(async (workDir) => {
    const { clock, log, result } = run({ failoverMs: Infinity }, { workDir, trials: 2, failoverTimeoutMs: 3000 });
    const report = await result;
    assert.equal(report.failures, 2);
    assert.equal(log.stops, 2);
    for (const t of report.trials) {
      assert.equal(t.ok, false);
      assert.equal(t.failure!.phase, 'failover');
      assert.match(t.failure!.message, /did not agree on a leader other than 3/);
      assert.match(t.failure!.message, /1→1 2→-/, 'the last views are reported');
      assert.ok(t.keptDataDir !== null && existsSync(t.keptDataDir));
      assert.equal(t.coldStartMs !== null, true, 'what was measured is kept');
    }
    assert.equal(report.failover, null);
    // Bounded: each trial gave up once 3000 ms had passed since its kill.
    assert.ok(clock.now() - log.killedAt[1]! >= 3000 && clock.now() - log.killedAt[1]! < 3100);
  });
});

test('a system that cannot start fails the first trial and is not tried again', async () => {
  await withWorkDir(async (workDir) => {
    const { log, result } = run({ startRejects: 'etcd not found (is it installed?)' }, { workDir, trials: 5 });
    const report = await result;
    assert.equal(report.trials.length, 1);
    assert.deepEqual(report.trials[0]!.failure, { phase: 'start', message: 'etcd not found (is it installed?)' });
    assert.equal(log.stops, 0, 'nothing started, nothing to stop');
  });
});

test('a start that hangs times out', async () => {
  await withWorkDir(async (workDir) => {
    const report = await run({ startHangs: true }, { workDir, trials: 1, startTimeoutMs: 5000 }).result;
    assert.equal(report.trials[0]!.failure!.phase, 'start');
    assert.match(report.trials[0]!.failure!.message, /longer than 5000 ms/);
  });
});

test('a cold start that never agrees fails within the start timeout', async () => {
  await withWorkDir(async (workDir) => {
    const { log, result } = run({ coldStartMs: Infinity }, { workDir, trials: 1, startTimeoutMs: 2000 });
    const report = await result;
    assert.equal(report.trials[0]!.failure!.phase, 'cold-start');
    assert.deepEqual(log.kills, [], 'nothing killed without a leader');
    assert.equal(log.stops, 1);
  });
});

test('an error from the system (a member died) fails the trial at once, with its message', async () => {
  await withWorkDir(async (workDir) => {
    const { clock, log, result } = run({ viewsThrowAfterKill: 'etcd member 2 exited unexpectedly' }, { workDir, trials: 1 });
    const report = await result;
    assert.deepEqual(report.trials[0]!.failure, { phase: 'failover', message: 'etcd member 2 exited unexpectedly' });
    assert.ok(clock.now() - log.killedAt[0]! < 10, 'did not wait for the timeout');
    assert.equal(log.stops, 1);
  });
});

test('a poll that never answers counts as no agreement and is bounded', async () => {
  await withWorkDir(async (workDir) => {
    const { log, result } = run({ pollHangsAfterKill: true }, { workDir, trials: 1, failoverTimeoutMs: 4000, pollTimeoutMs: 1000 });
    const report = await result;
    assert.equal(report.trials[0]!.failure!.phase, 'failover');
    assert.equal(log.stops, 1);
  });
});

test('an interrupted run stops its cluster and returns what it measured', async () => {
  await withWorkDir(async (workDir) => {
    const abort = new AbortController();
    const clock = new VirtualClock();
    const log: FakeLog = { starts: [], kills: [], stops: 0, killedAt: [] };
    const report = await runFailoverBench(fakeSystem(clock, {}, log), {
      nodes: 3,
      trials: 10,
      timing,
      basePort: 30000,
      workDir,
      clock,
      signal: abort.signal,
      onProgress: (event) => {
        // Ctrl-C during the third trial's settle.
        if (event.kind === 'phase' && event.trial === 2 && event.phase === 'settle') abort.abort();
      },
    });
    assert.equal(report.aborted, true);
    assert.equal(report.trials.length, 2, 'the interrupted trial is left out');
    assert.equal(report.failures, 0);
    assert.equal(log.starts.length, 3);
    assert.equal(log.stops, 3, 'the interrupted cluster was stopped too');
    assert.deepEqual(await readdir(workDir), [], "the interrupted trial's data removed too");
  });
});

test('refuses a cluster too small to fail over', async () => {
  await withWorkDir(async (workDir) => {
    await assert.rejects(run({}, { workDir, nodes: 1 }).result, /nodes must be an integer in \[2/);
  });
});
