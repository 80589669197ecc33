#!/usr/bin/env node
// The floor under any cold start of N Node.js processes on this machine (docs/runtime.md, "Start-up"):
// spawns N bare Node.js processes at once, each of which only serves HTTP on 127.0.0.1 (no election,
// no state, no peers: `http.createServer(...).listen`), and times spawn → every one of them answering,
// as `ballot bench failover --kind start` times spawn → every member naming one leader. Whatever a
// Node.js program does before it elects comes on top of this. Linux; run from the built tree:
//   node scripts/node-floor.mjs [RUNS=10] [N=5]
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { loadavg } from 'node:os';
import { freePorts } from '../dist/runtime/testing.js';
import { memberEnvironment } from '../dist/runtime/local-cluster.js';

const runs = Number(process.argv[2] ?? 10);
const count = Number(process.argv[3] ?? 5);
if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(count) || count < 1) {
  console.error('usage: node scripts/node-floor.mjs [RUNS ≥ 1] [N ≥ 1]');
  process.exit(2);
}
const env = memberEnvironment(process.env);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const answers = (port) =>
  new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
      response.resume();
      resolve(true);
    });
    request.on('error', () => resolve(false));
  });
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

const times = [];
for (let run = 0; run < runs; run++) {
  const ports = await freePorts(count);
  const started = performance.now();
  const children = ports.map((port) =>
    spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1'); process.stdin.on('end', () => process.exit(0)).resume();`], { stdio: ['pipe', 'ignore', 'inherit'], env }),
  );
  const up = new Set();
  while (up.size < count && performance.now() - started < 30_000) {
    await Promise.all(ports.map(async (port) => (up.has(port) || !(await answers(port)) ? undefined : up.add(port))));
    if (up.size < count) await sleep(2);
  }
  times.push(performance.now() - started);
  for (const child of children) child.stdin.end();
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)))));
  if (up.size < count) throw new Error(`only ${up.size} of ${count} answered within 30 s`);
}
console.log(`${count} bare Node.js HTTP servers spawned at once, spawn → all answering: median ${median(times).toFixed(0)} ms (${times.map((ms) => ms.toFixed(0)).join(' ')})`);
console.log(`load average ${loadavg().map((value) => value.toFixed(1)).join(' ')} on this machine`);
