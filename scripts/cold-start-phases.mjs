#!/usr/bin/env node
// Where a cold start of N `ballot node` processes spends its time (docs/runtime.md, "Start-up"): starts
// a fresh cluster through LocalCluster (as `ballot bench` does), polls /status every 5 ms until every
// member names the same leader, and reads each member's debug log for the moments of its phases:
// spawn → `started` (modules loaded, ports bound, core created; `processMs`: the same moment by the
// node's own clock, from its process start, so without the spawn itself) → its first peer connected (either
// direction) → a quorum / all of its outbound connections → the first election-started → leader known, and
// how many of its dials were refused before the peer listened (connectFailures, a count, not ms); per member
// as well as for the median member; and, for the cluster, the first agreement and the CPU (user + system)
// all its processes had used by then (`clusterCpuMs`, which the machine's load hardly changes). Wall-clock ms from the
// spawn call, medians over the runs; the log's clock has 1 ms resolution. Run from the built tree:
//   npm run build && node scripts/cold-start-phases.mjs [RUNS=5] [NODES=5] [BASE_PORT=27100] [-- node flags [-- other node flags …]]
// Each `--` starts a variant (extra `ballot node` flags, e.g. `-- --fast-start on -- --fast-start off`);
// the variants' runs are interleaved (run 1 of each, then run 2 …) so that they share the machine's load.
// A variant's word `main=PATH` runs another build's entry (e.g. main's dist/cli/main.js, for a before/after;
// default: this build's bundle, dist/cli/ballot.cjs, as `ballot cluster` and the bench start members); the
// word `ca=keep` starts the members with this process's NODE_EXTRA_CA_CERTS, which LocalCluster now leaves
// out (memberEnvironment in src/runtime/local-cluster.ts), as they were started before.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../dist/runtime/local-cluster.js';

