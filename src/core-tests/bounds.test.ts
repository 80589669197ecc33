/**
 * Bounds end to end in the cores (src/core/bounds.ts): a forged message with a huge term, generation,
 * round or epoch must leave the cluster electing, and a node at a ceiling must refuse to add past it.
 *
 * The forged messages are handed straight to the cores (no edge validation in between), inside the
 * deterministic simulator: each algorithm is wrapped so that chosen nodes receive a chosen message at a
 * chosen time, then the simulator crashes and restarts leaders and checks its invariants as usual.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { believable, increment, MAX_EPOCH, MAX_EPOCH_STEP, MAX_TERM, MAX_TERM_STEP } from '../core/bounds.js';
import { BullyNode } from '../core/bully/bully.js';
import { RaftNode } from '../core/raft/raft.js';
import { createRaft, defaultRaftOptions } from '../core/raft/index.js';
import type { AnyAlgorithm, AnyNode, ElectionEvent, Message, NodeConfig, NodeId } from '../core/types.js';
import { makeZxid } from '../core/zab/messages.js';
import { ZabNode } from '../core/zab/zab.js';
import { createRun } from '../sim/simulation.js';
import type { Action } from '../sim/schedule.js';

interface Forgery {
  readonly atMs: number;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly message: Message;
}

/**
 * The algorithm, except that each forgery reaches its node's core at its time (once), as if sent.
 * The node is wrapped in a Proxy that delivers due forgeries before any input (whichever input
 * methods the core exposes) and advances `nextDeadline` to the next forgery; all else passes through.
 */
function withForgeries(algorithm: AnyAlgorithm, forgeries: readonly Forgery[]): AnyAlgorithm {
  const pending = [...forgeries];
  return {
    ...algorithm,
    create(config, durable, random, now): AnyNode {
      const inner = algorithm.create(config, durable, random, now);
      // Every core class has this message door (RaftNode, BullyNode, ZabNode).
      const core = inner as unknown as { receive(now: number, from: NodeId, message: Message): void; nextDeadline(): number };
      const due = (): Forgery[] => pending.filter((f) => f.to === config.id);
      const deliver = (now: number): void => {
        for (const forgery of due()) {
          if (forgery.atMs > now) continue;
          pending.splice(pending.indexOf(forgery), 1);
          core.receive(now, forgery.from, forgery.message);
        }
      };
      const inputs = new Set<PropertyKey>(['receive', 'tick', 'step']);
      return new Proxy(inner, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (property === 'nextDeadline') return () => Math.min(core.nextDeadline(), ...due().map((f) => f.atMs));
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => unknown;
          if (!inputs.has(property)) return method.bind(target);
          return (now: number, ...rest: unknown[]) => {
            deliver(now);
            return method.call(target, now, ...rest);
          };
        },
      });
    },
  };
}

/** Crash the leader after the forgeries, restart everyone, crash the leader again: elections must go on. */
const schedule: Action[] = [
  { atMs: 2000, do: 'crash', node: 'leader' },
  { atMs: 3500, do: 'restart', node: 'all' },
  { atMs: 5000, do: 'crash', node: 'leader' },
];

function runForged(algorithm: AnyAlgorithm, forgeries: readonly Forgery[], seed = 1) {
  const run = createRun({ algorithm: withForgeries(algorithm, forgeries), nodes: 3, seed, schedule, durationMs: 8000 });
  run.stepUntil(8000);
  return run.finish();
}

/** The cluster elected a leader after the last crash, and every live node follows it. */
function assertStillElecting(result: ReturnType<typeof runForged>, label: string): void {
  assert.deepEqual(result.violations, [], `${label}: no invariant broken`);
  assert.ok(
    result.leaders.some((l) => l.atMs > 5000),
    `${label}: a leader was elected after the last crash (${JSON.stringify(result.leaders)})`,
  );
  const live = result.final.filter((f) => f.up);
  const leader = live[0]!.leader;
  assert.ok(leader !== null, `${label}: a leader at the end`);
  for (const f of live) assert.equal(f.leader, leader, `${label}: node ${f.node} follows the same leader`);
}

