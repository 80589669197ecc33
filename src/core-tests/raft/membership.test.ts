/**
 * Raft's single-server membership changes (Ongaro's thesis §4.1–§4.2, §4.4), rule by rule on one
 * RaftNode driven by hand, then on five real RaftNodes hosted by NodeDriver on the test network
 * (src/core/testnet.ts), every run read by the simulator's log checker (log-agreement).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_TERM } from '../../core/bounds.js';
import { FRAME_BYTES, utf8Length } from '../../core/limits.js';
import { forceNewCluster, MAX_ADDRESS_CHARS, MAX_MEMBERS, raft } from '../../core/raft/index.js';
import { sameMembership } from '../../core/raft/membership.js';
import { RaftLog } from '../../core/raft/log.js';
import { MAX_APPEND_CHARS, MAX_APPEND_ENTRIES, MAX_CHUNK_CHARS, type AppendEntries, type InstallSnapshot, type LogEntry, type RaftDurable, type RaftMessage } from '../../core/raft/messages.js';
import { defaultRaftOptions, RaftNode, type RaftOptions } from '../../core/raft/raft.js';
import type { ElectionEvent, Membership, MembershipChange, NodeConfig, NodeId, Random } from '../../core/types.js';
import { durableSchema, messageValidator } from '../../runtime/schema.js';
import { Prng } from '../../core/prng.js';
import { TestNet } from '../../core/testnet.js';
import { disjointMajorities, membershipOf } from '../../testing/raft-membership.js';
import { crash, local, logAgreement, reported, safetyViolations, type Crashes, type RaftNet } from '../../testing/raft-net.js';
import { mutants, withMutant } from '../../testing/mutants.js';

const timing = { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 };
const fixed = (fraction: number): Random => ({ next: () => fraction });
/** The paper's Raft (no PreVote, no CheckQuorum): the fewest messages for a transcript. */
const paper: RaftOptions = { ...defaultRaftOptions, preVote: false, checkQuorum: false };

function config(id: NodeId, voters: NodeId[] = [1, 2, 3], observers: NodeId[] = [], addresses?: Record<string, string>): NodeConfig {
  return addresses === undefined ? { id, voters, observers, timing } : { id, voters, observers, timing, addresses };
}

const membership = (voters: NodeId[], observers: NodeId[] = [], addresses: Record<string, string> = {}): Membership => {
  const all: Record<string, string> = {};
  for (const id of [...voters, ...observers]) all[String(id)] = addresses[String(id)] ?? '';
  return { voters, observers, addresses: all };
};

const events = (n: RaftNode): readonly ElectionEvent[] => n.takeOutput().events;
const ofType = <T extends ElectionEvent['type']>(list: readonly ElectionEvent[], type: T) => list.filter((e): e is Extract<ElectionEvent, { type: T }> => e.type === type);

/**
 * Node 1 leading term 1 of `voters` (the paper's Raft), its blank entry (index 1) committed and held by
 * every member, its output drained.
 */
function leader(voters: NodeId[] = [1, 2, 3], observers: NodeId[] = [], options: RaftOptions = paper): RaftNode {
  const n = new RaftNode(config(1, voters, observers), raft.initialDurable(0), fixed(0), 0, options);
  if (options.preVote) {
    n.tick(n.nextDeadline());
    for (const v of voters) if (v !== 1) n.receive(150, v, { type: 'PreVoteResponse', term: 1, voteGranted: true });
  } else {
    n.tick(n.nextDeadline());
  }
  for (const v of voters) if (v !== 1) n.receive(151, v, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
  assert.equal(n.status().role, 'leader');
  for (const m of [...voters, ...observers]) if (m !== 1) n.receive(152, m, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 1 });
  n.takeOutput();
  return n;
}

/** What the node answered to change `id`: 'proposed@INDEX', or the refusal (its reason, or 'not-leader→LEADER'). */
function change(n: RaftNode, now: number, id: number, what: MembershipChange): string {
  n.step(now, { type: 'change-membership', id, change: what });
  const output = n.takeOutput();
  for (const event of output.events) {
    if (event.type === 'proposed' && event.id === id) return `proposed@${event.index}`;
    if (event.type === 'request-refused' && event.id === id) return event.reason ?? `not-leader→${event.leader}`;
  }
  return 'nothing';
}

const ack = (n: RaftNode, now: number, from: NodeId, matchIndex: number, round = 1): readonly ElectionEvent[] => {
  n.receive(now, from, { type: 'AppendEntriesResponse', term: n.status().term, success: true, round, matchIndex });
  return events(n);
};

