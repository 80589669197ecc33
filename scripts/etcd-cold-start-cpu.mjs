#!/usr/bin/env node
// The CPU five etcd members use in a cold start, to set beside cold-start-phases.mjs's clusterCpuMs for
// ballot (docs/runtime.md, "Start-up"): starts a fresh etcd cluster through the bench's own adapter
// (src/bench/etcd-system.ts: matched timing, heartbeat 35 ms, election timeout 175 ms for ballot's
// 50 / 150-300), polls every member every 5 ms as the bench does until all name the same leader, and reads
// the user + system CPU of every etcd process from /proc at that moment (ticks of 10 ms). Linux only;
// needs etcd (scripts/install-comparison-systems.sh). Run from the built tree:
//   npm run build && node scripts/etcd-cold-start-cpu.mjs [RUNS=5] [BASE_PORT=26000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdBinary, etcdSystem } from '../dist/bench/etcd-system.js';
import { agreementOf } from '../dist/bench/failover.js';

const runs = Number(process.argv[2] ?? 5);
const basePort = Number(process.argv[3] ?? 26000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMsOf = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(stat[11]) + Number(stat[12])) * 10;
};
for (let run = 0; run < runs; run++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'etcd-cold-start-cpu-'));
  const options = { nodes: 5, basePort: basePort + (run % 5) * 100, dataDir, heartbeatMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 };
  const launch = await etcdSystem.prepare(options);
  const t0 = performance.now();
  const cluster = await launch();
  try {
    let agreedMs = null;
    while (performance.now() - t0 < 30_000) {
      if (agreementOf(await cluster.views(cluster.members), cluster.members) !== null) {
        agreedMs = performance.now() - t0;
        break;
      }
      await sleep(5);
    }
    const pids = execFileSync('pgrep', ['-f', `^${etcdBinary()} .*--data-dir=${dataDir}/`], { encoding: 'utf8' }).trim().split('\n');
    const cpuMs = pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
    console.log(`etcd cold start ${agreedMs === null ? 'none in 30 s' : `${Math.round(agreedMs)} ms`}; CPU of its ${pids.length} processes by then ${cpuMs} ms; load ${loadavg()[0].toFixed(1)}`);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
