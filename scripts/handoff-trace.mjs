#!/usr/bin/env node
/**
 * Where a planned hand-off's time goes, by the members' own clocks, without keeping any data: run
 *
 *   npm run build && node scripts/handoff-trace.mjs [TRIALS] [BASE_PORT]
 *
 * For each trial it starts 5 `ballot node` processes (Raft, the bench's timing, `--log debug`, data in
 * a temporary directory removed afterwards), waits for them to agree and settle, sends SIGTERM to the
 * leader (a graceful stop hands leadership over, thesis §3.10), and prints, in ms after the signal by
 * the members' log times (1 ms resolution, one machine so one clock): when the old leader started the
 * transfer, when the target reported its candidacy (once its term and vote are durable), when it led,
 * and when the last survivor named it (what `ballot bench failover` reports as the named time by the
 * members' own clocks, `namedLoggedMs`); `lastNamedRead` is when this script read that last line (the
 * bench's `namedMs`). Then medians.
 * HANDOFF_TRACE_LINES=1 also prints every member's log line after the signal. scripts/handoff-breakdown.mjs
 * does the same from a bench run's kept data (etcd beside ballot).
 */
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const trials = Number(process.argv[2] ?? 10);
const basePort = Number(process.argv[3] ?? 25000);
if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(basePort) || basePort < 1024 || basePort > 65000) {
  process.stderr.write('usage: node scripts/handoff-trace.mjs [TRIALS ≥ 1] [BASE_PORT 1024–65000] (after npm run build)\n');
  process.exit(2);
}
const { LocalCluster, ballotJs } = await import(join(root, 'dist/runtime/local-cluster.js'));
const { quantile } = await import(join(root, 'dist/core/stats.js'));

const steps = ['start', 'campaign', 'leads', 'lastNamed', 'lastNamedRead'];
const rows = [];
for (let trial = 1; trial <= trials; trial++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'ballot-handoff-trace-'));
  const ports = (offset) => [0, 1, 2, 3, 4].map((i) => basePort + offset + i);
  const cluster = new LocalCluster({
    command: [process.execPath, ballotJs, 'node'],
    algorithm: 'raft',
    voters: 5,
    peerPorts: ports(0),
    httpPorts: ports(5),
    dataDir,
    extraArgs: ['--election-timeout', '150-300', '--heartbeat', '50', '--log', 'debug'],
  });
  const lines = [];
  let signalledAt = null;
  cluster.onStderrLine((id, line) => {
    if (signalledAt !== null) lines.push({ id, read: performance.now() - signalledAt, line });
  });
  cluster.startAll();
  try {
    await cluster.agreed('a leader', undefined, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 50)); // as the bench settles
    const [{ leader }] = await cluster.agreed('a leader after settling', undefined, 60_000);
    signalledAt = performance.now();
    // As the bench's named time by the members' clocks (namedLoggedMs): Date.now(), floored to the ms
    // like the members' stamps, so the difference carries no bias from the flooring.
    const wallAtSignal = Date.now();
    cluster.signal(leader, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 600));
    const events = lines.flatMap(({ id, read, line }) => {
      try {
        const entry = JSON.parse(line);
        return [{ id, read, at: Date.parse(entry.time) - wallAtSignal, entry }];
      } catch {
        return [];
      }
    });
    if (process.env.HANDOFF_TRACE_LINES) for (const e of events) console.log(e.id, e.at.toFixed(1), JSON.stringify(e.entry).slice(0, 160));
    const start = events.find((e) => e.id === leader && e.entry.event === 'transfer-started');
    const target = start?.entry.to;
    const named = (member) => events.find((e) => e.id === member && e.entry.event === 'leader-changed' && e.entry.leader === target);
    const survivors = cluster.members.filter((member) => member !== leader);
    const last = survivors.map(named);
    const complete = last.every((e) => e !== undefined);
    const row = {
      start: start?.at,
      campaign: events.find((e) => e.id === target && e.entry.event === 'election-started')?.at,
      leads: named(target)?.at,
      lastNamed: complete ? Math.max(...last.map((e) => e.at)) : undefined,
      lastNamedRead: complete ? Math.max(...last.map((e) => e.read)) : undefined,
    };
    rows.push(row);
    console.log(`trial ${trial}: ${steps.map((step) => `${step} ${row[step] === undefined ? '-' : row[step].toFixed(1)}`).join(', ')}`);
  } finally {
    await cluster.stop(2000);
    await rm(dataDir, { recursive: true, force: true });
  }
}
const medians = steps.map((step) => {
  const values = rows.map((row) => row[step]).filter((value) => value !== undefined);
  return `${step} ${values.length > 0 ? quantile(values, 0.5).toFixed(1) : '-'}`;
});
console.log(`medians (ms after SIGTERM, ${rows.length} trials): ${medians.join(', ')}`);
