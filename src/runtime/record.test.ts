import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDriver, type DriverEvent } from '../core/driver.js';
import { createRaft, defaultRaftOptions } from '../core/raft/index.js';
import { cryptoRandom } from './random.js';
import { InputRecorder, ReplayDiverged, replayRecord } from './record.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-record-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The paper's Raft (no PreVote: a precandidate would stay one, at term 0): its record names the variant,
 * which the replay must rebuild.
 */
const raft = createRaft({ ...defaultRaftOptions, preVote: false });

/** A Raft voter of three whose peers never answer: it times out, draws, and stands again and again. */
function recordLonelyVoter(path: string, maxBytes: number, ticks: number): { changes: DriverEvent[]; full: boolean } {
  let full = false;
  const recorder = new InputRecorder(path, maxBytes, () => (full = true));
  const timing = raft.defaultTiming;
  const durable = raft.initialDurable(0);
  const core = raft.create({ id: 1, voters: [1, 2, 3], observers: [], timing }, durable, recorder.random(cryptoRandom()), 0);
  recorder.start({ algorithm: 'raft', variant: raft.variant ?? null, id: 1, voters: [1, 2, 3], observers: [], timing, durable, startedAt: new Date(0).toISOString() });
  const changes: DriverEvent[] = [];
  const driver = new NodeDriver(core, { persist: () => {}, send: () => {}, publish: (event) => (recorder.observe(event), event.type === 'status' && changes.push(event)) }, 0);
  for (let i = 0; i < ticks; i++) {
    driver.tick(driver.nextDeadline());
    recorder.endInput();
  }
  recorder.close();
  return { changes, full };
}

test('a recorded core replays to the same transitions, at the same times, with the same draws', () => {
  const path = join(dir, 'same.jsonl');
  const { changes, full } = recordLonelyVoter(path, 1 << 20, 50);
  assert.equal(full, false);
  const [run] = replayRecord(readFileSync(path, 'utf8'));
  assert.equal(run!.inputs, 50);
  const recorded = changes.map((event) => (event.type === 'status' ? [event.atMs, event.status.role, event.status.term] : []));
  assert.ok(recorded.length > 10, 'the voter stood for election many times');
  assert.deepEqual(run!.transitions.map((t) => [t.atMs, t.role, t.term]), recorded);
});

test('a replay that draws differently from the node is reported as diverged', () => {
  const path = join(dir, 'diverge.jsonl');
  recordLonelyVoter(path, 1 << 20, 5);
  const lines = readFileSync(path, 'utf8').split('\n');
  const index = lines.findIndex((line) => line.includes('"kind":"tick"') && line.includes('"draws"'));
  assert.ok(index > 0);
  lines[index] = JSON.stringify({ ...(JSON.parse(lines[index]!) as object), draws: [] });
  writeFileSync(path, lines.join('\n'));
  assert.throws(() => replayRecord(lines.join('\n')), (error) => error instanceof ReplayDiverged && error.message.includes(`line ${index + 1}: replay diverged`));
});

test('a record stops at its size bound, says so in the file, and replays up to there', () => {
  const path = join(dir, 'bounded.jsonl');
  const { full } = recordLonelyVoter(path, 4096, 1000);
  assert.equal(full, true);
  const size = statSync(path).size;
  assert.ok(size <= 4096 + 64, `${size} bytes`);
  const [run] = replayRecord(readFileSync(path, 'utf8'));
  assert.equal(run!.full, true);
  assert.ok(run!.inputs > 5 && run!.inputs < 1000);
});

test('a node restarted with the same record appends a run, and each run replays from its own header', () => {
  const path = join(dir, 'restarted.jsonl');
  const first = recordLonelyVoter(path, 1 << 20, 20);
  const second = recordLonelyVoter(path, 1 << 20, 30);
  const runs = replayRecord(readFileSync(path, 'utf8'));
  assert.deepEqual(runs.map((run) => run.inputs), [20, 30]);
  runs.forEach((run, index) => {
    const changes = [first, second][index]!.changes;
    assert.deepEqual(run.transitions.map((t) => t.atMs), changes.map((event) => event.atMs));
  });
});

