/**
 * A lost data dir (issue 9, item 5), in one process with real files and sockets: a node whose data dir
 * held no state writes its initial state at once; when a peer recognizes it as an existing member it
 * stops with a one-line ConfigError (exit 2 from `ballot node`) and leaves its data dir empty again, so
 * that the next start is refused too; with joinNew it logs one line and runs on; a node that found its
 * state is not concerned. The transport's handshake will call the same `recognizedBy`.
 */
import { createRaft, defaultRaftOptions } from '../core/raft/index.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config.js';
import type { Logger, LogFields } from './log.js';
import { recognizedBy, startNode, type NodeHandle, type StartOptions } from './node.js';
import { STATE_FILE } from './storage.js';
import { freePorts, sleep } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-lost-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function recordingLogger(): { logger: Logger; lines: { event: string; fields: LogFields }[] } {
  const lines: { event: string; fields: LogFields }[] = [];
  const record = (event: string, fields: LogFields = {}): void => void lines.push({ event, fields });
  return { logger: { info: record, debug: () => {} }, lines };
}

async function options(name: string, extra: Partial<StartOptions> = {}): Promise<StartOptions> {
  const [own, other] = await freePorts(2);
  // Without PreVote, so that a node left alone raises its term and persists it (with PreVote it would not).
  return { id: 2, algorithm: createRaft({ ...defaultRaftOptions, preVote: false }), peers: { 2: `127.0.0.1:${own}`, 3: `127.0.0.1:${other}` }, dataDir: join(dir, name), ...extra };
}

function isStopped(handle: NodeHandle): Promise<boolean> {
  return Promise.race([handle.stopped.then(() => true), sleep(200).then(() => false)]);
}

test('a fresh node that a peer recognizes stops with one line, and its data dir is empty again', { timeout: 15_000 }, async () => {
  const base = await options('n2');
  const stateFile = join(base.dataDir, STATE_FILE);
  for (const attempt of [1, 2]) {
    const { logger, lines } = recordingLogger();
    const handle = await startNode({ ...base, logger });
    try {
      assert.ok(existsSync(stateFile), 'a fresh start writes its initial state at once');
      assert.equal(lines.find((line) => line.event === 'started')?.fields.fresh, true);
      // The second time, let it run for a while first: alone, it times out, stands and persists a term.
      if (attempt === 2) {
        await sleep(1000);
        assert.ok(handle.status().term > 0, 'it stood for election in a term of its own');
      }
      const fatal = new Promise<Error>((resolve) => handle.on('fatal', ({ error }) => resolve(error)));
      recognizedBy(handle, 3);
      const error = await fatal;
      assert.ok(error instanceof ConfigError, 'a ConfigError: the user must act (exit 2 from ballot node)');
      assert.equal(
        error.message,
        `data dir ${base.dataDir} is empty but node 3 knows node 2 as an existing member: its votes may be lost; if the disk was lost on purpose, start again with --join-new`,
      );
      assert.ok(await isStopped(handle), `attempt ${attempt}: the node stopped`);
      assert.ok(!existsSync(stateFile), `attempt ${attempt}: the state of this run is removed, so that the next start is refused too`);
    } finally {
      await handle.stop();
    }
  }
});

test('with joinNew a recognized fresh node logs one line and runs on', { timeout: 15_000 }, async () => {
  const { logger, lines } = recordingLogger();
  const handle = await startNode({ ...(await options('join-new', { joinNew: true })), logger });
  try {
    recognizedBy(handle, 3);
    recognizedBy(handle, 3);
    assert.deepEqual(
      lines.filter((line) => line.event === 'joined-new').map((line) => line.fields),
      [{ peer: 3, dataDir: join(dir, 'join-new') }],
    );
    assert.equal(await isStopped(handle), false, 'still running');
    assert.notEqual(handle.status().role, 'starting');
  } finally {
    await handle.stop();
  }
});

test('a node that found its state is not concerned when a peer recognizes it', { timeout: 15_000 }, async () => {
  const base = await options('restarted');
  const first = await startNode(base);
  await first.stop();
  const { logger, lines } = recordingLogger();
  const handle = await startNode({ ...base, logger });
  try {
    assert.equal(lines.find((line) => line.event === 'started')?.fields.fresh, false);
    recognizedBy(handle, 3);
    assert.equal(await isStopped(handle), false);
    assert.ok(existsSync(join(base.dataDir, STATE_FILE)));
  } finally {
    await handle.stop();
  }
});