describe('raft membership: the configuration in force (thesis §4.1)', () => {
  test('a node reports the configuration it starts with (index 0), with the addresses its host gave and \'\' for the others', () => {
    const n = new RaftNode(config(2, [1, 2, 3], [4], { 1: 'a:1', 4: 'd:4' }), raft.initialDurable(0), fixed(0), 0, paper);
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 0, membership: membership([1, 2, 3], [4], { 1: 'a:1', 4: 'd:4' }) }]);
  });

  test('a joiner (started with no voters) is a learner that never campaigns, and takes its configuration from the leader\'s log', () => {
    const n = new RaftNode(config(4, [], []), raft.initialDurable(0), fixed(0), 0, defaultRaftOptions);
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 0, membership: membership([]) }]);
    assert.equal(n.status().role, 'learner');
    assert.equal(n.nextDeadline(), Infinity);
    n.step(60_000, { type: 'tick' });
    assert.deepEqual(n.takeOutput().messages, [], 'a minute later it has still asked nobody for anything');
    const added = membership([1, 2, 3], [4], { 4: 'd:4' });
    n.receive(60_001, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, command: '' }, { term: 1, command: '', membership: added }], leaderCommit: 1, round: 1 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 2, membership: added }]);
    assert.deepEqual(n.status(), { id: 4, role: 'learner', leader: 1, term: 1, lease: false });
    assert.equal(n.nextDeadline(), Infinity);
    // Promoted: a voter now, with an election timer.
    const promoted = membership([1, 2, 3, 4], [], { 4: 'd:4' });
    n.receive(60_002, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 2, prevLogTerm: 1, entries: [{ term: 1, command: '', membership: promoted }], leaderCommit: 2, round: 2 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 3, membership: promoted }]);
    assert.equal(n.status().role, 'follower');
    assert.ok(n.nextDeadline() < Infinity);
  });

  test('a follower uses a configuration entry as soon as it holds it, and the one before again when a conflicting leader deletes it', () => {
    const n = new RaftNode(config(2), raft.initialDurable(0), fixed(0), 0, paper);
    events(n);
    const next = membership([1, 2, 3], [4]);
    n.receive(10, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, command: '' }, { term: 1, command: '', membership: next }], leaderCommit: 1, round: 1 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 2, membership: next }], 'uncommitted, and in force');
    // Node 3 leads term 2 without that entry: its own entry at index 2 deletes it.
    n.receive(20, 3, { type: 'AppendEntries', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [{ term: 2, command: '' }], leaderCommit: 1, round: 1 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 0, membership: membership([1, 2, 3]) }]);
    // And a newer entry than one deleted: the newest held wins.
    const a = membership([1, 2, 3], [5]);
    const b = membership([1, 2, 3], [5, 6]);
    n.receive(30, 3, { type: 'AppendEntries', term: 2, prevLogIndex: 2, prevLogTerm: 2, entries: [{ term: 2, command: '', membership: a }, { term: 2, command: 'x' }, { term: 2, command: '', membership: b }], leaderCommit: 3, round: 2 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [{ type: 'membership-changed', index: 5, membership: b }]);
    n.receive(31, 3, { type: 'AppendEntries', term: 2, prevLogIndex: 2, prevLogTerm: 2, entries: [{ term: 2, command: '', membership: a }], leaderCommit: 3, round: 2 });
    assert.deepEqual(ofType(events(n), 'membership-changed'), [], 'a reordered, older AppendEntries deletes nothing, changes nothing');
  });

  test('a leader uses its new configuration at once: it replicates to the learner it adds, and reports the entry proposed', () => {
    const n = leader();
    n.step(200, { type: 'change-membership', id: 7, change: { type: 'add-learner', peer: 4, address: 'd:4' } });
    const out = n.takeOutput();
    assert.deepEqual(out.events, [
      { type: 'membership-changed', index: 2, membership: membership([1, 2, 3], [4], { 4: 'd:4' }) },
      { type: 'proposed', id: 7, index: 2, term: 1 },
    ]);
    assert.deepEqual((out.persist?.log ?? []).at(-1), { term: 1, command: '', membership: membership([1, 2, 3], [4], { 4: 'd:4' }) }, 'durable before it is sent');
    assert.deepEqual(out.messages.map((m) => m.to).sort(), [2, 3, 4]);
    const toLearner = out.messages.find((m) => m.to === 4)!.message as AppendEntries;
    assert.equal(toLearner.prevLogIndex, 1, 'from the configuration entry on');
    // The learner lacks the blank entry: it answers with its last index, and gets everything.
    n.receive(201, 4, { type: 'AppendEntriesResponse', term: 1, success: false, round: 1, matchIndex: 0 });
    const retry = n.takeOutput().messages.find((m) => m.to === 4)!.message as AppendEntries;
    assert.equal(retry.entries.length, 2);
    // Committed by a majority of the voters; the learner's answer alone commits nothing.
    assert.deepEqual(ofType(ack(n, 202, 4, 2), 'committed'), []);
    assert.deepEqual(ofType(ack(n, 203, 2, 2), 'committed'), [{ type: 'committed', index: 2, term: 1, command: '' }]);
  });

  test('a promoted learner counts in the quorum: {1, 2, 3, 4} needs three', () => {
    const n = leader([1, 2, 3], [4]);
    assert.equal(change(n, 200, 1, { type: 'promote', peer: 4 }), 'proposed@2');
    assert.deepEqual(ofType(ack(n, 201, 2, 2), 'committed'), [], 'two of four is no majority');
    assert.deepEqual(ofType(ack(n, 202, 4, 2), 'committed').map((e) => e.index), [2]);
  });
});

