/**
 * One conformance suite, run against every algorithm (as hono runs one suite against every router):
 * the election properties any leader election here promises, each checked over many seeds. Every
 * algorithm of the registry (src/core/algorithms.ts) runs it, a fourth one too; one that does not
 * promise a case lists it in `skips` with the reason.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { leads } from '../core/driver.js';
import { algorithms } from '../core/algorithms.js';
import type { AlgorithmName } from '../core/algorithms.js';
import type { Algorithm, AnyAlgorithm, Message, NodeId } from '../core/types.js';
import { createRun, simulate, type SimResult } from './simulation.js';
import { TestNet } from '../core/testnet.js';

type CaseName =
  | 'cold start elects one leader that every node follows'
  | 'cold start on the test network elects one leader'
  | 'after the leader crashes, another is agreed within a bound'
  | 'at most one leader per term, under random faults'
  | 'terms never go backwards on any node, across crashes'
  | 'no invariant fails under random faults, and the cluster converges once they stop'
  | 'a partitioned minority cannot elect a leader'
  | 'a partitioned minority elects its own leader (split brain)'
  | 'a crashed and restarted node rejoins and follows the agreed leader'
  | 'observers never lead';

/** The cases each algorithm does not promise, with the reason. */
const skips: Record<AlgorithmName, Partial<Record<CaseName, string>>> = {
  bully: {
    'a partitioned minority cannot elect a leader':
      'Bully has no quorum: each side of a partition elects its own coordinator (the documented split brain, checked by the next case)',
    'observers never lead': 'Bully has no non-voting members (createBully rejects observers)',
  },
  raft: { 'a partitioned minority elects its own leader (split brain)': 'Raft needs a majority of voters to elect (§5.2)' },
  zab: { 'a partitioned minority elects its own leader (split brain)': 'ZAB needs a quorum of voters to establish a leader' },
};

const SEEDS = 60;
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);

/** 1 and 2 are cut off from 3, 4 and 5 from 2 s to 6 s. */
function minorityPartition(algorithm: AnyAlgorithm, seed: number): SimResult {
  const result = simulate({
    algorithm,
    nodes: 5,
    seed,
    schedule: [{ atMs: 2000, do: 'partition', groups: [[1, 2]] }, { atMs: 6000, do: 'heal' }],
    durationMs: 9000,
  });
  noViolations(result, 'minority partition');
  return result;
}

function noViolations(result: SimResult, what: string): void {
  assert.deepEqual(result.violations, [], `${what}, seed ${result.seed}: replay with ballot sim --seed ${result.seed}`);
}

/** The leader every final live node names, else null. */
function agreedAtEnd(result: SimResult): NodeId | null {
  const live = result.final.filter((f) => f.up);
  const leader = live[0]?.leader ?? null;
  return leader !== null && live.every((f) => f.leader === leader) ? leader : null;
}

