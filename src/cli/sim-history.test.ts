/** `ballot sim --history` by term (issue 11): `1=1:3+2:2`, what each algorithm makes of it, and bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raft } from '../core/raft/index.js';
import { makeZxid, zab } from '../core/zab/index.js';
import { bully } from '../core/bully/index.js';
import { simulate } from '../sim/simulation.js';
import { UsageError } from './args.js';
import { parseSimArgs } from './sim.js';

const parse = (...argv: string[]) => {
  const command = parseSimArgs(['--algorithm', 'raft', ...argv]);
  assert.notEqual(command, 'help');
  return command === 'help' ? undefined : command.options.history;
};

test('--history 1=1:3+2:2 is three entries of term 1, then two of term 2; 2=3 keeps its meaning', () => {
  const history = parse('--history', '1=1:3+2:2,2=3');
  assert.deepEqual(history?.get(1), [{ term: 1, entries: 3 }, { term: 2, entries: 2 }]);
  assert.equal(history?.get(2), 3);
  assert.deepEqual(raft.initialDurable(history!.get(1)!), { currentTerm: 2, votedFor: null, log: [{ term: 1 }, { term: 1 }, { term: 1 }, { term: 2 }, { term: 2 }] });
  assert.deepEqual(raft.initialDurable(3), { currentTerm: 1, votedFor: null, log: [{ term: 1 }, { term: 1 }, { term: 1 }] });
  // ZAB: the counter restarts in each epoch, so the last zxid is (newest epoch, its entries).
  assert.deepEqual(zab.initialDurable(history!.get(1)!), { acceptedEpoch: 2, currentEpoch: 2, lastZxid: makeZxid(2, 2) });
  assert.deepEqual(zab.initialDurable(3), { acceptedEpoch: 1, currentEpoch: 1, lastZxid: makeZxid(1, 3) });
  assert.deepEqual(bully.initialDurable(history!.get(1)!), { generation: 0 });
});

test('--history rejects terms that do not increase, unreadable runs and unknown ids with one line', () => {
  for (const bad of ['1=2:3+1:2', '1=2:3+2:1', '1=x:3', '1=1:3+', '1=0:3', '9=1:1']) {
    assert.throws(() => parse('--history', bad), (error: unknown) => error instanceof UsageError && !error.message.includes('\n'), bad);
  }
});

test('§5.4.1 with several terms: a majority holding a newer last term elects one of its own first', () => {
  const newer = [{ term: 1, entries: 2 }, { term: 2, entries: 1 }];
  const older = [{ term: 1, entries: 4 }];
  const history = new Map([[1, newer], [2, newer], [3, newer], [4, older], [5, older]]);
  for (let seed = 1; seed <= 20; seed++) {
    const result = simulate({ algorithm: raft, nodes: 5, seed, scenario: 'leader-crash', history });
    assert.deepEqual(result.violations, []);
    // The first reign only: that leader then replicates its log (§5.3), 4 and 5 catch up, and after the
    // crash either may lead.
    const [first] = result.leaders;
    assert.ok(first !== undefined && first.node <= 3, `seed ${seed}: node ${first?.node} (older log) led first`);
  }
});

test('leaders[] lists every reign: a Bully coordinator re-declaring itself under a new generation is recorded', () => {
  // The example: node 5 led generation 36 in `final`, but leaders[] used to stop at term 1.
  const result = simulate({ algorithm: bully, nodes: 5, seed: 2, scenario: 'random' });
  const last = result.leaders[result.leaders.length - 1]!;
  const final = result.final.find((f) => f.node === 5)!;
  assert.equal(final.leader, 5);
  assert.deepEqual({ node: last.node, term: last.term }, { node: 5, term: final.term });
  assert.deepEqual(result.violations, []);
});
