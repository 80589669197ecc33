import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { algorithmNames, algorithms } from '../core/algorithms.js';
import { quantile } from '../core/stats.js';
import { compareCommand, compareSpec, parseCompareArgs, progressBar } from './compare.js';
import { main } from './main.js';
import { runSim } from './sim.js';

interface Io {
  out: string;
  err: string;
  readonly io: { out: (t: string) => void; err: (t: string) => void };
}
function capture(): Io {
  const c: Io = {
    out: '',
    err: '',
    io: {
      out: (t) => void (c.out += t),
      err: (t) => void (c.err += t),
    },
  };
  return c;
}
const pipe = { isTTY: false, columns: 80 };

/** `ballot sim --json` for one run, parsed. */
function sim(nodes: number, scenario: string, seed: number) {
  let out = '';
  runSim(['--algorithm', 'raft', '--nodes', String(nodes), '--scenario', scenario, '--seed', String(seed), '--json'], (t) => void (out += t));
  return JSON.parse(out) as {
    leaders: unknown[];
    elections: { startMs: number; endMs: number; messages: number; candidacies: number; candidates: number; terms: number; messagesByType: Record<string, number> }[];
    dualLeaderMs: number;
    final: { durableBytes: number }[];
    violations: unknown[];
  };
}

/** docs/comparison.md: quantiles are type 7 (src/core/stats.ts), rounded to microseconds in the JSON. */
function documentedQuantile(values: number[], p: number): number {
  return Math.round(quantile(values, p) * 1000) / 1000;
}

test('compare\'s numbers agree with ballot sim for the same seed', async () => {
  const c = capture();
  const scenarios = ['cold-start', 'leader-crash', 'flapping', 'partition'];
  const code = await compareCommand(
    ['--algorithms', 'raft', '--sizes', '3,4', '--scenarios', scenarios.join(','), '--trials', '6', '--json', '--per-trial', '--jobs', '1'],
    c.io,
    pipe,
  );
  assert.equal(code, 0);
  const report = JSON.parse(c.out) as {
    cells: {
      nodes: number;
      scenario: string;
      electionMs: { p50: number; p99: number };
      dualLeaderMs: { mean: number };
      perTrial: { seed: number; elections: { ms: number; messages: number; electionMessages: number; candidacies: number; candidates: number; terms: number }[]; leaderChanges: number; dualLeaderMs: number; durableBytes: number; violations: number }[];
    }[];
  };
  assert.equal(report.cells.length, 2 * scenarios.length);
  for (const cell of report.cells) {
    const times: number[] = [];
    const dual: number[] = [];
    assert.deepEqual(cell.perTrial.map((t) => t.seed), [1, 2, 3, 4, 5, 6], 'trial k runs with seed k');
    for (const trial of cell.perTrial) {
      const run = sim(cell.nodes, cell.scenario, trial.seed);
      const where = `${cell.scenario} n=${cell.nodes} seed ${trial.seed}`;
      // The documented definitions, read straight off `ballot sim --json`: the scenarios' faults start at 2 s.
      const measured = cell.scenario === 'cold-start' ? run.elections.slice(0, 1) : run.elections.filter((e) => e.startMs >= 2000);
      assert.deepEqual(
        trial.elections,
        measured.map((e) => ({
          ms: Math.round((e.endMs - e.startMs) * 1000) / 1000,
          messages: e.messages,
          electionMessages: (e.messagesByType.RequestVote ?? 0) + (e.messagesByType.RequestVoteResponse ?? 0) + (e.messagesByType.PreVote ?? 0) + (e.messagesByType.PreVoteResponse ?? 0),
          candidacies: e.candidacies,
          candidates: e.candidates,
          terms: e.terms,
        })),
        where,
      );
      assert.equal(trial.leaderChanges, run.leaders.length - 1, where);
      assert.equal(trial.dualLeaderMs, run.dualLeaderMs, where);
      assert.equal(trial.durableBytes, Math.max(...run.final.map((f) => f.durableBytes)), where);
      assert.equal(trial.violations, run.violations.length, where);
      times.push(...measured.map((e) => Math.round((e.endMs - e.startMs) * 1000) / 1000));
      dual.push(run.dualLeaderMs);
    }
    if (times.length > 0) {
      assert.equal(cell.electionMs.p50, documentedQuantile(times, 0.5));
      assert.equal(cell.electionMs.p99, documentedQuantile(times, 0.99));
    }
    assert.ok(Math.abs(cell.dualLeaderMs.mean - dual.reduce((a, b) => a + b, 0) / dual.length) < 1e-3);
  }
});

