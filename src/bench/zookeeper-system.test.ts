// ZooKeeper itself is never started by the tests (a JVM per server is far too slow for CI); the bench
// exercises it. These tests cover the configuration, the mapping of timing, and the `srvr` reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseSrvr, parseSrvrMode, srvr, viewsFromReplies, zooCfg, zookeeperDefaultTiming, zookeeperTiming, type SrvrReply, type ZookeeperMode } from './zookeeper-system.js';

const options = { nodes: 3, basePort: 20000, dataDir: '/data', heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };

test('timing: pings every tickTime/2 = heartbeat; syncLimit ticks ≈ the mean election timeout', () => {
  assert.deepEqual(zookeeperTiming(options), { tickTime: 100, initLimit: 100, syncLimit: 2 });
  // ZooKeeper's sample zoo.cfg maps to itself.
  assert.deepEqual(zookeeperTiming(zookeeperDefaultTiming), { tickTime: 2000, initLimit: 10, syncLimit: 5 });
});

test('zoo.cfg: 127.0.0.1 only, 4lw allowed, AdminServer off, every server listed', () => {
  const cfg = zooCfg(options, 2);
  assert.match(cfg, /^tickTime=100$/m);
  assert.match(cfg, /^clientPort=20003$/m);
  assert.match(cfg, /^clientPortAddress=127\.0\.0\.1$/m);
  assert.match(cfg, /^4lw\.commands\.whitelist=\*$/m);
  assert.match(cfg, /^admin\.enableServer=false$/m);
  assert.match(cfg, /^dataDir=\/data\/n2$/m);
  assert.match(cfg, /^server\.1=127\.0\.0\.1:20001:20002$/m);
  assert.match(cfg, /^server\.3=127\.0\.0\.1:20007:20008$/m);
  assert.doesNotMatch(cfg, /0\.0\.0\.0|localhost/);
});

test('srvr: the mode, or null while the server does not serve', () => {
  const reply = 'Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x100000000\nMode: follower\nNode count: 5\n';
  assert.equal(parseSrvrMode(reply), 'follower');
  assert.equal(parseSrvrMode(reply.replace('follower', 'leader')), 'leader');
  assert.equal(parseSrvrMode('This ZooKeeper instance is not currently serving requests\n'), null);
  assert.equal(parseSrvrMode(''), null);
  // The epoch is the zxid's high 32 bits; an empty reply is no answer, "not serving" an answer without a mode.
  assert.deepEqual(parseSrvr(reply.replace('0x100000000', '0x30000002a')), { mode: 'follower', epoch: 3 });
  assert.deepEqual(parseSrvr('This ZooKeeper instance is not currently serving requests\n'), { mode: null, epoch: null });
  assert.equal(parseSrvr(''), null);
});

test('views: followers name the one leader of the poll, or with two leaders (a resumed old one) the leader of the newest epoch', () => {
  const reply = (mode: ZookeeperMode | null, epoch: number | null = 1): SrvrReply => ({ mode, epoch });
  const views = (entries: [number, SrvrReply | null][]) => [...viewsFromReplies(new Map(entries))];
  assert.deepEqual(views([[1, reply('follower')], [2, reply('leader')], [3, reply('follower')]]), [[1, { leader: 2 }], [2, { leader: 2 }], [3, { leader: 2 }]]);
  // No answer is null; an answer while not serving names nobody.
  assert.deepEqual(views([[1, reply('follower')], [3, null], [4, reply(null, null)]]), [[1, { leader: null }], [3, null], [4, { leader: null }]]);
  // Old leader 1 (epoch 1) resumed beside new leader 2 (epoch 2): follower 3 — whose last zxid may still be
  // of epoch 1 — follows 2.
  assert.deepEqual(views([[1, reply('leader', 1)], [2, reply('leader', 2)], [3, reply('follower', 1)]]), [[1, { leader: 1 }], [2, { leader: 2 }], [3, { leader: 2 }]]);
  // Two leaders and no epoch to tell them apart: the follower names nobody.
  assert.deepEqual(views([[1, reply('leader', null)], [2, reply('leader', null)], [3, reply('follower', null)]]), [[1, { leader: 1 }], [2, { leader: 2 }], [3, { leader: null }]]);
  assert.deepEqual(views([[1, reply('leader', 2)], [2, reply('leader', 2)], [3, reply('follower', 2)]]), [[1, { leader: 1 }], [2, { leader: 2 }], [3, { leader: null }]]);
});

test('srvr is sent on a fresh connection and its reply read to the end; silence is null after the timeout', async () => {
  let connections = 0;
  const sockets: Socket[] = [];
  // allowHalfOpen: the silent server must not answer srvr's end-of-request with its own end.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    connections += 1;
    sockets.push(socket);
    if (connections === 3) {
      socket.resume(); // a server that reads and never answers
      return;
    }
    socket.once('data', (data) => {
      assert.equal(data.toString(), 'srvr');
      socket.end('Zookeeper version: 3.8.0\nMode: leader\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.deepEqual(await srvr(port, 500), { mode: 'leader', epoch: null });
    assert.deepEqual(await srvr(port, 500), { mode: 'leader', epoch: null });
    assert.equal(connections, 2, 'one connection per poll');
    const started = performance.now();
    assert.equal(await srvr(port, 100), null);
    assert.ok(performance.now() - started < 1000);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  // A closed port: connection refused, null.
  assert.equal(await srvr(port, 500), null);
});
