/**
 * One torture run (docs/torture.md): real `ballot node` processes, each in a network namespace of its
 * own (netns.ts), a fault per cycle from the seeded schedule (schedule.ts), every node's /status polled
 * throughout (election.ts checks what they said), key-value clients when the nodes serve /kv
 * (clients.ts; their history goes to the linearizability checker, src/check), and everything the run
 * made removed at the end, whatever happens.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLinearizability } from '../check/checker.js';
import { parseKvLine, type KvOperation } from '../check/kv-history.js';
import { kvModel } from '../check/kv.js';
import { agreedLeader } from '../core/agreement.js';
import { findAlgorithm } from '../core/algorithms.js';
import type { NodeId, Timing } from '../core/types.js';
import { mainJs, LocalCluster, type NodeStatus } from '../runtime/local-cluster.js';
import { convergenceBoundMs } from '../sim/checkers.js';
import { Prng } from '../core/prng.js';
import { historyRecord, performKv, runKvClient, type KvAnswer } from './clients.js';
import { checkStatusSamples, type StatusSample, type Violation } from './election.js';
import { Lab, removeLeftovers, type Capabilities } from './netns.js';
import { describeFault, plannedCycle, type FaultKind, type FaultPlan, type Target } from './schedule.js';

const PEER_PORT = 7000;
const HTTP_PORT = 8000;
const POLL_EVERY_MS = 50;
const POLL_TIMEOUT_MS = 500;
/** How long a restarted node may take to answer /status on a loaded machine before the run gives up. */
const COME_BACK_MS = 30_000;
/** The pause between one cycle's agreement and the next fault. */
const QUIET_MS = 500;
/** How long the harness tries to get one write answered before it runs without key-value clients. */
const PROBE_MS = 15_000;

export type Workload = 'auto' | 'kv' | 'none';

export interface TortureOptions {
  readonly algorithm: string;
  readonly nodes: number;
  /** Stop after this many cycles, or once `durationMs` has passed (whichever comes first; at least one is set). */
  readonly cycles: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly timing: Partial<Timing>;
  readonly workload: Workload;
  readonly clients: number;
  readonly keys: number;
  /** Write the key-value history (docs/check.md) here. */
  readonly historyFile?: string;
  readonly kinds?: readonly FaultKind[];
  readonly minFaultMs?: number;
  readonly maxFaultMs?: number;
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
  /** Aborted by Ctrl-C/SIGTERM: the run ends its current step, heals, checks what it has and cleans up. */
  readonly signal?: AbortSignal;
}

/** What happened to one planned fault. */
export interface CycleReport {
  readonly cycle: number;
  readonly fault: FaultPlan;
  readonly description: string;
  /** The members it hit (the leader resolved), empty when skipped. */
  readonly targets: readonly NodeId[];
  /** How it was made: 'iptables', 'netem', 'bridge' (ports moved), 'signal'; null when skipped. */
  readonly how: 'iptables' | 'netem' | 'bridge' | 'signal' | null;
  /** Why it could not be made here. */
  readonly skipped?: string;
  readonly startMs: number;
  readonly healedMs: number;
  /** From the heal until every member answered /status again. */
  readonly upAfterMs: number | null;
  /** From then until they agreed on one leader (null: not within the wait). */
  readonly agreedAfterMs: number | null;
  readonly leader: NodeId | null;
  readonly term: number | null;
}

export interface KvReport {
  readonly ops: number;
  readonly ok: number;
  readonly refused: number;
  readonly unknown: number;
  readonly result: 'linearizable' | 'not-linearizable' | 'unknown';
  readonly failingKeys: readonly string[];
  readonly checkMs: number;
}

