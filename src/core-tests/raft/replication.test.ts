/**
 * Raft log replication (Ongaro & Ousterhout 2014, §5.3, §5.4.2), compaction (§7), ReadIndex reads
 * (thesis §6.4) and the transfer's catch-up (thesis §3.10), on five or three real RaftNodes hosted by
 * NodeDriver on the test network (src/core/testnet.ts). Every run is also read by the simulator's log
 * checker (log-agreement): committed entries agree across nodes, in order, once per incarnation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { raft } from '../../core/raft/index.js';
import {
  MAX_APPEND_CHARS,
  MAX_APPEND_ENTRIES,
  MAX_CHUNK_CHARS,
  MAX_COMMAND_CHARS,
  type LogEntry,
  type RaftDurable,
} from '../../core/raft/messages.js';
import { RaftNode, defaultRaftOptions } from '../../core/raft/raft.js';
import type { ElectionEvent, NodeConfig, NodeId, Random } from '../../core/types.js';
import { AckedDurable, LogAgreement } from '../../sim/checkers/replication.js';
import { Prng } from '../../core/prng.js';
import { TestNet } from '../../core/testnet.js';
import { figure8 } from '../../testing/raft-figure8.js';
import { mutants, withMutant } from '../../testing/mutants.js';
import { local, logAgreement, reported, type RaftNet } from '../../testing/raft-net.js';

function cluster(voters: number, durable: Record<NodeId, RaftDurable> = {}): RaftNet {
  const net: RaftNet = new TestNet({ algorithm: raft, voters, latencyMs: 1, create: (config, state, random, now) => new RaftNode(config, state, random, now) });
  for (const [id, state] of Object.entries(durable)) {
    net.crash(Number(id));
    net.durable.set(Number(id), state);
    net.start(Number(id));
  }
  return net;
}

const committed = (net: RaftNet, node: NodeId) => reported(net, node, 'committed').map(({ index, term, command }) => ({ index, term, command }));

const entries = (term: number, count: number, command = `t${term}`): LogEntry[] => Array.from({ length: count }, () => ({ term, command }));

describe('raft §5.3 log replication', () => {
  for (const voters of [3, 5]) {
    test(`${voters} nodes: every proposal is committed on every node, in order, after the leader's blank entry`, () => {
      const net = cluster(voters);
      const leader = net.runUntilAgreed();
      const term = net.status(leader).term;
      for (let i = 1; i <= 20; i++) local(net, leader, { type: 'propose', id: i, command: `put k ${i}` });
      const proposed = reported(net, leader, 'proposed');
      assert.deepEqual(proposed.map((p) => p.id), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(proposed.map((p) => p.index), Array.from({ length: 20 }, (_, i) => i + 2), 'index 1 is the blank entry');
      net.run(200);
      const expected = [{ index: 1, term, command: '' }, ...Array.from({ length: 20 }, (_, i) => ({ index: i + 2, term, command: `put k ${i + 1}` }))];
      for (const id of net.voters) assert.deepEqual(committed(net, id), expected, `node ${id}`);
      assert.deepEqual(logAgreement(net), []);
    });
  }

  test('a proposal is in the durable state of the same output as the AppendEntries that carry it (persist, then send)', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    const core = net.node(leader);
    core.step(net.now, { type: 'propose', id: 1, command: 'x' });
    const out = core.takeOutput();
    const term = net.status(leader).term;
    assert.deepEqual(out.persist?.log.at(-1), { term, command: 'x' });
    assert.deepEqual(
      out.messages.map((m) => m.message.type === 'AppendEntries' && m.message.entries),
      [[{ term, command: 'x' }], [{ term, command: 'x' }]],
    );
    assert.deepEqual(out.events, [{ type: 'proposed', id: 1, index: 2, term }]);
  });

  test('a follower and a handing-over leader refuse proposals, naming the leader they know (none while handing over)', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    const follower = net.voters.find((id) => id !== leader)!;
    local(net, follower, { type: 'propose', id: 7, command: 'x' });
    assert.deepEqual(reported(net, follower, 'request-refused'), [{ type: 'request-refused', id: 7, leader }]);
    local(net, leader, { type: 'transfer-leadership', to: follower });
    local(net, leader, { type: 'propose', id: 8, command: 'x' });
    assert.deepEqual(reported(net, leader, 'request-refused'), [{ type: 'request-refused', id: 8, leader: null }]);
    assert.deepEqual(reported(net, leader, 'proposed'), []);
  });

  test('a command longer than MAX_COMMAND_CHARS is refused; AppendEntries are bounded in entries and characters', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    local(net, leader, { type: 'propose', id: 1, command: 'x'.repeat(MAX_COMMAND_CHARS + 1) });
    assert.equal(reported(net, leader, 'request-refused').length, 1);
    const lagging = net.voters.find((id) => id !== leader)!;
    net.isolate(lagging);
    for (let i = 0; i < 3 * MAX_APPEND_ENTRIES; i++) local(net, leader, { type: 'propose', id: 10 + i, command: i % 50 === 0 ? 'y'.repeat(MAX_COMMAND_CHARS) : 'z'.repeat(100) });
    net.run(100);
    net.heal();
    const since = net.now;
    net.run(500);
    const batches = net.sentOfType('AppendEntries', since).filter((s) => s.to === lagging && s.message.entries.length > 0);
    assert.ok(batches.length >= 3, 'the lagging follower is caught up in several messages');
    for (const { message } of batches) {
      assert.ok(message.entries.length <= MAX_APPEND_ENTRIES);
      const chars = message.entries.reduce((sum, e) => sum + (e.command?.length ?? 0), 0);
      assert.ok(message.entries.length === 1 || chars <= MAX_APPEND_CHARS, `${chars} characters in ${message.entries.length} entries`);
    }
    assert.deepEqual(committed(net, lagging), committed(net, leader));
    assert.deepEqual(logAgreement(net), []);
  });

  test('divergent follower logs are truncated and overwritten by the leader (§5.3)', () => {
    // Node 4 led term 2 and reached only node 5; node 1 led term 3 and reached 2 and 3 (Figure 7's kind
    // of divergence). The next leader is one of 1..3 (their last term is newer): it overwrites 4 and 5.
    const newer: RaftDurable = { currentTerm: 3, votedFor: 1, log: [...entries(1, 1), ...entries(3, 1)] };
    const older: RaftDurable = { currentTerm: 2, votedFor: 4, log: [...entries(1, 1), ...entries(2, 3)] };
    const net = cluster(5, { 1: newer, 2: newer, 3: newer, 4: older, 5: older });
    const leader = net.runUntilAgreed();
    assert.ok(leader <= 3, `leader ${leader}`);
    const term = net.status(leader).term;
    net.run(300);
    const expected = [{ term: 1, command: 't1' }, { term: 3, command: 't3' }, { term, command: '' }];
    for (const id of net.voters) assert.deepEqual(net.durable.get(id)!.log, expected, `node ${id}`);
    for (const id of [4, 5]) assert.deepEqual(committed(net, id).map((c) => c.term), [1, 3, term], `node ${id} commits the leader's entries`);
    assert.deepEqual(logAgreement(net), []);
  });

  test('a follower refuses AppendEntries whose prevLogTerm does not match, with a hint that skips the conflicting term', () => {
    const config: NodeConfig = { id: 2, voters: [1, 2, 3], observers: [], timing: raft.defaultTiming };
    const fixed: Random = { next: () => 0 };
    const n = new RaftNode(config, { currentTerm: 2, votedFor: null, log: [...entries(1, 1), ...entries(2, 3)] }, fixed, 0, defaultRaftOptions);
    n.takeOutput();
    n.step(1, { type: 'message', from: 1, message: { type: 'AppendEntries', term: 3, prevLogIndex: 4, prevLogTerm: 3, entries: [{ term: 3, command: 'a' }], leaderCommit: 4, round: 1 } });
    const out = n.takeOutput();
    assert.deepEqual(out.messages.map((m) => m.message), [{ type: 'AppendEntriesResponse', term: 3, success: false, round: 1, matchIndex: 1 }]);
    assert.deepEqual(out.events.filter((e) => e.type === 'committed'), [], 'nothing committed past a failed check');
  });

  test('the raft-skip-log-check mutant accepts that AppendEntries, and log-agreement catches it', () => {
    const mutant = mutants.find((m) => m.name === 'raft-skip-log-check')!;
    const run = () => {
      const config: NodeConfig = { id: 2, voters: [1, 2, 3], observers: [], timing: raft.defaultTiming };
      const n = new RaftNode(config, { currentTerm: 2, votedFor: null, log: [...entries(1, 1), ...entries(2, 3)] }, { next: () => 0 }, 0);
      n.takeOutput();
      // The leader of term 3 holds [t1, t3, t3, t3] and commits all four.
      n.step(1, { type: 'message', from: 1, message: { type: 'AppendEntries', term: 3, prevLogIndex: 3, prevLogTerm: 3, entries: [{ term: 3, command: 't3' }], leaderCommit: 4, round: 1 } });
      const checker = new LogAgreement();
      const leaderCommits: ElectionEvent[] = [1, 3, 3, 3].map((term, i) => ({ type: 'committed', index: i + 1, term, command: `t${term}` }));
      const found: string[] = [];
      for (const event of leaderCommits) found.push(...checker.observe({ type: 'driver', node: 1, event: { type: 'core', atMs: 1, event } }));
      for (const event of n.takeOutput().events) found.push(...checker.observe({ type: 'driver', node: 2, event: { type: 'core', atMs: 1, event } }));
      return found;
    };
    assert.deepEqual(run(), [], 'the correct core refuses it');
    assert.ok(withMutant(mutant, run).length > 0, 'the mutant commits its own term-2 entries at indexes 2 and 3');
  });
});

describe('raft §5.4.2 Figure 8: a leader commits an entry of an earlier term only with one of its own', () => {
  test('a majority holding the term-2 entries does not commit them; the next leader overwrites them, and all nodes agree', () => {
    const outcome = figure8();
    assert.equal(outcome.oldTermCommittedByCounting, false);
    assert.equal(outcome.secondLeader, 5);
    assert.deepEqual(outcome.durable.get(3)!.log.map((e) => e.term), [1, 3, 5], 'S3 lost the uncommitted term-2 entries to S5');
    assert.deepEqual(outcome.violations, []);
  });

  test('the raft-commit-previous-term mutant commits them by counting, and log-agreement catches the loss', () => {
    const mutant = mutants.find((m) => m.name === 'raft-commit-previous-term')!;
    const outcome = withMutant(mutant, figure8);
    assert.equal(outcome.oldTermCommittedByCounting, true);
    assert.ok(outcome.violations.some((v) => v.startsWith('index 2:')), outcome.violations.join('\n'));
  });
});

describe('raft §7 compaction and InstallSnapshot', () => {
  test('a follower behind the leader\'s snapshot gets it in chunks, installs it, and commits on from its index', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    const lagging = net.voters.find((id) => id !== leader)!;
    net.isolate(lagging);
    for (let i = 1; i <= 10; i++) local(net, leader, { type: 'propose', id: i, command: `c${i}` });
    net.run(100);
    const applied = committed(net, leader).at(-1)!.index;
    assert.equal(applied, 11);
    // A snapshot larger than one chunk: three InstallSnapshot messages.
    const data = 's'.repeat(2 * MAX_CHUNK_CHARS + 5);
    local(net, leader, { type: 'compact', index: applied, snapshot: data });
    assert.deepEqual(net.durable.get(leader)!.log, [], 'the entries it covers are dropped');
    assert.deepEqual(net.durable.get(leader)!.snapshot, { index: 11, term: net.status(leader).term, data });
    local(net, leader, { type: 'propose', id: 11, command: 'after' });
    net.heal();
    net.run(500);
    const chunks = net.sentOfType('InstallSnapshot').filter((s) => s.to === lagging);
    assert.deepEqual([...new Set(chunks.map((c) => c.message.offset))], [0, MAX_CHUNK_CHARS, 2 * MAX_CHUNK_CHARS]);
    const installed = reported(net, lagging, 'snapshot-installed');
    assert.deepEqual(installed, [{ type: 'snapshot-installed', index: 11, term: net.status(leader).term, snapshot: data }]);
    const after = committed(net, lagging).filter((c) => c.index > 1);
    assert.deepEqual(after, [{ index: 12, term: net.status(leader).term, command: 'after' }], 'it commits on from the snapshot');
    assert.deepEqual(net.durable.get(lagging)!.snapshot?.index, 11);
    assert.deepEqual(logAgreement(net), []);
  });

  test('a node restarting from a durable snapshot reports it first, then commits from its index + 1', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    for (let i = 1; i <= 5; i++) local(net, leader, { type: 'propose', id: i, command: `c${i}` });
    net.run(200);
    const follower = net.voters.find((id) => id !== leader)!;
    local(net, follower, { type: 'compact', index: 4, snapshot: 'state@4' });
    const term = net.status(leader).term;
    assert.deepEqual(net.durable.get(follower)!.snapshot, { index: 4, term, data: 'state@4' });
    assert.equal(net.durable.get(follower)!.log.length, 2);
    net.crash(follower);
    const eventsBefore = net.events.length;
    net.start(follower);
    const first = net.events.slice(eventsBefore).find((e) => e.node === follower && e.event.type === 'core');
    assert.deepEqual(first?.event.type === 'core' ? first.event.event : null, { type: 'snapshot-installed', index: 4, term, snapshot: 'state@4' });
    net.run(300);
    const again = net.events.slice(eventsBefore).filter((e) => e.node === follower && e.event.type === 'core' && e.event.event.type === 'committed');
    assert.deepEqual(again.map((e) => (e.event.type === 'core' && e.event.event.type === 'committed' ? e.event.event.index : 0)), [5, 6]);
    assert.deepEqual(logAgreement(net, new Map([[eventsBefore, [follower]]])), []);
  });

  test('compaction is refused beyond what was reported committed, and a state file without commands or snapshot still loads', () => {
    const config: NodeConfig = { id: 1, voters: [1], observers: [], timing: raft.defaultTiming };
    const old = { currentTerm: 1, votedFor: 1, log: [{ term: 1 }, { term: 1 }] } as RaftDurable;
    const n = new RaftNode(config, old, { next: () => 0 }, 0);
    n.step(n.nextDeadline(), { type: 'tick' });
    const out = n.takeOutput();
    assert.deepEqual(
      out.events.filter((e) => e.type === 'committed'),
      [
        { type: 'committed', index: 1, term: 1, command: '' },
        { type: 'committed', index: 2, term: 1, command: '' },
        { type: 'committed', index: 3, term: 2, command: '' },
      ],
      'an entry without a command is the no-op',
    );
    n.step(1000, { type: 'compact', index: 4, snapshot: 'x' });
    assert.equal(n.takeOutput().persist, null, 'index 4 is not committed');
  });
});

describe('raft thesis §6.4 ReadIndex', () => {
  test('with the lease and its blank entry committed, a leader answers at once with its commitIndex', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    net.run(100);
    assert.equal(net.status(leader).lease, true);
    local(net, leader, { type: 'propose', id: 1, command: 'w' });
    net.run(20);
    local(net, leader, { type: 'read', id: 2 });
    assert.deepEqual(reported(net, leader, 'read-ready'), [{ type: 'read-ready', id: 2, index: 2 }]);
  });

  test('without a lease, a read waits for a heartbeat round sent after it, acknowledged by a quorum', () => {
    const net: RaftNet = new TestNet({
      algorithm: raft,
      voters: 3,
      latencyMs: 1,
      create: (config, state, random, now) => new RaftNode(config, state, random, now, { ...defaultRaftOptions, checkQuorum: false }),
    });
    const leader = net.runUntilAgreed();
    net.run(100);
    const round = (net.node(leader) as unknown as { round: number }).round;
    const since = net.now;
    local(net, leader, { type: 'read', id: 5 });
    assert.deepEqual(reported(net, leader, 'read-ready'), [], 'not before the round');
    net.run(10);
    assert.deepEqual(reported(net, leader, 'read-ready'), [{ type: 'read-ready', id: 5, index: 1 }]);
    const acks = net.sentOfType('AppendEntriesResponse', since).filter((s) => s.message.round === round + 1);
    assert.equal(acks.length, 2, 'a new round left at once, and both followers acknowledged it');

    // Cut off, the leader answers nothing (the others elect a leader of a newer term meanwhile); once it
    // hears of that term it steps down and refuses the read.
    net.isolate(leader);
    local(net, leader, { type: 'read', id: 6 });
    net.run(1000);
    assert.deepEqual(reported(net, leader, 'read-ready').map((r) => r.id), [5]);
    assert.deepEqual(reported(net, leader, 'request-refused'), []);
    net.heal();
    net.run(200);
    assert.deepEqual(reported(net, leader, 'read-ready').map((r) => r.id), [5]);
    assert.deepEqual(reported(net, leader, 'request-refused').map((r) => r.id), [6]);
  });

  test('a follower refuses a read naming the leader; a leader that steps down refuses the reads it held', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    const follower = net.voters.find((id) => id !== leader)!;
    local(net, follower, { type: 'read', id: 1 });
    assert.deepEqual(reported(net, follower, 'request-refused'), [{ type: 'request-refused', id: 1, leader }]);
    net.run(100);
    net.isolate(leader);
    net.run(400); // the lease lapses: CheckQuorum steps it down
    local(net, leader, { type: 'read', id: 2 });
    assert.deepEqual(reported(net, leader, 'read-ready'), []);
    assert.deepEqual(reported(net, leader, 'request-refused').map((r) => r.id), [2]);
  });

  test('a new leader answers no read before its blank entry is committed', () => {
    const net: RaftNet = new TestNet({ algorithm: raft, voters: 3, latencyMs: 1, create: (c, s, r, t) => new RaftNode(c, s, r, t) });
    net.runUntilTrue(() => net.leaders().length === 1);
    const leader = net.leaders()[0]!;
    // Just elected: nothing of its term is committed yet (its blank entry is in flight).
    local(net, leader, { type: 'read', id: 9 });
    assert.deepEqual(reported(net, leader, 'read-ready'), []);
    net.run(50);
    const ready = reported(net, leader, 'read-ready');
    assert.deepEqual(ready, [{ type: 'read-ready', id: 9, index: 1 }], 'answered once the blank entry is committed');
  });
});

describe('raft thesis §3.10: a transfer first brings the target up to date', () => {
  test('TimeoutNow leaves only once the target holds the whole log; the target then wins and keeps every entry', () => {
    const net = cluster(3);
    const leader = net.runUntilAgreed();
    const target = net.voters.find((id) => id !== leader)!;
    net.isolate(target);
    for (let i = 1; i <= 5; i++) local(net, leader, { type: 'propose', id: i, command: `c${i}` });
    net.run(50);
    net.heal();
    // Drop what is in flight to the target, so the transfer itself must catch it up.
    net.drop((m) => m.to === target);
    const since = net.now;
    local(net, leader, { type: 'transfer-leadership', to: target });
    assert.deepEqual(net.sentOfType('TimeoutNow', since), [], 'not before the target is caught up');
    net.runUntilTrue(() => net.sentOfType('TimeoutNow', since).length > 0, 1000);
    const [timeoutNow] = net.sentOfType('TimeoutNow', since);
    const caughtUp = net.sentOfType('AppendEntriesResponse', since).find((s) => s.from === target && s.message.success && s.message.matchIndex === 6);
    assert.ok(caughtUp && caughtUp.at <= timeoutNow!.at, 'the target acknowledged index 6 first');
    net.runUntilTrue(() => net.agreedLeader() === target, 1000);
    net.run(100);
    assert.deepEqual(committed(net, target).map((c) => c.command), ['', 'c1', 'c2', 'c3', 'c4', 'c5', '']);
    assert.deepEqual(logAgreement(net), []);
  });
});

/**
 * One seeded run on the test network: every 10 ms a random client proposes to (or reads from) a random
 * node, a node compacts at what it has applied, and faults come and go (crash, restart, isolate, cuts,
 * heal, transfers). Then the network heals and every node restarts. Returns the network and what the
 * simulator's log checkers (log-agreement, acked-durable) found over every event.
 */
