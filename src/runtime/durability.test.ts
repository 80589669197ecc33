/**
 * Raft across a kill -9, seen from the wire: a real `ballot node` process grants a vote, is killed with
 * kill -9 right after the grant, restarts with the same arguments, and must then refuse a different
 * candidate of the same term (§5.2, "at most one vote per term", which holds only because the vote was
 * on disk before the grant left: Figure 2, persistent state). The test plays the two other members
 * itself, speaking the wire protocol over real sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { algorithms } from '../core/algorithms.js';
import { FrameDecoder } from './frames.js';
import { mainJs, fetchStatus } from './local-cluster.js';
import { PROTOCOL_VERSION } from './schema.js';
import { DurableStore } from './storage.js';
import { frame, freePorts, rawConnection, waitFor } from './testing.js';


/** A fake member: accepts the node's outbound connection and records what it sends. */
class FakePeer {
  readonly received: unknown[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private outbound: Socket | null = null;

  constructor(
    readonly id: number,
    readonly port: number,
  ) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => this.received.push(...decoder.push(chunk).values));
      socket.on('error', () => {});
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen({ host: '127.0.0.1', port: this.port }, resolve));
  }

  /** Sends `message` to the node over a fresh connection as this member. */
  async send(nodePort: number, message: object): Promise<void> {
    this.outbound?.destroy();
    const socket = await rawConnection(nodePort);
    socket.on('error', () => {});
    this.outbound = socket;
    socket.write(Buffer.concat([frame({ ballot: PROTOCOL_VERSION, cluster: 'ballot', algorithm: 'raft', from: this.id, to: 1 }), frame(message)]));
  }

  /** The first message of `type` received from the node after `since` messages. */
  answer(type: string, since: number): Promise<Record<string, unknown>> {
    return waitFor(`a ${type} at fake member ${this.id}`, 5000, () =>
      this.received.slice(since).find((m): m is Record<string, unknown> => (m as { type?: string }).type === type),
    );
  }

  close(): void {
    this.outbound?.destroy();
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

test('raft: a vote granted before kill -9 is still cast after the restart (no second vote in the term)', { skip: !algorithms.raft, timeout: 30_000 }, async () => {
  const [nodePort, httpPort, port2, port3] = await freePorts(4);
  const dir = mkdtempSync(join(tmpdir(), 'ballot-durability-'));
  const args = [
    mainJs, 'node', '--id', '1', '--algorithm', 'raft', '--http', `127.0.0.1:${httpPort}`,
    '--peers', `1=127.0.0.1:${nodePort},2=127.0.0.1:${port2},3=127.0.0.1:${port3}`,
    '--data-dir', dir, '--exit-on-stdin-close',
    // The node never campaigns by itself, so its term changes only through the fake members.
    '--election-timeout', '60000-60000',
    // Without CheckQuorum a node answers a vote request at once; with it, it grants none for one minimum
    // election timeout (here 60 s) after it starts. The durability rule tested is the same either way.
    '--check-quorum', 'off',
  ];
  const peer2 = new FakePeer(2, port2!);
  const peer3 = new FakePeer(3, port3!);
  await Promise.all([peer2.listen(), peer3.listen()]);
  let child: ChildProcess | null = null;
  const start = async (): Promise<ChildProcess> => {
    const process_ = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'ignore'] });
    await waitFor('the node to serve /status', 10_000, () => fetchStatus(httpPort!).then((s) => s ?? undefined));
    return process_;
  };
  try {
    child = await start();
    const request = { type: 'RequestVote', term: 5, lastLogIndex: 0, lastLogTerm: 0, transfer: 0 };
    await peer2.send(nodePort!, request);
    assert.deepEqual(await peer2.answer('RequestVoteResponse', 0), { type: 'RequestVoteResponse', term: 5, voteGranted: true, promiseMs: 0 });

    // kill -9 at once: the grant has left, so the vote must already be on disk.
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Read as the node reads it back: state.json with the records of state.log applied (storage.ts).
    const { store, durable } = DurableStore.open(dir, algorithms.raft!, 1);
    store.close();
    const onDisk = durable as { currentTerm: number; votedFor: number };
    assert.deepEqual([onDisk.currentTerm, onDisk.votedFor], [5, 2]);

    child = await start();
    assert.equal((await fetchStatus(httpPort!))?.term, 5, 'the term survived the restart');
    const seen3 = peer3.received.length;
    await peer3.send(nodePort!, request);
    assert.deepEqual(await peer3.answer('RequestVoteResponse', seen3), { type: 'RequestVoteResponse', term: 5, voteGranted: false, promiseMs: 0 }, 'no second vote in term 5');
    const seen2 = peer2.received.length;
    await peer2.send(nodePort!, request);
    assert.deepEqual(await peer2.answer('RequestVoteResponse', seen2), { type: 'RequestVoteResponse', term: 5, voteGranted: true, promiseMs: 0 }, 'the same candidate is answered alike');
  } finally {
    child?.kill('SIGKILL');
    peer2.close();
    peer3.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