const cases: Record<CaseName, (algorithm: AnyAlgorithm) => void> = {
  'cold start elects one leader that every node follows': (algorithm) => {
    for (const seed of seeds) {
      const result = simulate({ algorithm, nodes: 5, seed, scenario: 'cold-start', durationMs: 5000 });
      noViolations(result, 'cold start');
      const first = result.elections[0];
      assert.ok(first, `seed ${seed}: an election ended`);
      assert.ok(first.endMs <= 3000, `seed ${seed}: elected by ${first.endMs} ms`);
      assert.equal(agreedAtEnd(result), first.leader, `seed ${seed}: every node follows the leader`);
    }
  },

  'cold start on the test network elects one leader': (algorithm) => {
    for (const seed of seeds.slice(0, 20)) {
      const net = new TestNet({ algorithm: algorithm as Algorithm<Message, unknown>, voters: 5, latencyMs: 1 + (seed % 3) });
      net.runUntilTrue(() => net.agreedLeader() !== null, 5000);
      assert.equal(net.leaders().length, 1, `seed ${seed}: one node believes it leads`);
      assert.deepEqual(net.sendViolations, []);
    }
  },

  'after the leader crashes, another is agreed within a bound': (algorithm) => {
    const boundMs = 10 * algorithm.defaultTiming.electionTimeoutMaxMs;
    for (const seed of seeds) {
      const result = simulate({ algorithm, nodes: 5, seed, scenario: 'leader-crash', durationMs: 8000 });
      noViolations(result, 'leader crash');
      const crashed = result.final.find((f) => !f.up);
      assert.ok(crashed, `seed ${seed}: the leader was crashed`);
      const failover = result.elections.find((e) => e.startMs >= 2000);
      assert.ok(failover, `seed ${seed}: an election after the crash ended`);
      assert.notEqual(failover.leader, crashed.node);
      assert.ok(failover.endMs - failover.startMs <= boundMs, `seed ${seed}: failover took ${failover.endMs - failover.startMs} ms`);
    }
  },

  'at most one leader per term, under random faults': (algorithm) => {
    for (const seed of seeds) {
      const result = simulate({ algorithm, nodes: 3 + (seed % 3) * 2, seed, scenario: 'random', loss: 0.01, duplicate: 0.01 });
      // From the leader records themselves, not only the simulator's own checker.
      const leaderOfTerm = new Map<number, NodeId>();
      for (const { node, term } of result.leaders) {
        const holder = leaderOfTerm.get(term);
        assert.ok(holder === undefined || holder === node, `seed ${seed}: nodes ${holder} and ${node} both led term ${term}`);
        leaderOfTerm.set(term, node);
      }
      assert.deepEqual(result.violations.filter((v) => v.invariant === 'election-safety'), [], `seed ${seed}`);
    }
  },

  'terms never go backwards on any node, across crashes': (algorithm) => {
    for (const seed of seeds.slice(0, 30)) {
      const run = createRun({ algorithm, nodes: 5, seed, scenario: 'random' });
      const highest = new Map<NodeId, number>();
      for (let t = 0; t <= run.durationMs; t += 25) {
        run.stepUntil(t);
        for (const view of run.snapshot().nodes) {
          assert.ok(view.term >= (highest.get(view.node) ?? 0), `seed ${seed}, ${t} ms: node ${view.node} went back to term ${view.term}`);
          highest.set(view.node, view.term);
        }
      }
      assert.deepEqual(run.finish().violations.filter((v) => v.invariant === 'term-monotonic'), [], `seed ${seed}`);
    }
  },

  'no invariant fails under random faults, and the cluster converges once they stop': (algorithm) => {
    for (const seed of seeds) {
      const result = simulate({ algorithm, nodes: 3 + (seed % 3) * 2, seed, scenario: 'random' });
      noViolations(result, 'random nemesis'); // includes convergence, checked at the end
      assert.notEqual(agreedAtEnd(result), null, `seed ${seed}: one leader at the end`);
    }
  },

  'a partitioned minority cannot elect a leader': (algorithm) => {
    for (const seed of seeds) {
      const result = minorityPartition(algorithm, seed);
      const minorityLeaders = result.leaders.filter((l) => l.atMs > 2000 && l.atMs < 6000 && l.node <= 2);
      assert.deepEqual(minorityLeaders, [], `seed ${seed}: the minority elected`);
    }
  },

  'a partitioned minority elects its own leader (split brain)': (algorithm) => {
    for (const seed of seeds) {
      const result = minorityPartition(algorithm, seed);
      assert.ok(result.leaders.some((l) => l.atMs > 2000 && l.atMs < 6000 && l.node === 2), `seed ${seed}: 2 led its side`);
      assert.ok(result.dualLeaderMs > 0, `seed ${seed}: two leaders at once`);
      assert.equal(agreedAtEnd(result), 5, `seed ${seed}: one leader again after the heal`);
    }
  },

  'a crashed and restarted node rejoins and follows the agreed leader': (algorithm) => {
    for (const seed of seeds) {
      const result = simulate({
        algorithm,
        nodes: 5,
        seed,
        schedule: [{ atMs: 2000, do: 'crash', node: 1 }, { atMs: 4000, do: 'restart', node: 1 }],
        durationMs: 8000,
      });
      noViolations(result, 'crash and restart');
      const one = result.final.find((f) => f.node === 1)!;
      assert.ok(one.up, `seed ${seed}: node 1 is up`);
      assert.equal(one.leader, agreedAtEnd(result), `seed ${seed}: node 1 follows the agreed leader`);
      assert.notEqual(one.leader, null);
    }
  },

  'observers never lead': (algorithm) => {
    for (const seed of seeds) {
      const result = simulate({ algorithm, nodes: 3, observers: 2, seed, scenario: 'random' });
      noViolations(result, 'observers');
      assert.deepEqual(result.leaders.filter((l) => l.node > 3), [], `seed ${seed}: an observer led`);
      for (const f of result.final.filter((f) => f.node > 3 && f.up)) assert.ok(!leads({ id: f.node, role: f.role, leader: f.leader, term: f.term }));
    }
  },
};

for (const [name, algorithm] of Object.entries(algorithms) as [AlgorithmName, AnyAlgorithm][]) {
  describe(`conformance: ${name}`, () => {
    for (const [caseName, run] of Object.entries(cases) as [CaseName, (algorithm: AnyAlgorithm) => void][]) {
      const skip = skips[name][caseName];
      test(caseName, skip ? { skip } : {}, () => run(algorithm));
    }
  });
}