function nemesisRun(seed: number): { readonly net: RaftNet; readonly found: readonly string[] } {
  const voters = seed % 2 === 0 ? 5 : 3;
  const net: RaftNet = new TestNet({
    algorithm: raft,
    voters,
    latencyMs: 1 + (seed % 3),
    random: (id) => new Prng(seed, `node:${id}`),
    create: (config, state, random, now) => new RaftNode(config, state, random, now),
  });
  const nemesis = new Prng(seed, 'nemesis');
  const crashes = new Map<number, NodeId>();
  const applied = new Map<NodeId, number>();
  let cursor = 0;
  const follow = () => {
    for (; cursor < net.events.length; cursor++) {
      const { node, event } = net.events[cursor]!;
      if (event.type !== 'core') continue;
      if (event.event.type === 'committed' || event.event.type === 'snapshot-installed') applied.set(node, event.event.index);
    }
  };
  const pick = (ids: readonly NodeId[]) => ids[nemesis.int(ids.length)]!;
  let id = 0;
  for (let t = 0; t < 6000; t += 10) {
    const up = net.voters.filter((n) => net.isUp(n));
    const down = net.voters.filter((n) => !net.isUp(n));
    const roll = nemesis.next();
    if (up.length > 0) {
      const node = pick(up);
      if (roll < 0.5) local(net, node, { type: 'propose', id: ++id, command: `w${id}${nemesis.chance(0.05) ? 'x'.repeat(3000) : ''}` });
      else if (roll < 0.6) local(net, node, { type: 'read', id: ++id });
      else if (roll < 0.63 && (applied.get(node) ?? 0) > 0) local(net, node, { type: 'compact', index: applied.get(node)!, snapshot: `state@${applied.get(node)}` });
      else if (roll < 0.64) local(net, node, { type: 'transfer-leadership', to: null });
    }
    const fault = nemesis.next();
    if (fault < 0.01 && up.length > voters - Math.floor((voters - 1) / 2)) {
      const victim = pick(up);
      crashes.set(net.events.length, victim);
      net.crash(victim);
      applied.delete(victim);
      follow();
      cursor = net.events.length;
    } else if (fault < 0.02 && down.length > 0) net.start(pick(down));
    else if (fault < 0.025 && up.length > 0) net.isolate(pick(up));
    else if (fault < 0.027 && up.length > 1) net.cut(pick(up), pick(up));
    else if (fault < 0.035) net.heal();
    net.run(10);
    follow();
  }
  net.heal();
  for (const node of net.voters) if (!net.isUp(node)) net.start(node);
  net.run(3000);
  const checkers = [new LogAgreement(), new AckedDurable()];
  const found: string[] = [];
  net.events.forEach(({ node, event }, position) => {
    const crashed = crashes.get(position);
    for (const checker of checkers) {
      if (crashed !== undefined) checker.observe({ type: 'crash', node: crashed, wasLeader: false });
      found.push(...checker.observe({ type: 'driver', node, event }));
    }
  });
  return { net, found };
}

