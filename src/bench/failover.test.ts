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
import { clusterOptions, interleave, PORT_BLOCK_SIZE, PORT_BLOCKS, runFailoverBench, runFailoverRows, type Clock, type FailoverBenchOptions } from './failover.js';
import type { AnnouncementListener, ClusterOptions, ClusterUnderTest, MemberView, SystemUnderTest } from './system.js';

const WALL_ORIGIN = 1_800_000_000_000;

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

  /** The wall clock: virtual time from an arbitrary epoch, in whole ms like Date.now(). */
  wall(): number {
    return WALL_ORIGIN + Math.floor(this.time);
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
  /** Virtual ms from the signal until the survivors agree; Infinity: never (default 200). */
  failoverMs?: number;
  /** Until this long after the signal, survivors still name the old leader (stale views). */
  staleMs?: number;
  /** The first leader (default: the highest id). */
  leader?: number;
  /** The new leader reports a lease, true this long after the survivors agree (absent: no lease reported). */
  leaseAfterMs?: number;
  /** After SIGCONT the old leader names itself this long (default 0: it has stepped down at once). */
  resumedSelfMs?: number;
  /** After SIGCONT the survivors name nobody this long (an election the old leader forced). */
  resumeDisruptsMs?: number;
  /**
   * The system announces leaders (ClusterUnderTest.announcements): survivor i (in id order) says it
   * follows the successor this many virtual ms after the signal; absent: no announcements at all.
   */
  announceAfterMs?: number[];
  /** Then the last survivor says it follows nobody, this long after the signal. */
  unannounceAfterMs?: number;
  /**
   * Each announcing line carries the member's own wall-clock stamp, this many ms before the bench reads
   * it (the pipe and the bench's event loop); absent: the lines carry no stamp.
   */
  stampedEarlierMs?: number;
  /** SystemUnderTest.announces. */
  announces?: boolean;
  startRejects?: string;
  startHangs?: boolean;
  viewsThrowAfterKill?: string;
  pollHangsAfterKill?: boolean;
}

interface FakeLog {
  starts: ClusterOptions[];
  /** Every signal sent, in order: [member, signal]. */
  signals: [number, string][];
  /** Which members each poll asked. */
  polled: number[][];
  kills: number[];
  stops: number;
  killedAt: number[];
}

