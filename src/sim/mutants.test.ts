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
import { sweep } from './sweep.js';

const SEEDS = 150;

const correct: [string, AnyAlgorithm][] = [...Object.entries(algorithms), ['bully --bully-mode stable', bullyStable as unknown as AnyAlgorithm]];

for (const [name, algorithm] of correct) {
  test(`the correct ${name} core passes the sweep (${SEEDS} random-nemesis runs and the targeted schedules) with no violation`, () => {
    const report = sweep(algorithm, SEEDS);
    const first = report.firstFailure;
    assert.equal(report.failed, 0, first ? `seed ${first.options.seed} (${first.options.scheduleName ?? first.options.scenario}, ${first.options.nodes} nodes): ${JSON.stringify(first.result.violations[0])}` : '');
  });
}

for (const mutant of mutants) {
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
