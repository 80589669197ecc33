import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FailoverReport } from '../bench/failover.js';
import { UsageError } from './args.js';
import { formatTable, matchedDefaultTiming, parseBenchFailoverArgs, runBench, timingFor, type BenchCommand } from './bench.js';
import { main } from './main.js';

function parse(line: string): BenchCommand {
  const command = parseBenchFailoverArgs(line.split(' ').filter(Boolean));
  assert.notEqual(command, 'help');
  return command as BenchCommand;
}

test('targets: algorithms, systems, --all, without duplicates', () => {
  assert.deepEqual(parse('--algorithm raft').targets, [{ kind: 'ballot', algorithm: 'raft' }]);
  assert.deepEqual(parse('--system etcd,zookeeper --algorithm zab').targets, [{ kind: 'ballot', algorithm: 'zab' }, { kind: 'etcd' }, { kind: 'zookeeper' }]);
  assert.deepEqual(
    parse('--all --system etcd').targets.map((t) => (t.kind === 'ballot' ? t.algorithm : t.kind)),
    ['etcd', 'bully', 'raft', 'zab', 'zookeeper'],
  );
});

test('defaults: 3 nodes, 15 trials, ballot Raft timing matched on every system', () => {
  const command = parse('--system etcd');
  assert.deepEqual(command.nodes, [3]);
  assert.equal(command.trials, 15);
  assert.deepEqual(command.timing, matchedDefaultTiming);
  assert.equal(command.json, false);
  assert.equal(command.dataDir, null);
  assert.deepEqual(command.kinds, ['kill', 'pause', 'graceful'], 'every kind of failure');
  assert.equal(command.resumeWindowMs, 2000);
});

test('--kind chooses the kinds of failure, in the order given; --resume-window the watch after a pause', () => {
  assert.deepEqual(parse('--system etcd --kind pause,kill,pause').kinds, ['pause', 'kill']);
  assert.deepEqual(parse('--system etcd').kinds, ['kill', 'pause', 'graceful'], "the default: every failure ('start' only when asked)");
  assert.deepEqual(parse('--system etcd --kind start').kinds, ['start']);
  assert.equal(parse('--system etcd --resume-window 500').resumeWindowMs, 500);
  assert.throws(() => parse('--system etcd --kind crash'), (error: unknown) => error instanceof UsageError && /--kind must be among kill, pause, graceful, start, got "crash"/.test(error.message));
  assert.throws(() => parse('--system etcd --kind ,'), /--kind needs a name/);
});

test('sizes, trials and timing are read', () => {
  const command = parse('--system zookeeper --nodes 3,5 --trials 20 --heartbeat 100 --election-timeout 1000-2000 --json');
  assert.deepEqual(command.nodes, [3, 5]);
  assert.equal(command.trials, 20);
  assert.deepEqual(command.timing, { heartbeatMs: 100, electionTimeoutMinMs: 1000, electionTimeoutMaxMs: 2000 });
  assert.equal(command.json, true);
});

test("--defaults: each system's own timing", () => {
  const command = parse('--system etcd,zookeeper --defaults');
  assert.equal(command.timing, 'defaults');
  assert.deepEqual(timingFor({ kind: 'etcd' }, 'defaults'), { heartbeatMs: 100, electionTimeoutMinMs: 900, electionTimeoutMaxMs: 1900 });
  assert.equal(timingFor({ kind: 'zookeeper' }, 'defaults').heartbeatMs, 1000);
  assert.deepEqual(timingFor({ kind: 'ballot', algorithm: 'raft' }, 'defaults'), { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 });
  assert.deepEqual(timingFor({ kind: 'etcd' }, matchedDefaultTiming), matchedDefaultTiming);
});

test('mistakes are usage errors naming the option', () => {
  const cases: [string, RegExp][] = [
    ['', /say what to measure/],
    ['--system consul', /--system must be among etcd, zookeeper/],
    ['--algorithm paxos', /--algorithm must be among bully, raft, zab/],
    ['--system etcd --nodes 1', /--nodes must be at least 2/],
    ['--system etcd --nodes 3,x', /--nodes must be an integer/],
    ['--system etcd --trials 0', /--trials must be at least 1/],
    ['--system etcd --election-timeout 300-150', /MIN \(300\) is greater than MAX/],
    ['--system etcd --defaults --heartbeat 50', /--defaults uses each system's own timing/],
    ['--system etcd --base-port 80', /--base-port must be at least 1024/],
    ['--system etcd --frobnicate', /unknown option '--frobnicate'/],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => parseBenchFailoverArgs(line.split(' ').filter(Boolean)), (error: unknown) => error instanceof UsageError && message.test(error.message), line);
  }
});

