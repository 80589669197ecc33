/**
 * The convergence checker holds a cluster to its bound, not just to "eventually": a Raft whose election
 * timeouts are 25 times too long still agrees before the run ends, and must be flagged for agreeing too
 * late; the correct core, on the same seeds, is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft } from '../../core/raft/index.js';
import type { AnyAlgorithm } from '../../core/types.js';
import { mutants, withMutant } from '../../testing/mutants.js';
import { simulate } from '../simulation.js';
import { convergenceBoundMs } from '../checkers.js';

// The default timing (150–300 ms election timeouts): the bound is 3 s.
const BOUND_MS = convergenceBoundMs({ heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 });

const slow = mutants.find((m) => m.name === 'raft-slow-election-timeout')!;
const run = (seed: number) => simulate({ algorithm: raft as unknown as AnyAlgorithm, nodes: 5, seed, scenario: 'cold-start', durationMs: 10_000 });

test('a cluster that agrees only after the bound is flagged, with how late it was; the correct core is not', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const broken = withMutant(slow, () => run(seed));
    const agreedAt = broken.elections[0]?.endMs;
    assert.ok(agreedAt !== undefined && agreedAt < 10_000, `seed ${seed}: the slow core still agrees before the end`);
    assert.ok(agreedAt > BOUND_MS, `seed ${seed}: agreed at ${agreedAt}, within the bound`);
    assert.deepEqual(
      broken.violations.map((v) => v.invariant),
      ['convergence'],
      `seed ${seed}: ${JSON.stringify(broken.violations)}`,
    );
    assert.match(broken.violations[0]!.detail, /^agreed on leader \d+ only [\d.]+ ms after the start \(bound 3000 ms\)$/);
    assert.deepEqual(run(seed).violations, [], `seed ${seed}: the correct core`);
  }
});
