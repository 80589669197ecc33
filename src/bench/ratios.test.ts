import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../core/stats.js';
import type { FailoverKind, FailoverReport, TrialResult } from './failover.js';
import { failoverRatios, formatRatios, ratioInterval } from './ratios.js';

function report(system: string, nodes: number, kind: FailoverKind, failoverMs: readonly (number | null)[]): FailoverReport {
  const trials = failoverMs.map((ms, i) => ({ trial: i + 1, kind, ok: ms !== null, failoverMs: ms }) as TrialResult);
  return {
    system,
    nodes,
    kind,
    timing: { heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 },
    settings: '',
    trials,
    failover: summarize(failoverMs.filter((ms): ms is number => ms !== null)),
    lease: null,
    coldStart: null,
    load: null,
    resumeDisrupted: null,
    failures: failoverMs.filter((ms) => ms === null).length,
    aborted: false,
  };
}

test('ratios pair Raft with etcd and ZAB with ZooKeeper, per size and kind, over successful trials only', () => {
  const ratios = failoverRatios([
    report('ballot-raft', 3, 'kill', [100, 120, 140, null]),
    report('etcd', 3, 'kill', [200, 240, 280]),
    report('ballot-raft', 3, 'pause', [300, 300]),
    report('etcd', 5, 'pause', [300]), // another size: no pair
    report('ballot-zab', 5, 'graceful', [150, 150, 150]),
    report('zookeeper', 5, 'graceful', [300, 300]),
    report('ballot-bully', 3, 'kill', [10]), // compared with nothing
  ]);
  assert.deepEqual(ratios.map((r) => [r.label, r.nodes, r.kind, r.trials, r.median.estimate]), [
    ['Raft ÷ etcd', 3, 'kill', [3, 3], 0.5],
    ['ZAB ÷ ZooKeeper', 5, 'graceful', [3, 2], 0.5],
  ]);
  // Constant samples on both sides: the interval is the point itself.
  assert.deepEqual([ratios[1]!.median.low, ratios[1]!.median.high, ratios[1]!.p99.low, ratios[1]!.p99.high], [0.5, 0.5, 0.5, 0.5]);
  const kill = ratios[0]!;
  assert.ok(kill.median.low <= 0.5 && kill.median.high >= 0.5 && kill.median.low >= 100 / 280 && kill.median.high <= 140 / 200);
});

test('ratios are reproducible: the same samples give the same interval, each ratio from its own stream', () => {
  const a = [160, 170, 180, 190, 200, 210, 400];
  const b = [180, 190, 200, 230, 260, 300, 460];
  assert.deepEqual(ratioInterval(a, b, 0.5, 'x'), ratioInterval(a, b, 0.5, 'x'));
  const many = Array.from({ length: 30 }, (_, i) => 150 + ((i * 37) % 101));
  const others = Array.from({ length: 30 }, (_, i) => 170 + ((i * 53) % 149));
  assert.notDeepEqual(ratioInterval(many, others, 0.5, 'x'), ratioInterval(many, others, 0.5, 'y'), 'another stream, other resamples');
  const text = formatRatios(failoverRatios([report('ballot-raft', 5, 'kill', a), report('etcd', 5, 'kill', b)]));
  assert.match(text, /^Raft ÷ etcd, N=5, kill: median 0\.83 \(95% CI \d\.\d\d–\d\.\d\d\), p99 0\.86 \(\d\.\d\d–\d\.\d\d\); 7 and 7 trials$/m);
  assert.equal(formatRatios([]), '');
});
