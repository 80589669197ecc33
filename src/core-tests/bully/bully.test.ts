/**
 * Unit tests of the Bully core (src/core/bully), kept in src/core-tests because src/core may not import node:test
 * (the purity rules of eslint.config.js and check-layers forbid node:* there, tests included).
 *
 * Transcript style: nodes are driven by hand (zero-latency FIFO delivery, time advanced to the
 * next deadline only when nothing is in flight), and each test reads like the walk-through it checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DriverEvent } from '../../core/driver.js';
import type { NodeId, Random, Timing } from '../../core/types.js';
import { createBully, nextGeneration, type BullyDurable, type BullyMessage, type BullyMode } from '../../core/bully/index.js';
import { TestNet, type Sent } from '../../core/testnet.js';

const timing: Timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };

/** A deterministic Random for the detection timeouts (a simple LCG; the values do not matter here). */
function lcg(seed: number): Random {
  let state = seed >>> 0;
  return { next: () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 0x100000000) };
}

/**
 * A hand-driven cluster on the test network (src/core/testnet.ts): the test decides who ticks when;
 * messages are delivered in send order at the instant they are sent (latency 0).
 */
class Cluster extends TestNet<BullyMessage, BullyDurable> {
  readonly ids: NodeId[];
  /** Where `counts` and `eventsOf` start (moved by `resetCounts()`). */
  private sentMark = 0;
  private eventMark = 0;

  constructor(n: number, mode: BullyMode = 'preempt') {
    super({ algorithm: createBully({ mode }), voters: n, timing, random: lcg });
    this.ids = this.voters;
  }

  /** Messages in flight, in delivery order. */
  get queue(): Sent<BullyMessage>[] {
    return this.pending();
  }

  /** Election messages and heartbeats sent, by type, since the last `resetCounts()` (replication's are not counted). */
  get counts(): Record<'Election' | 'Alive' | 'Victory' | 'Heartbeat', number> {
    const counts = { Election: 0, Alive: 0, Victory: 0, Heartbeat: 0 };
    for (const { message } of this.sent.slice(this.sentMark)) if (message.type in counts) counts[message.type as keyof typeof counts]++;
    return counts;
  }

  /** The driver events of `id` since the last `resetCounts()`. */
  eventsOf(id: NodeId): DriverEvent[] {
    return this.events.slice(this.eventMark).filter((e) => e.node === id).map((e) => e.event);
  }

  resetCounts(): void {
    this.sentMark = this.sent.length;
    this.eventMark = this.events.length;
  }

  electionMessages(): number {
    const counts = this.counts;
    return counts.Election + counts.Alive + counts.Victory;
  }
}

/** A cold-started cluster of `n` following its highest id, with counters reset. */
function settled(n: number, mode: BullyMode = 'preempt'): Cluster {
  const cluster = new Cluster(n, mode);
  assert.equal(cluster.runUntilAgreed(), n);
  cluster.resetCounts();
  return cluster;
}

test('cold start: the highest id declares itself at once and every node follows it, generation 1', () => {
  const cluster = new Cluster(5);
  assert.equal(cluster.runUntilAgreed(), 5);
  assert.equal(cluster.now, 0, 'no node waited: 5 knows no id above its own');
  for (const id of cluster.ids) {
    assert.deepEqual(cluster.status(id), { id, role: id === 5 ? 'leader' : 'follower', leader: 5, term: 1 });
  }
});

test('seed 004: five nodes, leader 5 crashes, 4 detects it, becomes leader, and every live node follows 4', () => {
  const cluster = settled(5);
  cluster.crash(5);
  // "节点 4 检测到 Leader 5 挂了": 4's heartbeat timer runs out first.
  cluster.tick(4);
  // 4 has the highest id among those it believes alive (5 is the one it just lost): Victory at once.
  assert.deepEqual(cluster.status(4), { id: 4, role: 'leader', leader: 4, term: 2 });
  assert.deepEqual(
    cluster.queue.map((m) => `${m.from}->${m.to} ${m.message.type}`),
    ['4->1 Victory', '4->2 Victory', '4->3 Victory'],
  );
  cluster.deliverAll();
  // "其他节点收到消息,更新自己的 Leader 为 4".
  for (const id of [1, 2, 3]) assert.deepEqual(cluster.status(id), { id, role: 'follower', leader: 4, term: 2 });
  assert.equal(cluster.agreedLeader(), 4);
  assert.deepEqual(cluster.eventsOf(4).flatMap((e) => (e.type === 'became-leader' ? [e.term] : [])), [2], 'became leader once, of generation 2');
});

