/**
 * The forged-frame attacks against a TLS cluster of real `ballot node` processes (Raft, three members on
 * 127.0.0.1, certificates from a throw-away CA). In plaintext, one forged RequestVote of a higher term
 * deposes the leader. Over TLS every attack below is refused by the node it targets (each counted
 * under its own reason), and no member sees the term move: a client without a certificate, one with a
 * certificate of another CA, plaintext, a member's valid certificate claiming another member, and a
 * valid certificate of a non-member. A member's dialer also refuses an acceptor whose certificate names
 * another member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { NodeId } from '../core/types.js';
import { generateClusterCertificates, writeClusterCertificates, type MemberCertificate } from './certificates.js';
import { startNode } from './node.js';
import { mainJs } from './local-cluster.js';
import { testCluster } from './test-cluster.js';
import { PROTOCOL_VERSION } from './schema.js';
import { frame, freePorts, metricValue, sendAndAwaitClose, sleep, waitFor } from './testing.js';
import { memberIdOf, PeerTls } from './tls.js';
import { ConfigError, isLoopback, resolveConfig } from './config.js';
import { jsonLogger } from './log.js';


/** Connects over TLS (with `identity`'s certificate, or none), sends `bytes`, and reports whether the node closed it. */
function tlsAttempt(port: number, identity: MemberCertificate | null, ca: string, bytes: Buffer, timeoutMs = 4000): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca,
      ...(identity ? { cert: identity.cert, key: identity.key } : {}),
      // The attacker does not care who the node is.
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('open');
    }, timeoutMs);
    socket.on('secureConnect', () => socket.write(bytes));
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

test('certificate identities: CN ballot-node-<id> only; loopback detection', () => {
  assert.equal(memberIdOf('ballot-node-3'), 3);
  for (const name of ['ballot-node-0', 'ballot-node-03', 'ballot-node-3 ', 'xballot-node-3', 'ballot-node-', undefined]) assert.equal(memberIdOf(name), null, String(name));
  for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '::1']) assert.ok(isLoopback(host), host);
  for (const host of ['10.0.0.1', '0.0.0.0', '::', 'ballot-0.ballot', '128.0.0.1']) assert.ok(!isLoopback(host), host);
});

test('configuration: certificates that do not fit the node, and plaintext beyond loopback, are one-line ConfigErrors', async () => {
  const certificates = await generateClusterCertificates([1, 2]);
  const other = await generateClusterCertificates([1]);
  const member = certificates.members.get(1)!;
  const base = { algorithm: 'raft' as const, dataDir: '/nonexistent-not-touched', peers: { 1: '127.0.0.1:7001', 2: '127.0.0.1:7002' } };
  // What startNode checks: the options (resolveConfig), then the certificates (PeerTls.create).
  const error = (options: Parameters<typeof resolveConfig>[0]): string => {
    try {
      const config = resolveConfig(options);
      if (config.tls) PeerTls.create(config.tls, config.id);
    } catch (caught) {
      assert.ok(caught instanceof ConfigError, String(caught));
      assert.ok(!caught.message.includes('\n'));
      return caught.message;
    }
    return 'accepted';
  };
  assert.equal(error({ ...base, id: 1, tls: { ...member, ca: certificates.ca } }), 'accepted');
  assert.match(error({ ...base, id: 2, tls: { ...member, ca: certificates.ca } }), /CN is "ballot-node-1", but node 2 needs CN=ballot-node-2/);
  assert.match(error({ ...base, id: 1, tls: { ...member, ca: other.ca } }), /not signed by the CA/);
  assert.match(error({ ...base, id: 1, tls: { cert: member.cert, key: certificates.members.get(2)!.key, ca: certificates.ca } }), /key values mismatch/);
  assert.match(error({ ...base, id: 1, tls: { cert: 'nonsense', key: member.key, ca: certificates.ca } }), /tls-cert: not a PEM certificate/);
  const wide = { ...base, id: 1, peers: { 1: '127.0.0.1:7001', 2: '10.0.0.2:7002' } };
  assert.match(error(wide), /10\.0\.0\.2:7002 is not a loopback address: give --tls-cert, --tls-key and --tls-ca .*--insecure/);
  assert.match(error({ ...base, id: 1, listen: '0.0.0.0:7001' }), /0\.0\.0\.0:7001 is not a loopback address/);
  assert.equal(resolveConfig({ ...wide, insecure: true }).insecure, true);
  assert.equal(resolveConfig({ ...wide, tls: { ...member, ca: certificates.ca } }).insecure, false);
});