test('the table: one row per system and size, failures counted, unavailable systems said so', () => {
  const summary = { count: 2, min: 100, mean: 150, median: 150.4, p90: 190, p99: 199, max: 200 };
  const report: FailoverReport = {
    system: 'etcd',
    nodes: 3,
    timing: matchedDefaultTiming,
    settings: 'heartbeat-interval 30, election-timeout 150',
    kind: 'kill',
    trials: [],
    failover: summary,
    lease: null,
    coldStart: { ...summary, median: 585 },
    load: { ...summary, median: 2.04 },
    resumeDisrupted: null,
    failures: 1,
    aborted: false,
  };
  const table = formatTable([
    { kind: 'report', report: { ...report, trials: [{} as never, {} as never, {} as never] } },
    { kind: 'unavailable', system: 'ballot-raft', nodes: 3, reason: 'not in this build' },
  ]);
  const lines = table.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /\| system \| N \| kind \| settings \| failover p50 \| p90 \| p99 \| max \| named p50 \| named \(own clocks\) p50 \| lease p50 \| disrupted after resume \| cold start p50 \| load p50 \| failures \|/);
  assert.equal(lines[2], '| etcd | 3 | kill | heartbeat-interval 30, election-timeout 150 | 150 | 190 | 199 | 200 | n/a | n/a | n/a | - | 585 | 2.0 | 1/3 |');
  assert.match(lines[3]!, /ballot-raft \| 3 \| - \| not available: not in this build/);
});

test('ballot bench: help, and an unknown benchmark is a usage error (exit 2, one line)', async () => {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  assert.equal(await main(['bench'], io), 0);
  assert.match(out, /failover/);
  out = '';
  assert.equal(await main(['bench', 'failover', '--help'], io), 0);
  assert.match(out, /--election-timeout MIN-MAX/);
  assert.equal(await main(['bench', 'latency'], io), 2);
  assert.equal(err, 'ballot bench: unknown benchmark "latency" (benchmarks: failover, kv, report)\n');
  err = '';
  assert.equal(await main(['bench', 'failover', '--system', 'consul'], io), 2);
  assert.equal(err.split('\n').length, 2, 'one line');
  await assert.rejects(runBench(['failover', '--nodes', '3'], { ...io, tty: false }), UsageError);
});