/**
 * When forged messages arrive: once the first leader is up, then all through the elections after the
 * leader crash (2 s) and the restart (3.5 s), when each phase of each algorithm listens to them.
 */
const forgeryTimes = [1000, 2000, 2050, 2100, 2150, 2200, 2250, 2300, 2400, 2500, 3500, 3550, 3600, 3650, 3700, 3800];

/** Forged messages from every member to every other member, at each of forgeryTimes. */
function fromEveryone(make: (to: NodeId) => Message[]): Forgery[] {
  const forgeries: Forgery[] = [];
  for (const atMs of forgeryTimes) {
    for (const to of [1, 2, 3]) {
      for (const from of [1, 2, 3]) {
        if (from !== to) for (const message of make(to)) forgeries.push({ atMs, to, from, message });
      }
    }
  }
  return forgeries;
}

const implausibleTerms = [MAX_TERM, Number.MAX_SAFE_INTEGER];

for (const term of implausibleTerms) {
  test(`raft: RequestVote and AppendEntries of term ${term} are ignored, and the cluster keeps electing`, () => {
    const result = runForged(
      algorithms.raft,
      fromEveryone(() => [
        { type: 'RequestVote', term, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 } as Message,
        { type: 'AppendEntries', term, leaderCommit: 0 } as Message,
      ]),
    );
    assertStillElecting(result, `term ${term}`);
    for (const f of result.final) assert.ok(f.term < MAX_TERM_STEP, `node ${f.node} kept a sane term (${f.term})`);
  });

  test(`bully: Victory frames of generation ${term} are ignored: one leader, generations unique and sane`, () => {
    const result = runForged(algorithms.bully, fromEveryone(() => [{ type: 'Victory', generation: term } as Message]));
    assertStillElecting(result, `generation ${term}`);
    for (const f of result.final) assert.ok(f.term < MAX_TERM_STEP, `node ${f.node} kept a sane generation (${f.term})`);
    const leaders = result.final.filter((f) => f.up && f.leader === f.node);
    assert.equal(leaders.length, 1, 'exactly one leader');
  });

  test(`zab: notifications of round ${term} are ignored, and the ensemble keeps electing`, () => {
    const result = runForged(
      algorithms.zab,
      fromEveryone(() => [{ type: 'Notification', leader: 3, zxid: 0, electionEpoch: term, peerEpoch: 0, state: 'looking' } as Message]),
    );
    assertStillElecting(result, `round ${term}`);
  });
}

for (const epoch of [MAX_EPOCH, Number.MAX_SAFE_INTEGER]) {
  test(`zab: epoch ${epoch} in every epoch-carrying message is ignored, and the ensemble keeps electing`, () => {
    const zxid = Math.min(makeZxid(epoch, 0), Number.MAX_SAFE_INTEGER);
    const result = runForged(
      algorithms.zab,
      fromEveryone((to) => [
        { type: 'Notification', leader: to, zxid, electionEpoch: 1, peerEpoch: epoch, state: 'leading' } as Message,
        { type: 'FollowerInfo', acceptedEpoch: epoch } as Message,
        { type: 'LeaderInfo', epoch } as Message,
        { type: 'NewLeader', epoch, zxid } as Message,
      ]),
    );
    assertStillElecting(result, `epoch ${epoch}`);
    for (const f of result.final) assert.ok(f.term < MAX_EPOCH_STEP, `node ${f.node} kept a sane epoch (${f.term})`);
  });
}

