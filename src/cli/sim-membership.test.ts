/**
 * `ballot sim --spares N --membership`: spare nodes outside the configuration, the membership nemesis,
 * schedules that change the configuration, and `membership` in --json (docs/invariants.md, "Membership
 * change"). The sweep's proof over many seeds is src/sim/mutants.test.ts and `npm run sweep -- --membership`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { SimResult } from '../sim/types.js';
import { UsageError } from './args.js';
import { main } from './main.js';
import { parseSimArgs } from './sim.js';

const work = mkdtempSync(join(tmpdir(), 'ballot-sim-membership-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function runMain(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

test('--spares and --membership are read; spares are schedule members; both are refused where membership cannot change', () => {
  const command = parseSimArgs(['--algorithm', 'raft', '--spares', '2', '--membership']);
  if (command === 'help') return assert.fail('help');
  assert.equal(command.options.spares, 2);
  assert.deepEqual(command.options.membership, {});
  const plain = parseSimArgs(['--algorithm', 'raft']);
  if (plain === 'help') return assert.fail('help');
  assert.equal(plain.options.spares, undefined);
  assert.equal(plain.options.membership, undefined);
  const path = join(work, 'add-7.json');
  writeFileSync(path, JSON.stringify([{ atMs: 1000, do: 'change-membership', change: 'add-learner', node: 7 }]));
  assert.doesNotThrow(() => parseSimArgs(['--algorithm', 'raft', '--spares', '2', '--schedule', path]));
  const demote = join(work, 'demote.json');
  writeFileSync(demote, JSON.stringify([{ atMs: 1000, do: 'change-membership', change: 'demote', node: 2 }]));
  const refused: [string[], RegExp][] = [
    [['--algorithm', 'raft', '--schedule', demote], /schedule entry 0 \(change-membership\): field "change"/],
    [['--algorithm', 'raft', '--schedule', path], /unknown node id 7/],
    [['--algorithm', 'zab', '--spares', '1'], /--spares: zab cannot add members/],
    [['--algorithm', 'bully', '--membership'], /--membership: bully has no membership change/],
    [['--algorithm', 'raft', '--spares', '-1'], /--spares/],
    [['--algorithm', 'raft', '--spares', '101'], /--spares/],
  ];
  for (const [argv, message] of refused) assert.throws(() => parseSimArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
});

test('--help lists --spares and --membership', async () => {
  const run = await runMain('sim', '--help');
  assert.match(run.out, /--spares N/);
  assert.match(run.out, /--membership/);
});

test('a schedule adds a spare as a learner, promotes it and removes a voter: the committed configuration follows, every invariant holds', async () => {
  const path = join(work, 'grow-shrink.json');
  writeFileSync(path, JSON.stringify([
    { atMs: 1500, do: 'change-membership', change: 'add-learner', node: 6 },
    { atMs: 2500, do: 'change-membership', change: 'promote', node: 6 },
    { atMs: 3500, do: 'change-membership', change: 'remove', node: 1 },
    { atMs: 4500, do: 'crash', node: 'leader' },
  ]));
  const run = await runMain('sim', '--algorithm', 'raft', '--spares', '1', '--schedule', path, '--seed', '4', '--json');
  assert.equal(run.code, 0, run.out);
  const result = JSON.parse(run.out) as SimResult;
  assert.deepEqual(result.spares, [6]);
  assert.deepEqual(result.violations, []);
  const membership = result.membership!;
  assert.equal(membership.requested, 3);
  assert.equal(membership.accepted, 3, JSON.stringify(membership));
  assert.equal(membership.committed, 3);
  assert.deepEqual(membership.configuration.voters, [2, 3, 4, 5, 6]);
  assert.deepEqual(membership.configuration.observers, []);
  // The leader elected after the crash is a member, and every live member names it.
  const leader = result.leaders[result.leaders.length - 1]!;
  assert.ok(leader.atMs > 4500 && membership.configuration.voters.includes(leader.node), JSON.stringify(result.leaders));
  for (const f of result.final) if (f.up && f.node !== 1) assert.equal(f.leader, leader.node, JSON.stringify(result.final));
  const keys = Object.keys(result);
  assert.deepEqual(keys.slice(0, 4), ['algorithm', 'nodes', 'observers', 'spares']);
  assert.equal(keys[keys.length - 1], 'membership');

  // The text timeline tells the same story: each configuration once, as appended and as committed.
  const text = await runMain('sim', '--algorithm', 'raft', '--spares', '1', '--schedule', path, '--seed', '4');
  assert.equal(text.code, 0, text.err);
  const lines = text.out.split('\n');
  const appended = lines.filter((l) => / appends configuration /.test(l));
  assert.equal(appended.length, 3, text.out);
  assert.match(appended[0]!, /^ +\d+\.\d {2}\d appends configuration \d+ \(adds 6 as a learner\): voters 1,2,3,4,5, learners 6$/);
  assert.match(appended[1]!, /\(promotes 6\): voters 1,2,3,4,5,6, learners -$/);
  assert.match(appended[2]!, /\(removes 1\): voters 2,3,4,5,6, learners -$/);
  assert.equal(lines.filter((l) => / committed: voters /.test(l)).length, 3, text.out);
  assert.match(text.out, new RegExp(`configuration ${membership.configuration.index} committed: voters 2,3,4,5,6, learners -`));
});

test('a schedule\'s change asked of a ZAB leader is refused as unsupported, and counted', async () => {
  const path = join(work, 'zab-add.json');
  writeFileSync(path, JSON.stringify([{ atMs: 2000, do: 'change-membership', change: 'remove', node: 'leader' }]));
  const run = await runMain('sim', '--algorithm', 'zab', '--schedule', path, '--json');
  assert.equal(run.code, 0, run.out);
  const result = JSON.parse(run.out) as SimResult;
  assert.deepEqual(result.membership, {
    requested: 1, accepted: 0, committed: 0, refused: 1, refusedBy: { unsupported: 1 },
    configuration: { index: 0, voters: [1, 2, 3, 4, 5], observers: [] },
  });
});

test('the membership nemesis changes the configuration through random faults, with clients writing, and reports what the leaders answered', async () => {
  const args = ['sim', '--algorithm', 'raft', '--spares', '2', '--membership', '--scenario', 'random', '--workload', 'kv', '--json'];
  let changed = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const run = await runMain(...args, '--seed', String(seed));
    assert.equal(run.code, 0, run.out);
    const result = JSON.parse(run.out) as SimResult;
    const m = result.membership!;
    assert.ok(m.requested > 0 && m.accepted + m.refused <= m.requested && m.committed <= m.accepted, JSON.stringify(m));
    assert.equal(Object.values(m.refusedBy).reduce((a, b) => a + b, 0), m.refused);
    assert.equal(result.kv!.linearizable, true);
    if (m.configuration.index > 0) changed++;
    const again = await runMain(...args, '--seed', String(seed));
    assert.equal(again.out, run.out, 'the same seed gives the same run');
  }
  assert.ok(changed >= 3, `the configuration changed in ${changed} of 6 runs`);
  const text = await runMain('sim', '--algorithm', 'raft', '--spares', '2', '--membership', '--scenario', 'random', '--seed', '2');
  assert.match(text.out, /5 nodes \+ 2 spares/);
  assert.match(text.out, /membership: \d+ changes asked, \d+ accepted, \d+ committed, \d+ refused/);
  assert.match(text.out, /configuration at the end \(index \d+\): voters [\d,]+, learners/);
});

/**
 * The liveness gap the sweep found in the core (docs/invariants.md, "The proof"), now closed: in a
 * configuration of two voters the leader removes itself; the entry reaches no one (every message is
 * lost) and CheckQuorum makes it step down before the change commits. It uses the new configuration,
 * where it has no vote; the other voter still uses the old one and needs its vote, which it refuses (its
 * log, with the removal, is longer). A removed node that never campaigns left the cluster without a
 * leader forever; one that campaigns until it knows its removal committed (thesis §4.2.2) is elected,
 * commits its removal and steps down, and the other voter leads alone.
 */
test('a leader that removed itself from two voters and stepped down before the change committed leaves a cluster that elects again', async () => {
  const path = join(work, 'self-removal.json');
  writeFileSync(path, JSON.stringify([
    { atMs: 1499, do: 'loss', p: 1 },
    { atMs: 1500, do: 'change-membership', change: 'remove', node: 'leader' },
    { atMs: 3000, do: 'loss', p: 0 },
  ]));
  const run = await runMain('sim', '--algorithm', 'raft', '--nodes', '2', '--schedule', path, '--json');
  const result = JSON.parse(run.out) as SimResult;
  assert.deepEqual(result.violations, []);
  const { configuration } = result.membership!;
  assert.equal(configuration.voters.length, 1, JSON.stringify(configuration));
  const survivor = configuration.voters[0]!;
  assert.equal(result.final.find((f) => f.node === survivor)?.leader, survivor, JSON.stringify(result.final));
});
