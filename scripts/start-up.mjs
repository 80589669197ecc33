#!/usr/bin/env node
// How long one `ballot node` takes to start (docs/runtime.md, Start-up): spawn → the first answer of
// /health, and the CPU time (user + system, from /proc/PID/stat) and resident memory of the process at
// that moment. A one-member Raft cluster on 127.0.0.1, a fresh data dir per run; Linux only (/proc).
// Also times `node -e 0`, the floor no Node program starts below. Both run in the environment
// LocalCluster gives its members (memberEnvironment: without NODE_EXTRA_CA_CERTS). Run from the built tree:
//   npm run build && node scripts/start-up.mjs [RUNS=10] [ENTRY=dist/cli/ballot.cjs]
// (ENTRY dist/cli/main.js: tsc's files instead of the bundle `bin` points to.)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { memberEnvironment } from '../dist/runtime/local-cluster.js';

const runs = Number(process.argv[2] ?? 10);
const mainJs = process.argv[3] ?? 'dist/cli/ballot.cjs';
const env = memberEnvironment(process.env);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const health = (port) =>
  new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/health', agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(null));
  });
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const floor = [];
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  spawnSync(process.execPath, ['-e', '0'], { env });
  floor.push(performance.now() - started);
}

const rows = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-start-up-'));
  const [peerPort, httpPort] = [await freePort(), await freePort()];
  const started = performance.now();
  const child = spawn(process.execPath, [mainJs, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peerPort}`, '--http', `127.0.0.1:${httpPort}`, '--data-dir', join(dir, 'n1'), '--log', 'silent', '--exit-on-stdin-close'], {
    stdio: ['pipe', 'ignore', 'inherit'],
    env,
  });
  let ms = null;
  while (performance.now() - started < 30_000) {
    if ((await health(httpPort)) !== null) {
      ms = performance.now() - started;
      break;
    }
    await sleep(2);
  }
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpuMs = (Number(stat[11]) + Number(stat[12])) * 10; // utime + stime, in ticks of 10 ms
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
  child.stdin.end();
  await new Promise((resolve) => child.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  if (ms === null) throw new Error('ballot node did not answer /health within 30 s');
  rows.push({ ms, cpuMs, rssMiB });
}

const fmt = (value) => value.toFixed(0);
console.log(`node -e 0: median ${fmt(median(floor))} ms (${floor.map(fmt).join(' ')})`);
console.log(`ballot node, spawn → /health: median ${fmt(median(rows.map((r) => r.ms)))} ms (${rows.map((r) => fmt(r.ms)).join(' ')})`);
console.log(`  CPU at /health: median ${fmt(median(rows.map((r) => r.cpuMs)))} ms; resident: median ${fmt(median(rows.map((r) => r.rssMiB)))} MiB`);
console.log(`load average ${loadavg().map((value) => value.toFixed(1)).join(' ')} on this machine`);