test('believable jumps are followed (the check drops only the implausible): the cluster adopts them and keeps electing', () => {
  // The paper's Raft: with CheckQuorum a node hearing its leader drops a RequestVote whole, term and all
  // (thesis §4.2.3), and with closed connections detected the cluster has a leader again before most of
  // the forgeries arrive.
  const paperRaft = createRaft({ ...defaultRaftOptions, preVote: false, checkQuorum: false });
  const raft = runForged(paperRaft, fromEveryone(() => [{ type: 'RequestVote', term: MAX_TERM_STEP, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 } as Message]));
  assertStillElecting(raft, 'raft +2^32');
  assert.ok(raft.final.every((f) => f.term >= MAX_TERM_STEP && f.term < 2 * MAX_TERM_STEP), JSON.stringify(raft.final));
  const bully = runForged(algorithms.bully, fromEveryone(() => [{ type: 'Victory', generation: MAX_TERM_STEP } as Message]));
  assertStillElecting(bully, 'bully +2^32');
  assert.ok(bully.final.every((f) => f.term >= MAX_TERM_STEP), JSON.stringify(bully.final));
  // Bully's fencing token: no two reigns share a generation, even after the jump.
  const reigns = bully.leaders.filter((l) => l.atMs > 1000).map((l) => `${l.term}`);
  const byTerm = new Map<string, Set<NodeId>>();
  for (const l of bully.leaders) byTerm.set(`${l.term}`, (byTerm.get(`${l.term}`) ?? new Set()).add(l.node));
  assert.ok(reigns.length > 0);
  for (const [term, nodes] of byTerm) assert.equal(nodes.size, 1, `generation ${term} led by one node only`);
  const zab = runForged(algorithms.zab, fromEveryone(() => [{ type: 'FollowerInfo', acceptedEpoch: MAX_EPOCH_STEP } as Message]));
  assertStillElecting(zab, 'zab +2^16');
  assert.ok(zab.final.some((f) => f.term > MAX_EPOCH_STEP), `a leader took an epoch above the promise (${JSON.stringify(zab.final)})`);
});

// ---- at the ceiling --------------------------------------------------------------------------------

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
const config = (id: NodeId, voters: NodeId[] = [1, 2, 3]): NodeConfig => ({ id, voters, observers: [], timing });
const fixed = { next: () => 0 };
const ceilingEvents = (events: readonly ElectionEvent[]) => events.filter((e) => e.type === 'ceiling-reached');

test('raft: a node at MAX_TERM refuses to campaign, persists nothing, and says so', () => {
  const node = new RaftNode(config(1), { currentTerm: MAX_TERM, votedFor: null, log: [] }, fixed, 0);
  for (let i = 0; i < 3; i++) {
    node.tick(node.nextDeadline());
    const out = node.takeOutput();
    assert.equal(out.persist, null, 'never persists a term past the ceiling');
    assert.equal(out.messages.length, 0, 'sends no RequestVote');
    assert.deepEqual(ceilingEvents(out.events), [{ type: 'ceiling-reached', counter: 'term', value: MAX_TERM }]);
    assert.equal(node.status().role, 'follower');
    assert.equal(node.status().term, MAX_TERM);
  }
  assert.ok(Number.isFinite(node.nextDeadline()), 'it tries again later (a leader of this term may still appear)');
});

test('raft: a term more than 2^32 ahead is ignored and reported; 2^32 ahead is followed', () => {
  const node = new RaftNode(config(1), { currentTerm: 5, votedFor: null, log: [] }, fixed, 0);
  node.takeOutput(); // what it reports at start (its configuration)
  node.receive(1, 2, { type: 'RequestVote', term: 5 + MAX_TERM_STEP + 1, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 });
  const out = node.takeOutput();
  assert.deepEqual(out.events, [{ type: 'message-ignored', counter: 'term', value: 5 + MAX_TERM_STEP + 1 }]);
  assert.equal(out.messages.length, 0);
  assert.equal(node.status().term, 5);
  node.receive(200, 2, { type: 'RequestVote', term: 5 + MAX_TERM_STEP, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 }); // after the minimum election timeout: a node that just started grants no vote (CheckQuorum)
  assert.equal(node.status().term, 5 + MAX_TERM_STEP);
});

test('bully: a node whose next generation would pass MAX_TERM refuses to lead, and says so', () => {
  const node = new BullyNode(config(3), { generation: MAX_TERM }, fixed, 0, { mode: 'preempt' });
  node.tick(0); // the highest id declares at once
  const out = node.takeOutput();
  assert.notEqual(node.status().role, 'leader');
  assert.equal(out.persist, null);
  assert.equal(out.messages.filter((m) => m.message.type === 'Victory').length, 0);
  assert.deepEqual(ceilingEvents(out.events), [{ type: 'ceiling-reached', counter: 'generation', value: MAX_TERM }]);
  node.tick(node.nextDeadline());
  assert.equal(ceilingEvents(node.takeOutput().events).length, 1, 'it tries again after a timeout, and reports again');
});

