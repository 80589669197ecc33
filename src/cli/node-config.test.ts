/**
 * `ballot node`'s settings from flags, BALLOT_* variables and a --config file (flags win, then the
 * environment, then the file), --id-from-hostname, and their mistakes: one line, exit 2.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './args.js';
import { envName, idFromHostname, parseNodeArgs, type NodeCommand } from './node.js';
import { mainJs } from '../runtime/local-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-node-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): NodeCommand {
  const command = parseNodeArgs(argv, env);
  assert.notEqual(command, 'help');
  return command as NodeCommand;
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

test('a node configured by BALLOT_* variables alone', () => {
  const { options, log } = parse([], {
    BALLOT_ID: '2',
    BALLOT_ALGORITHM: 'zab',
    BALLOT_PEERS: '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003',
    BALLOT_DATA_DIR: '/data',
    BALLOT_HEARTBEAT: '40',
    BALLOT_JOIN_NEW: 'true',
    BALLOT_LOG: 'debug',
    BALLOT_INSECURE: '', // empty: unset
  });
  assert.equal(options.id, 2);
  assert.equal(options.algorithm, 'zab');
  assert.equal(options.dataDir, '/data');
  assert.deepEqual(options.timing, { heartbeatMs: 40 });
  assert.equal(options.joinNew, true);
  assert.equal(options.insecure, undefined);
  assert.equal(log, 'debug');
  assert.equal(envName('data-dir'), 'BALLOT_DATA_DIR');
});

test('precedence: flags over BALLOT_* over the --config file', () => {
  const config = file('precedence.json', { algorithm: 'raft', 'cluster-id': 'from-file', 'data-dir': 'file-dir', heartbeat: 70, peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' }, id: 1 });
  const fileOnly = parse(['--config', config]);
  assert.equal(fileOnly.options.clusterId, 'from-file');
  assert.deepEqual(fileOnly.options.timing, { heartbeatMs: 70 });
  assert.deepEqual([...(fileOnly.options.peers as Map<number, string>)], [[1, '127.0.0.1:7001'], [2, '127.0.0.1:7002']]);
  const env = { BALLOT_CLUSTER_ID: 'from-env', BALLOT_DATA_DIR: 'env-dir' };
  const overEnv = parse(['--config', config], env);
  assert.equal(overEnv.options.clusterId, 'from-env');
  assert.equal(overEnv.options.dataDir, 'env-dir');
  const overFlags = parse(['--config', config, '--cluster-id', 'from-flag'], env);
  assert.equal(overFlags.options.clusterId, 'from-flag');
  assert.equal(overFlags.options.dataDir, 'env-dir');
  // The file may be named by the environment too.
  assert.equal(parse([], { BALLOT_CONFIG: config }).options.clusterId, 'from-file');
});

test('--id-from-hostname: a StatefulSet pod ballot-<ordinal> is node ordinal + 1', () => {
  assert.equal(idFromHostname('ballot-0'), 1);
  assert.equal(idFromHostname('my-db-ballot-12'), 13);
  assert.throws(() => idFromHostname('ballot'), (error: unknown) => error instanceof UsageError && /hostname "ballot" does not end in -<ordinal>/.test(error.message));
  const base = ['--algorithm', 'raft', '--peers', '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003', '--data-dir', 'd'];
  assert.equal(parse([...base, '--id-from-hostname'], { HOSTNAME: 'ballot-2' }).options.id, 3);
  assert.equal(parse(base, { HOSTNAME: 'ballot-1', BALLOT_ID_FROM_HOSTNAME: 'yes' }).options.id, 2);
  assert.throws(() => parse([...base, '--id-from-hostname', '--id', '1'], { HOSTNAME: 'ballot-2' }), /give --id or --id-from-hostname, not both/);
  assert.throws(() => parse(base), /--id is required \(or --id-from-hostname\)/);
});

test('{id} in --tls-cert and --tls-key is the node id', () => {
  // Reading a missing file names it with the id filled in: every pod of a StatefulSet shares the setting.
  assert.throws(
    () => parse(['--id-from-hostname', '--algorithm', 'raft', '--peers', '1=127.0.0.1:7001', '--data-dir', 'd', '--tls-cert', join(dir, 'node-{id}.crt'), '--tls-key', join(dir, 'node-{id}.key'), '--tls-ca', join(dir, 'ca.crt')], { HOSTNAME: 'ballot-0' }),
    (error: unknown) => error instanceof UsageError && error.message.includes(join(dir, 'node-1.crt')),
  );
});

test('mistakes in the environment or the --config file: one line on stderr, exit 2', { timeout: 60_000 }, () => {
  const required = { BALLOT_ALGORITHM: 'raft', BALLOT_PEERS: '1=127.0.0.1:7001', BALLOT_DATA_DIR: join(dir, 'data') };
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--id', '1'], { ...required, BALLOT_JOIN_NEW: 'maybe' }, /^ballot node: BALLOT_JOIN_NEW must be true or false, got "maybe"$/],
    [['--id', '1'], { ...required, BALLOT_ALGORITHM: 'paxos' }, /--algorithm must be one of bully, raft, zab, got "paxos"/],
    [['--id-from-hostname'], { ...required, HOSTNAME: 'worker' }, /hostname "worker" does not end in -<ordinal>/],
    [['--id', '1', '--config', join(dir, 'missing.json')], required, /--config: cannot read .*missing\.json \(ENOENT\)/],
    [['--id', '1', '--config', file('bad.json', '{"algorithm": raft}')], required, /--config .*bad\.json: not JSON/],
    [['--id', '1', '--config', file('unknown.json', { algoritm: 'raft' })], required, /--config .*unknown\.json: unknown key "algoritm"/],
    [['--id', '1', '--config', file('type.json', { 'join-new': 'yes' })], required, /--config .*type\.json: "join-new": /],
    [['--id', '1', '--config', file('array.json', [1])], required, /--config .*array\.json: the file: /],
    [['--id', '1', '--config', file('peers.json', { peers: { one: '127.0.0.1:7001' } })], required, /--config .*peers\.json: "peers/],
  ];
  for (const [args, env, expected] of cases) {
    const result = spawnSync(process.execPath, [mainJs, 'node', ...args], { env: { PATH: process.env['PATH'], ...env }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr.trim(), expected);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('--advertise: JSON from a flag, BALLOT_ADVERTISE or an object in --config; a mistake is one line, exit 2', { timeout: 60_000 }, () => {
  const base = ['--id', '1', '--algorithm', 'raft', '--peers', '1=127.0.0.1:7001', '--data-dir', join(dir, 'adv')];
  assert.deepEqual(parse([...base, '--advertise', '{"url":"http://10.0.0.1:8080","zone":"b"}']).options.advertise, { url: 'http://10.0.0.1:8080', zone: 'b' });
  assert.deepEqual(parse(base, { BALLOT_ADVERTISE: '{"url":"u"}' }).options.advertise, { url: 'u' });
  assert.deepEqual(parse([...base, '--config', file('advertise.json', { advertise: { url: 'from-file', weight: 2 } })]).options.advertise, { url: 'from-file', weight: 2 });
  assert.equal(parse(base).options.advertise, undefined);
  const cases: [string, RegExp][] = [
    ['{"url":', /^ballot node: --advertise: not JSON/],
    ['[1,2]', /^ballot node: --advertise: expected a JSON object/],
    ['{"url":{"host":"a"}}', /^ballot node: --advertise: not a valid advertisement at url/],
    [JSON.stringify({ url: 'x'.repeat(1100) }), /^ballot node: --advertise: not a valid advertisement at url/],
  ];
  for (const [json, expected] of cases) {
    const result = spawnSync(process.execPath, [mainJs, 'node', ...base, '--advertise', json], { env: { PATH: process.env['PATH'] }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2, `${json}: ${result.stderr}`);
    assert.match(result.stderr.trim(), expected);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

test('--priority: from a flag, BALLOT_PRIORITY or a number in --config; raft only; a mistake is one line, exit 2', { timeout: 90_000 }, () => {
  const base = (algorithm: string): string[] => ['--id', '1', '--algorithm', algorithm, '--peers', '1=127.0.0.1:7001,2=127.0.0.1:7002', '--data-dir', join(dir, `prio-${algorithm}`)];
  assert.equal(parse([...base('raft'), '--priority', '5']).options.priority, 5);
  assert.equal(parse(base('raft'), { BALLOT_PRIORITY: '7' }).options.priority, 7);
  assert.equal(parse([...base('raft'), '--config', file('priority.json', { priority: 3 })]).options.priority, 3);
  assert.equal(parse(base('raft')).options.priority, undefined);
  const cases: [string[], RegExp][] = [
    [[...base('raft'), '--priority', '-1'], /^ballot node: --priority must be ≥ 0/],
    [[...base('raft'), '--priority', 'high'], /^ballot node: --priority must be an integer/],
    [[...base('raft'), '--priority', '1000001'], /^ballot node: --priority must be at most 1000000/],
    // Refused when the node starts (resolveConfig): Bully and ZAB cannot hand leadership over.
    [[...base('bully'), '--priority', '1'], /^ballot node: priority: bully has no preferred leader to set: the highest live id always leads/],
    [[...base('zab'), '--priority', '1'], /^ballot node: priority: zab cannot hand leadership over/],
  ];
  for (const [args, expected] of cases) {
    const result = spawnSync(process.execPath, [mainJs, 'node', ...args], { env: { PATH: process.env['PATH'] }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr.trim(), expected);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
  // Priority 0 is the default and is accepted everywhere (it prefers nothing).
  assert.equal(parse([...base('zab'), '--priority', '0']).options.priority, 0);
});