const dash = process.argv.indexOf('--');
const args = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash);
const variants = [];
if (dash !== -1) for (const word of process.argv.slice(dash)) word === '--' ? variants.push([]) : variants.at(-1).push(word);
if (variants.length === 0) variants.push([]);
const runs = Number(args[0] ?? 5);
const nodes = Number(args[1] ?? 5);
const basePort = Number(args[2] ?? 27100);
const entryJs = fileURLToPath(new URL('../dist/cli/ballot.cjs', import.meta.url));
const variantWord = (word) => word.startsWith('main=') || word === 'ca=keep';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** User + system CPU of every member process so far (from /proc, in ticks of 10 ms): load-independent. */
const cpuMsOf = (cluster) =>
  cluster.members.reduce((sum, id) => {
    const stat = readFileSync(`/proc/${cluster.pid(id)}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + (Number(stat[11]) + Number(stat[12])) * 10;
  }, 0);
const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

const phaseNames = ['clusterCpuMs', 'processMs', 'started', 'firstConnected', 'quorumConnected', 'allConnected', 'connectFailures', 'firstElection', 'leaderKnownFirst', 'leaderKnownLast', 'agreed'];
const results = variants.map(() => Object.fromEntries(phaseNames.map((name) => [name, []])));
/** Per variant, per member (index id-1), per phase: that member's moment in each run. */
const memberPhases = ['started', 'firstConnected', 'ownElection', 'leaderKnown'];
const perMember = variants.map(() => Array.from({ length: nodes }, () => Object.fromEntries(memberPhases.map((name) => [name, []]))));
let slot = 0;
for (let run = 0; run < runs; run++) for (const [v, extra] of variants.entries()) {
  const phases = results[v];
  const dir = mkdtempSync(join(tmpdir(), 'ballot-phases-'));
  const port = basePort + (slot++ % 5) * 20;
  const cluster = new LocalCluster({
    command: [process.execPath, extra.find((w) => w.startsWith('main='))?.slice(5) ?? entryJs, 'node'],
    ...(extra.includes('ca=keep') && process.env.NODE_EXTRA_CA_CERTS ? { wrap: () => ['env', `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`] } : {}),
    algorithm: 'raft',
    voters: nodes,
    peerPorts: Array.from({ length: nodes }, (_, i) => port + i),
    httpPorts: Array.from({ length: nodes }, (_, i) => port + nodes + i),
    dataDir: dir,
    logDir: dir,
    extraArgs: ['--log', 'debug', ...extra.filter((w) => !variantWord(w))],
  });
  const t0 = Date.now();
  cluster.startAll();
  let agreedAt = NaN;
  while (Date.now() - t0 < 30_000) {
    const views = await cluster.statuses(500);
    const leaders = new Set([...views.values()].map((v) => (v === null ? undefined : v.leader)));
    const [only] = leaders;
    if (leaders.size === 1 && only !== undefined && only !== null) {
      agreedAt = Date.now() - t0;
      phases.clusterCpuMs.push(cpuMsOf(cluster));
      break;
    }
    await sleep(5);
  }
  await sleep(100); // let the logs flush
  await cluster.stop(2000);
  const startedAt = [];
  const processMs = [];
  const firstConnected = [];
  const connectFailures = [];
  const connectedAll = [];
  const connectedQuorum = [];
  const elections = [];
  const leaderKnown = [];
  for (let id = 1; id <= nodes; id++) {
    const lines = readFileSync(join(dir, `node-${id}.log`), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const at = (line) => Date.parse(line.time) - t0;
    const started = lines.find((l) => l.event === 'started');
    startedAt.push(started ? at(started) : NaN);
    processMs.push(started?.processMs ?? NaN);
    const anyConnected = lines.find((l) => l.event === 'peer-connected');
    firstConnected.push(anyConnected ? at(anyConnected) : NaN);
    // Dials refused because the peer did not listen yet (each retried after a back-off).
    connectFailures.push(lines.filter((l) => l.event === 'connect-failed').length);
    const connected = lines.filter((l) => l.event === 'peer-connected' && l.direction !== 'inbound').map(at);
    connectedAll.push(connected.length >= nodes - 1 ? connected[nodes - 2] : NaN);
    connectedQuorum.push(connected.length >= Math.floor(nodes / 2) ? connected[Math.floor(nodes / 2) - 1] : NaN);
    const election = lines.find((l) => l.event === 'election-started');
    if (election) elections.push(at(election));
    const known = lines.find((l) => l.event === 'leader-changed' && l.leader !== null);
    leaderKnown.push(known ? at(known) : NaN);
    const mine = perMember[v][id - 1];
    mine.started.push(startedAt.at(-1));
    mine.firstConnected.push(firstConnected.at(-1));
    mine.ownElection.push(election ? at(election) : NaN);
    mine.leaderKnown.push(leaderKnown.at(-1));
  }
  phases.processMs.push(median(processMs));
  phases.started.push(median(startedAt));
  phases.firstConnected.push(median(firstConnected));
  phases.connectFailures.push(median(connectFailures));
  phases.quorumConnected.push(median(connectedQuorum));
  phases.allConnected.push(median(connectedAll));
  phases.firstElection.push(Math.min(...elections));
  phases.leaderKnownFirst.push(Math.min(...leaderKnown));
  phases.leaderKnownLast.push(Math.max(...leaderKnown));
  phases.agreed.push(agreedAt);
  console.error(`run ${run + 1} [${extra.join(' ')}]: started (median node) ${median(startedAt)}, first election ${Math.min(...elections)}, all know the leader ${Math.max(...leaderKnown)}, agreed ${agreedAt} ms; load ${loadavg()[0].toFixed(1)}`);
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${runs} cold starts of ${nodes} Raft nodes per variant, interleaved; ms from the spawn call (medians over runs; per run, the median node's moment)`);
console.log(`  ${'phase'.padEnd(18)} ${variants.map((extra) => (extra.join(' ') || 'defaults').padStart(18)).join(' ')}`);
for (const name of phaseNames) console.log(`  ${name.padEnd(18)} ${results.map((phases) => String(Math.round(median(phases[name]))).padStart(18)).join(' ')}`);
console.log(`per member (medians over runs; ownElection: its first election-started, NaN if it never campaigned): ${memberPhases.join(' / ')}`);
for (let id = 1; id <= nodes; id++) {
  console.log(`  member ${String(id).padEnd(11)} ${perMember.map((members) => memberPhases.map((name) => String(Math.round(median(members[id - 1][name])))).join(' / ').padStart(18)).join(' ')}`);
}