test('seed 004, another detector: 2 notices first, the election climbs the ids, and 4 still wins', () => {
  const cluster = settled(5);
  cluster.crash(5);
  cluster.tick(2);
  assert.equal(cluster.status(2).role, 'electing');
  assert.equal(cluster.runUntilAgreed(), 4);
  for (const id of [1, 2, 3]) assert.deepEqual(cluster.status(id), { id, role: 'follower', leader: 4, term: 2 });
});

for (const n of [5, 9]) {
  test(`message cost, n = ${n}: the highest live id detecting the failure sends n-2 Victory messages and nothing else`, () => {
    const cluster = settled(n);
    cluster.crash(n);
    cluster.tick(n - 1);
    assert.equal(cluster.runUntilAgreed(), n - 1);
    assert.deepEqual(cluster.counts, { Election: 0, Alive: 0, Victory: n - 2, Heartbeat: 0 });
  });

  test(`message cost, n = ${n}: the lowest id detecting the failure causes (n-2)(n+1) messages, O(n^2)`, () => {
    const cluster = settled(n);
    cluster.crash(n);
    cluster.tick(1);
    assert.equal(cluster.runUntilAgreed(), n - 1);
    // Node 1 asks 2..n-1 (n-2 Elections; n is the coordinator it lost). Each k in 2..n-1 answers the
    // k-1 lower ids with Alive and asks the n-k ids above it; n-1 hears no Alive within T and sends
    // Victory to the n-2 ids below it.
    const triangle = ((n - 2) * (n - 1)) / 2;
    assert.deepEqual(cluster.counts, { Election: n - 2 + triangle, Alive: triangle, Victory: n - 2, Heartbeat: 0 });
    assert.equal(cluster.electionMessages(), (n - 2) * (n + 1)); // 18 for n = 5, 70 for n = 9
  });
}

test('T: with no Alive within T the asker declares Victory; the wait is the heartbeat interval', () => {
  const cluster = settled(5);
  cluster.crash(5);
  cluster.crash(4);
  const detectedAt = cluster.node(3).nextDeadline();
  cluster.tick(3);
  assert.deepEqual(cluster.queue.map((m) => `${m.to} ${m.message.type}`), ['4 Election']); // 5 is the one it lost
  cluster.deliverAll();
  assert.equal(cluster.node(3).nextDeadline(), detectedAt + timing.heartbeatMs);
  cluster.tick(3);
  assert.deepEqual(cluster.status(3), { id: 3, role: 'leader', leader: 3, term: 3 });
});

test("T': an Alive came but no Victory within T' (the higher node died meanwhile): elect again", () => {
  const cluster = settled(5);
  cluster.crash(5);
  cluster.tick(3); // asks 4
  cluster.deliverAll(); // 4 answers Alive and starts its own election (asks 5, which is gone)
  assert.equal(cluster.status(3).role, 'electing');
  cluster.crash(4); // before its T runs out
  const waitUntil = cluster.node(3).nextDeadline();
  assert.equal(waitUntil, cluster.now + 2 * timing.heartbeatMs);
  cluster.tick(3, waitUntil); // T' over: a new election, this time asking 4 and 5 again
  assert.deepEqual(cluster.queue.map((m) => `${m.to} ${m.message.type}`), ['4 Election', '5 Election']);
  assert.equal(cluster.runUntilAgreed(), 3);
});

test('a coordinator answers an Election with Alive and its Victory, and stays coordinator', () => {
  const cluster = settled(5);
  cluster.node(2).step(cluster.now, { type: 'message', from: 1, message: { type: 'Election', generation: 1 } });
  cluster.node(5).step(cluster.now, { type: 'message', from: 1, message: { type: 'Election', generation: 1 } });
  const out5 = cluster.node(5).takeOutput();
  assert.deepEqual(out5.messages, [
    { to: 1, message: { type: 'Alive', generation: 1 } },
    { to: 1, message: { type: 'Victory', generation: 1 } },
  ]);
  assert.equal(cluster.status(5).role, 'leader');
  // Preempt mode: a follower answers a lower id with Alive and starts its own election (Garcia-Molina).
  const out2 = cluster.node(2).takeOutput();
  assert.deepEqual(out2.messages.map((m) => `${m.to} ${m.message.type}`), ['1 Alive', '3 Election', '4 Election', '5 Election']);
  assert.equal(cluster.status(2).role, 'electing');
});