function fakeSystem(clock: VirtualClock, script: FakeScript, log: FakeLog, name = 'fake'): SystemUnderTest {
  return {
    name,
    ...(script.announces !== undefined ? { announces: script.announces } : {}),
    describe: (o) => `heartbeat ${o.heartbeatMs}`,
    async start(options) {
      log.starts.push(options);
      if (script.startRejects) throw new Error(script.startRejects);
      if (script.startHangs) await new Promise(() => undefined);
      const members = Array.from({ length: options.nodes }, (_, i) => i + 1);
      const startedAt = clock.now();
      const first = script.leader ?? options.nodes;
      let old: number | null = null;
      let signalledAt = 0;
      let resumedAt: number | null = null;
      let stopped = false;
      let announce: AnnouncementListener | null = null;
      const announceFailover = (): void => {
        const successor = members.find((m) => m !== old)!;
        const survivors = members.filter((m) => m !== old);
        const stamp = (): number | undefined => (script.stampedEarlierMs === undefined ? undefined : clock.wall() - script.stampedEarlierMs);
        script.announceAfterMs!.forEach((ms, i) => void clock.sleep(ms).then(() => announce?.(survivors[i]!, successor, stamp())));
        if (script.unannounceAfterMs !== undefined) void clock.sleep(script.unannounceAfterMs).then(() => announce?.(survivors.at(-1)!, null, stamp()));
      };
      const cluster: ClusterUnderTest = {
        members,
        async views(asked) {
          if (stopped) throw new Error('polled after stop');
          log.polled.push([...asked]);
          const now = clock.now();
          const views = new Map<number, MemberView | null>();
          if (old === null) {
            for (const m of asked) views.set(m, { leader: now - startedAt >= (script.coldStartMs ?? 300) ? first : null });
            return views;
          }
          if (script.viewsThrowAfterKill) throw new Error(script.viewsThrowAfterKill);
          if (script.pollHangsAfterKill) return new Promise(() => undefined);
          const since = now - signalledAt;
          const successor = members.find((m) => m !== old)!;
          const failoverMs = script.failoverMs ?? 200;
          for (const m of asked) {
            if (m === old) {
              assert.notEqual(resumedAt, null, 'a paused or killed member is never polled');
              views.set(m, { leader: now - resumedAt! < (script.resumedSelfMs ?? 0) ? old : successor });
            } else if (resumedAt !== null && now - resumedAt < (script.resumeDisruptsMs ?? 0)) views.set(m, { leader: null });
            else if (since < (script.staleMs ?? 0)) views.set(m, { leader: old });
            else if (since >= failoverMs) {
              const lease = script.leaseAfterMs === undefined ? undefined : m === successor && since >= failoverMs + script.leaseAfterMs;
              views.set(m, lease === undefined ? { leader: successor } : { leader: successor, lease });
            } else views.set(m, { leader: m === successor ? successor : null });
          }
          return views;
        },
        async signal(member, signal) {
          log.signals.push([member, signal]);
          if (signal === 'SIGCONT') {
            resumedAt = clock.now();
            return;
          }
          old = member;
          signalledAt = clock.now();
          log.kills.push(member);
          log.killedAt.push(signalledAt);
          if (script.announceAfterMs) announceFailover();
        },
        async stop() {
          stopped = true;
          log.stops += 1;
        },
        ...(script.announceAfterMs
          ? {
              announcements(listener: AnnouncementListener) {
                announce = listener;
                return () => void (announce = null);
              },
            }
          : {}),
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

const newLog = (): FakeLog => ({ starts: [], signals: [], polled: [], kills: [], stops: 0, killedAt: [] });

const timing = { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };

function run(script: FakeScript, extra: Partial<FailoverBenchOptions> & { workDir: string }) {
  const clock = new VirtualClock();
  const log = newLog();
  const options: FailoverBenchOptions = { nodes: 3, trials: 3, timing, basePort: 30000, clock, random: () => 0.5, load: () => 1.5, ...extra };
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
    const log = newLog();
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

test('interleave: trial 1 of every row, then trial 2 of every row, …', () => {
  assert.deepEqual(interleave(3, 2), [
    { row: 0, trial: 0 },
    { row: 1, trial: 0 },
    { row: 2, trial: 0 },
    { row: 0, trial: 1 },
    { row: 1, trial: 1 },
    { row: 2, trial: 1 },
  ]);
  assert.deepEqual(interleave(0, 5), []);
  assert.deepEqual(interleave(2, 0), []);
});

test('a run of several rows interleaves their trials, rotates ports over the whole run, and records the load of each trial', async () => {
  await withWorkDir(async (workDir) => {
    const clock = new VirtualClock();
    const log = newLog();
    let load = 0;
    const rows = ['a', 'b', 'c'].map((name) => ({ system: fakeSystem(clock, {}, log, name), nodes: 3, kind: 'kill' as const, timing }));
    const reports = await runFailoverRows(rows, { trials: 3, basePort: 30000, workDir, clock, random: () => 0.5, load: () => (load += 1) });
    // The clusters started in round-robin order: a1 b1 c1 a2 b2 c2 a3 b3 c3.
    assert.deepEqual(log.starts.map((s) => s.dataDir.split('/').at(-1)), [1, 2, 3].flatMap((t) => ['a', 'b', 'c'].map((n) => `${n}-n3-kill-trial${t}`)));
    assert.deepEqual(reports.map((r) => r.trials.map((t) => t.order)), [[1, 4, 7], [2, 5, 8], [3, 6, 9]], 'each trial knows its place in the run');
    assert.deepEqual(reports[1]!.trials.map((t) => t.load), [2, 5, 8], 'the load when each trial started');
    assert.deepEqual(reports[1]!.load && [reports[1]!.load.min, reports[1]!.load.median], [2, 5]);
    // Consecutive trials never share a port block, whichever row they belong to.
    const blocks = log.starts.map((s) => s.basePort);
    for (let i = 1; i < blocks.length; i++) assert.notEqual(blocks[i], blocks[i - 1]);
    assert.deepEqual(blocks.slice(0, PORT_BLOCKS + 1), [0, 1, 2, 3, 4, 0].map((b) => 30000 + b * PORT_BLOCK_SIZE));
  });
});

test('kinds: kill sends SIGKILL, graceful SIGTERM; the old leader is never polled again', async () => {
  await withWorkDir(async (workDir) => {
    for (const [kind, signal] of [['kill', 'SIGKILL'], ['graceful', 'SIGTERM']] as const) {
      const { log, result } = run({ failoverMs: 300 }, { workDir, trials: 1, kind });
      const report = await result;
      assert.equal(report.kind, kind);
      assert.deepEqual(log.signals, [[3, signal]]);
      assert.ok(report.trials[0]!.failoverMs! >= 300 && report.trials[0]!.failoverMs! < 305);
      assert.equal(report.trials[0]!.resumeDisrupted, null);
      assert.equal(report.resumeDisrupted, null);
      const afterSignal = log.polled.slice(log.polled.findIndex((asked) => asked.length === 2));
      assert.ok(afterSignal.length > 0 && afterSignal.every((asked) => !asked.includes(3)));
    }
  });
});

test('pause: SIGSTOP, failover, SIGCONT once the survivors agree, then a watch of every member for the window', async () => {
  await withWorkDir(async (workDir) => {
    const { clock, log, result } = run({ failoverMs: 250, resumedSelfMs: 40 }, { workDir, trials: 1, kind: 'pause', resumeWindowMs: 1000 });
    const report = await result;
    const trial = report.trials[0]!;
    assert.equal(trial.failure, null);
    assert.deepEqual(log.signals, [[3, 'SIGSTOP'], [3, 'SIGCONT']]);
    assert.ok(trial.failoverMs! >= 250 && trial.failoverMs! < 255);
    assert.equal(trial.resumeDisrupted, false, 'the survivors kept naming the new leader');
    assert.equal(trial.resumeDisruption, null);
    // The resumed leader named itself for 40 ms: last seen doing so within one poll of that.
    assert.ok(trial.resumedSelfLeaderMs! >= 35 && trial.resumedSelfLeaderMs! < 40, `${trial.resumedSelfLeaderMs}`);
    assert.equal(report.resumeDisrupted, 0);
    // The watch polled all three members, for the whole window, and then the cluster stopped.
    assert.ok(log.polled.some((asked) => asked.length === 3 && asked.includes(3)));
    assert.ok(clock.now() - log.killedAt[0]! >= 250 + 1000);
    assert.equal(log.stops, 1);
  });
});

test('pause: survivors that lose their leader after the resume are a disruption', async () => {
  await withWorkDir(async (workDir) => {
    const report = await run({ resumeDisruptsMs: 100 }, { workDir, trials: 2, kind: 'pause', resumeWindowMs: 500 }).result;
    assert.deepEqual(report.trials.map((t) => t.resumeDisrupted), [true, true]);
    assert.match(report.trials[0]!.resumeDisruption!, /^\+0 ms: 1→- 2→- 3→1$/, 'when, and what the members said');
    assert.equal(report.resumeDisrupted, 2);
  });
});

test('pause: a trial that fails while the leader is stopped resumes it before stopping the cluster', async () => {
  await withWorkDir(async (workDir) => {
    const { log, result } = run({ failoverMs: Infinity }, { workDir, trials: 1, kind: 'pause', failoverTimeoutMs: 1000 });
    const report = await result;
    assert.equal(report.trials[0]!.failure!.phase, 'failover');
    assert.deepEqual(log.signals, [[3, 'SIGSTOP'], [3, 'SIGCONT']]);
    assert.equal(log.stops, 1);
  });
});

test('lease: timed until the agreed leader reports it; n/a where no lease is reported', async () => {
  await withWorkDir(async (workDir) => {
    const leased = await run({ failoverMs: 200, leaseAfterMs: 300 }, { workDir, trials: 2 }).result;
    for (const t of leased.trials) {
      assert.equal(t.leaseReported, true);
      assert.ok(t.failoverMs! >= 200 && t.failoverMs! < 205);
      assert.ok(t.leaseMs! >= 500 && t.leaseMs! < 505, `lease ${t.leaseMs}`);
    }
    assert.equal(leased.lease!.count, 2);
    const plain = await run({ failoverMs: 200 }, { workDir, trials: 2 }).result;
    assert.deepEqual(plain.trials.map((t) => [t.leaseReported, t.leaseMs]), [[false, null], [false, null]]);
    assert.equal(plain.lease, null);
    // A lease that never comes fails the trial in its own phase.
    const never = await run({ failoverMs: 200, leaseAfterMs: Infinity }, { workDir, trials: 1, failoverTimeoutMs: 1000 }).result;
    assert.equal(never.trials[0]!.failure!.phase, 'lease');
    assert.match(never.trials[0]!.failure!.message, /did not agree on a leader that holds its lease/);
  });
});

test('named time: when the last survivor announced the new leader, from its own words, not the polls; null without announcements', async () => {
  await withWorkDir(async (workDir) => {
    const { result } = run({ failoverMs: 200, announceAfterMs: [30, 70] }, { workDir, trials: 2 });
    const report = await result;
    assert.equal(report.failures, 0);
    for (const trial of report.trials) {
      assert.ok(trial.failoverMs! >= 200, 'the polls see it later');
      assert.equal(trial.namedMs, 70, 'the last survivor spoke 70 ms after the signal');
    }
    assert.equal(report.named?.median, 70);
  });
  await withWorkDir(async (workDir) => {
    // The polls may agree before a survivor's log line arrives: it is waited for.
    const report = await run({ failoverMs: 50, announceAfterMs: [10, 120] }, { workDir, trials: 1 }).result;
    assert.equal(report.trials[0]!.namedMs, 120);
  });
  await withWorkDir(async (workDir) => {
    // A survivor whose latest word names nobody: no named time (the words disagree with the polls).
    const report = await run({ failoverMs: 200, announceAfterMs: [30, 70], unannounceAfterMs: 90 }, { workDir, trials: 1 }).result;
    assert.equal(report.trials[0]!.ok, true);
    assert.equal(report.trials[0]!.namedMs, null);
    assert.equal(report.named, null);
  });
  await withWorkDir(async (workDir) => {
    const report = await run({ failoverMs: 200 }, { workDir, trials: 1 }).result;
    assert.equal(report.trials[0]!.namedMs, null, 'a system that does not announce');
    assert.equal(report.named, null);
  });
});

test('named time by the members\' own clocks: the stamp on the last survivor\'s line less the wall clock at the signal', async () => {
  await withWorkDir(async (workDir) => {
    const report = await run({ failoverMs: 200, announceAfterMs: [30, 70], stampedEarlierMs: 4 }, { workDir, trials: 2 }).result;
    for (const trial of report.trials) {
      assert.equal(trial.namedMs, 70, 'read by the bench 70 ms after the signal');
      assert.equal(trial.namedLoggedMs, 66, 'stamped by the member 4 ms before it was read');
    }
    assert.equal(report.namedLogged?.median, 66);
  });
  await withWorkDir(async (workDir) => {
    // Lines without a stamp: a named time as read, none by the members' clocks.
    const report = await run({ failoverMs: 200, announceAfterMs: [30, 70] }, { workDir, trials: 1 }).result;
    assert.equal(report.trials[0]!.namedMs, 70);
    assert.equal(report.trials[0]!.namedLoggedMs, null);
    assert.equal(report.namedLogged, null);
  });
});

test('quiet watch: when every row announces, no poll until the survivors\' lines agree, then a poll confirms', async () => {
  await withWorkDir(async (workDir) => {
    // The polls would agree at 50 ms, the lines only at 70: nothing polls before 70.
    const { result } = run({ failoverMs: 50, announceAfterMs: [30, 70], stampedEarlierMs: 2, announces: true }, { workDir, trials: 2 });
    const report = await result;
    assert.equal(report.failures, 0);
    for (const trial of report.trials) {
      assert.equal(trial.failoverWatch, 'announcements');
      assert.equal(trial.failoverPolls, 1, 'one confirming poll');
      assert.ok(trial.failoverMs! >= 70 && trial.failoverMs! < 75, `failover ${trial.failoverMs}`);
      assert.equal(trial.namedMs, 70);
      assert.equal(trial.namedLoggedMs, 68);
    }
  });
  await withWorkDir(async (workDir) => {
    // The lines agree before the polls do (a member names the leader in its log before /status says so): polls until they agree too.
    const report = await run({ failoverMs: 200, announceAfterMs: [30, 70], announces: true }, { workDir, trials: 1 }).result;
    const trial = report.trials[0]!;
    assert.equal(trial.failoverWatch, 'announcements');
    assert.ok(trial.failoverMs! >= 200 && trial.failoverMs! < 205, `failover ${trial.failoverMs}`);
    assert.ok(trial.failoverPolls > 1);
  });
  await withWorkDir(async (workDir) => {
    // Asked to poll: polls from the signal on, as before.
    const report = await run({ failoverMs: 50, announceAfterMs: [30, 70], announces: true }, { workDir, trials: 1, pollDuringFailover: true }).result;
    const trial = report.trials[0]!;
    assert.equal(trial.failoverWatch, 'polls');
    assert.ok(trial.failoverMs! >= 50 && trial.failoverMs! < 55, `failover ${trial.failoverMs}`);
    assert.equal(trial.namedMs, 70, 'the named time waits for the lines all the same');
  });
  await withWorkDir(async (workDir) => {
    // Lines that never agree: a failure at the failover's bound, saying what each survivor said last.
    const report = await run({ failoverMs: 50, announceAfterMs: [30], announces: true }, { workDir, trials: 1, failoverTimeoutMs: 500 }).result;
    assert.equal(report.trials[0]!.ok, false);
    assert.equal(report.trials[0]!.failure!.phase, 'failover');
    assert.match(report.trials[0]!.failure!.message, /log lines of members 1,2 did not agree .* 1→1 2→\?/);
  });
});

test('quiet watch: a run with a row whose system does not announce polls in every row, so ratios compare like with like', async () => {
  await withWorkDir(async (workDir) => {
    const clock = new VirtualClock();
    const log = newLog();
    const announcing = fakeSystem(clock, { failoverMs: 50, announceAfterMs: [30, 70], announces: true }, log, 'announcing');
    const silent = fakeSystem(clock, { failoverMs: 50 }, log, 'silent');
    const reports = await runFailoverRows(
      [
        { system: announcing, nodes: 3, kind: 'kill', timing },
        { system: silent, nodes: 3, kind: 'kill', timing },
      ],
      { trials: 1, basePort: 30000, workDir, clock, random: () => 0.5, load: () => 1 },
    );
    assert.deepEqual(reports.map((r) => r.trials[0]!.failoverWatch), ['polls', 'polls']);
    assert.equal(reports[0]!.trials[0]!.namedMs, 70);
  });
});