test('bully: a leader told of a generation that leaves it no number below MAX_TERM steps down', () => {
  const node = new BullyNode(config(3), { generation: MAX_TERM - MAX_TERM_STEP }, fixed, 0, { mode: 'preempt' });
  node.tick(0);
  node.takeOutput();
  assert.equal(node.status().role, 'leader');
  node.receive(1, 1, { type: 'Election', generation: MAX_TERM });
  const out = node.takeOutput();
  assert.notEqual(node.status().role, 'leader');
  assert.equal(node.status().leader, null, 'it no longer names itself leader');
  assert.equal(ceilingEvents(out.events).length, 1);
  assert.ok(node.status().term <= MAX_TERM);
});

test('zab: a leader whose new epoch would pass MAX_EPOCH refuses to propose it, and says so', () => {
  const node = new ZabNode(config(1, [1]), { acceptedEpoch: MAX_EPOCH, currentEpoch: MAX_EPOCH, lastZxid: makeZxid(MAX_EPOCH, 0) }, fixed, 0);
  const events: ElectionEvent[] = [];
  for (let now = 0; now < 2000; now = Math.max(now + 1, node.nextDeadline())) {
    node.tick(now);
    const out = node.takeOutput();
    events.push(...out.events);
    if (out.persist) assert.ok(out.persist.acceptedEpoch <= MAX_EPOCH && out.persist.currentEpoch <= MAX_EPOCH);
  }
  assert.notEqual(node.status().leader, 1, 'never established');
  assert.ok(ceilingEvents(events).length >= 1);
  assert.deepEqual(ceilingEvents(events)[0], { type: 'ceiling-reached', counter: 'epoch', value: MAX_EPOCH });
  assert.equal(node.durableState.acceptedEpoch, MAX_EPOCH);
});

test('zab: an epoch more than 2^16 above the accepted one is ignored and reported', () => {
  const node = new ZabNode(config(1), { acceptedEpoch: 3, currentEpoch: 3, lastZxid: makeZxid(3, 0) }, fixed, 0);
  node.takeOutput();
  node.receive(1, 2, { type: 'Notification', leader: 2, zxid: 0, electionEpoch: 1, peerEpoch: 3 + MAX_EPOCH_STEP + 1, state: 'leading' });
  assert.deepEqual(node.takeOutput().events, [{ type: 'message-ignored', counter: 'epoch', value: 3 + MAX_EPOCH_STEP + 1 }]);
  node.receive(2, 2, { type: 'Notification', leader: 2, zxid: 0, electionEpoch: 1 + MAX_TERM_STEP + 1, peerEpoch: 3, state: 'looking' });
  assert.deepEqual(node.takeOutput().events, [{ type: 'message-ignored', counter: 'round', value: 1 + MAX_TERM_STEP + 1 }]);
});

test('bounds helpers: believable steps and refusing increments, exact near the ceilings', () => {
  assert.equal(believable(10 + MAX_TERM_STEP, 10, MAX_TERM_STEP), true);
  assert.equal(believable(11 + MAX_TERM_STEP, 10, MAX_TERM_STEP), false);
  assert.equal(believable(0, MAX_TERM, MAX_TERM_STEP), true, 'behind is always believable');
  assert.equal(increment(MAX_TERM - 1, MAX_TERM), MAX_TERM);
  assert.equal(increment(MAX_TERM, MAX_TERM), null);
  assert.equal(increment(MAX_TERM - 2, MAX_TERM, 3), null);
  assert.equal(increment(MAX_EPOCH, MAX_EPOCH), null);
  assert.ok(Number.isSafeInteger(MAX_TERM + MAX_TERM_STEP), 'sums near the ceiling stay exact');
  assert.ok(Number.isSafeInteger(makeZxid(MAX_EPOCH, 2 ** 32 - 1)));
});