test('the generation is durable before the Victory leaves, and a restarted coordinator never reuses one', () => {
  const cluster = settled(5);
  const victoryBatch = cluster.batches.find((b) => b.sent.some((m) => m.message.type === 'Victory'))!;
  assert.deepEqual(victoryBatch.persist, { generation: 1 }, 'persisted in the same batch, before the send');
  assert.deepEqual(cluster.durable.get(5), { generation: 1 });
});

test('preempt (default): a restarted higher id bullies the live coordinator, above a generation it never saw', () => {
  const cluster = settled(5);
  cluster.crash(5);
  cluster.tick(4);
  assert.equal(cluster.runUntilAgreed(), 4); // generation 2
  cluster.start(5); // its durable generation is still 1: it never heard of 2
  cluster.tick(5);
  // It takes over at once with the smallest generation of its own above 1: 6 (5 owns 1, 6, 11 ...).
  assert.deepEqual(cluster.status(5), { id: 5, role: 'leader', leader: 5, term: 6 });
  assert.equal(cluster.runUntilAgreed(), 5);
  for (const id of [1, 2, 3, 4]) assert.deepEqual(cluster.status(id), { id, role: 'follower', leader: 5, term: 6 });
  assert.ok(cluster.eventsOf(4).some((e) => e.type === 'lost-leadership'));
});

test('preempt: a coordinator behind a restarted node learns the newer generation and declares above it', () => {
  // 5 led generation 1; while it was down 4 led 2, 3 led 3, 4 led 7 (say): 5 comes back knowing only 1.
  const cluster = settled(5);
  cluster.crash(5);
  cluster.tick(4);
  cluster.runUntilAgreed();
  cluster.node(4).step(cluster.now, { type: 'message', from: 3, message: { type: 'Election', generation: 9 } }); // 4 hears of 9
  cluster.runUntilAgreed();
  assert.equal(cluster.status(4).term, 12, '4 re-declared above 9 with a number of its own');
  cluster.start(5);
  cluster.tick(5); // declares 6, which is behind 12
  assert.equal(cluster.status(5).term, 6);
  assert.equal(cluster.runUntilAgreed(), 5);
  assert.equal(cluster.status(5).term, 16, 'the stale claim was challenged, and 5 declared above 12');
  for (const id of [1, 2, 3, 4]) assert.deepEqual(cluster.status(id), { id, role: 'follower', leader: 5, term: 16 });
});

test('stable: a restarted higher id listens, hears the live coordinator, and follows it instead of taking over', () => {
  const cluster = settled(5, 'stable');
  cluster.crash(5);
  cluster.tick(4);
  assert.equal(cluster.runUntilAgreed(), 4);
  cluster.start(5);
  assert.equal(cluster.queue.length, 0, 'a stable node says nothing when it starts');
  assert.deepEqual(cluster.status(5), { id: 5, role: 'follower', leader: null, term: 1 });
  cluster.tick(4, cluster.now + timing.heartbeatMs); // 4's next heartbeat
  cluster.deliverAll();
  assert.deepEqual(cluster.status(5), { id: 5, role: 'follower', leader: 4, term: 2 });
  assert.equal(cluster.counts.Victory, 3, 'no Victory since 4 took over');
});

test('stable: a follower of a live coordinator answers an Election with Alive only; the coordinator answers the asker', () => {
  const cluster = settled(5, 'stable');
  cluster.node(3).step(cluster.now, { type: 'message', from: 1, message: { type: 'Election', generation: 1 } });
  assert.deepEqual(cluster.node(3).takeOutput().messages, [{ to: 1, message: { type: 'Alive', generation: 1 } }]);
  assert.deepEqual(cluster.status(3), { id: 3, role: 'follower', leader: 5, term: 1 });
});

