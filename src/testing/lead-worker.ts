/**
 * One instance of a service with a leader-only job, as a real process, for the real-process test of
 * `lead()` (src/runtime/lead-processes.test.ts). Configuration comes as JSON in BALLOT_LEAD_WORKER.
 *
 * The job is docs/embedding.md's pattern 1 and 3: while this node leads, it writes to a resource every
 * `writeEveryMs`, each write carrying its reign's fencing token; it appends `start`, `write` (as each
 * write is sent) and `stop` lines to `events` (JSON lines, `t` = process.hrtime.bigint(): CLOCK_MONOTONIC, one clock for every process
 * of the machine on Linux, so the test compares them across processes). SIGTERM is pattern 4: the job
 * is stopped (and has settled), then the node, then the process exits 0.
 */
import { appendFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNode } from '../runtime/node.js';
import type { FenceToken } from '../runtime/fence.js';

interface WorkerConfig {
  readonly id: number;
  readonly peers: Record<string, string>;
  readonly http: string;
  readonly dataDir: string;
  readonly events: string;
  readonly resourcePort: number;
  readonly writeEveryMs: number;
  readonly electionTimeout: [number, number];
  readonly heartbeatMs: number;
}

const config = JSON.parse(process.env['BALLOT_LEAD_WORKER'] ?? '') as WorkerConfig;
const record = (fields: Record<string, unknown>): void =>
  appendFileSync(config.events, JSON.stringify({ node: config.id, t: process.hrtime.bigint().toString(), ...fields }) + '\n');

/** One fenced write to the test's resource: whether it was admitted ('failed': no answer). A write already on the wire when leadership ends is not cancelled: that is what fencing is for. */
function write(token: FenceToken): Promise<boolean | 'failed'> {
  return new Promise((resolve) => {
    const body = JSON.stringify(token);
    const req = request({ host: '127.0.0.1', port: config.resourcePort, path: '/write', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
    });
    req.on('error', () => resolve('failed'));
    req.end(body);
  });
}

const node = await startNode({
  id: config.id,
  algorithm: 'raft',
  peers: config.peers,
  dataDir: config.dataDir,
  http: config.http,
  timing: { electionTimeoutMinMs: config.electionTimeout[0], electionTimeoutMaxMs: config.electionTimeout[1], heartbeatMs: config.heartbeatMs },
  advertise: { url: `http://127.0.0.1:${9000 + config.id}` },
});

const job = node.lead(async (signal, reign) => {
  const { term, token } = reign;
  record({ ev: 'start', term });
  try {
    // reign.holds() right before each write: after SIGCONT the job's timer may fire before the node's.
    while (reign.holds()) {
      record({ ev: 'write', term });
      const admitted = await write(token);
      if (admitted === false) record({ ev: 'refused', term });
      await sleep(config.writeEveryMs, undefined, { signal }).catch(() => {});
    }
  } finally {
    record({ ev: 'stop', term, why: (signal.reason as { why?: string } | undefined)?.why ?? 'returned' });
  }
});

process.once('SIGTERM', () => {
  void (async () => {
    await job.stop();
    await node.stop();
    process.exit(0);
  })();
});
record({ ev: 'up' });
