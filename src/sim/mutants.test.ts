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
import { mutants, withMutant } from '../testing/mutants.js';
import { proposalRun } from '../testing/proposal-sweep.js';
import { sweep } from './sweep.js';

const SEEDS = 150;
/** Runs with clients proposing (src/testing/proposal-sweep.ts), each a few times dearer than an election run. */
const PROPOSAL_SEEDS = 120;

const correct: [string, AnyAlgorithm][] = [...Object.entries(algorithms), ['bully --bully-mode stable', bullyStable as unknown as AnyAlgorithm]];

for (const [name, algorithm] of correct) {
  test(`the correct ${name} core passes the sweep (${SEEDS} random-nemesis runs and the targeted schedules) with no violation`, () => {
    const report = sweep(algorithm, SEEDS);
    const first = report.firstFailure;
    assert.equal(report.failed, 0, first ? `seed ${first.options.seed} (${first.options.scheduleName ?? first.options.scenario}, ${first.options.nodes} nodes): ${JSON.stringify(first.result.violations[0])}` : '');
  });
}

for (const [name, algorithm] of correct.filter(([, algorithm]) => algorithm.replication === 'consensus')) {
  test(`the correct ${name} core passes ${PROPOSAL_SEEDS} random-nemesis runs with clients proposing, with no violation`, () => {
    for (let seed = 1; seed <= PROPOSAL_SEEDS; seed++) {
      const run = proposalRun(algorithm, seed);
      assert.deepEqual(run.violations, [], `seed ${seed}`);
    }
  });
}

for (const mutant of mutants.filter((m) => m.workload === 'proposals')) {
  test(`mutant ${mutant.name} (${mutant.rule}) is caught by ${mutant.caughtBy} when clients propose`, () => {
    const caught = withMutant(mutant, () => {
      for (let seed = 1; seed <= PROPOSAL_SEEDS; seed++) {
        if (proposalRun(mutant.algorithm, seed).violations.some((v) => v.startsWith(`${mutant.caughtBy}:`))) return seed;
      }
      return null;
    });
    assert.notEqual(caught, null, `not caught by ${mutant.caughtBy} in ${PROPOSAL_SEEDS} runs`);
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

test('a mutant is undone after its sweep: the core behaves correctly again', () => {
  const mutant = mutants.find((m) => m.name === 'raft-vote-before-durable')!;
  withMutant(mutant, () => assert.ok(sweep(mutant.algorithm, 1, { targeted: false }).failed > 0));
  assert.equal(sweep(mutant.algorithm, 5, { targeted: false }).failed, 0);
});