describe('raft membership: what a leader refuses', () => {
  test('a node that does not lead refuses without a reason and names the leader it knows', () => {
    const n = new RaftNode(config(2), raft.initialDurable(0), fixed(0), 0, paper);
    assert.equal(change(n, 5, 1, { type: 'add-learner', peer: 4, address: '' }), 'not-leader→null');
    n.receive(10, 1, { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });
    assert.equal(change(n, 11, 2, { type: 'add-learner', peer: 4, address: '' }), 'not-leader→1');
  });

  test('change-pending: until the leader has committed an entry of its own term (raft-dev, 2015)', () => {
    const n = new RaftNode(config(1), { currentTerm: 1, votedFor: 1, log: [{ term: 1 }] }, fixed(0), 0, paper);
    n.tick(n.nextDeadline());
    n.receive(151, 2, { type: 'RequestVoteResponse', term: 2, voteGranted: true, promiseMs: 0 });
    assert.equal(n.status().role, 'leader');
    assert.equal(change(n, 152, 1, { type: 'add-learner', peer: 4, address: '' }), 'change-pending');
    ack(n, 153, 2, 2);
    assert.equal(change(n, 154, 2, { type: 'add-learner', peer: 4, address: '' }), 'proposed@3');
  });

  test('change-pending: while the last configuration entry is uncommitted (one change at a time)', () => {
    const n = leader();
    assert.equal(change(n, 200, 1, { type: 'add-learner', peer: 4, address: '' }), 'proposed@2');
    assert.equal(change(n, 201, 2, { type: 'add-learner', peer: 5, address: '' }), 'change-pending');
    assert.equal(change(n, 202, 3, { type: 'remove', peer: 3 }), 'change-pending');
    ack(n, 203, 2, 2);
    assert.equal(change(n, 204, 4, { type: 'add-learner', peer: 5, address: '' }), 'proposed@3');
  });

  test('already-a-member, not-a-member, last-voter: the change names the wrong peer', () => {
    const n = leader([1, 2, 3], [4]);
    assert.equal(change(n, 200, 1, { type: 'add-learner', peer: 2, address: '' }), 'already-a-member');
    assert.equal(change(n, 200, 2, { type: 'add-learner', peer: 4, address: '' }), 'already-a-member');
    assert.equal(change(n, 200, 3, { type: 'promote', peer: 2 }), 'already-a-member');
    assert.equal(change(n, 200, 4, { type: 'promote', peer: 9 }), 'not-a-member');
    assert.equal(change(n, 200, 5, { type: 'remove', peer: 9 }), 'not-a-member');
    const alone = leader([1]);
    assert.equal(change(alone, 200, 6, { type: 'remove', peer: 1 }), 'last-voter');
    // A cluster of one commits its change at once.
    assert.equal(change(alone, 201, 7, { type: 'add-learner', peer: 2, address: 'b:2' }), 'proposed@2');
    assert.equal(change(alone, 202, 8, { type: 'remove', peer: 2 }), 'proposed@3');
  });

  test('not-caught-up: a learner becomes a voter only once it holds every committed entry (§4.2.1)', () => {
    const n = new RaftNode(config(1, [1, 2, 3], [4]), raft.initialDurable(0), fixed(0), 0, paper);
    n.tick(n.nextDeadline());
    n.receive(151, 2, { type: 'RequestVoteResponse', term: 1, voteGranted: true, promiseMs: 0 });
    ack(n, 152, 2, 1); // the blank entry commits without the learner
    assert.equal(change(n, 153, 1, { type: 'promote', peer: 4 }), 'not-caught-up');
    ack(n, 154, 4, 1);
    assert.equal(change(n, 155, 2, { type: 'promote', peer: 4 }), 'proposed@2');
  });

  test('a change that would break the bounds is refused without a reason (hosts check first, to say why)', () => {
    const n = leader();
    assert.equal(change(n, 200, 1, { type: 'add-learner', peer: 4, address: 'x'.repeat(MAX_ADDRESS_CHARS + 1) }), 'not-leader→null');
    assert.equal(change(n, 200, 2, { type: 'add-learner', peer: 4, address: 'has space:1' }), 'not-leader→null');
    assert.equal(change(n, 200, 3, { type: 'add-learner', peer: 0, address: '' }), 'not-leader→null');
    assert.equal(change(n, 200, 4, { type: 'add-learner', peer: 4, address: 'x'.repeat(MAX_ADDRESS_CHARS) }), 'proposed@2');
    const full = leader([1], Array.from({ length: MAX_MEMBERS - 1 }, (_, k) => k + 2));
    assert.equal(change(full, 200, 5, { type: 'add-learner', peer: 1000, address: '' }), 'not-leader→null', `at most ${MAX_MEMBERS} members`);
  });
});