test('ballot bench report: saved --json results side by side', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballot-report-test-'));
  try {
    const row = { kind: 'unavailable', system: 'ballot-zab', nodes: 5, reason: 'not in this build' };
    await writeFile(join(dir, 'a.json'), JSON.stringify({ rows: [row] }));
    await writeFile(join(dir, 'b.json'), JSON.stringify({ rows: [{ ...row, nodes: 3 }] }));
    await writeFile(join(dir, 'bad.json'), '{"nothing": 1}');
    let out = '';
    const io = { out: (t: string) => void (out += t), err: () => undefined, tty: false };
    assert.equal(await runBench(['report', join(dir, 'a.json'), join(dir, 'b.json')], io), 0);
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[2]!, /ballot-zab \| 5 /);
    assert.match(lines[3]!, /ballot-zab \| 3 /);
    await assert.rejects(runBench(['report', join(dir, 'bad.json')], io), /not the output of ballot bench failover --json/);
    await assert.rejects(runBench(['report'], io), UsageError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ballot bench report: ratios per file, disruptions after a resume, and files from before kinds existed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballot-report-test-'));
  try {
    const trial = (i: number, failoverMs: number, extra: object = {}) => ({ trial: i, ok: true, failoverMs, ...extra });
    const summary = { count: 2, min: 100, mean: 150, median: 150, p90: 190, p99: 199, max: 200 };
    // Saved before kinds, leases and load existed: no kind (a kill -9 run), no lease, no load.
    const old = (system: string, times: number[]) => ({ kind: 'report', report: { system, nodes: 3, timing: matchedDefaultTiming, settings: 's', trials: times.map((ms, i) => trial(i + 1, ms)), failover: summary, coldStart: summary, failures: 0, aborted: false } });
    await writeFile(join(dir, 'old.json'), JSON.stringify({ rows: [old('ballot-raft', [100, 100]), old('etcd', [200, 200])] }));
    const paused = {
      kind: 'report',
      report: {
        ...old('ballot-bully', []).report,
        kind: 'pause',
        trials: [trial(1, 300, { killed: 3, newLeader: 2, resumeDisrupted: true, resumeDisruption: '+27 ms: 1→3 2→- 3→3' }), trial(2, 310, { resumeDisrupted: false })],
        lease: null,
        load: { ...summary, median: 3.25 },
        resumeDisrupted: 1,
      },
    };
    await writeFile(join(dir, 'new.json'), JSON.stringify({ rows: [paused] }));
    let out = '';
    const io = { out: (t: string) => void (out += t), err: () => undefined, tty: false };
    assert.equal(await runBench(['report', join(dir, 'old.json'), join(dir, 'new.json')], io), 0);
    assert.match(out, /\| ballot-raft \| 3 \| kill \| s \| 150 \| 190 \| 199 \| 200 \| n\/a \| n\/a \| n\/a \| - \| 150 \| - \| 0\/2 \|/);
    assert.match(out, /\| ballot-bully \| 3 \| pause \| s \| .* \| n\/a \| 1\/2 \| 150 \| 3\.3 \| 0\/2 \|/);
    assert.match(out, /old\.json:\n.*\nRaft ÷ etcd, N=3, kill: median 0\.50 \(95% CI 0\.50–0\.50\), p99 0\.50 \(0\.50–0\.50\); 2 and 2 trials/);
    assert.match(out, /ballot-bully N=3 trial 1 \(old leader 3, new 2\): \+27 ms: 1→3 2→- 3→3/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ballot bench kv: help, bad arguments exit 2, and a short real run of ballot alone reports writes', { timeout: 120_000 }, async () => {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  assert.equal(await main(['bench', 'kv', '--help'], io), 0);
  assert.match(out, /--clients N/);
  const benchDirs = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('ballot-bench-kv-')).sort();
  const dirsBefore = await benchDirs();
  assert.equal(await main(['bench', 'kv', '--clients', '0'], io), 2);
  assert.equal(err, 'ballot bench: --clients must be at least 1, got 0\n');
  assert.deepEqual(await benchDirs(), dirsBefore, 'a bad argument leaves no data dir behind');
  out = '';
  const code = await runBench(['kv', '--no-etcd', '--clients', '4', '--duration', '1000', '--warmup', '300', '--rounds', '1', '--base-port', '23700', '--json'], { ...io, tty: false });
  assert.equal(code, 0, err);
  const report = JSON.parse(out) as { summaries: { system: string; writesPerSecond: number }[]; ratio: number | null };
  assert.equal(report.summaries[0]!.system, 'ballot-raft');
  assert.ok(report.summaries[0]!.writesPerSecond > 0, 'some writes were acknowledged');
  assert.equal(report.ratio, null);
});

test('ballot bench report: a cold-start row per system and size (every kind pooled), and its ratio', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ballot-report-test-'));
  try {
    const trial = (i: number, coldStartMs: number, kind: string) => ({ trial: i, kind, ok: true, failoverMs: kind === 'start' ? null : 100, coldStartMs, load: 1 });
    const row = (system: string, kind: string, colds: number[]) => ({
      kind: 'report',
      report: { system, nodes: 5, kind, timing: matchedDefaultTiming, settings: 's', trials: colds.map((ms, i) => trial(i + 1, ms, kind)), failover: null, lease: null, coldStart: null, load: null, resumeDisrupted: null, failures: 0, aborted: false },
    });
    const rows = [row('ballot-raft', 'start', [100, 300]), row('ballot-raft', 'kill', [200]), row('etcd', 'start', [400, 400]), row('etcd', 'kill', [400])];
    await writeFile(join(dir, 'run.json'), JSON.stringify({ rows }));
    let out = '';
    const io = { out: (t: string) => void (out += t), err: () => undefined, tty: false };
    assert.equal(await runBench(['report', join(dir, 'run.json')], io), 0);
    assert.match(out, /\| ballot-raft \| 5 \| start \| s \| - \| - \| - \| - \| - \| - \| - \| - \| - \| - \| 0\/2 \|/, 'a start row has no failover, no named time, no lease');
    assert.match(out, /\| ballot-raft \| 5 \| 200 \| 280 \| 298 \| 300 \| 1\.0 \| 3 \|/, 'cold starts of both kinds, pooled');
    assert.match(out, /\| etcd \| 5 \| 400 \| 400 \| 400 \| 400 \| 1\.0 \| 3 \|/);
    assert.match(out, /Raft ÷ etcd, N=5: median 0\.50 \(95% CI 0\.25–0\.75\), p99 0\.74 \(95% CI .*\); 3 and 3 cold starts/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
