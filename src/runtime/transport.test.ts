/**
 * The transport in one process, over real TCP on 127.0.0.1: link deadlines derived from the timing;
 * idle links kept alive by keepalives and stalled ones closed; admission rules against outsiders and
 * fake handshakes; the fresh handshake of a node that lost its data dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { algorithms } from '../core/algorithms.js';
import type { Message, NodeId, Timing } from '../core/types.js';
import { KEEPALIVE_FRAME } from './frames.js';
import { silentLogger } from './log.js';
import { NodeMetrics } from './metrics.js';
import { messageValidator, PROTOCOL_VERSION } from './schema.js';
import { frame, freePorts, metricValue, rawConnection, sleep, waitFor } from './testing.js';
import { linkTiming } from './links.js';
import { Transport } from './transport.js';

const raft = algorithms.raft!;
const validate = messageValidator(raft);
/** Raft's defaults: the deadlines the tests below wait out are those of a default node. */
const timing: Timing = raft.defaultTiming;
const deadlines = linkTiming(timing);
const heartbeat: Message = { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 0 } as unknown as Message;

test('link deadlines derive from the timing and keep their proportions', () => {
  assert.deepEqual(linkTiming({ heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 }), {
    livenessMs: 600,
    keepaliveMs: 150,
    connectTimeoutMs: 200,
    handshakeTimeoutMs: 300,
    handshakeGraceMs: 75,
    backoffMaxMs: 200,
  });
  // Fast test timings do not make the deadlines measure the scheduler: 500 ms at least.
  assert.equal(linkTiming({ heartbeatMs: 10, electionTimeoutMinMs: 20, electionTimeoutMaxMs: 40 }).livenessMs, 500);
  // A slow heartbeat with a tight election timeout: ten heartbeats.
  assert.equal(linkTiming({ heartbeatMs: 200, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 }).livenessMs, 2000);
  for (const heartbeatMs of [1, 10, 50, 100, 1000]) {
    for (const electionTimeoutMaxMs of [heartbeatMs * 2, heartbeatMs * 6, heartbeatMs * 20]) {
      const t = linkTiming({ heartbeatMs, electionTimeoutMinMs: electionTimeoutMaxMs / 2, electionTimeoutMaxMs });
      assert.ok(t.livenessMs >= 2 * electionTimeoutMaxMs && t.livenessMs >= 10 * heartbeatMs, 'never before the algorithm would act on the silence');
      assert.ok(t.keepaliveMs * 4 <= t.livenessMs, 'three keepalives can be lost or late before the deadline');
      assert.ok(t.connectTimeoutMs + t.backoffMaxMs <= t.livenessMs, 'after a heal, a new dial within one liveness deadline');
      assert.ok(t.connectTimeoutMs + t.backoffMaxMs <= Math.max(8 * heartbeatMs, 400), 'and within a few heartbeats, whatever the election timeout');
    }
  }
});

interface Peer {
  readonly transport: Transport;
  readonly metrics: NodeMetrics;
  readonly received: { from: NodeId; message: Message }[];
  readonly recognized: NodeId[];
  /** The not-a-member answers its links heard: [peer, index]. */
  readonly notMember: [NodeId, number][];
}

async function startPeer(id: NodeId, ports: ReadonlyMap<NodeId, number>, { fresh = false, configurationIndex = 0 } = {}): Promise<Peer> {
  const members = [...ports.keys()];
  const metrics = new NodeMetrics(raft, id, 'ballot', members);
  const received: Peer['received'] = [];
  const recognized: NodeId[] = [];
  const notMember: [NodeId, number][] = [];
  const peers = new Map([...ports].filter(([peer]) => peer !== id).map(([peer, port]) => [peer, { host: '127.0.0.1', port }]));
  const transport = await Transport.listen({
    id,
    clusterId: 'ballot',
    algorithmName: raft.name,
    peers,
    listen: { host: '127.0.0.1', port: ports.get(id)! },
    validateMessage: validate,
    metrics,
    logger: silentLogger,
    timing,
    fresh,
    onRecognized: (peer) => recognized.push(peer),
    configurationIndex: () => configurationIndex,
    onNotMember: (peer, index) => notMember.push([peer, index]),
    onMessage: (from, message) => received.push({ from, message }),
  });
  return { transport, metrics, received, recognized, notMember };
}

