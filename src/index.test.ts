import { test } from 'node:test';
import assert from 'node:assert/strict';

// The package imports itself by name through package.json's "exports" (Node's self-reference), so this
// checks what a user of `npm install ballot` gets, not the source tree.
test("import 'ballot' gives the public API of every layer", async () => {
  const ballot = await import('ballot');
  const core = await import('ballot/core');
  const sim = await import('ballot/sim');
  const runtime = await import('ballot/runtime');
  for (const name of ['raft', 'bully', 'zab', 'algorithms', 'quantile', 'summarize', 'agreedLeader', 'majority'] as const) assert.equal(ballot[name], core[name], name);
  for (const name of ['simulate', 'createRun', 'parseSchedule', 'scenarioNames', 'Prng'] as const) assert.equal(ballot[name], sim[name], name);
  for (const name of ['startNode', 'ConfigError', 'StorageError', 'jsonLogger'] as const) assert.equal(ballot[name], runtime[name], name);
  assert.equal(typeof ballot.simulate, 'function');
  const result = ballot.simulate({ algorithm: ballot.raft, nodes: 3, seed: 1, durationMs: 2000 });
  assert.equal(ballot.agreedLeader(result.final.map((f) => ({ id: f.node, leader: f.leader, term: f.term, up: f.up })))?.leader, result.final.find((f) => f.role === 'leader')?.node);
});