describe('raft membership: removed servers (thesis §4.2.2, §4.2.3)', () => {
  test('a leader that removes itself leads until the entry commits, without counting itself, then steps down for good', () => {
    const n = leader();
    assert.equal(change(n, 200, 1, { type: 'remove', peer: 1 }), 'proposed@2');
    assert.equal(n.status().role, 'leader');
    assert.deepEqual(ofType(ack(n, 201, 2, 2), 'committed'), [], 'itself and node 2 are a majority of {1, 2, 3}, not of {2, 3}');
    assert.equal(n.status().role, 'leader');
    n.receive(202, 3, { type: 'AppendEntriesResponse', term: 1, success: true, round: 1, matchIndex: 2 });
    const out = n.takeOutput();
    assert.deepEqual(ofType(out.events, 'committed').map((e) => e.index), [2]);
    assert.deepEqual(n.status(), { id: 1, role: 'learner', leader: null, term: 1 });
    const last = out.messages.filter((m) => m.message.type === 'AppendEntries').map((m) => [m.to, (m.message as AppendEntries).leaderCommit]);
    assert.deepEqual(last, [[2, 2], [3, 2]], 'its last AppendEntries tell the members the entry is committed');
    assert.equal(n.nextDeadline(), Infinity, 'it never campaigns');
    assert.equal(change(n, 203, 2, { type: 'add-learner', peer: 1, address: '' }), 'not-leader→null');
  });

  test('a leader that removed itself and lost its lease before the entry committed campaigns until it is committed (thesis §4.2.2)', () => {
    // {1, 2}: the removed leader alone holds the entry that leaves {other}; the other cannot be elected
    // without its vote (it is a majority of neither), and it refuses that vote (its log is longer). Only
    // the removed leader can end this: it campaigns, is elected by {other} (not counting itself),
    // commits the entry, and steps down.
    const net = testNet(2);
    const removed = awaitLeader(net);
    const other = removed === 1 ? 2 : 1;
    net.isolate(removed);
    local(net, removed, { type: 'change-membership', id: 1, change: { type: 'remove', peer: removed } });
    net.run(1_000);
    assert.ok(['follower', 'precandidate'].includes(net.status(removed).role), `its lease ran out, and it campaigns: it may still be needed (${net.status(removed).role})`);
    assert.deepEqual(membershipOf(net, other).membership.voters, [1, 2]);
    net.heal();
    net.runUntilTrue(() => net.status(other).role === 'leader', 5_000);
    assert.deepEqual(membershipOf(net, other).membership.voters, [other]);
    assert.equal(net.status(removed).role, 'learner');
    const removal = membershipOf(net, removed).index;
    assert.ok(reported(net, other, 'committed').some((e) => e.index === removal), 'the removal is committed');
    net.run(2_000);
    assert.equal(net.status(removed).role, 'learner', 'and then it never campaigns again');
    assert.deepEqual(logAgreement(net), []);
  });

  for (const [name, options, disrupted] of [
    ['PreVote and CheckQuorum (the default)', defaultRaftOptions, false],
    ['CheckQuorum alone', { ...defaultRaftOptions, preVote: false }, false],
    ["neither (the paper's Raft: the disruption of §4.2.3)", paper, true],
  ] as const) {
    test(`a removed server that never learned it was removed, with ${name}: ${disrupted ? 'it deposes the leader again and again' : 'it cannot disrupt the cluster'}`, () => {
      const net = testNet(3, { options });
      const first = awaitLeader(net);
      const removed = first === 3 ? 2 : 3;
      net.isolate(removed);
      local(net, first, { type: 'change-membership', id: 1, change: { type: 'remove', peer: removed } });
      net.run(300);
      const others = net.voters.filter((id) => id !== removed);
      for (const id of others) assert.deepEqual(membershipOf(net, id).membership.voters, others);
      assert.deepEqual(membershipOf(net, removed).membership.voters, [1, 2, 3], 'it never got the entry');
      const term = net.status(first).term;
      net.heal();
      net.run(5_000);
      if (disrupted) {
        assert.ok(net.status(first).term > term + 3, `the cluster's term went from ${term} to ${net.status(first).term}`);
      } else {
        assert.equal(net.status(first).term, term, 'no new term');
        assert.deepEqual(net.status(first), { ...net.status(first), role: 'leader', leader: first });
        // It tried all the while: pre-votes, refused by nodes that hear the leader; or, without PreVote,
        // ever higher terms, whose RequestVotes those nodes drop whole.
        if (options.preVote) assert.ok(net.sentOfType('PreVote').filter((s) => s.from === removed).length > 10);
        else assert.ok(net.status(removed).term > term + 10, `its term went to ${net.status(removed).term}`);
      }
      assert.deepEqual(logAgreement(net), []);
    });
  }
});