describe('raft replication under a random nemesis, with proposals, reads, compaction and transfers', () => {
  test('80 seeds: committed entries agree, no acknowledged write is lost, and every node catches up', () => {
    const seen = { committedWrites: 0, installedBySnapshot: 0, readsReady: 0, timeoutNow: 0, truncations: 0 };
    for (let seed = 1; seed <= 80; seed++) {
      const { net, found } = nemesisRun(seed);
      assert.deepEqual(found, [], `seed ${seed}`);
      const leader = net.agreedLeader();
      assert.notEqual(leader, null, `seed ${seed}: a leader after the faults`);
      const last = net.node(leader!).status().term;
      const lastIndex = (n: NodeId) => {
        const durable = net.durable.get(n)!;
        return (durable.snapshot?.index ?? 0) + durable.log.length;
      };
      for (const node of net.voters) assert.equal(lastIndex(node), lastIndex(leader!), `seed ${seed}: node ${node} holds the leader's log (term ${last})`);
      for (const { event } of net.events) {
        if (event.type !== 'core') continue;
        if (event.event.type === 'committed' && event.event.command !== '') seen.committedWrites++;
        if (event.event.type === 'read-ready') seen.readsReady++;
      }
      seen.installedBySnapshot += net.sentOfType('InstallSnapshotResponse').filter((s) => s.message.done).length;
      seen.timeoutNow += net.sentOfType('TimeoutNow').length;
      seen.truncations += net.sentOfType('AppendEntriesResponse').filter((s) => !s.message.success && s.message.term > 0).length;
    }
    // The runs did exercise what they claim to.
    for (const [what, count] of Object.entries(seen)) assert.ok(count > 0, `${what}: ${count}`);
  });

  test('the same runs catch mutant raft-skip-log-check (raft-commit-previous-term needs Figure 8, staged above)', () => {
    const mutant = mutants.find((m) => m.name === 'raft-skip-log-check')!;
    let caught = 0;
    withMutant(mutant, () => {
      for (let seed = 1; seed <= 80 && caught === 0; seed++) {
        if (nemesisRun(seed).found.length > 0) caught = seed;
      }
    });
    assert.ok(caught > 0, 'caught in one of 80 seeds');
  });
});
