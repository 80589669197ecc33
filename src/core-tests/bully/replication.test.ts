/**
 * Bully's primary–backup replication (src/core/bully/bully.ts, docs/algorithms/bully.md "Replication"):
 * the coordinator acknowledges at once and copies asynchronously; backups apply in order; a new
 * coordinator's log wins, so a split brain loses what the losing side acknowledged; snapshots and
 * restarts replay the log through the replication events of src/core/types.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId, ReplicationEvent } from '../../core/types.js';
import { bully, type BullyDurable, type BullyMessage } from '../../core/bully/index.js';
import { TestNet } from '../../core/testnet.js';

function cluster(): TestNet<BullyMessage, BullyDurable> {
  return new TestNet({ algorithm: bully, voters: 5, latencyMs: 1 });
}

/** The replication events `id` reported from `since` (an index into `net.events`) on. */
function replication(net: TestNet<BullyMessage, BullyDurable>, id: NodeId, since = 0): ReplicationEvent[] {
  const found: ReplicationEvent[] = [];
  for (const { node, event } of net.events.slice(since)) {
    if (node !== id || event.type !== 'core') continue;
    const core = event.event;
    if (core.type === 'proposed' || core.type === 'committed' || core.type === 'snapshot-installed' || core.type === 'read-ready' || core.type === 'request-refused') found.push(core);
  }
  return found;
}

const commands = (durable: BullyDurable | undefined): string[] => (durable?.log ?? []).map((entry) => entry.command);

function propose(net: TestNet<BullyMessage, BullyDurable>, id: NodeId, request: number, command: string): void {
  net.driver(id).step(net.now, { type: 'propose', id: request, command });
}

test('the coordinator acknowledges a write at once, before any copy exists; backups apply the copy in order', () => {
  const net = cluster();
  assert.equal(net.runUntilAgreed(), 5);
  const mark = net.events.length;
  propose(net, 5, 1, 'a');
  // In the same step: accepted at index 1 of its generation, and committed (applied) — nothing has left yet.
  const generation = net.status(5).term;
  assert.deepEqual(replication(net, 5, mark), [
    { type: 'proposed', id: 1, index: 1, term: generation },
    { type: 'committed', index: 1, term: generation, command: 'a' },
  ]);
  assert.deepEqual(replication(net, 1, mark), []);
  propose(net, 5, 2, 'b');
  net.run(10);
  for (const id of [1, 2, 3, 4]) {
    assert.deepEqual(replication(net, id, mark).map((e) => (e.type === 'committed' ? `${e.index}:${e.command}` : e.type)), ['1:a', '2:b'], `node ${id}`);
    assert.deepEqual(commands(net.durable.get(id)), ['a', 'b'], `node ${id}'s durable log`);
  }
  // A backup refuses and names the coordinator; a read on the coordinator is ready at its last index.
  const before = net.events.length;
  propose(net, 2, 3, 'c');
  net.driver(5).step(net.now, { type: 'read', id: 4 });
  assert.deepEqual(replication(net, 2, before), [{ type: 'request-refused', id: 3, leader: 5 }]);
  assert.deepEqual(replication(net, 5, before), [{ type: 'read-ready', id: 4, index: 2 }]);
});

test('split brain: both coordinators acknowledge; after the heal the higher id\'s log wins and the other side\'s write is lost', () => {
  const net = cluster();
  net.runUntilAgreed();
  net.isolate(5);
  net.run(1000);
  assert.ok(net.leaders().includes(4) && net.leaders().includes(5), `two coordinators: ${net.leaders().join(',')}`);
  const mark = net.events.length;
  propose(net, 5, 1, 'from-5');
  propose(net, 4, 1, 'from-4');
  assert.ok(replication(net, 4, mark).some((e) => e.type === 'committed' && e.command === 'from-4'), '4 acknowledged its write');
  net.heal();
  net.run(2000);
  assert.equal(net.agreedLeader(), 5);
  for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(commands(net.durable.get(id)), ['from-5'], `node ${id} holds 5's log`);
  // 4 replaced its state with 5's: the empty snapshot (5 never compacted), then 5's entry.
  const after = replication(net, 4, mark).filter((e) => e.type === 'snapshot-installed' || e.type === 'committed');
  assert.deepEqual(after.slice(-2).map((e) => e.type), ['snapshot-installed', 'committed']);
  assert.deepEqual(after.at(-2), { type: 'snapshot-installed', index: 0, term: 0, snapshot: '' });
});

test('compaction: a restart replays the snapshot and the entries after it; a backup behind the snapshot gets it', () => {
  const net = cluster();
  net.runUntilAgreed();
  net.crash(1);
  for (let i = 1; i <= 3; i++) propose(net, 5, i, `c${i}`);
  net.driver(5).step(net.now, { type: 'compact', index: 2, snapshot: 'S2' });
  const durable = net.durable.get(5)!;
  assert.deepEqual(durable.snapshot, { index: 2, term: net.status(5).term, data: 'S2' });
  assert.deepEqual(commands(durable), ['c3']);
  // Node 1 comes back behind the snapshot: the coordinator's heartbeat shows it, and it takes the snapshot.
  const mark = net.events.length;
  net.restart(1);
  net.run(1000);
  const seen = replication(net, 1, mark).filter((e) => e.type === 'snapshot-installed' || e.type === 'committed');
  assert.deepEqual(seen.map((e) => (e.type === 'committed' ? `${e.index}:${e.command}` : `snapshot ${e.index} ${e.snapshot}`)), ['snapshot 2 S2', '3:c3']);
  // The coordinator restarts: its own snapshot first, then the entries after it.
  const before = net.events.length;
  net.crash(5);
  net.restart(5);
  assert.deepEqual(replication(net, 5, before).slice(0, 2).map((e) => e.type === 'committed' ? `${e.index}:${e.command}` : e.type), ['snapshot-installed', '3:c3']);
});

test('a durable file from before replication (generation only) still starts, and writes no log until it has one', () => {
  const net = new TestNet({ algorithm: bully, voters: 3, latencyMs: 1 });
  net.runUntilAgreed();
  for (const id of [1, 2, 3]) assert.deepEqual(Object.keys(net.durable.get(id)!), ['generation'], `node ${id}`);
  const old = bully.create({ id: 2, voters: [1, 2, 3], observers: [], timing: bully.defaultTiming }, { generation: 3 }, { next: () => 0.5 }, 0);
  assert.deepEqual(old.takeOutput().events, []);
  assert.equal(old.status().term, 3);
});
