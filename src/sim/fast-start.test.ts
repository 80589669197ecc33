/**
 * Raft's fast start in the simulator (docs/algorithms/raft.md, "Fast start"). The safety claim: a node of
 * durable term 0 has never acknowledged a heartbeat nor granted a vote, so skipping its quiet period
 * cannot let a rival be elected while a lease rests on it. The checkers say whether that holds: lease
 * safety (src/sim/checkers/lease-safety.ts) and every other invariant, over the invariant sweep's
 * random-nemesis runs and over staggered starts (crashed at 0, restarted at random moments: the real
 * cold start, where processes come up one after another) followed by leader crashes, partitions,
 * pauses and clock drift. The simulator never reports established connections ('peer-up'), so the
 * early campaign itself is not exercised here (core-tests/raft/fast-start.test.ts and the real-process
 * test are); elections are safe whenever they start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, defaultRaftOptions, raft } from '../core/raft/index.js';
import type { RaftDurable } from '../core/raft/messages.js';
import type { AnyAlgorithm } from '../core/types.js';
import { Prng } from '../core/prng.js';
import type { Action } from './schedule.js';
import { simulate, type SimOptions, type SimResult } from './simulation.js';
import { sweepOptions } from './sweep.js';

const fastRaft = createRaft({ ...defaultRaftOptions, fastStart: true });

/** What a run did (its result without the algorithm's name and variant). */
const behaviour = (result: SimResult): string => JSON.stringify([result.leaders, result.elections, result.messages, result.final, result.violations]);

/** Staggered start, then faults aimed at leases: what a fresh node without a quiet period meets first. */
function staggeredStart(seed: number): SimOptions {
  const random = new Prng(seed, 'fast-start-schedule');
  const nodes = 3 + random.int(5);
  const schedule: Action[] = [];
  for (let node = 1; node <= nodes; node++) {
    if (!random.chance(0.6)) continue;
    schedule.push({ atMs: 0, do: 'crash', node }, { atMs: Math.round(random.next() * 400), do: 'restart', node });
  }
  const crashAt = 300 + Math.round(random.next() * 1200);
  schedule.push({ atMs: crashAt, do: 'crash', node: 'leader' });
  schedule.push({ atMs: crashAt + Math.round(random.next() * 300), do: 'restart', node: 'all' });
  const isolateAt = crashAt + 400 + Math.round(random.next() * 800);
  schedule.push({ atMs: isolateAt, do: 'isolate', node: 'leader' }, { atMs: isolateAt + 300 + Math.round(random.next() * 600), do: 'heal' });
  schedule.push({ atMs: Math.round(random.next() * 3000), do: 'pause', node: 1 + random.int(nodes), forMs: 50 + Math.round(random.next() * 300) });
  schedule.push({ atMs: 0, do: 'drift', node: 1 + random.int(nodes), rate: 1 + (random.next() * 2 - 1) * defaultRaftOptions.maxClockDrift });
  schedule.sort((a, b) => a.atMs - b.atMs);
  return { algorithm: fastRaft, nodes, seed, schedule, scheduleName: 'staggered-start', durationMs: 4000 };
}

test('fast start on: the invariant sweep and staggered starts break no invariant, lease safety included', () => {
  const violations: string[] = [];
  let differs = 0;
  for (let seed = 1; seed <= 100; seed++) {
    for (const options of [sweepOptions(fastRaft, seed), staggeredStart(seed)]) {
      const result = simulate(options);
      for (const v of result.violations) violations.push(`${options.scheduleName ?? 'sweep'} seed ${seed}: ${v.invariant}: ${v.detail}`);
      // The same run with fast start off: the sweep must exercise the option, not only the default core.
      const off = simulate({ ...options, algorithm: raft });
      if (behaviour(off) !== behaviour(result)) differs++;
    }
  }
  assert.deepEqual(violations, []);
  assert.ok(differs >= 20, `fast start changed ${differs} of 200 runs: too few to exercise it`);
});

/**
 * Forgetful voters: a leader's lease rests on the acknowledgements of r1 and r2; c stopped hearing the
 * leader `cutMs` earlier, so it campaigns soon. r1 and r2 crash and restart (still cut off from the
 * leader): with their quiet period they refuse c until T_min after their restart, after the lease has
 * ended; without it they elect c while the old leader still holds its lease.
 */
function forgetfulVoters(algorithm: AnyAlgorithm, seed: number, cutMs: number): SimResult {
  const T = 1000 + seed * 7;
  const first = simulate({ algorithm, nodes: 5, seed, durationMs: T });
  const leader = first.leaders.at(-1)!.node;
  const [c, r1, r2] = [1, 2, 3, 4, 5].filter((id) => id !== leader) as [number, number, number];
  const schedule: Action[] = [
    { atMs: T - cutMs, do: 'cut', from: leader, to: c },
    { atMs: T, do: 'cut', from: leader, to: r1 },
    { atMs: T, do: 'cut', from: leader, to: r2 },
    { atMs: T + 1, do: 'crash', node: r1 },
    { atMs: T + 1, do: 'crash', node: r2 },
    { atMs: T + 2, do: 'restart', node: r1 },
    { atMs: T + 2, do: 'restart', node: r2 },
    { atMs: T + 1000, do: 'heal' },
  ];
  return simulate({ algorithm, nodes: 5, seed, schedule, scheduleName: 'forgetful-voters', durationMs: T + 2000 });
}

test('the lease checker catches a mutant that skips the quiet period after every restart, not only at term 0', () => {
  const forgetsAlways: AnyAlgorithm = {
    ...fastRaft,
    create(config, durable, random, now) {
      const node = fastRaft.create(config, durable as RaftDurable, random, now);
      // The broken rule: no quiet, whatever the term (the quiet period is kept by src/core/raft/promises.ts).
      (node as unknown as { promises: { quietUntil: number } }).promises.quietUntil = now;
      return node;
    },
  };
  const leaseBroken = (algorithm: AnyAlgorithm): number => {
    let runs = 0;
    for (const cutMs of [100, 150, 200]) {
      for (let seed = 1; seed <= 40; seed++) if (forgetfulVoters(algorithm, seed, cutMs).violations.some((v) => v.invariant === 'lease-safety')) runs++;
    }
    return runs;
  };
  assert.ok(leaseBroken(forgetsAlways) >= 1, 'the mutant overlaps leases in some run');
  assert.equal(leaseBroken(fastRaft), 0, 'fast start (no quiet only at term 0) never does');
});