describe('raft membership: snapshots carry the configuration (paper §7)', () => {
  test('compaction records the configuration as of its index (none before any change), and a restart uses it', () => {
    const n = leader([1]);
    // compactionPreview says what a compaction will hold (a host writes its file ahead with it), and nothing where it would do nothing.
    const preview1 = n.compactionPreview(1, 's1');
    n.step(200, { type: 'compact', index: 1, snapshot: 's1' });
    assert.deepEqual(n.takeOutput().persist?.snapshot, { index: 1, term: 1, data: 's1' }, 'no change yet: no configuration recorded');
    assert.deepEqual(preview1, { field: 'snapshot', value: { index: 1, term: 1, data: 's1' } });
    assert.equal(n.compactionPreview(1, 's1'), null, 'not past the snapshot');
    assert.equal(change(n, 201, 1, { type: 'add-learner', peer: 2, address: 'b:2' }), 'proposed@2');
    n.step(202, { type: 'propose', id: 2, command: 'x' });
    n.takeOutput();
    assert.equal(n.compactionPreview(4, 's4'), null, 'not past what was reported committed');
    const preview3 = n.compactionPreview(3, 's3');
    n.step(203, { type: 'compact', index: 3, snapshot: 's3' });
    const durable = n.takeOutput().persist!;
    assert.deepEqual(preview3, { field: 'snapshot', value: durable.snapshot }, 'the preview is what the compaction then held, configuration included');
    assert.deepEqual(durable.snapshot, { index: 3, term: 1, data: 's3', membership: membership([1], [2], { 2: 'b:2' }) });
    assert.deepEqual(durable.log, []);
    const restarted = new RaftNode(config(1, [1, 2, 3]), durable, fixed(0), 300, paper);
    assert.deepEqual(ofType(events(restarted), 'membership-changed'), [{ type: 'membership-changed', index: 3, membership: membership([1], [2], { 2: 'b:2' }) }], 'the snapshot\'s, not the one it was started with');
  });

  test('InstallSnapshot carries the configuration on its last chunk, and a joiner installs it', () => {
    const net = testNet(4, { joiners: [4] });
    const first = awaitLeader(net);
    net.cut(first, 4);
    local(net, first, { type: 'change-membership', id: 1, change: { type: 'add-learner', peer: 4, address: 'd:4' } });
    for (let i = 0; i < 3; i++) local(net, first, { type: 'propose', id: 10 + i, command: 'y'.repeat(MAX_CHUNK_CHARS) });
    net.run(100);
    const commitIndex = reported(net, first, 'committed').at(-1)!.index;
    local(net, first, { type: 'compact', index: commitIndex, snapshot: 'z'.repeat(2 * MAX_CHUNK_CHARS + 10) });
    const since = net.now;
    net.heal();
    net.run(300);
    const chunks = net.sentOfType('InstallSnapshot', since).filter((s) => s.to === 4).map((s) => s.message);
    assert.ok(chunks.length >= 3);
    for (const chunk of chunks) assert.equal(chunk.membership !== undefined, chunk.done, `offset ${chunk.offset}: the configuration goes with the last chunk only`);
    assert.deepEqual(membershipOf(net, 4), { index: commitIndex, membership: membership([1, 2, 3], [4], { 4: 'd:4' }) });
    assert.deepEqual(reported(net, 4, 'snapshot-installed').map((e) => e.index), [commitIndex]);
    assert.deepEqual(logAgreement(net), []);
  });
});

describe('raft membership: a cluster changes its members while it serves writes', () => {
  test('{1, 2, 3} → add 4 and 5 as learners → promote them → remove a follower and the leader: every write is committed, on every member, once', () => {
    const net = testNet(5, { joiners: [4, 5] });
    let id = 100;
    const answers: string[] = [];
    const currentLeader = () => awaitLeader(net);
    const write = () => local(net, currentLeader(), { type: 'propose', id: id++, command: `w${id}` });
    const ask = (what: MembershipChange): string => {
      const at = currentLeader();
      const before = net.events.length;
      local(net, at, { type: 'change-membership', id: id++, change: what });
      for (const { node, event } of net.events.slice(before)) {
        if (node !== at || event.type !== 'core') continue;
        if (event.event.type === 'proposed') return 'proposed';
        if (event.event.type === 'request-refused') return event.event.reason ?? 'not-leader';
      }
      return 'nothing';
    };
    /** Writes while the change is made, until every member holds it committed. */
    const settle = (what: MembershipChange, expect = 'proposed') => {
      const answer = ask(what);
      answers.push(`${what.type} ${what.peer}: ${answer}`);
      assert.equal(answer, expect, `${what.type} ${what.peer}`);
      for (let k = 0; k < 5; k++) {
        write();
        net.run(40);
      }
      net.run(400);
    };
    const first = currentLeader();
    write();
    settle({ type: 'add-learner', peer: 4, address: 'n4:7004' });
    assert.equal(ask({ type: 'add-learner', peer: 5, address: 'n5:7005' }) === 'proposed', true);
    assert.equal(ask({ type: 'promote', peer: 4 }), 'change-pending', 'the add of 5 is not committed yet');
    net.run(400);
    // A learner cut off from the leader falls behind: it is not promoted until it catches up.
    net.isolate(5);
    for (let k = 0; k < 3; k++) write();
    net.run(200);
    assert.equal(ask({ type: 'promote', peer: 5 }), 'not-caught-up');
    net.heal();
    net.run(400);
    settle({ type: 'promote', peer: 4 });
    settle({ type: 'promote', peer: 5 });
    for (const member of net.members) assert.deepEqual(membershipOf(net, member).membership.voters, [1, 2, 3, 4, 5], `node ${member}`);
    const follower = [1, 2, 3].find((m) => m !== first)!;
    settle({ type: 'remove', peer: follower });
    // The leader removes itself: it leads until the change commits, then a new leader is elected among the rest.
    settle({ type: 'remove', peer: first });
    net.run(1_000);
    const rest = [1, 2, 3, 4, 5].filter((m) => m !== first && m !== follower);
    const next = currentLeader();
    assert.ok(rest.includes(next), `the new leader ${next} is one of ${rest}`);
    assert.equal(net.status(first).role, 'learner');
    const removedAt = reported(net, first, 'membership-changed').at(-1)!.index;
    for (let k = 0; k < 5; k++) write();
    net.run(500);
    for (const member of rest) assert.deepEqual(membershipOf(net, member), { index: removedAt, membership: membership(rest, [], { 4: 'n4:7004', 5: 'n5:7005' }) }, `node ${member}`);
    // Every acknowledged write is committed on every remaining member, at the index it was proposed at.
    const proposals = net.members.flatMap((m) => reported(net, m, 'proposed'));
    for (const member of rest) {
      const committedHere = new Map(reported(net, member, 'committed').map((e) => [e.index, e.term]));
      for (const p of proposals) assert.equal(committedHere.get(p.index), p.term, `node ${member}: proposal ${p.id} at ${p.index}`);
    }
    assert.ok(proposals.length >= 40, `${proposals.length} writes and changes were acknowledged`);
    assert.deepEqual(logAgreement(net), []);
    assert.deepEqual(reported(net, first, 'election-started').filter((e) => e.term > net.status(next).term - 1), [], 'the removed leader never campaigns again');
  });

  test('the disjoint majorities of thesis §4.1: the correct core refuses the second change; the mutant commits two entries at one index', () => {
    const correct = disjointMajorities();
    assert.deepEqual(correct.answers, ['proposed', 'change-pending']);
    assert.deepEqual(correct.violations, []);
    // The uncommitted change is deleted by the leader {1, 2} elected: every node is back on {1, 2, 3}.
    for (const [id, { index, membership: m }] of correct.final) assert.deepEqual([index, m.voters], [0, [1, 2, 3]], `node ${id}`);
    const mutant = mutants.find((m) => m.name === 'raft-membership-unchecked')!;
    const broken = withMutant(mutant, disjointMajorities);
    assert.deepEqual(broken.answers, ['proposed', 'proposed']);
    assert.ok(broken.violations.length > 0, 'log-agreement catches it');
  });
});

