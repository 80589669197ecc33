import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeId } from '../core/types.js';
import { NodeDriver } from '../core/driver.js';
import { algorithms } from '../core/algorithms.js';
import { mainJs, fetchStatus, type NodeStatus } from '../runtime/local-cluster.js';
import { cryptoRandom } from '../runtime/random.js';
import { InputRecorder, type ReplayedRun } from '../runtime/record.js';
import { freePorts, waitFor } from '../runtime/testing.js';
import { main } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-cli-replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['replay', ...argv], { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

/** A leadership change as the node logs it and as replay derives it: the comparison of the proof. */
interface LeaderChange {
  readonly atMs: number;
  readonly leader: NodeId | null;
  readonly term: number;
  readonly role: string;
}

interface RealNode {
  readonly id: NodeId;
  readonly http: number;
  readonly record: string;
  readonly child: ChildProcessByStdio<null, null, Readable>;
  stderr: string;
  /** Resolves with the exit code (null after a signal) once stderr is fully read. */
  readonly closed: Promise<number | null>;
}

function reportedChanges(stderr: string): LeaderChange[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'leader-changed')
    .map((line) => ({ atMs: line.atMs as number, leader: line.leader as NodeId | null, term: line.term as number, role: line.role as string }));
}

function replayedChanges(run: ReplayedRun): LeaderChange[] {
  return run.transitions.filter((t) => t.events.includes('leader-changed')).map(({ atMs, leader, term, role }) => ({ atMs, leader, term, role }));
}

