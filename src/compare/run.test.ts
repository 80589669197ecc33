import { test } from 'node:test';
import assert from 'node:assert/strict';
import { algorithms } from '../core/algorithms.js';
import { raft } from '../core/raft/index.js';
import { simulate } from '../sim/simulation.js';
import { crashesTolerated, describeAlgorithm, runCompare, steadyStateTypes } from './run.js';

test('each algorithm declares the message types a settled cluster keeps sending, with and without clients writing', () => {
  for (const algorithm of Object.values(algorithms)) {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3]) {
      for (const workload of [undefined, { rate: 100 }]) {
        // Runs are prefix-stable: the longer run's extra messages are what the settled cluster sent.
        const options = { algorithm, nodes: 5, seed, ...(workload ? { workload } : {}) };
        const settled = simulate({ ...options, durationMs: 2000 }).messages.byType;
        const later = simulate({ ...options, durationMs: 5000 }).messages.byType;
        const sentWhileSettled = Object.keys(later).filter((type) => later[type]! > (settled[type] ?? 0));
        for (const type of sentWhileSettled) assert.ok((algorithm.heartbeatTypes as readonly string[]).includes(type), `${algorithm.name} seed ${seed}: ${type} is sent by a settled cluster`);
        for (const type of sentWhileSettled) seen.add(type);
      }
    }
    // Nothing declared that a settled cluster never sends (replication's messages: once clients write).
    // Raft's snapshots need a lagging follower past a compaction, ZAB's Inform an observer, and Bully's
    // SnapshotChunk a state too large for one Sync (over 40 KiB), which these runs never have.
    const declared = algorithm.heartbeatTypes.filter((type) => !type.startsWith('InstallSnapshot') && type !== 'Inform' && type !== 'SnapshotChunk');
    assert.deepEqual([...seen].sort(), [...declared].sort(), algorithm.name);
  }
});

test('Raft\'s steady-state traffic is the heartbeat and its answer', () => {
  assert.deepEqual(steadyStateTypes(raft), ['AppendEntries', 'AppendEntriesResponse', 'InstallSnapshot', 'InstallSnapshotResponse']);
  const info = describeAlgorithm('raft', { algorithms: ['raft'], sizes: [1, 2, 3, 4, 5, 6, 7], scenarios: ['cold-start'], trials: 1 });
  assert.deepEqual(info.electionTypes, ['RequestVote', 'RequestVoteResponse', 'PreVote', 'PreVoteResponse', 'TimeoutNow']);
  // A majority must survive: 3 and 4 nodes both survive one crash, 5 survives two (seed 000's comment).
  assert.deepEqual(info.faultsTolerated, { 1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3 });
  assert.equal(info.initialDurableBytes, JSON.stringify(raft.initialDurable(0)).length);
});

test('crashes tolerated come from canElect, so an algorithm that elects with anyone tolerates n − 1', () => {
  assert.equal(crashesTolerated({ canElect: (live) => live >= 1 }, 5), 4);
  assert.equal(crashesTolerated({ canElect: () => false }, 5), 0);
  assert.equal(crashesTolerated(raft, 9), 4);
});

test('Raft cold-start elections cost 4(n−1) election messages per round with PreVote (2(n−1), the textbook figure, per phase)', async () => {
  const result = await runCompare({ algorithms: ['raft'], sizes: [3, 5], scenarios: ['cold-start'], trials: 20 }, { jobs: 1 });
  for (const cell of result.cells) {
    assert.equal(cell.summary.electionMessagesPerCandidacy.p50, raft.textbookMessages!(cell.summary.nodes).value, `n=${cell.summary.nodes}`);
    assert.equal(cell.summary.electionMessagesPerCandidacy.p50, 4 * (cell.summary.nodes - 1), `n=${cell.summary.nodes}`);
    assert.equal(cell.summary.unfinished, 0);
    assert.equal(cell.summary.violations, 0);
  }
});

test('the result does not depend on the number of worker threads', async () => {
  const grid = { algorithms: ['raft'], sizes: [3, 4], scenarios: ['leader-crash', 'partition'] as const, trials: 45 };
  const progress: number[] = [];
  const one = await runCompare({ ...grid, scenarios: [...grid.scenarios] }, { jobs: 1 });
  const two = await runCompare({ ...grid, scenarios: [...grid.scenarios] }, { jobs: 2, onProgress: (done) => progress.push(done) });
  assert.deepEqual(two, one);
  assert.equal(one.runs, 2 * 2 * 45);
  assert.equal(progress.at(-1), one.runs);
  assert.ok(progress.every((d, i) => i === 0 || d > progress[i - 1]!), 'progress only moves forward');
  for (const cell of one.cells) assert.deepEqual(cell.trials.map((t) => t.seed), Array.from({ length: 45 }, (_, i) => i + 1));
});

test('the simulator extensions compare relies on: per-election counts by type, final durable size', async () => {
  const { simulate } = await import('../sim/simulation.js');
  for (const scenario of ['cold-start', 'leader-crash', 'partition', 'flapping'] as const) {
    const result = simulate({ algorithm: raft, nodes: 5, seed: 3, scenario });
    assert.ok(result.elections.length > 0, scenario);
    for (const e of result.elections) {
      assert.equal(Object.values(e.messagesByType).reduce((a, b) => a + b, 0), e.messages, scenario);
    }
    const totals: Record<string, number> = {};
    for (const e of result.elections) for (const [t, n] of Object.entries(e.messagesByType)) totals[t] = (totals[t] ?? 0) + n;
    for (const [t, n] of Object.entries(totals)) assert.ok(n <= result.messages.byType[t]!, `${scenario} ${t}`);
    // Raft keeps { currentTerm, votedFor, log }; an election-only run writes only the leaders' blank
    // entries (thesis §6.4), at most one per term.
    for (const f of result.final) {
      const empty = JSON.stringify({ currentTerm: f.term, votedFor: null, log: [] }).length;
      const blank = JSON.stringify({ term: f.term, command: '' }).length + 1;
      assert.ok(f.durableBytes >= empty && f.durableBytes <= empty + String(f.node).length + f.term * blank, `${scenario} node ${f.node}: ${f.durableBytes} bytes`);
    }
  }
});