test('a dialer refuses an acceptor whose certificate names another member', { timeout: 30_000 }, async () => {
  const certificates = await generateClusterCertificates([1, 2, 3]);
  const [peerPort] = await freePorts(1);
  const ownPort = (await freePorts(1))[0]!;
  // At node 2's address listens someone holding node 3's (valid) certificate.
  const impostor = PeerTls.create({ ...certificates.members.get(3)!, ca: certificates.ca }, 3);
  let handshakes = 0;
  const server = createServer((raw) => {
    const socket = impostor.accept(raw);
    socket.on('secure', () => handshakes++);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(peerPort, '127.0.0.1', resolve));
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ballot-tls-dial-'));
  const node = await startNode({
    id: 1,
    algorithm: 'raft',
    peers: { 1: `127.0.0.1:${ownPort}`, 2: `127.0.0.1:${peerPort!}` },
    dataDir: dir,
    tls: { ...certificates.members.get(1)!, ca: certificates.ca },
    logger: jsonLogger('info', (line) => lines.push(line)),
  });
  try {
    await waitFor('the dialer to refuse the certificate', 10_000, () => (lines.some((line) => line.includes('peer-certificate-refused')) ? true : undefined));
    const refusal = JSON.parse(lines.find((line) => line.includes('peer-certificate-refused'))!) as { peer: number; error: string };
    assert.equal(refusal.peer, 2);
    assert.match(refusal.error, /presented "ballot-node-3", not ballot-node-2/);
    assert.ok(!lines.some((line) => line.includes('"peer-connected"')), 'the link to node 2 never opened');
    assert.equal(lines.filter((line) => line.includes('peer-certificate-refused')).length, 1, 'said once, not per redial');
  } finally {
    await node.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('raft over mutual TLS: forged frames are refused by reason, and no member sees the term move', { timeout: 90_000 }, async (t) => {
  // Members 1-3, and a certificate of the same CA for 9, who is not a member.
  const certificates = await generateClusterCertificates([1, 2, 3, 9]);
  const foreign = (await generateClusterCertificates([2])).members.get(2)!;
  const { cluster, peerPorts, close } = await testCluster({
    name: 'tls',
    algorithm: 'raft',
    voters: 3,
    certificates,
    logs: true,
    // Wide, so that a loaded machine does not make the members campaign on their own: the test
    // watches for a term the attacks would move.
    extraArgs: ['--election-timeout', '1000-2000', '--heartbeat', '100', '--log', 'debug'],
  });
  try {
    cluster.startAll();
    const [first] = await cluster.agreed('an agreed leader', (views) => views.length === 3, 40_000);
    const agreed = { leader: first!.leader, term: first!.term };
    await sleep(1000);
    const { leader, term } = (await cluster.status(1))!;
    assert.deepEqual({ leader, term }, agreed);

    // Node 1 is the target; every attack carries a RequestVote far ahead, which would depose the leader.
    const target: NodeId = 1;
    const port = peerPorts[target - 1]!;
    const forged = (from: NodeId): Buffer =>
      Buffer.concat([frame({ ballot: PROTOCOL_VERSION, cluster: 'ballot', algorithm: 'raft', from, to: target }), frame({ type: 'RequestVote', term: term + 1000, lastLogIndex: 1e6, lastLogTerm: term + 999, transfer: 0 })]);
    const member = (id: NodeId): MemberCertificate => certificates.members.get(id)!;
    const attempts: [string, Promise<'closed' | 'open'>][] = [
      ['plaintext', sendAndAwaitClose(port, forged(2))],
      ['TLS without a certificate', tlsAttempt(port, null, certificates.ca, forged(2))],
      ["member 2's name, another CA", tlsAttempt(port, foreign, certificates.ca, forged(2))],
      ["member 2's certificate claiming member 3", tlsAttempt(port, member(2), certificates.ca, forged(3))],
      ["non-member 9's certificate claiming member 3", tlsAttempt(port, member(9), certificates.ca, forged(3))],
      ["non-member 9's certificate as itself", tlsAttempt(port, member(9), certificates.ca, forged(9))],
    ];
    // The handshake deadline covers the TLS handshake: silent in TCP (no ClientHello), or silent after
    // a good TLS handshake (no handshake frame), both are closed by it (2 s with this timing).
    attempts.push(['silent before TLS', sendAndAwaitClose(port, Buffer.alloc(0), { timeoutMs: 8000 })]);
    attempts.push(['silent after TLS', tlsAttempt(port, member(2), certificates.ca, Buffer.alloc(0), 8000)]);
    for (const [what, attempt] of attempts) assert.equal(await attempt, 'closed', `${what}: the node closed the connection`);
    // Long enough for a deposed leader to be noticed: several heartbeats.
    await sleep(1500);

    const views = await cluster.statuses(1000);
    for (const id of cluster.members) assert.deepEqual({ leader: views.get(id)?.leader, term: views.get(id)?.term }, { leader, term }, `node ${id} kept its leader and term`);
    const text = await (await fetch(`http://127.0.0.1:${cluster.httpPort(target)}/metrics`)).text();
    const refused = (reason: string): number => metricValue(text, `ballot_frames_rejected_by_reason_total{reason="${reason}"}`) ?? 0;
    t.diagnostic(`node ${target} refused: tls-refused ${refused('tls-refused')}, wrong-identity ${refused('wrong-identity')}, unknown-sender ${refused('unknown-sender')}`);
    // Plaintext, no certificate, another CA.
    assert.ok(refused('tls-refused') >= 3, `tls-refused ${refused('tls-refused')}`);
    // Member 2 as 3, non-member 9 as 3.
    assert.equal(refused('wrong-identity'), 2);
    // Non-member 9 as itself: its certificate is genuine, but 9 is not a member.
    assert.equal(refused('unknown-sender'), 1);
    assert.equal(metricValue(text, 'ballot_connections_rejected_total{reason="handshake-timeout"}'), 2);
    for (const peer of cluster.members.filter((id) => id !== target)) {
      assert.equal(metricValue(text, `ballot_peer_connected{peer="${peer}",direction="inbound"}`), 1, `member ${peer} is still connected`);
    }
  } finally {
    await close();
  }
});

test('ballot node --tls-*: mistakes are one line, exit 2', { timeout: 30_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'ballot-tls-cli-'));
  try {
    const certificates = await generateClusterCertificates([1]);
    writeClusterCertificates(dir, certificates);
    writeFileSync(join(dir, 'garbage.crt'), 'not a certificate');
    const run = (...args: string[]): { status: number | null; stderr: string } => {
      const result = spawnSync(process.execPath, [mainJs, 'node', '--id', '2', '--algorithm', 'raft', '--peers', '1=127.0.0.1:7001,2=127.0.0.1:7002', '--data-dir', join(dir, 'data'), ...args], { encoding: 'utf8', timeout: 20_000 });
      return { status: result.status, stderr: result.stderr };
    };
    const cases: [string[], RegExp][] = [
      [['--tls-cert', join(dir, 'node-1.crt')], /--tls-cert, --tls-key and --tls-ca go together/],
      [['--tls-cert', join(dir, 'node-1.crt'), '--tls-key', join(dir, 'node-1.key'), '--tls-ca', join(dir, 'missing.crt')], /--tls-ca: cannot read .*missing\.crt \(ENOENT\)/],
      [['--tls-cert', join(dir, 'node-1.crt'), '--tls-key', join(dir, 'node-1.key'), '--tls-ca', join(dir, 'ca.crt')], /node 2 needs CN=ballot-node-2/],
      [['--tls-cert', join(dir, 'garbage.crt'), '--tls-key', join(dir, 'node-1.key'), '--tls-ca', join(dir, 'ca.crt')], /tls-cert: not a PEM certificate/],
      [['--tls-cert', join(dir, 'node-1.crt'), '--tls-key', join(dir, 'node-1.key'), '--tls-ca', join(dir, 'ca.crt'), '--insecure'], /--insecure contradicts --tls-cert/],
      [['--listen', '0.0.0.0:7002'], /0\.0\.0\.0:7002 is not a loopback address/],
    ];
    for (const [args, expected] of cases) {
      const { status, stderr } = run(...args);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, expected);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ballot node --insecure: plaintext with a member beyond loopback starts, and warns once', { timeout: 30_000 }, async () => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'ballot-insecure-'));
  const [port, http] = await freePorts(2);
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a real host; the node only dials it in vain.
  const child = spawn(process.execPath, [mainJs, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${port!},2=192.0.2.1:7002,3=192.0.2.2:7003`, '--http', `127.0.0.1:${http!}`, '--data-dir', join(dir, 'data'), '--insecure'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the node to serve', 20_000, async () => ((await fetch(`http://127.0.0.1:${http!}/livez`).catch(() => null))?.status === 200 ? true : undefined), 100);
    await sleep(500);
    const warnings = stderr.split('\n').filter((line) => line.includes('"event":"insecure"'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0]!, /anyone who reaches it can speak as a member/);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});