describe('raft membership: safety under random changes, partitions and crashes', () => {
  const SEEDS = 120;
  /**
   * One run: voters {1, 2, 3}, joiners 4 and 5; every 50–150 ms a random act — writes at whoever leads,
   * a random change asked of a random node, a node cut off or the network split, the network healed, a
   * crash, a compaction, a leadership transfer, restarts —
   * for 6 s; then everything heals and restarts. Returns what the safety checkers found, and whether a
   * leader emerged whose configuration every one of its members then uses.
   */
  function randomRun(seed: number): { violations: string[]; unsettled: string | null; changes: number } {
    const prng = new Prng(seed, 'membership-nemesis');
    const net = testNet(5, { joiners: [4, 5], seed });
    const crashes: Crashes = new Map();
    let id = 1;
    let changes = 0;
    const randomChange = (): MembershipChange => {
      const peer = 1 + prng.int(5);
      switch (prng.int(3)) {
        case 0:
          return { type: 'add-learner', peer, address: `n${peer}:7000` };
        case 1:
          return { type: 'promote', peer };
        default:
          return { type: 'remove', peer };
      }
    };
    const split = (): void => {
      const side = net.members.filter(() => prng.chance(0.5));
      for (const m of side) net.isolate(m, net.members.filter((o) => !side.includes(o)));
    };
    while (net.now < 6_000) {
      net.run(50 + prng.int(100));
      const up = net.members.filter((m) => net.isUp(m));
      const roll = prng.next();
      if (roll < 0.35) {
        for (const m of up) if (net.status(m).role === 'leader') for (let k = 0; k < 3; k++) local(net, m, { type: 'propose', id: id++, command: `w${id}` });
      } else if (roll < 0.6 && up.length > 0) {
        // One to three changes at once: all but the first must wait (change-pending).
        const at = up.find((m) => net.status(m).role === 'leader') ?? prng.pick(up);
        const before = reported(net, at, 'proposed').length;
        for (let k = 1 + prng.int(3); k > 0; k--) local(net, at, { type: 'change-membership', id: id++, change: randomChange() });
        changes += reported(net, at, 'proposed').length - before;
        // Often the network splits at once, before the change has reached everyone.
        if (prng.chance(0.5)) split();
      } else if (roll < 0.7) {
        // A partition: one node cut off, or the cluster split in two.
        if (prng.chance(0.5)) net.isolate(prng.pick(net.members));
        else split();
      } else if (roll < 0.8) {
        net.heal();
      } else if (roll < 0.84 && up.length > 0) {
        crash(net, crashes, prng.pick(up));
      } else if (roll < 0.88 && up.length > 0) {
        // A node compacts what it has applied: a snapshot that records the configuration as of there.
        const m = prng.pick(up);
        const last = reported(net, m, 'committed').at(-1);
        if (last !== undefined) local(net, m, { type: 'compact', index: last.index, snapshot: `state@${last.index}` });
      } else if (roll < 0.91) {
        for (const m of up) if (net.status(m).role === 'leader') local(net, m, { type: 'transfer-leadership', to: null });
      } else {
        for (const m of net.members) if (!net.isUp(m)) net.start(m);
      }
    }
    net.heal();
    for (const m of net.members) if (!net.isUp(m)) net.start(m);
    return { violations: safetyViolations(net, crashes), unsettled: unsettled(net), changes };
  }

  /** Why the cluster has not settled: no leader, or a member of the leader's configuration uses another; null when it has. */
  function unsettled(net: RaftNet): string | null {
    const describe = () => net.members.map((m) => `${m}: ${JSON.stringify(net.status(m))} ${JSON.stringify(membershipOf(net, m))}`).join('; ');
    try {
      const leader = awaitLeader(net);
      net.run(1_000);
      const { membership: m } = membershipOf(net, leader);
      // (The same configuration may be reported at another index: a node that restarted from a snapshot
      // reports the snapshot's index for the configuration it records.)
      for (const member of [...m.voters, ...m.observers]) {
        if (!sameMembership(membershipOf(net, member).membership, m)) return `node ${member} uses another configuration than leader ${leader}'s: ${describe()}`;
      }
      return null;
    } catch (error) {
      return `${(error as Error).message}: ${describe()}`;
    }
  }

  test(`${SEEDS} seeded runs: one leader per term, no two leases at once, committed entries agree, acknowledged writes survive, and the cluster settles on one configuration`, () => {
    let changes = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const run = randomRun(seed);
      assert.deepEqual(run.violations, [], `seed ${seed}`);
      assert.equal(run.unsettled, null, `seed ${seed}`);
      changes += run.changes;
    }
    assert.ok(changes > SEEDS, `${changes} changes were accepted`);
  });

  test('the same runs catch the mutant that accepts a change while one is pending, in some seeds', () => {
    const mutant = mutants.find((m) => m.name === 'raft-membership-unchecked')!;
    let caught = 0;
    withMutant(mutant, () => {
      for (let seed = 1; seed <= SEEDS; seed++) if (randomRun(seed).violations.length > 0) caught++;
    });
    assert.ok(caught > 0, 'not caught in any seed');
  });
});