export interface TortureResult {
  readonly algorithm: string;
  readonly nodes: number;
  readonly seed: number;
  readonly tag: string;
  readonly capabilities: { readonly iptables: boolean; readonly netem: boolean; readonly missing: readonly string[] };
  readonly cycles: readonly CycleReport[];
  readonly boundMs: number;
  readonly samples: number;
  readonly leaders: readonly { readonly term: number; readonly leader: NodeId }[];
  /** null: the nodes serve no /kv (the election checks only). */
  readonly kv: KvReport | null;
  readonly kvSkipped?: string;
  readonly violations: readonly Violation[];
  readonly aborted: boolean;
  readonly durationMs: number;
  /** Names of the run's namespaces and links still present after cleanup (always empty unless cleanup failed). */
  readonly remaining: readonly string[];
}

class Aborted extends Error {}

export async function runTorture(options: TortureOptions): Promise<TortureResult> {
  const algorithm = findAlgorithm(options.algorithm);
  if (!algorithm) throw new Error(`unknown algorithm ${options.algorithm}`);
  const timing: Timing = { ...algorithm.defaultTiming, ...options.timing };
  const boundMs = convergenceBoundMs(timing);
  const started = performance.now();
  const clock = (): number => performance.now() - started;
  const say = (line: string): void => options.progress(`[${(clock() / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const abortSignal = options.signal;
  const check = (): void => {
    if (abortSignal?.aborted) throw new Aborted();
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (abortSignal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        abortSignal?.removeEventListener('abort', done);
        resolve();
      }
      abortSignal?.addEventListener('abort', done);
    });

  const { removed } = removeLeftovers();
  if (removed.length > 0) say(`removed ${removed.length} leftovers of earlier runs: ${removed.join(', ')}`);

  const lab = new Lab({ members: options.nodes, hostLink: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'ballot-torture-'));
  const samples: StatusSample[] = [];
  const cycles: CycleReport[] = [];
  const violations: Violation[] = [];
  const history: ReturnType<typeof historyRecord>[] = [];
  let capabilities: Capabilities = { iptables: false, netem: false, missing: [] };
  let cluster: LocalCluster | null = null;
  let polling = true;
  let clientsRunning = false;
  const clientsDone: Promise<void>[] = [];
  let pollers: Promise<void>[] = [];
  const paused = new Set<NodeId>();
  const killed = new Set<NodeId>();
  let kvSkipped: string | undefined;
  let aborted = false;

  try {
    lab.setUp();
    capabilities = lab.capabilities();
    for (const line of capabilities.missing) say(`not possible here: ${line}`);
    const members = lab.members.map((member) => member.id);
    const url = (id: NodeId): string => `http://${lab.member(id).address}:${HTTP_PORT}`;
    cluster = new LocalCluster({
      command: [process.execPath, mainJs, 'node'],
      algorithm: options.algorithm,
      voters: options.nodes,
      peerPorts: members.map(() => PEER_PORT),
      httpPorts: members.map(() => HTTP_PORT),
      hosts: lab.members.map((member) => member.address),
      wrap: (id) => lab.exec(id),
      advertiseUrls: true,
      dataDir,
      extraArgs: [
        '--log', 'silent',
        ...(options.timing.electionTimeoutMinMs !== undefined ? ['--election-timeout', `${timing.electionTimeoutMinMs}-${timing.electionTimeoutMaxMs}`] : []),
        ...(options.timing.heartbeatMs !== undefined ? ['--heartbeat', String(timing.heartbeatMs)] : []),
      ],
    });
    const theCluster = cluster;
    say(`${options.nodes} ${options.algorithm} nodes in namespaces ${lab.tag}-n1..n${options.nodes}, addresses ${lab.subnet}.1-${options.nodes}; seed ${options.seed}`);
    theCluster.startAll();

    // Every member's /status, all the time, from the host's address on the bridge.
    pollers = members.map(async (id) => {
      while (polling) {
        const askedMs = clock();
        const status = await theCluster.status(id, POLL_TIMEOUT_MS);
        const answeredMs = clock();
        if (status !== null) samples.push({ node: id, askedMs, answeredMs, status });
        await sleep(POLL_EVERY_MS - (answeredMs - askedMs));
        if (abortSignal?.aborted) await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
      }
    });
    const latest = (id: NodeId): NodeStatus | null => {
      for (let i = samples.length - 1; i >= 0; i--) if (samples[i]!.node === id) return samples[i]!.status as NodeStatus;
      return null;
    };

    /** Waits until every member answers and they agree; returns when each happened, or nulls at the deadline. */
    const settle = async (waitMs: number): Promise<{ upMs: number | null; agreedMs: number | null; leader: NodeId | null; term: number | null }> => {
      const from = clock();
      let upMs: number | null = null;
      while (clock() - from < waitMs) {
        check();
        const statuses = await theCluster.statuses(POLL_TIMEOUT_MS);
        const views = members.map((id) => statuses.get(id) ?? null);
        if (upMs === null && views.every((view) => view !== null)) upMs = clock();
        const agreement = agreedLeader(views);
        if (upMs !== null && agreement) return { upMs, agreedMs: clock(), leader: agreement.leader, term: agreement.term ?? null };
        await sleep(POLL_EVERY_MS);
      }
      return { upMs, agreedMs: null, leader: null, term: null };
    };

    const first = await settle(COME_BACK_MS);
    if (first.agreedMs === null) throw new Error(`the nodes did not agree on a leader within ${COME_BACK_MS / 1000} s of starting (${members.map((id) => `${id}: ${JSON.stringify(latest(id))}`).join('; ')})`);
    say(`node ${first.leader} leads (term ${first.term})`);

    // Key-value clients, when the nodes serve /kv.
    if (options.workload !== 'none') {
      // Until a write is answered (an election may be under way: 503), the nodes show they have no /kv
      // (404, 405), or PROBE_MS pass.
      const probeAgent = new Agent({ keepAlive: false });
      const probeStarted = clock();
      const probeOnce = (id: NodeId): Promise<KvAnswer> => performKv(url(id), { op: 'put', key: 'torture-probe', value: 'probe' }, probeAgent, Math.max(1000, PROBE_MS - (clock() - probeStarted)));
      let probe = await probeOnce(first.leader!);
      const absent = (answer: KvAnswer): boolean => answer.kind === 'refused' && /^40[45]\b/.test(answer.error);
      for (let attempt = 1; probe.kind !== 'done' && !absent(probe) && clock() - probeStarted < PROBE_MS; attempt++) {
        check();
        await sleep(300);
        probe = await probeOnce(members[attempt % members.length]!);
      }
      probeAgent.destroy();
      const serves = probe.kind === 'done';
      if (!serves) {
        const last = probe.kind === 'refused' ? probe.error : probe.kind === 'unknown' ? probe.why : '';
        kvSkipped = absent(probe)
          ? `the nodes do not serve the key-value API (PUT /kv/torture-probe: ${last})`
          : `the nodes serve /kv but answered no write within ${PROBE_MS / 1000} s (PUT /kv/torture-probe, last: ${last})`;
        if (options.workload === 'kv') throw new Error(kvSkipped);
        say(`election checks only: ${kvSkipped}`);
      } else {
        clientsRunning = true;
        const keys = Array.from({ length: options.keys }, (_, i) => `k${i + 1}`);
        for (let client = 1; client <= options.clients; client++) {
          clientsDone.push(
            runKvClient({
              client,
              endpoints: members.map(url),
              keys,
              timeoutMs: Math.max(1000, 4 * timing.electionTimeoutMaxMs),
              random: new Prng(options.seed, `client:${client}`),
              clock,
              record: (line) => history.push(line),
              stopped: () => !clientsRunning,
            }),
          );
        }
        say(`${options.clients} key-value clients on ${options.keys} keys`);
      }
    }

    const resolveTarget = (target: Target, cycle: number): NodeId => {
      if ('id' in target) return target.id;
      const claims = members.map(latest).filter((status): status is NodeStatus => status !== null && status.leader === status.id);
      claims.sort((a, b) => b.term - a.term);
      return claims[0]?.id ?? new Prng(options.seed, `target:${cycle}`).pick(members);
    };

    for (let index = 1; index <= options.cycles && clock() < options.durationMs; index++) {
      check();
      const plan = plannedCycle({ seed: options.seed, nodes: options.nodes, ...(options.kinds ? { kinds: options.kinds } : {}), ...(options.minFaultMs !== undefined ? { minDurationMs: options.minFaultMs } : {}), ...(options.maxFaultMs !== undefined ? { maxDurationMs: options.maxFaultMs } : {}) }, index);
      const { fault } = plan;
      const startMs = clock();
      const made = await inject(fault, index);
      const description = describeFault(fault);
      say(`cycle ${index}: ${made.skipped ? `skipped (${made.skipped}): ${description}` : `${description}${'target' in fault && 'leader' in fault.target && made.targets.length > 0 ? ` [node ${made.targets.join(',')}]` : ''} via ${made.how}, ${plan.durationMs} ms`}`);
      if (!made.skipped) await sleep(plan.durationMs);
      await healAll();
      const healedMs = clock();
      const settled = await settle(COME_BACK_MS);
      const upAfterMs = settled.upMs === null ? null : Math.round(settled.upMs - healedMs);
      const agreedAfterMs = settled.agreedMs === null || settled.upMs === null ? null : Math.round(settled.agreedMs - settled.upMs);
      cycles.push({
        cycle: index, fault, description, targets: made.targets, how: made.how, ...(made.skipped ? { skipped: made.skipped } : {}),
        startMs: Math.round(startMs), healedMs: Math.round(healedMs), upAfterMs, agreedAfterMs, leader: settled.leader, term: settled.term,
      });
      if (settled.upMs === null) throw new Error(`after cycle ${index} not every node answered /status within ${COME_BACK_MS / 1000} s`);
      if (agreedAfterMs === null || agreedAfterMs > boundMs) {
        violations.push({
          check: 'convergence',
          atMs: Math.round(clock()),
          message: agreedAfterMs === null ? `cycle ${index}: no agreed leader ${COME_BACK_MS / 1000} s after the faults stopped` : `cycle ${index}: the nodes agreed on leader ${settled.leader} ${agreedAfterMs} ms after the faults stopped (bound ${boundMs} ms)`,
        });
      }
      say(`cycle ${index}: healed; all up after ${upAfterMs} ms, node ${settled.leader} leads (term ${settled.term}) ${agreedAfterMs} ms later`);
      await sleep(QUIET_MS);
    }

    async function inject(fault: FaultPlan, cycle: number): Promise<{ targets: NodeId[]; how: CycleReport['how']; skipped?: string }> {
      const others = (id: NodeId): NodeId[] => members.filter((each) => each !== id);
      switch (fault.kind) {
        case 'partition':
          if (capabilities.iptables) {
            lab.partition(fault.groups);
            return { targets: fault.groups.flat(), how: 'iptables' };
          }
          lab.separate(fault.groups);
          return { targets: fault.groups.flat(), how: 'bridge' };
        case 'isolate': {
          const id = resolveTarget(fault.target, cycle);
          if (capabilities.iptables) {
            lab.partition([[id], others(id)]);
            return { targets: [id], how: 'iptables' };
          }
          lab.detach(id);
          return { targets: [id], how: 'bridge' };
        }
        case 'one-way': {
          const id = resolveTarget(fault.target, cycle);
          if (!capabilities.iptables) return { targets: [], how: null, skipped: 'a one-way cut needs iptables' };
          for (const other of others(id)) {
            if (fault.direction === 'outbound') lab.block(id, other);
            else lab.block(other, id);
          }
          return { targets: [id], how: 'iptables' };
        }
        case 'loss': {
          const id = resolveTarget(fault.target, cycle);
          if (!capabilities.netem && !capabilities.iptables) return { targets: [], how: null, skipped: 'loss needs tc netem or iptables' };
          lab.loss(id, fault.percent, capabilities.netem ? 'netem' : 'iptables');
          return { targets: [id], how: capabilities.netem ? 'netem' : 'iptables' };
        }
        case 'delay': {
          if (!capabilities.netem) return { targets: [], how: null, skipped: 'delay needs tc netem, not available here' };
          const id = resolveTarget(fault.target, cycle);
          lab.delay(id, fault.ms, fault.jitterMs);
          return { targets: [id], how: 'netem' };
        }
        case 'kill': {
          const id = resolveTarget(fault.target, cycle);
          await theCluster.kill(id, 'SIGKILL');
          killed.add(id);
          return { targets: [id], how: 'signal' };
        }
        case 'pause': {
          const id = resolveTarget(fault.target, cycle);
          theCluster.signal(id, 'SIGSTOP');
          paused.add(id);
          return { targets: [id], how: 'signal' };
        }
        case 'restart': {
          const id = resolveTarget(fault.target, cycle);
          await theCluster.kill(id, 'SIGTERM');
          theCluster.start(id);
          return { targets: [id], how: 'signal' };
        }
      }
    }
  } catch (error) {
    if (!(error instanceof Aborted)) throw error;
    aborted = true;
  } finally {
    if (abortSignal?.aborted) aborted = true;
    clientsRunning = false;
    await Promise.all(clientsDone);
    polling = false;
    await Promise.all(pollers);
    await healAll().catch(() => undefined);
    await cluster?.stop(3000);
    lab.tearDown();
    rmSync(dataDir, { recursive: true, force: true });
  }

  async function healAll(): Promise<void> {
    lab.heal(capabilities);
    for (const id of paused) cluster?.signal(id, 'SIGCONT');
    paused.clear();
    for (const id of killed) if (cluster && !cluster.isRunning(id)) cluster.start(id);
    killed.clear();
  }

  violations.push(...checkStatusSamples(samples));

  let kv: KvReport | null = null;
  if (history.length > 0) {
    if (options.historyFile !== undefined) writeFileSync(options.historyFile, history.map((line) => JSON.stringify(line) + '\n').join(''));
    const operations: KvOperation[] = [];
    let refused = 0;
    history.forEach((line, index) => {
      const parsed = parseKvLine(JSON.stringify(line), index + 1);
      if (parsed === 'refused') refused++;
      else operations.push(parsed);
    });
    const checkStarted = performance.now();
    options.progress(`checking ${operations.length} operations for linearizability`);
    const result = checkLinearizability(kvModel, operations, { shouldStop: () => performance.now() - checkStarted > 60_000 });
    const unknown = history.filter((line) => line.complete === null).length;
    kv = {
      ops: history.length,
      ok: history.length - refused - unknown,
      refused,
      unknown,
      result: result.kind,
      failingKeys: result.kind === 'not-linearizable' ? result.failingPartitions : [],
      checkMs: Math.round(performance.now() - checkStarted),
    };
    // Only an algorithm that promises consensus promises linearizability; Bully's primary-backup with
    // asynchronous copies loses acknowledged writes under split brain by design, which the run shows
    // (kv.result) rather than flags (as the simulator does: src/sim/checkers/replication.ts).
    if (result.kind === 'not-linearizable' && algorithm.replication === 'consensus') {
      violations.push({ check: 'linearizability', atMs: Math.round(result.excerpt.operations[0]?.invoke ?? 0), message: `the history is not linearizable on ${result.failingPartitions.map((key) => JSON.stringify(key)).join(', ')} (ballot check ${options.historyFile ?? 'HISTORY'} shows the excerpt)` });
    }
  }

  const leaders = new Map<number, NodeId>();
  for (const sample of samples) if (sample.status.leader === sample.status.id && !leaders.has(sample.status.term)) leaders.set(sample.status.term, sample.node);
  return {
    algorithm: options.algorithm,
    nodes: options.nodes,
    seed: options.seed,
    tag: lab.tag,
    capabilities: { iptables: capabilities.iptables, netem: capabilities.netem, missing: capabilities.missing },
    cycles,
    boundMs,
    samples: samples.length,
    leaders: [...leaders].sort(([a], [b]) => a - b).map(([term, leader]) => ({ term, leader })),
    kv,
    ...(kvSkipped !== undefined ? { kvSkipped } : {}),
    violations: violations.sort((a, b) => a.atMs - b.atMs),
    aborted,
    durationMs: Math.round(clock()),
    remaining: lab.remains(),
  };
}