test('split brain heals: a coordinator hearing a lower coordinator of a newer generation declares above it', () => {
  const cluster = settled(5);
  // The other side of a partition crowned 3 with generation 8 (3 owns 3, 8, 13 ...).
  cluster.node(5).step(cluster.now, { type: 'message', from: 3, message: { type: 'Heartbeat', generation: 8, lastIndex: 0, lastTerm: 0 } });
  const out = cluster.node(5).takeOutput();
  assert.deepEqual(out.persist, { generation: 11 });
  assert.deepEqual(out.messages.map((m) => `${m.to} ${m.message.type} ${m.message.generation}`), ['1 Victory 11', '2 Victory 11', '3 Victory 11', '4 Victory 11']);
  // Behind us, it is told alone (a broadcast per claim would let duplicated claims multiply).
  cluster.node(5).step(cluster.now, { type: 'message', from: 3, message: { type: 'Heartbeat', generation: 8, lastIndex: 0, lastTerm: 0 } });
  assert.deepEqual(cluster.node(5).takeOutput().messages, [{ to: 3, message: { type: 'Victory', generation: 11 } }]);
});

test('a follower of a live coordinator ignores a stale claim (regression: one-way cut storm, sweep seed 1094)', () => {
  const cluster = settled(5);
  cluster.tick(5, cluster.now + timing.heartbeatMs);
  cluster.deliverAll();
  // 2 follows 5 at generation 1; say it has seen generation 7 since. A claim of 4 at generation 2 is stale.
  cluster.node(2).step(cluster.now, { type: 'message', from: 1, message: { type: 'Alive', generation: 7 } });
  cluster.node(2).takeOutput();
  cluster.node(2).step(cluster.now, { type: 'message', from: 4, message: { type: 'Heartbeat', generation: 2, lastIndex: 0, lastTerm: 0 } });
  assert.deepEqual(cluster.node(2).takeOutput().messages, []);
  assert.deepEqual(cluster.status(2), { id: 2, role: 'follower', leader: 5, term: 7 });
});

test('a single node is its own coordinator at once', () => {
  const cluster = new Cluster(1);
  assert.equal(cluster.runUntilAgreed(), 1);
  assert.deepEqual(cluster.status(1), { id: 1, role: 'leader', leader: 1, term: 1 });
});

test('generations: the usual failover counts 1, 2, 3; members own disjoint numbers; each is the smallest above what was seen', () => {
  const five = [1, 2, 3, 4, 5];
  assert.deepEqual([nextGeneration(0, 5, five), nextGeneration(1, 4, five), nextGeneration(2, 3, five)], [1, 2, 3]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(1_000_000), fc.nat(), (n, seen, pick) => {
      const voters = Array.from({ length: n }, (_, i) => 3 * i + 2); // ids need not be 1..n
      const id = voters[pick % n]!;
      const g = nextGeneration(seen, id, voters);
      assert.ok(g > seen && g <= seen + n);
      // Nobody else ever owns g: another member's next number above g - 1 is never g.
      for (const other of voters) if (other !== id) assert.notEqual(nextGeneration(g - 1, other, voters), g);
      // Smallest: every number between seen and g belongs to someone else.
      for (let h = seen + 1; h < g; h++) assert.notEqual(nextGeneration(h - 1, id, voters), h);
    }),
  );
});

test('shapes: every message type and the durable state are described, and roles are the contract words', () => {
  const algorithm = createBully({ mode: 'preempt' });
  assert.deepEqual([...algorithm.messageTypes].sort(), Object.keys(algorithm.messageShapes).sort());
  // A fresh node's durable state has every required field; the log's fields are optional (absent until it replicates).
  const required = Object.entries(algorithm.durableShape).filter(([, shape]) => !(typeof shape === 'object' && 'optional' in shape)).map(([key]) => key);
  assert.deepEqual(required, Object.keys(algorithm.initialDurable(3)));
  assert.deepEqual([...algorithm.roles].sort(), ['electing', 'follower', 'leader']);
  assert.equal(algorithm.expectedLeader?.([2, 7, 4]), 7);
  assert.equal(createBully({ mode: 'stable' }).expectedLeader, undefined);
  assert.ok(algorithm.canElect(1, 9) && !algorithm.canElect(0, 9));
});