describe('raft membership: bounds', () => {
  /** The largest configuration: MAX_MEMBERS members with 16-digit ids and the longest addresses. */
  const largest = (): Membership => {
    const ids = Array.from({ length: MAX_MEMBERS }, (_, k) => 1_000_000_000_000_000 + k);
    const addresses: Record<string, string> = {};
    for (const id of ids) addresses[String(id)] = '~'.repeat(MAX_ADDRESS_CHARS);
    return { voters: ids.slice(0, MAX_MEMBERS / 2), observers: ids.slice(MAX_MEMBERS / 2), addresses };
  };
  const bytes = (message: RaftMessage) => utf8Length(JSON.stringify(message));

  test('the largest configuration fits a peer frame beside the most a message carries of commands or snapshot data', () => {
    const escaped = '\u0001'; // 6 bytes in JSON
    const log = new RaftLog({ log: [] });
    log.append(MAX_TERM, '', largest());
    for (let k = 0; k < MAX_APPEND_ENTRIES; k++) log.append(MAX_TERM, escaped.repeat(MAX_APPEND_CHARS / MAX_APPEND_ENTRIES));
    const entries: LogEntry[] = log.batchFrom(1, MAX_APPEND_ENTRIES, MAX_APPEND_CHARS);
    const append: AppendEntries = { type: 'AppendEntries', term: MAX_TERM, prevLogIndex: Number.MAX_SAFE_INTEGER, prevLogTerm: MAX_TERM, entries, leaderCommit: Number.MAX_SAFE_INTEGER, round: Number.MAX_SAFE_INTEGER };
    assert.ok(bytes(append) <= FRAME_BYTES, `AppendEntries: ${bytes(append)} bytes`);
    const alone: AppendEntries = { ...append, entries: [{ term: MAX_TERM, command: escaped.repeat(MAX_APPEND_CHARS) }, ...log.batchFrom(1, 1, MAX_APPEND_CHARS)] };
    assert.ok(bytes(alone) <= FRAME_BYTES, `a full command and the configuration: ${bytes(alone)} bytes`);
    const chunk: InstallSnapshot = { type: 'InstallSnapshot', term: MAX_TERM, lastIncludedIndex: Number.MAX_SAFE_INTEGER, lastIncludedTerm: MAX_TERM, offset: Number.MAX_SAFE_INTEGER, data: escaped.repeat(MAX_CHUNK_CHARS), done: true, round: Number.MAX_SAFE_INTEGER, membership: largest() };
    assert.ok(bytes(chunk) <= FRAME_BYTES, `InstallSnapshot: ${bytes(chunk)} bytes`);
  });

  test('configuration entries weigh their size in an AppendEntries: a lagging follower gets them a few at a time', () => {
    const log = new RaftLog({ log: [] });
    for (let k = 0; k < 10; k++) log.append(1, '', largest());
    assert.equal(log.batchFrom(1, MAX_APPEND_ENTRIES, MAX_APPEND_CHARS).length, 1);
    const small = new RaftLog({ log: [] });
    for (let k = 0; k < 10; k++) small.append(1, '', membership([1, 2, 3], [4]));
    assert.equal(small.batchFrom(1, MAX_APPEND_ENTRIES, MAX_APPEND_CHARS).length, 10);
  });

  test('the shapes validate configurations in entries, snapshots and InstallSnapshot, and bound them', () => {
    const durable = durableSchema(raft);
    const ok: RaftDurable = { currentTerm: 1, votedFor: null, log: [{ term: 1, command: '', membership: largest() }], snapshot: { index: 1, term: 1, data: '', membership: membership([1], [2]) } };
    assert.equal(durable.safeParse(JSON.parse(JSON.stringify(ok))).success, true);
    const withMembership = (m: unknown) => JSON.parse(JSON.stringify({ ...ok, log: [{ term: 1, command: '', membership: m }] })) as unknown;
    const big = largest();
    assert.equal(durable.safeParse(withMembership({ ...big, voters: [...big.voters, ...big.observers, 1] })).success, false, `more than ${MAX_MEMBERS} voters`);
    assert.equal(durable.safeParse(withMembership({ ...big, addresses: { ...big.addresses, 7: '' } })).success, false, `more than ${MAX_MEMBERS} addresses`);
    assert.equal(durable.safeParse(withMembership(membership([1], [], { 1: 'x'.repeat(MAX_ADDRESS_CHARS + 1) }))).success, false, 'a longer address');
    assert.equal(durable.safeParse(withMembership({ voters: [0], observers: [], addresses: {} })).success, false, 'an id is positive');
    assert.equal(durable.safeParse(withMembership({ voters: [1], observers: [], addresses: { 1: '' }, extra: 1 })).success, false, 'strict');
    const validate = messageValidator(raft as never);
    const chunk = { type: 'InstallSnapshot', term: 1, lastIncludedIndex: 1, lastIncludedTerm: 1, offset: 0, data: '', done: true, round: 1 };
    assert.notEqual(validate({ ...chunk, membership: membership([1, 2]) }), null);
    assert.notEqual(validate(chunk), null, 'absent when the starting configuration is in force');
    assert.equal(validate({ ...chunk, membership: { voters: [1], observers: [] } }), null);
  });
});