test('the text report carries the source documents\' table, the odd/even answer and a plain line on stderr when piped', async () => {
  const c = capture();
  const code = await compareCommand(['--algorithms', 'raft', '--sizes', '4,5', '--trials', '4', '--jobs', '1'], c.io, pipe);
  assert.equal(code, 0);
  assert.match(c.out, /^ballot compare --algorithms raft --sizes 4,5 --trials 4 --jobs 1\n/);
  assert.match(c.out, /The source documents' comparison, measured: 5 nodes, 4 seeded runs per scenario/);
  assert.match(c.out, /4\(n−1\) = 16 per round \(PreVote, then the vote\)/);
  assert.match(c.out, /raft: 4 nodes tolerate 1 crash, 5 tolerate 2;/);
  assert.ok(!c.err.includes('\r'), 'no progress bar on a pipe');
  assert.match(c.err, /^ballot compare: 32 runs in \d+\.\d s on 1 thread\n$/);
});

test('a progress bar is drawn on a terminal, and ends at 100%', async () => {
  const c = capture();
  await compareCommand(['--algorithms', 'raft', '--sizes', '3', '--scenarios', 'cold-start', '--trials', '3', '--jobs', '1'], c.io, { isTTY: true, columns: 100 });
  assert.match(c.err, /\r\[#+\] 100% {2}3\/3 runs/);
  const frames: string[] = [];
  let clock = 0;
  const bar = progressBar((t) => frames.push(t), 60, () => clock);
  bar.update(1, 4, 'a');
  clock = 50;
  bar.update(2, 4, 'b'); // within 100 ms of the last frame: skipped
  clock = 200;
  bar.update(4, 4, 'c');
  assert.equal(frames.length, 2);
  // Each frame rewrites the whole line (\r, then exactly columns − 1 characters) with a bar of one width.
  assert.ok(frames.every((f) => f.startsWith('\r[') && f.length === 60), JSON.stringify(frames));
  assert.equal(frames[0]!.indexOf(']'), frames[1]!.indexOf(']'));
  assert.match(frames[1]!, /\[#+\] 100% {2}4\/4 runs {2}0\.2 s {2}c/);
});

test('--markdown and --html: Markdown tables, and one self-contained page with SVG charts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-compare-'));
  try {
    const file = join(dir, 'report.html');
    const c = capture();
    const svgDir = join(dir, 'charts');
    await compareCommand(['--algorithms', 'raft', '--sizes', '3,4,5', '--trials', '3', '--markdown', '--html', file, '--svg', svgDir, '--jobs', '1'], c.io, pipe);
    assert.match(c.out, /^Produced by `ballot compare --algorithms raft --sizes 3,4,5 --trials 3 --markdown --html /);
    assert.match(c.out, /\n### Election time by cluster size, p50 \/ p99 ms\n\n\| algorithm \| nodes \| cold-start \|/);
    const html = readFileSync(file, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg /g) ?? []).length >= 4 + 2 + 4, 'distributions, messages and time charts');
    assert.ok(!/<script|<link|\bsrc=|@import|url\(/i.test(html), 'nothing to fetch: it opens offline');
    assert.match(html, /Messages per election against cluster size \(leader-crash, mean\)/);
    assert.match(c.err, /wrote .*report\.html, .*charts\/\*\.svg/);
    // Each chart also stands alone as an SVG file, linked from the Markdown relative to the chart directory.
    const files = readdirSync(svgDir).sort();
    assert.equal(files.length, 4 + 2 + 4);
    assert.ok(files.includes('election-time-leader-crash-n5.svg') && files.includes('messages-leader-crash.svg'), files.join(' '));
    for (const f of files) {
      assert.ok(c.out.includes(`](charts/${f})`), `markdown links ${f}`);
      assert.match(readFileSync(join(svgDir, f), 'utf8'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>\n<style>/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input is one line on stderr and exit 2', async () => {
  const unregistered = algorithmNames.find((name) => algorithms[name] === undefined);
  const cases: [string[], RegExp][] = [
    [['--algorithms', 'paxos'], /unknown algorithm "paxos"/],
    [['--scenarios', 'meteor'], /unknown scenario "meteor"/],
    [['--scenarios', 'random'], /unknown scenario "random"/],
    [['--sizes', '3,0'], /--sizes must be at least 1/],
    [['--sizes', '3,,5'], /comma-separated list/],
    [['--sizes', '3,3'], /names something twice/],
    [['--trials', '0'], /--trials must be at least 1/],
    [['--trials', 'many'], /--trials must be an integer/],
    [['--jobs', '0'], /--jobs must be at least 1/],
    [['--json', '--markdown'], /either --json or --markdown/],
    [['--per-trial'], /--per-trial goes with --json/],
    [['--html', '/nonexistent-dir/x.html'], /--html: directory \/nonexistent-dir does not exist/],
    [['--svg', '/nonexistent-dir/charts'], /--svg: directory \/nonexistent-dir does not exist/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--workload', 'kv:-1'], /RATE must be/],
  ];
  if (unregistered) cases.push([['--algorithms', unregistered], /is not implemented yet/]);
  for (const [argv, message] of cases) {
    const c = capture();
    const code = await main(['compare', ...argv], c.io);
    assert.equal(code, 2, argv.join(' '));
    assert.equal(c.out, '');
    assert.match(c.err, message);
    assert.match(c.err, /^ballot compare: [^\n]+\n$/, 'exactly one line');
  }
});

test('--help documents every option; defaults cover every registered algorithm', async () => {
  const c = capture();
  assert.equal(await main(['compare', '--help'], c.io), 0);
  for (const name of Object.keys(compareSpec.options)) assert.ok(c.out.includes(`--${name}`), name);
  const parsed = parseCompareArgs([]);
  assert.notEqual(parsed, 'help');
  if (parsed !== 'help') {
    assert.deepEqual(parsed.grid.algorithms, algorithmNames.filter((n) => algorithms[n] !== undefined));
    assert.deepEqual(parsed.grid.sizes, [3, 4, 5, 7, 9]);
    assert.deepEqual(parsed.grid.scenarios, ['cold-start', 'leader-crash', 'flapping', 'partition']);
    assert.equal(parsed.grid.trials, 200);
    assert.equal(parsed.grid.durationMs, undefined, 'the same duration as ballot sim');
  }
  const top = capture();
  await main(['--help'], top.io);
  assert.match(top.out, /\n {2}compare +run the same seeded scenarios/);
});

test('--workload kv: the rows for acknowledged writes lost, time without a writable leader and stale reads, per algorithm; the cells\' kv agrees with ballot sim', async () => {
  const c = capture();
  const argv = ['--algorithms', 'bully', '--sizes', '5', '--scenarios', 'partition,leader-crash', '--trials', '3', '--jobs', '1', '--workload', 'kv'];
  assert.equal(await compareCommand([...argv, '--json', '--per-trial'], c.io, pipe), 0);
  const json = JSON.parse(c.out) as { cells: { scenario: string; kv: { acked: number; lostAcked: number; staleReads: number; notLinearizable: number; unavailableMs: { count: number } }; perTrial: { seed: number; kv: { lostAcked: number } }[] }[] };
  const partition = json.cells.find((cell) => cell.scenario === 'partition')!;
  assert.ok(partition.kv.lostAcked > 0 && partition.kv.staleReads > 0 && partition.kv.notLinearizable === 3, JSON.stringify(partition.kv));
  assert.equal(partition.kv.unavailableMs.count, 3);
  for (const trial of partition.perTrial) {
    let out = '';
    runSim(['--algorithm', 'bully', '--scenario', 'partition', '--seed', String(trial.seed), '--workload', 'kv', '--json'], (t) => void (out += t));
    assert.deepEqual(trial.kv, (JSON.parse(out) as { kv: unknown }).kv, `seed ${trial.seed}`);
  }
  const text = capture();
  assert.equal(await compareCommand(argv, text.io, pipe), 0);
  assert.match(text.out, /acknowledged writes lost, all scenarios: lost \/ acknowledged \(runs with any\)\s+\d+ \/ \d+ \([1-6] of 6\)/);
  assert.match(text.out, /time without a writable leader \(leader-crash\), p50 \/ p99 ms per run/);
  assert.match(text.out, /reads served stale, all scenarios: total \(runs with any\)/);
  assert.match(text.out, /replay any run: .* --workload kv:50/);
  // Without --workload the rows are not there (and the JSON has no kv).
  const plain = capture();
  assert.equal(await compareCommand(['--algorithms', 'bully', '--sizes', '5', '--scenarios', 'partition', '--trials', '1', '--jobs', '1', '--json'], plain.io, pipe), 0);
  assert.equal((JSON.parse(plain.out) as { cells: { kv?: unknown }[] }).cells[0]!.kv, undefined);
});
