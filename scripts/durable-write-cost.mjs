#!/usr/bin/env node
/**
 * What a durable write costs on this disk, two ways (docs/bench.md, "Where a hand-off's time goes"):
 * ballot's (src/runtime/storage.ts: write + fsync a temporary file, rename it over the state file,
 * fsync the directory) and a WAL's (append + fdatasync, as etcd does). 30 writes each, p50 and p90:
 *
 *   node scripts/durable-write-cost.mjs [DIR]     # DIR on the disk to measure (default: a new dir in /tmp)
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = mkdtempSync(join(process.argv[2] ?? '/tmp', 'ballot-durable-write-'));
const quantiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${s[Math.floor(s.length / 2)].toFixed(2)} ms, p90 ${s[Math.floor(s.length * 0.9)].toFixed(2)} ms`;
};
const file = [], directory = [], whole = [], wal = [];
try {
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const fd = openSync(join(dir, 'state.tmp'), 'w');
    writeFileSync(fd, JSON.stringify({ currentTerm: i, votedFor: 1, log: [] }));
    fsyncSync(fd);
    closeSync(fd);
    const t1 = performance.now();
    renameSync(join(dir, 'state.tmp'), join(dir, 'state.json'));
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
    const t2 = performance.now();
    file.push(t1 - t0);
    directory.push(t2 - t1);
    whole.push(t2 - t0);
  }
  const fd = openSync(join(dir, 'wal'), 'w');
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    writeFileSync(fd, JSON.stringify({ currentTerm: i, votedFor: 1 }) + '\n');
    fdatasyncSync(fd);
    wal.push(performance.now() - t);
  }
  closeSync(fd);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `ballot's write (temp file + fsync, rename + directory fsync): ${quantiles(whole)}\n` +
    `  of which write + fsync of the file: ${quantiles(file)}; rename + directory fsync: ${quantiles(directory)}\n` +
    `append + fdatasync (a WAL, as etcd): ${quantiles(wal)}\n`,
);