describe('forceNewCluster: quorum-loss recovery (unsafe, deliberate)', () => {
  test('the survivor of a lost majority becomes a cluster of one with its whole log, elects itself and commits', () => {
    const net = testNet(3);
    const crashes: Crashes = new Map();
    const survivor = awaitLeader(net);
    for (let k = 0; k < 5; k++) local(net, survivor, { type: 'propose', id: k, command: `before ${k}` });
    net.run(200);
    // The other two are lost for good; what the survivor accepts now cannot commit.
    for (const id of net.voters) if (id !== survivor) crash(net, crashes, id);
    local(net, survivor, { type: 'propose', id: 10, command: 'unknown outcome' });
    net.run(2_000);
    assert.notEqual(net.status(survivor).role, 'leader', 'its lease ran out: no majority');
    const held = (net.durable.get(survivor)!.log).length;
    crash(net, crashes, survivor);
    const before = net.durable.get(survivor)!;
    const forced = forceNewCluster(before, survivor, `n${survivor}:7000`);
    assert.equal(forced.currentTerm, before.currentTerm + 1);
    assert.deepEqual(forced.log.slice(0, held), before.log, 'every entry it held is kept');
    assert.deepEqual(forced.log.at(-1), { term: before.currentTerm + 1, command: '', membership: membership([survivor], [], { [survivor]: `n${survivor}:7000` }) });
    net.durable.set(survivor, forced);
    net.start(survivor);
    net.runUntilTrue(() => net.status(survivor).role === 'leader', 2_000);
    local(net, survivor, { type: 'propose', id: 11, command: 'after' });
    net.run(100);
    const committed = reported(net, survivor, 'committed').map((e) => e.command);
    for (const command of ['before 4', 'unknown outcome', 'after']) assert.ok(committed.includes(command), command);
    assert.deepEqual(membershipOf(net, survivor).membership.voters, [survivor]);
    assert.deepEqual(logAgreement(net, crashes), []);
  });

  test('it refuses a bad id, a bad address and a term at its ceiling', () => {
    const durable = raft.initialDurable(0);
    assert.throws(() => forceNewCluster(durable, 0, ''), RangeError);
    assert.throws(() => forceNewCluster(durable, 1, 'a b'), RangeError);
    assert.throws(() => forceNewCluster({ ...durable, currentTerm: MAX_TERM }, 1, ''), /ceiling/);
  });
});

// ---- the test network -----------------------------------------------------------------------------

/**
 * `nodes` nodes on the test network: voters {1, 2, 3} (or all of them, with fewer than four), and the
 * `joiners` started with no voters at all (NodeConfig.voters = []), waiting to be added.
 */
function testNet(nodes: number, { joiners = [], options = defaultRaftOptions, seed }: { joiners?: NodeId[]; options?: RaftOptions; seed?: number } = {}): RaftNet {
  const net: RaftNet = new TestNet({
    algorithm: raft,
    voters: nodes,
    latencyMs: 1,
    ...(seed === undefined ? {} : { random: (id: NodeId) => new Prng(seed, `node:${id}`) }),
    create: (given, durable, random, now) => {
      const starting = joiners.includes(given.id) ? { voters: [], observers: [] } : { voters: given.voters.filter((id) => !joiners.includes(id)), observers: [] };
      return new RaftNode({ ...given, ...starting }, durable, random, now, options);
    },
  });
  return net;
}

/** Runs until some node leads with an entry of its term committed (joiners name no leader until added); returns it. */
function awaitLeader(net: RaftNet): NodeId {
  const leading = () =>
    net.members.find((id) => {
      if (!net.isUp(id) || net.status(id).role !== 'leader') return false;
      const term = net.status(id).term;
      return reported(net, id, 'committed').some((e) => e.term === term);
    });
  net.runUntilTrue(() => leading() !== undefined, 10_000);
  return leading()!;
}