test('the requests of issue 15 (propose, read, compact) are recorded and replayed as inputs', () => {
  const path = join(dir, 'requests.jsonl');
  const recorder = new InputRecorder(path, 1 << 20, () => {});
  const timing = raft.defaultTiming;
  const durable = raft.initialDurable(0);
  const core = raft.create({ id: 1, voters: [1], observers: [], timing }, durable, recorder.random(cryptoRandom()), 0);
  recorder.start({ algorithm: 'raft', variant: raft.variant ?? null, id: 1, voters: [1], observers: [], timing, durable, startedAt: new Date(0).toISOString() });
  const driver = new NodeDriver(core, { persist: () => {}, send: () => {}, publish: (event) => recorder.observe(event) }, 0);
  const inputs = [
    { type: 'propose', id: 1, command: '{"op":"put","key":"k","value":"v"}' },
    { type: 'read', id: 2 },
    { type: 'compact', index: 0, snapshot: '{"applied":0,"entries":[]}' },
  ] as const;
  driver.stepAll(5, inputs);
  recorder.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(lines.map(({ draws: _draws, ...line }) => line), [
    { at: 5, kind: 'propose', id: 1, command: inputs[0].command },
    { at: 5, kind: 'read', id: 2 },
    { at: 5, kind: 'compact', index: 0, snapshot: inputs[2].snapshot },
  ]);
  const [run] = replayRecord(readFileSync(path, 'utf8'));
  assert.equal(run!.inputs, 3);
  assert.throws(() => replayRecord(readFileSync(path, 'utf8').replace('"kind":"read","id":2', '"kind":"read","id":-2')), /a read needs an "id"/);
});

test('the header carries the members\' addresses, and the replay reports every configuration with the addresses its entry carried', () => {
  const path = join(dir, 'addresses.jsonl');
  const recorder = new InputRecorder(path, 1 << 20, () => {});
  const timing = raft.defaultTiming;
  const durable = raft.initialDurable(0);
  const addresses = { '1': '127.0.0.1:7001' };
  const core = raft.create({ id: 1, voters: [1], observers: [], timing, addresses }, durable, recorder.random(cryptoRandom()), 0);
  recorder.start({ algorithm: 'raft', variant: raft.variant ?? null, id: 1, voters: [1], observers: [], addresses, timing, durable, startedAt: new Date(0).toISOString() });
  const driver = new NodeDriver(core, { persist: () => {}, send: () => {}, publish: (event) => recorder.observe(event) }, 0);
  driver.tick(driver.nextDeadline()); // a lone voter elects itself
  assert.equal(driver.status().role, 'leader');
  driver.stepAll(400, [{ type: 'change-membership', id: 1, change: { type: 'add-learner', peer: 2, address: '127.0.0.1:7002' } }]);
  recorder.close();

  const text = readFileSync(path, 'utf8');
  assert.deepEqual((JSON.parse(text.split('\n')[0]!) as { addresses: unknown }).addresses, addresses);
  const [run] = replayRecord(text);
  assert.deepEqual(run!.header.addresses, addresses);
  assert.deepEqual(run!.configurations.map((c) => [c.index, c.membership]), [
    [0, { voters: [1], observers: [], addresses }],
    [run!.configurations[1]!.index, { voters: [1], observers: [2], addresses: { '1': '127.0.0.1:7001', '2': '127.0.0.1:7002' } }],
  ]);
  assert.ok(run!.configurations[1]!.index > 0);
  assert.equal(run!.configurations[1]!.atMs, 400);

  // A header with something else than addresses there is no record of this ballot.
  const bad = text.replace('"addresses":{"1":"127.0.0.1:7001"}', '"addresses":{"one":"127.0.0.1:7001"}');
  assert.notEqual(bad, text);
  assert.throws(() => replayRecord(bad), /line 1: header: addresses must map node ids to HOST:PORT strings/);
});

test('a record made before headers had addresses replays the same, and says it knows none', () => {
  const path = join(dir, 'no-addresses.jsonl');
  const { changes } = recordLonelyVoter(path, 1 << 20, 20);
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.split('\n')[0]!.includes('"addresses"'), 'recordLonelyVoter writes the old header');
  const [run] = replayRecord(text);
  assert.equal(run!.header.addresses, undefined);
  assert.ok(!('addresses' in run!.header), 'no addresses field is made up');
  assert.deepEqual(run!.transitions.map((t) => t.atMs), changes.map((event) => event.atMs));
  assert.deepEqual(run!.configurations.map((c) => [c.atMs, c.index, c.membership]), [[0, 0, { voters: [1, 2, 3], observers: [], addresses: { '1': '', '2': '', '3': '' } }]], "'': not known (NodeConfig.addresses absent)");
});
