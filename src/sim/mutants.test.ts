/**
 * The mutation catalog against the CI sweep (issue 11): every broken core (src/testing/mutants.ts) is
 * caught by the checker meant to catch it, and the correct cores pass the same sweep with no violation.
 * `npm run mutants` counts each mutant's catches over more seeds (docs/invariants.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { algorithms } from '../core/algorithms.js';
import { bullyStable } from '../core/bully/index.js';
import type { AnyAlgorithm } from '../core/types.js';
import { bullyAsConsensus, mutants, replicationMutants, withMutant } from '../testing/mutants.js';
import { mutantSweepOptions, replicationProofRuns, sweep, sweepRuns } from './sweep.js';
import { DEFAULT_KV_RATE } from './workload.js';

const SEEDS = 150;
/** Runs of the sweep with key-value clients (no targeted runs), each a few times dearer than an election run. */
const KV_SEEDS = 100;
const kv = { rate: DEFAULT_KV_RATE };
/** Runs of the sweep with the membership nemesis and spare nodes (the targeted schedules too). */
const MEMBERSHIP_SEEDS = 150;

const correct: [string, AnyAlgorithm][] = [...Object.entries(algorithms), ['bully --bully-mode stable', bullyStable as unknown as AnyAlgorithm]];

for (const [name, algorithm] of correct) {
  test(`the correct ${name} core passes the sweep (${SEEDS} random-nemesis runs and the targeted schedules) with no violation`, () => {
    const report = sweep(algorithm, SEEDS);
    const first = report.firstFailure;
    assert.equal(report.failed, 0, first ? `seed ${first.options.seed} (${first.options.scheduleName ?? first.options.scenario}, ${first.options.nodes} nodes): ${JSON.stringify(first.result.violations[0])}` : '');
  });
}

for (const [name, algorithm] of correct.filter(([, algorithm]) => algorithm.membershipChange)) {
  test(`the correct ${name} core passes ${MEMBERSHIP_SEEDS} random-nemesis runs with membership changes and spares (and the targeted schedules) with no violation`, () => {
    const report = sweep(algorithm, MEMBERSHIP_SEEDS, { membership: {} });
    const first = report.firstFailure;
    assert.equal(report.failed, 0, first ? `seed ${first.options.seed} (${first.options.nodes} nodes, ${first.options.spares ?? 0} spares): ${JSON.stringify(first.result.violations[0])}` : '');
    assert.ok(report.membership!.committed > MEMBERSHIP_SEEDS, `the configuration changed (${JSON.stringify(report.membership)})`);
  });
}

for (const [name, algorithm] of correct.filter(([, algorithm]) => algorithm.replication === 'consensus')) {
  test(`the correct ${name} core passes ${KV_SEEDS} random-nemesis runs with key-value clients, with no violation`, () => {
    const report = sweep(algorithm, KV_SEEDS, { targeted: false, workload: kv });
    const first = report.firstFailure;
    assert.equal(report.failed, 0, first ? `seed ${first.options.seed} (${first.options.nodes} nodes): ${JSON.stringify(first.result.violations[0])}` : '');
    assert.ok(report.kv!.acked > KV_SEEDS * 50, 'the clients wrote');
  });
}

for (const mutant of mutants.filter((m) => m.workload === 'kv')) {
  test(`mutant ${mutant.name} (${mutant.rule}) is caught by ${mutant.caughtBy} when clients write`, () => {
    const report = withMutant(mutant, () =>
      sweep(mutant.algorithm, KV_SEEDS, { targeted: false, workload: kv, stopWhen: (result) => result.violations.some((v) => v.invariant === mutant.caughtBy) }),
    );
    assert.ok((report.caughtBy.get(mutant.caughtBy) ?? 0) > 0, `not caught by ${mutant.caughtBy} in ${report.runs} runs with clients (caught by: ${[...report.caughtBy.keys()].join(', ') || 'nothing'})`);
  });
}

for (const mutant of mutants) {
  const caughtBy = mutant.membershipSweep?.caughtBy;
  if (caughtBy === undefined) continue;
  test(`mutant ${mutant.name} (${mutant.rule}) is caught by ${caughtBy} in the sweep with membership changes`, () => {
    const report = withMutant(mutant, () =>
      sweep(mutant.algorithm, MEMBERSHIP_SEEDS, { ...mutantSweepOptions(mutant), stopWhen: (result) => result.violations.some((v) => v.invariant === caughtBy) }),
    );
    assert.ok((report.caughtBy.get(caughtBy) ?? 0) > 0, `not caught by ${caughtBy} in ${report.runs} runs with membership changes (caught by: ${[...report.caughtBy.keys()].join(', ') || 'nothing'})`);
  });
}

for (const mutant of mutants.filter((m) => m.workload === undefined)) {
  const { scenario } = mutant;
  if (scenario) {
    test(`mutant ${mutant.name} (${mutant.rule}) is caught by ${mutant.caughtBy} in its scenario, which the correct core passes`, () => {
      assert.deepEqual(scenario(), [], 'the correct core');
      assert.ok(withMutant(mutant, scenario).length > 0, `not caught by ${mutant.caughtBy}`);
    });
    continue;
  }
  test(`mutant ${mutant.name} (${mutant.rule}) is caught by ${mutant.caughtBy}`, () => {
    const report = withMutant(mutant, () =>
      sweep(mutant.algorithm, SEEDS, { stopWhen: (result) => result.violations.some((v) => v.invariant === mutant.caughtBy) }),
    );
    assert.ok((report.caughtBy.get(mutant.caughtBy) ?? 0) > 0, `not caught by ${mutant.caughtBy} in ${report.runs} runs (caught by: ${[...report.caughtBy.keys()].join(', ') || 'nothing'})`);
  });
}

/** The log checkers' proof runs (src/sim/sweep.ts): key-value clients, one follower bounce. */
const PROOF_SEEDS = 20;
const proofRuns = replicationProofRuns(bullyAsConsensus, PROOF_SEEDS, { rate: DEFAULT_KV_RATE });

test(`Bully's replication, declared consensus, keeps the promise in the log checkers' ${PROOF_SEEDS} proof runs (no failover, no split brain)`, () => {
  const report = sweepRuns(proofRuns, { withKv: true });
  assert.equal(report.failed, 0, JSON.stringify(report.firstFailure?.result.violations[0]));
  assert.ok(report.kv!.acked > PROOF_SEEDS * 100, 'the clients wrote');
});

for (const mutant of replicationMutants) {
  test(`replication mutant ${mutant.name} (${mutant.rule}) is caught by ${mutant.caughtBy} in the proof runs`, () => {
    const report = withMutant(mutant, () => sweepRuns(proofRuns, { stopWhen: (result) => result.violations.some((v) => v.invariant === mutant.caughtBy) }));
    assert.ok((report.caughtBy.get(mutant.caughtBy) ?? 0) > 0, `not caught by ${mutant.caughtBy} in ${report.runs} runs (caught by: ${[...report.caughtBy.keys()].join(', ') || 'nothing'})`);
  });
}

test('a mutant is undone after its sweep: the core behaves correctly again', () => {
  const mutant = mutants.find((m) => m.name === 'raft-vote-before-durable')!;
  withMutant(mutant, () => assert.ok(sweep(mutant.algorithm, 1, { targeted: false }).failed > 0));
  assert.equal(sweep(mutant.algorithm, 5, { targeted: false }).failed, 0);
});