async function sample(peer: Peer, name: string): Promise<number> {
  return metricValue(await peer.metrics.text(), name) ?? NaN;
}

function handshake(from: NodeId, to: NodeId, extra: object = {}): Buffer {
  return frame({ ballot: PROTOCOL_VERSION, cluster: 'ballot', algorithm: 'raft', from, to, ...extra });
}

/** Resolves when `socket` closes; 'open' if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve('closed');
    const timer = setTimeout(() => resolve('open'), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

test('idle links stay up on keepalives alone; both directions are heard', { timeout: 15_000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const ports = new Map([[1, p1!], [2, p2!]]);
  const [a, b] = await Promise.all([startPeer(1, ports), startPeer(2, ports)]);
  try {
    await waitFor('both links up', 5000, () => (a.transport.livePeers().length === 1 && b.transport.livePeers().length === 1 ? true : undefined));
    // Nothing but keepalives for four liveness deadlines.
    await sleep(4 * deadlines.livenessMs);
    for (const peer of [a, b]) {
      assert.equal(await sample(peer, 'ballot_peer_link_timeouts_total{direction="inbound"}'), 0);
      assert.equal(await sample(peer, 'ballot_peer_link_timeouts_total{direction="outbound"}'), 0);
      assert.equal(await sample(peer, 'ballot_peer_connected{peer="' + (peer === a ? 2 : 1) + '",direction="outbound"}'), 1);
    }
    assert.deepEqual(a.transport.peersHeardWithin(deadlines.keepaliveMs * 2), [2]);
    assert.deepEqual(b.transport.peersHeardWithin(deadlines.keepaliveMs * 2), [1]);
    a.transport.send(2, heartbeat);
    await waitFor('the message', 2000, () => (b.received.length === 1 ? true : undefined));
    assert.deepEqual(b.received, [{ from: 1, message: heartbeat }]);
  } finally {
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('a stalled peer is given up within the liveness deadline, in both directions', { timeout: 15_000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const ports = new Map([[1, p1!], [2, p2!]]);
  // Member 2 is a server that accepts and then says nothing: a stalled link, as in a partition.
  const silent: Socket[] = [];
  const server: Server = createServer((socket) => {
    silent.push(socket);
    socket.on('error', () => {});
    socket.resume(); // reads (so that it sees the close) but never answers
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: p2! }, resolve));
  const a = await startPeer(1, ports);
  try {
    await waitFor('a dial to the silent member', 2000, () => (silent.length >= 1 ? true : undefined));
    const outbound = silent[0]!;
    assert.equal(await closedWithin(outbound, deadlines.livenessMs + deadlines.keepaliveMs + 1000), 'closed', 'the outbound link was given up');
    assert.equal(await sample(a, 'ballot_peer_link_timeouts_total{direction="outbound"}'), 1);
    await waitFor('a redial', 2000, () => (silent.length >= 2 ? true : undefined));

    // Inbound: a valid handshake from member 2, then silence.
    const inbound = await rawConnection(p1!);
    inbound.on('error', () => {});
    inbound.on('data', () => {});
    inbound.write(handshake(2, 1));
    await waitFor('the inbound link up', 2000, async () => ((await sample(a, 'ballot_peer_connected{peer="2",direction="inbound"}')) === 1 ? true : undefined));
    assert.equal(await closedWithin(inbound, deadlines.livenessMs + deadlines.keepaliveMs + 1000), 'closed', 'the inbound link was given up');
    assert.equal(await sample(a, 'ballot_peer_link_timeouts_total{direction="inbound"}'), 1);
  } finally {
    await a.transport.close();
    for (const socket of silent) socket.destroy();
    server.close();
  }
});

test('outsiders and fake handshakes do not cut a member off; their connections are counted', { timeout: 20_000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const ports = new Map([[1, p1!], [2, p2!]]);
  const [a, b] = await Promise.all([startPeer(1, ports), startPeer(2, ports)]);
  const outsiders: Socket[] = [];
  try {
    await waitFor('the link from 2', 5000, async () => ((await sample(a, 'ballot_peer_connected{peer="2",direction="inbound"}')) === 1 ? true : undefined));
    // 40 idle connections, all at once, then (past their grace) 40 more one at a time, each evicting one.
    const pastGrace = (): Promise<void> => sleep(deadlines.handshakeGraceMs + 50);
    const open = async (): Promise<Socket> => {
      const socket = await rawConnection(p1!).catch(() => null);
      if (socket) {
        socket.on('error', () => {});
        socket.on('data', () => {});
        outsiders.push(socket);
      }
      return socket!;
    };
    await Promise.all(Array.from({ length: 40 }, open));
    await pastGrace();
    for (let i = 0; i < 40; i++) await open();
    await pastGrace();
    // Fake handshakes for member 2: one that sends a refused frame, one that stays silent.
    const refused = await open();
    refused.write(Buffer.concat([handshake(2, 1), frame({ type: 'AppendEntries', term: 'x' })]));
    const idle = await open();
    idle.write(handshake(2, 1));
    await sleep(100);
    b.transport.send(1, heartbeat);
    await waitFor('the member\'s message', 2000, () => (a.received.length >= 1 ? true : undefined));
    assert.equal(await closedWithin(refused, 1000), 'closed');
    // The idle fake is a candidate: it waits while member 2's link lives, then dies of silence.
    assert.equal(await closedWithin(idle, deadlines.livenessMs + deadlines.keepaliveMs + 1000), 'closed');
    await waitFor('every outsider closed', 3000, () => (outsiders.every((socket) => socket.closed) ? true : undefined));
    const text = await a.metrics.text();
    const count = (reason: string): number => metricValue(text, `ballot_connections_rejected_total{reason="${reason}"}`) ?? 0;
    // Each idle outsider was closed for exactly one reason: evicted for a newcomer, refused at the hard
    // cap, or silent past the handshake timeout.
    assert.equal(count('pending-evicted') + count('pending-full') + count('handshake-timeout') + count('server-full'), 80, text);
    assert.ok(count('pending-evicted') >= 40 && count('handshake-timeout') >= 1, text);
    assert.equal(metricValue(text, 'ballot_frames_rejected_by_reason_total{reason="bad-message"}'), 1);
    assert.equal(metricValue(text, 'ballot_peer_link_timeouts_total{direction="inbound"}'), 1, 'the idle fake, not the member');
    // Member 2's link never went down, and still carries messages.
    assert.equal(metricValue(text, 'ballot_peer_connected{peer="2",direction="inbound"}'), 1);
    b.transport.send(1, heartbeat);
    await waitFor('a second message', 2000, () => (a.received.length >= 2 ? true : undefined));
    assert.ok(a.received.every(({ from }) => from === 2));
  } finally {
    for (const socket of outsiders) socket.destroy();
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test('a member restarting on an empty data dir is recognized by a peer that knew it; a new member is not', { timeout: 20_000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const ports = new Map([[1, p1!], [2, p2!]]);
  const a = await startPeer(1, ports);
  try {
    // A brand-new member (fresh) is welcome, also when it reconnects in the same life.
    let b = await startPeer(2, ports, { fresh: true });
    await waitFor('the new member linked', 5000, async () => ((await sample(a, 'ballot_peer_connected{peer="2",direction="inbound"}')) === 1 ? true : undefined));
    b.transport.send(1, heartbeat);
    await waitFor('its message', 2000, () => (a.received.length === 1 ? true : undefined));
    await b.transport.close();
    b = await startPeer(2, ports, { fresh: true });
    await waitFor('the new member back', 5000, async () => ((await sample(a, 'ballot_peer_connected{peer="2",direction="inbound"}')) === 1 ? true : undefined));
    await sleep(deadlines.keepaliveMs * 2);
    assert.deepEqual(b.recognized, []);
    await b.transport.close();

    // It then runs with its state (not fresh), and later comes back on an empty data dir.
    b = await startPeer(2, ports);
    await waitFor('the member linked', 5000, () => (a.transport.peersHeardWithin(deadlines.keepaliveMs).includes(2) ? true : undefined));
    await sleep(deadlines.keepaliveMs * 2);
    await b.transport.close();
    b = await startPeer(2, ports, { fresh: true });
    try {
      await waitFor('peer 1 recognizes it', 5000, () => (b.recognized.length > 0 ? true : undefined));
      assert.deepEqual(b.recognized, [1]);
    } finally {
      await b.transport.close();
    }
  } finally {
    await a.transport.close();
  }
});

test('a keepalive before the handshake is refused as a bad handshake', { timeout: 5000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const a = await startPeer(1, new Map([[1, p1!], [2, p2!]]));
  try {
    const socket = await rawConnection(p1!);
    socket.on('error', () => {});
    socket.write(KEEPALIVE_FRAME);
    assert.equal(await closedWithin(socket, 2000), 'closed');
    assert.equal(await sample(a, 'ballot_frames_rejected_by_reason_total{reason="bad-handshake"}'), 1);
  } finally {
    await a.transport.close();
  }
});

test('the handshake carries what a member advertises; a handshake whose meta breaks the bounds is refused, one without meta is accepted', { timeout: 10_000 }, async () => {
  const [p1, p2] = await freePorts(2);
  const a = await startPeer(1, new Map([[1, p1!], [2, p2!]]));
  try {
    assert.equal(a.transport.metaOf(2), null, 'nothing known before a handshake');
    for (const meta of [{ url: 'x'.repeat(513) }, { nested: { url: 'x' } }, { '9lives': 1 }, ['url'], Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]))]) {
      const socket = await rawConnection(p1!);
      socket.on('error', () => {});
      socket.write(handshake(2, 1, { meta }));
      assert.equal(await closedWithin(socket, 2000), 'closed', JSON.stringify(meta).slice(0, 60));
    }
    assert.equal(await sample(a, 'ballot_frames_rejected_by_reason_total{reason="bad-handshake"}'), 5);
    assert.equal(a.transport.metaOf(2), null);

    const plain = await rawConnection(p1!);
    plain.on('error', () => {});
    plain.write(handshake(2, 1));
    await waitFor('the plain handshake admitted', 2000, () => (a.transport.metaOf(2) !== null ? true : undefined));
    assert.deepEqual(a.transport.metaOf(2), {}, 'a member that advertises nothing');
    plain.destroy();

    const advertising = await rawConnection(p1!);
    advertising.on('error', () => {});
    advertising.write(handshake(2, 1, { meta: { url: 'http://10.0.0.2:8080', weight: 3, primary: false, note: null } }));
    await waitFor('the meta learned', 2000, () => (a.transport.metaOf(2)?.['url'] !== undefined ? true : undefined));
    assert.deepEqual(a.transport.metaOf(2), { url: 'http://10.0.0.2:8080', weight: 3, primary: false, note: null });
    advertising.destroy();
  } finally {
    await a.transport.close();
  }
});

test('setPeers: a member added later is admitted and dialed; a removed one is cut off and refused', { timeout: 20_000 }, async () => {
  const [p1, p2, p3] = await freePorts(3);
  // Node 3 joins later: at first node 1 knows only node 2, and node 3 knows node 1 (its --peers).
  const a = await startPeer(1, new Map([[1, p1!], [2, p2!]]));
  const b = await startPeer(2, new Map([[1, p1!], [2, p2!]]));
  const c = await startPeer(3, new Map([[1, p1!], [3, p3!]]), { fresh: true });
  try {
    await waitFor('1 and 2 linked', 5000, () => (a.transport.livePeers().includes(2) ? true : undefined));
    // A stranger's handshake: refused, however often it redials.
    await waitFor('node 3 refused as unknown', 5000, async () => ((await sample(a, 'ballot_frames_rejected_by_reason_total{reason="unknown-sender"}')) >= 1 ? true : undefined));
    assert.deepEqual(a.transport.livePeers(), [2]);

    // Added (a configuration entry names it): node 1 dials it and admits its handshake.
    const added = a.transport.setPeers(new Map([[2, { host: '127.0.0.1', port: p2! }], [3, { host: '127.0.0.1', port: p3! }]]));
    assert.deepEqual(added, { added: [3], removed: [] });
    await waitFor('node 3 admitted', 5000, () => (a.transport.livePeers().includes(3) && c.transport.livePeers().includes(1) ? true : undefined));
    a.transport.send(3, heartbeat);
    c.transport.send(1, heartbeat);
    await waitFor('messages both ways', 5000, () => (c.received.some((r) => r.from === 1) && a.received.some((r) => r.from === 3) ? true : undefined));
    assert.deepEqual(a.recognized, [], 'a fresh joiner is not a member that lost its disk');
    assert.deepEqual(c.recognized, []);

    // Removed: its connections close, its messages are no longer delivered, its handshakes are refused.
    const refusedBefore = await sample(a, 'ballot_frames_rejected_by_reason_total{reason="unknown-sender"}');
    assert.deepEqual(a.transport.setPeers(new Map([[2, { host: '127.0.0.1', port: p2! }]])), { added: [], removed: [3] });
    await waitFor('node 3 cut off', 5000, () => (!a.transport.livePeers().includes(3) ? true : undefined));
    await waitFor('node 3 refused again', 5000, async () => ((await sample(a, 'ballot_frames_rejected_by_reason_total{reason="unknown-sender"}')) > refusedBefore ? true : undefined));
    const delivered = a.received.length;
    c.transport.send(1, heartbeat);
    await sleep(300);
    assert.equal(a.received.length, delivered, 'nothing from a removed member reaches the node');
    assert.deepEqual(a.transport.livePeers(), [2], 'the other member is untouched');
    assert.deepEqual(c.notMember, [], 'a node whose configuration came from its flags (index 0) says nothing when it refuses');
  } finally {
    await Promise.all([a.transport.close(), b.transport.close(), c.transport.close()]);
  }
});

test('a member refuses a non-member with one not-a-member frame naming its configuration; the dialer hears it on its own link only', { timeout: 20_000 }, async () => {
  const [p1, p2, p3] = await freePorts(3);
  // Node 1's configuration in force (index 9) has members 1 and 2; node 3 still counts itself in.
  const a = await startPeer(1, new Map([[1, p1!], [2, p2!]]), { configurationIndex: 9 });
  const c = await startPeer(3, new Map([[1, p1!], [3, p3!]]));
  try {
    await waitFor('node 3 told it is not a member', 5000, () => (c.notMember.length > 0 ? true : undefined));
    assert.deepEqual(c.notMember[0], [1, 9]);
    assert.ok((await sample(a, 'ballot_frames_rejected_by_reason_total{reason="unknown-sender"}')) >= 1, 'still refused, and counted, as a stranger');
    assert.deepEqual(a.transport.livePeers(), []);
    assert.equal(a.received.length, 0);

    // The frame is an acceptor's answer: as a caller's first frame it is no handshake, and refused.
    const forged = await rawConnection(p3!);
    forged.on('error', () => {});
    forged.write(frame({ notMember: true, index: 1_000_000 }));
    assert.equal(await closedWithin(forged, 3000), 'closed');
    assert.ok((await sample(c, 'ballot_frames_rejected_by_reason_total{reason="bad-handshake"}')) >= 1);
    // And after a valid handshake, on the inbound side, it is no message either.
    const after = await rawConnection(p3!);
    after.on('error', () => {});
    after.write(handshake(1, 3));
    after.write(frame({ notMember: true, index: 1_000_000 }));
    assert.equal(await closedWithin(after, 3000), 'closed');
    assert.ok((await sample(c, 'ballot_frames_rejected_by_reason_total{reason="bad-message"}')) >= 1);
    assert.ok(c.notMember.every(([peer, index]) => peer === 1 && index === 9), `only node 1's real answers: ${JSON.stringify(c.notMember)}`);
  } finally {
    await Promise.all([a.transport.close(), c.transport.close()]);
  }
});

test('a dialer refuses a malformed not-a-member answer; a well-formed one from whoever answers at the address is heard (plaintext trusts the network)', { timeout: 20_000 }, async () => {
  const [p1, p3] = await freePorts(2);
  // A fake "node 1" at node 1's address: it answers every handshake with the next of these frames.
  const answers: unknown[] = [
    { notMember: true, index: 0 },
    { notMember: true, index: -3 },
    { notMember: true, index: 5, extra: 1 },
    { notMember: 'yes', index: 5 },
    { notMember: true, index: 7 },
  ];
  let next = 0;
  const fake: Server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      const answer = answers[Math.min(next++, answers.length - 1)];
      socket.end(frame(answer));
    });
  });
  await new Promise<void>((resolve) => fake.listen(p1!, '127.0.0.1', resolve));
  const c = await startPeer(3, new Map([[1, p1!], [3, p3!]]));
  try {
    await waitFor('the well-formed answer heard', 10_000, () => (c.notMember.length > 0 ? true : undefined));
    assert.deepEqual(c.notMember[0], [1, 7], 'the four malformed answers were refused, not heard');
    assert.ok(c.notMember.every(([peer, index]) => peer === 1 && index === 7));
    assert.ok((await sample(c, 'ballot_frames_rejected_by_reason_total{reason="bad-message"}')) >= 4);
  } finally {
    await c.transport.close();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  }
});