test('replay of each node of a real 3-node Raft cluster, its leader killed -9, equals what the node reported', { timeout: 90_000 }, async () => {
  const ports = await freePorts(6);
  const peers = [1, 2, 3].map((id) => `${id}=127.0.0.1:${ports[id - 1]}`).join(',');
  const nodes: RealNode[] = [1, 2, 3].map((id) => {
    const record = join(dir, `node${id}.jsonl`);
    const http = ports[id + 2]!;
    const child = spawn(
      process.execPath,
      [mainJs, 'node', '--id', String(id), '--algorithm', 'raft', '--peers', peers, '--http', `127.0.0.1:${http}`, '--data-dir', join(dir, `n${id}`), '--record', record,
        // Timeouts well above the heartbeat, so that a loaded machine does not add elections between
        // the last /status read and the stop (the comparison below would still hold, but say less).
        '--election-timeout', '400-800', '--heartbeat', '50'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const node: RealNode = { id, http, record, child, stderr: '', closed: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
    child.stderr.on('data', (chunk: Buffer) => (node.stderr += chunk.toString()));
    return node;
  });
  const statuses = (members: readonly RealNode[]): Promise<(NodeStatus | null)[]> => Promise.all(members.map((node) => fetchStatus(node.http)));
  const agreedLeader = async (members: readonly RealNode[], not?: NodeId): Promise<NodeId | undefined> => {
    const seen = await statuses(members);
    const leader = seen[0]?.leader;
    return leader != null && leader !== not && seen.every((status) => status?.leader === leader) ? leader : undefined;
  };
  try {
    const first = await waitFor('one leader agreed by all three', 30_000, () => agreedLeader(nodes), 50);
    const killed = nodes[first - 1]!;
    killed.child.kill('SIGKILL');
    assert.equal(await killed.closed, null);
    const survivors = nodes.filter((node) => node !== killed);
    await waitFor('a new leader agreed by both survivors', 30_000, () => agreedLeader(survivors, first), 50);
    const lastSeen = await statuses(survivors);
    for (const node of survivors) node.child.kill('SIGTERM');
    for (const node of survivors) assert.equal(await node.closed, 0, `node ${node.id} stops cleanly:\n${node.stderr}`);

    const replayed = new Map<NodeId, ReplayedRun>();
    for (const node of nodes) {
      const { code, out, err } = await run([node.record, '--json']);
      assert.equal(code, 0, err);
      const { runs } = JSON.parse(out) as { runs: ReplayedRun[] };
      assert.equal(runs.length, 1);
      replayed.set(node.id, runs[0]!);
      // The header says where every member was at the start (its own address included).
      assert.deepEqual(runs[0]!.header.addresses, Object.fromEntries([1, 2, 3].map((id) => [String(id), `127.0.0.1:${ports[id - 1]}`])));
      assert.deepEqual(runs[0]!.configurations.map((c) => [c.index, c.membership.voters, c.membership.addresses]), [[0, [1, 2, 3], runs[0]!.header.addresses]]);
      const reported = reportedChanges(node.stderr);
      // The node saw at least the first leader, and each survivor also the second.
      assert.ok(reported.length >= (node === killed ? 1 : 2), `node ${node.id} reported ${JSON.stringify(reported)}`);
      // The proof: the same changes, at the same core times, with the same leaders, terms and roles.
      assert.deepEqual(replayedChanges(runs[0]!), reported, `node ${node.id}`);
    }
    // And the state each survivor reported over HTTP last is a state its replay passes through. (Not
    // necessarily the last: SIGTERM makes a Raft leader hand its leadership over before it exits, and
    // those steps are recorded and replayed too.)
    survivors.forEach((node, index) => {
      const { role, leader, term } = lastSeen[index]!;
      const states = replayed.get(node.id)!.transitions.map((t) => ({ role: t.role, leader: t.leader, term: t.term }));
      assert.ok(states.some((state) => state.role === role && state.leader === leader && state.term === term), `node ${node.id}: ${JSON.stringify({ role, leader, term })} in ${JSON.stringify(states)}`);
    });
  } finally {
    for (const node of nodes) node.child.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.closed));
  }
});

test('ballot replay: a file that is not a record is one line on stderr, exit 2', async () => {
  const cases: [string, RegExp][] = [
    ['', /the record is empty/],
    ['{"x":1}\n', /line 1: the record does not start with a header/],
    ['{"ballotRecord":9}\n', /line 1: record format 9 is not supported/],
    ['not json\n{}\n', /line 1: not JSON/],
  ];
  for (const [index, [text, expected]] of cases.entries()) {
    const file = join(dir, `bad${index}.jsonl`);
    writeFileSync(file, text);
    const { code, out, err } = await run([file]);
    assert.equal(code, 2, err);
    assert.equal(out, '');
    assert.match(err, expected);
    assert.match(err, /^ballot replay: [^\n]+\n$/, 'exactly one line');
  }
  const missing = await run([join(dir, 'missing.jsonl')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^ballot replay: cannot read .*ENOENT/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /FILE is required/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /ballot replay FILE \[--json\]/);
});

test('ballot node --record mistakes: one line on stderr, exit 2', async () => {
  const [peer] = await freePorts(1);
  const base = ['node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peer}`, '--data-dir', join(dir, 'record-mistakes')];
  const cases: [string[], RegExp][] = [
    [['--record', join(dir, 'no', 'such', 'dir', 'r.jsonl')], /^ballot node: cannot record to .*\(ENOENT\)\n$/],
    [['--record-max-mb', '5'], /^ballot node: --record-max-mb needs --record FILE\n$/],
    [['--record', join(dir, 'r.jsonl'), '--record-max-mb', '0'], /^ballot node: --record-max-mb must be at least 1, got 0\n$/],
  ];
  for (const [extra, expected] of cases) {
    let err = '';
    const code = await main([...base, ...extra], { out: () => {}, err: (text) => (err += text) });
    assert.equal(code, 2, err);
    assert.match(err, expected);
  }
});

/**
 * A lone Raft voter, recorded: it elects itself and adds node 2 as a learner. `addresses` null writes the
 * header as records made before it had addresses.
 */
function recordGrowingCluster(path: string, addresses: Record<string, string> | null): void {
  const raft = algorithms.raft;
  const recorder = new InputRecorder(path, 1 << 20, () => {});
  const timing = raft.defaultTiming;
  const durable = raft.initialDurable(0);
  const config = { id: 1, voters: [1], observers: [], timing, ...(addresses ? { addresses } : {}) };
  const core = raft.create(config, durable, recorder.random(cryptoRandom()), 0);
  recorder.start({ algorithm: 'raft', variant: raft.variant ?? null, ...config, durable, startedAt: new Date(0).toISOString() });
  const driver = new NodeDriver(core, { persist: () => {}, send: () => {}, publish: (event) => recorder.observe(event) }, 0);
  driver.tick(driver.nextDeadline());
  driver.stepAll(400, [{ type: 'change-membership', id: 1, change: { type: 'add-learner', peer: 2, address: '127.0.0.1:7002' } }]);
  recorder.close();
}

test('ballot replay prints where each member was: the header\'s addresses and every configuration the node used', async () => {
  const file = join(dir, 'growing.jsonl');
  recordGrowingCluster(file, { '1': '127.0.0.1:7001' });
  const { code, out, err } = await run([file]);
  assert.equal(code, 0, err);
  const lines = out.trimEnd().split('\n');
  assert.match(lines[0]!, /^run 1: raft node 1 of voters 1 at 1=127\.0\.0\.1:7001, started /);
  assert.match(out, /\n +0\.000 ms {2}configuration 0: voters 1, learners -, at 1=127\.0\.0\.1:7001\n/);
  assert.match(out, /\n +400\.000 ms {2}configuration \d+: voters 1, learners 2, at 1=127\.0\.0\.1:7001,2=127\.0\.0\.1:7002\n/);
  const leads = lines.findIndex((line) => / leader +leader 1 /.test(line));
  const added = lines.findIndex((line) => /learners 2/.test(line));
  assert.ok(leads > 0 && added > leads, 'in time order:\n' + out);

  // A record made before headers had addresses: the run's line names none, its start configuration says it knows none.
  const old = join(dir, 'growing-old.jsonl');
  recordGrowingCluster(old, null);
  const replayed = await run([old]);
  assert.equal(replayed.code, 0, replayed.err);
  assert.match(replayed.out, /^run 1: raft node 1 of voters 1, started /);
  assert.match(replayed.out, /configuration 0: voters 1, learners -, at 1=\?\n/);
  assert.match(replayed.out, /configuration \d+: voters 1, learners 2, at 1=\?,2=127\.0\.0\.1:7002\n/);
});
