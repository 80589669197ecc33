/**
 * `ballot member` and `ballot node --join` without a cluster: their arguments, their mistakes (one line,
 * exit 2), --help, the POST /members body check, and `recover` on a real data dir (its refusal without
 * --yes-i-know, and the durable state it writes). The cluster side is membership-processes.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { raft } from '../core/raft/index.js';
import type { RaftDurable } from '../core/raft/messages.js';
import { ConfigError, resolveConfig } from '../runtime/config.js';
import { parseMemberRequest } from '../runtime/membership.js';
import { DurableStore } from '../runtime/storage.js';
import { freePorts } from '../runtime/testing.js';
import { main } from './main.js';
import { parseMemberArgs } from './member.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-member-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (text) => void (out += text), err: (text) => void (err += text) });
  return { code, out, err };
}

test('ballot member: the requests it sends', () => {
  assert.deepEqual(parseMemberArgs(['add', '4=127.0.0.1:7004', '--to', 'http://127.0.0.1:8001']), {
    action: 'add',
    url: new URL('http://127.0.0.1:8001/members'),
    body: { action: 'add', id: 4, address: '127.0.0.1:7004' },
    json: false,
    timeoutMs: 90_000,
  });
  const learner = parseMemberArgs(['add', '5=[::1]:7005', '--learner', '--to', 'https://a.example:8443/x', '--timeout', '5']);
  assert.ok(learner !== 'help');
  assert.deepEqual([learner.body, learner.url.href, learner.timeoutMs], [{ action: 'add', id: 5, address: '[::1]:7005', learner: true }, 'https://a.example:8443/members', 5000]);
  const removal = parseMemberArgs(['remove', '1', '--to', 'http://h:1']);
  assert.ok(removal !== 'help');
  assert.deepEqual(removal.body, { action: 'remove', id: 1 });
  const list = parseMemberArgs(['list', '--to', 'http://h:1', '--json']);
  assert.ok(list !== 'help');
  assert.deepEqual([list.body, list.json], [null, true]);
});

test('ballot member: mistakes are one line and exit 2; --help is true', async () => {
  const mistakes: [string[], RegExp][] = [
    [['member'], /^ballot member: expected a subcommand: add, remove, promote, list, recover/],
    [['member', 'join'], /unknown subcommand "join"/],
    [['member', 'add', '--to', 'http://h:1'], /add needs ID=HOST:PORT/],
    [['member', 'add', '4', '--to', 'http://h:1'], /add: expected ID=HOST:PORT, got "4"/],
    [['member', 'add', '0=h:1', '--to', 'http://h:1'], /a node id is a positive integer, got "0"/],
    [['member', 'add', '4=h', '--to', 'http://h:1'], /the address must be HOST:PORT/],
    [['member', 'remove', '--to', 'http://h:1'], /remove needs the node's ID/],
    [['member', 'remove', 'x', '--to', 'http://h:1'], /a node id is a positive integer, got "x"/],
    [['member', 'remove', '2', '--learner', '--to', 'http://h:1'], /--learner goes with add/],
    [['member', 'list'], /--to URL is required/],
    [['member', 'list', '--to', 'ftp://h:1'], /--to must be an http:\/\/ or https:\/\/ URL/],
    [['member', 'list', '--to', 'http://h:1', '--timeout', '0'], /--timeout must be at least 1/],
    [['member', 'list', '--to', 'http://h:1', '--bogus'], /unknown option '--bogus'/],
    [['member', 'recover', '--id', '1', '--address', '127.0.0.1:1'], /--data-dir DIR is required/],
    [['member', 'recover', '--data-dir', dir, '--id', '1', '--address', 'nowhere'], /address: expected HOST:PORT/],
  ];
  for (const [argv, message] of mistakes) {
    const { code, out, err } = await run(argv);
    assert.equal(code, 2, argv.join(' '));
    assert.equal(out, '');
    assert.match(err, message, argv.join(' '));
    assert.equal(err.split('\n').length, 2, `one line: ${err}`);
  }
  const help = await run(['member', '--help']);
  assert.equal(help.code, 0);
  for (const usage of ['member add ID=HOST:PORT --to URL [--learner]', 'member remove ID --to URL', 'member list --to URL', 'member recover --data-dir DIR']) assert.ok(help.out.includes(usage), usage);
  const recoverHelp = await run(['member', 'recover', '--help']);
  assert.equal(recoverHelp.code, 0);
  assert.match(recoverHelp.out, /UNSAFE quorum-loss recovery/);
  assert.match(recoverHelp.out, /--yes-i-know/);
  assert.match((await run(['--help'])).out, /\n {2}member +add, remove or list the members/);
  // Nothing listens on the port: a clear line, exit 1 (the cluster could not be reached).
  const [port] = await freePorts(1);
  const unreachable = await run(['member', 'list', '--to', `http://127.0.0.1:${port!}`]);
  assert.deepEqual([unreachable.code, unreachable.err], [1, `ballot member list: cannot reach http://127.0.0.1:${port!} (ECONNREFUSED)\n`]);
});

test('POST /members bodies: checked, with one line for each mistake', () => {
  assert.deepEqual(parseMemberRequest({ action: 'add', id: 4, address: ' 127.0.0.1:7004' }), { action: 'add', id: 4, address: '127.0.0.1:7004', learner: false });
  assert.deepEqual(parseMemberRequest({ action: 'add', id: 4, address: '[::1]:7004', learner: true }), { action: 'add', id: 4, address: '[::1]:7004', learner: true });
  assert.deepEqual(parseMemberRequest({ action: 'remove', id: 1 }), { action: 'remove', id: 1 });
  assert.deepEqual(parseMemberRequest({ action: 'promote', id: 4 }), { action: 'promote', id: 4 });
  const mistakes: [unknown, RegExp][] = [
    [[], /must be a JSON object/],
    [null, /must be a JSON object/],
    [{ action: 'join', id: 4 }, /"action" must be one of add, remove, promote/],
    [{ action: 'remove', id: 0 }, /"id" must be a positive integer/],
    [{ action: 'remove', id: 1.5 }, /"id" must be a positive integer/],
    [{ action: 'remove', id: '1' }, /"id" must be a positive integer/],
    [{ action: 'remove', id: 1, address: 'h:1' }, /unknown field "address" for "remove"/],
    [{ action: 'add', id: 4 }, /"address" must be the new member's peer address/],
    [{ action: 'add', id: 4, address: 'x'.repeat(301) }, /at most 300 characters/],
    [{ action: 'add', id: 4, address: 'h:0' }, /port 0 is out of range/],
    [{ action: 'add', id: 4, address: 'h:1', learner: 'yes' }, /"learner" must be true or false/],
  ];
  for (const [body, message] of mistakes) {
    const problem = parseMemberRequest(body);
    assert.equal(typeof problem, 'string', JSON.stringify(body));
    assert.match(problem as string, message);
  }
});

test('--join: a node in no configuration, which knows the members of --peers', () => {
  const peers = { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' };
  const config = resolveConfig({ id: 4, algorithm: 'raft', peers, listen: '127.0.0.1:7004', dataDir: dir, join: true });
  assert.deepEqual([config.voters, config.observers, [...config.addresses.keys()], config.self, config.join], [[], [], [1, 2], null, true]);
  const refused: [Parameters<typeof resolveConfig>[0], RegExp][] = [
    [{ id: 4, algorithm: 'zab', peers, listen: '127.0.0.1:7004', dataDir: dir, join: true }, /join: zab's membership is fixed at start/],
    [{ id: 4, algorithm: 'bully', peers, listen: '127.0.0.1:7004', dataDir: dir, join: true }, /join: bully's membership is fixed at start/],
    [{ id: 2, algorithm: 'raft', peers, listen: '127.0.0.1:7004', dataDir: dir, join: true }, /join: node 2 is already in --peers/],
    [{ id: 4, algorithm: 'raft', peers, dataDir: dir, join: true }, /join: --listen is required/],
    [{ id: 4, algorithm: 'raft', peers, listen: '127.0.0.1:7004', dataDir: dir, join: true, joinNew: true }, /give one of them/],
    [{ id: 4, algorithm: 'raft', peers, dataDir: dir }, /own id 4 is missing .*or --join to join a running cluster/],
  ];
  for (const [options, message] of refused) assert.throws(() => resolveConfig(options), (error: unknown) => error instanceof ConfigError && message.test(error.message));
});

test('recover: refused without --yes-i-know; with it, the node is the sole voter of a new term', async () => {
  const dataDir = join(dir, 'n1');
  const opened = DurableStore.open(dataDir, raft, 1);
  const before: RaftDurable = { currentTerm: 5, votedFor: 2, log: [{ term: 1 }, { term: 5, command: 'x' }] };
  opened.store.save(before);
  opened.store.close();
  const [port] = await freePorts(1);
  const args = ['member', 'recover', '--data-dir', dataDir, '--id', '1', '--address', `127.0.0.1:${port!}`];
  const refused = await run(args);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /^ballot member: refusing without --yes-i-know: this makes node 1 the only voter of a new cluster; entries only the lost members held are lost \(acknowledged writes among them\)/);
  assert.deepEqual(DurableStore.open(dataDir, raft, 1).durable, before, 'nothing written without the confirmation');
  const wrongNode = await run(['member', 'recover', '--data-dir', dataDir, '--id', '2', '--address', `127.0.0.1:${port!}`, '--yes-i-know']);
  assert.equal(wrongNode.code, 2);
  assert.match(wrongNode.err, /the state of node 1, not node 2/);
  const empty = await run(['member', 'recover', '--data-dir', join(dir, 'none'), '--id', '1', '--address', `127.0.0.1:${port!}`, '--yes-i-know']);
  assert.deepEqual([empty.code, /holds no node state/.test(empty.err)], [2, true]);

  const done = await run([...args, '--yes-i-know']);
  assert.equal(done.code, 0, done.err);
  assert.match(done.out, new RegExp(`^node 1 is now the only voter of a new cluster at 127\\.0\\.0\\.1:${port!} \\(term 6, configuration at log index 3\\)`));
  const after = DurableStore.open(dataDir, raft, 1).durable as RaftDurable;
  assert.deepEqual([after.currentTerm, after.votedFor, after.log.length], [6, 1, 3]);
  assert.deepEqual(after.log.slice(0, 2), before.log, 'the log it held is kept');
});

/** A stand-in for a member's GET /members (a real HTTP server on 127.0.0.1) answering `body`. */
async function listFrom(body: object): Promise<{ code: number; out: string; err: string }> {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await run(['member', 'list', '--to', `http://127.0.0.1:${(server.address() as AddressInfo).port}`]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('ballot member list: each member\'s role in force and address in an aligned table; a removed or joining node says so', async () => {
  const view = {
    id: 3, index: 10, committed: true, voters: [2, 3, 12], observers: [4], leader: 2, member: 'voter',
    addresses: { '2': '127.0.0.1:7002', '3': '127.0.0.1:7003', '4': '127.0.0.1:7004', '12': 'node-twelve.example:7012' },
  };
  const listed = await listFrom(view);
  assert.equal(listed.code, 0, listed.err);
  assert.equal(listed.out, [
    'index 10 (committed), leader 2, as node 3 sees it',
    '',
    'node  role     address',
    '----  -------  ------------------------',
    '   2  voter    127.0.0.1:7002',
    '   3  voter    127.0.0.1:7003',
    '   4  learner  127.0.0.1:7004',
    '  12  voter    node-twelve.example:7012',
    '',
  ].join('\n'));
  const removed = await listFrom({ ...view, id: 1, member: 'removed', committed: false });
  assert.match(removed.out, /^index 10 \(not committed yet\), leader 2, as node 1 sees it; node 1 was removed from it \(stop it\)\n/);
  const joining = await listFrom({ ...view, id: 5, index: 0, voters: [], observers: [], addresses: {}, leader: null, member: 'joining' });
  assert.match(joining.out, /^index 0 \(committed\), leader unknown, as node 5 sees it; node 5 is not in it yet \(started with --join: add it with ballot member add\)\n/);
  // A node of an earlier version sends no `member`: the line is as it was.
  const { member: _member, ...older } = view;
  assert.match((await listFrom(older)).out, /^index 10 \(committed\), leader 2, as node 3 sees it\n\n/);
});
