/**
 * Runs the comparison grid: every algorithm × cluster size × scenario × trial, one `simulate()` call per
 * trial, trial k with seed k — so any trial replays with
 * `ballot sim --algorithm A --nodes N --scenario S --seed K`.
 *
 * The work is cut into chunks of trials, run in-process or spread over worker threads; each chunk is a
 * pure function of its request, and results are put back in grid order, so the report does not depend
 * on how many workers ran it.
 */
import { Worker } from 'node:worker_threads';
import { createRaft, findAlgorithm, type AnyAlgorithm, type RaftOptions, type Timing } from '../core/index.js';
import { defaultDurationMs, simulate, type ScenarioName } from '../sim/index.js';
import { scenarioPhaseMs } from '../sim/scenarios.js';
import type { WorkloadOptions } from '../sim/workload.js';
import { firstFaultMs, healMs, summarizeCell, trialMetrics, type CellKey, type CellSummary, type TrialMetrics } from './metrics.js';

export interface CompareGrid {
  readonly algorithms: readonly string[];
  readonly sizes: readonly number[];
  readonly scenarios: readonly ScenarioName[];
  readonly trials: number;
  /** Virtual time per run; default: what `ballot sim` uses (10 s at default timings). */
  readonly durationMs?: number;
  /** Raft's extensions (`--pre-vote`, `--check-quorum`, `--max-clock-drift`); default: the registry's raft. */
  readonly raft?: RaftOptions;
  /** Key-value clients in every run (`--workload kv[:RATE]`): the writes lost, the time without a writable leader, the stale reads. */
  readonly workload?: WorkloadOptions;
}

/** One piece of work: consecutive trials of one cell. */
export interface ChunkRequest extends CellKey {
  readonly firstSeed: number;
  readonly lastSeed: number;
  readonly durationMs?: number;
  readonly raft?: RaftOptions;
  readonly workload?: WorkloadOptions;
  readonly steadyTypes: readonly string[];
}

export interface AlgorithmInfo {
  readonly name: string;
  readonly timing: Timing;
  readonly durationMs: number;
  readonly messageTypes: readonly string[];
  /** Types a settled cluster keeps sending (heartbeats and their answers); see steadyStateTypes. */
  readonly steadyStateTypes: readonly string[];
  /** The other types: what an election costs beyond the background traffic. */
  readonly electionTypes: readonly string[];
  /** Bytes of JSON of a fresh node's durable state (`initialDurable(0)`). */
  readonly initialDurableBytes: number;
  /** The most voters that may crash while the rest can still elect (from `canElect`), per size. */
  readonly faultsTolerated: Readonly<Record<number, number>>;
}

export interface Cell {
  readonly summary: CellSummary;
  readonly trials: readonly TrialMetrics[];
}

export interface CompareResult {
  readonly grid: CompareGrid;
  readonly algorithms: readonly AlgorithmInfo[];
  readonly cells: readonly Cell[];
  /** Simulated runs in total (algorithms × sizes × scenarios × trials). */
  readonly runs: number;
}

export interface RunOptions {
  /** Worker threads; 1 runs everything in this thread. */
  readonly jobs?: number;
  readonly onProgress?: (done: number, total: number, cell: CellKey) => void;
}

/** Trials per chunk: small enough for a smooth progress bar and balanced workers. */
const CHUNK_TRIALS = 20;

function algorithmOrThrow(name: string, raftOptions?: RaftOptions): AnyAlgorithm {
  const algorithm = name === 'raft' && raftOptions ? createRaft(raftOptions) : findAlgorithm(name);
  if (!algorithm) throw new Error(`compare: algorithm ${name} is not registered`);
  return algorithm;
}

/** Runs the trials of one chunk; the same request always gives the same answer. */
export function runChunk(request: ChunkRequest): TrialMetrics[] {
  const algorithm = algorithmOrThrow(request.algorithm, request.raft);
  const faultMs = firstFaultMs(request.scenario, request.nodes, algorithm);
  const nominalHealMs = healMs(request.scenario, request.nodes, algorithm);
  const steady = new Set(request.steadyTypes);
  const trials: TrialMetrics[] = [];
  for (let seed = request.firstSeed; seed <= request.lastSeed; seed++) {
    const result = simulate({
      algorithm,
      nodes: request.nodes,
      seed,
      scenario: request.scenario,
      ...(request.durationMs !== undefined ? { durationMs: request.durationMs } : {}),
      ...(request.workload !== undefined ? { workload: request.workload } : {}),
    });
    // Each run's faults fall up to one heartbeat after the nominal times (its phase).
    const healAtMs = nominalHealMs === null ? null : nominalHealMs + scenarioPhaseMs(seed, algorithm.defaultTiming);
    trials.push(trialMetrics(result, faultMs, steady, healAtMs));
  }
  return trials;
}

/**
 * The message types a settled cluster keeps sending, as each algorithm declares them (the leader's
 * heartbeat and its answers); whatever else an election period contains is what electing costs. (Raft:
 * the new leader's first AppendEntries round counts as background, since a settled cluster sends it anyway.)
 */
export function steadyStateTypes(algorithm: AnyAlgorithm): string[] {
  return [...algorithm.heartbeatTypes];
}

/** The largest k such that n − k live voters can still elect (Raft/ZAB: a majority; Bully: anyone). */
export function crashesTolerated(algorithm: Pick<AnyAlgorithm, 'canElect'>, n: number): number {
  let k = 0;
  while (k < n - 1 && algorithm.canElect(n - k - 1, n)) k++;
  return k;
}

export function describeAlgorithm(name: string, grid: CompareGrid): AlgorithmInfo {
  const algorithm = algorithmOrThrow(name, grid.raft);
  const steady = steadyStateTypes(algorithm);
  const faultsTolerated: Record<number, number> = {};
  for (const n of grid.sizes) faultsTolerated[n] = crashesTolerated(algorithm, n);
  return {
    name,
    timing: algorithm.defaultTiming,
    durationMs: grid.durationMs ?? defaultDurationMs(algorithm.defaultTiming),
    messageTypes: [...algorithm.messageTypes],
    steadyStateTypes: steady,
    electionTypes: algorithm.messageTypes.filter((t) => !steady.includes(t)),
    initialDurableBytes: new TextEncoder().encode(JSON.stringify(algorithm.initialDurable(0))).length,
    faultsTolerated,
  };
}

/** The grid in report order: algorithm, then size, then scenario. */
export function cellKeys(grid: CompareGrid): CellKey[] {
  const keys: CellKey[] = [];
  for (const algorithm of grid.algorithms) {
    for (const nodes of grid.sizes) for (const scenario of grid.scenarios) keys.push({ algorithm, nodes, scenario });
  }
  return keys;
}

export async function runCompare(grid: CompareGrid, options: RunOptions = {}): Promise<CompareResult> {
  const algorithms = grid.algorithms.map((name) => describeAlgorithm(name, grid));
  const steadyByName = new Map(algorithms.map((a) => [a.name, a.steadyStateTypes]));
  const keys = cellKeys(grid);
  const chunks: ChunkRequest[] = [];
  for (const key of keys) {
    for (let first = 1; first <= grid.trials; first += CHUNK_TRIALS) {
      chunks.push({
        ...key,
        firstSeed: first,
        lastSeed: Math.min(grid.trials, first + CHUNK_TRIALS - 1),
        ...(grid.durationMs !== undefined ? { durationMs: grid.durationMs } : {}),
        ...(grid.raft !== undefined ? { raft: grid.raft } : {}),
        ...(grid.workload !== undefined ? { workload: grid.workload } : {}),
        steadyTypes: steadyByName.get(key.algorithm)!,
      });
    }
  }
  const total = keys.length * grid.trials;
  let done = 0;
  const finished = (chunk: ChunkRequest) => {
    done += chunk.lastSeed - chunk.firstSeed + 1;
    options.onProgress?.(done, total, chunk);
  };
  const jobs = threadsFor(grid, options.jobs ?? 1);
  const results = jobs === 1 ? runInProcess(chunks, finished) : await runInWorkers(chunks, jobs, finished);

  const cells: Cell[] = keys.map((key, i) => {
    const perCell = Math.ceil(grid.trials / CHUNK_TRIALS);
    const trials = results.slice(i * perCell, (i + 1) * perCell).flat();
    return { summary: summarizeCell(key, trials), trials };
  });
  return { grid, algorithms, cells, runs: total };
}

/** The threads a run of `grid` uses when `jobs` are allowed: never more than there are chunks. */
export function threadsFor(grid: CompareGrid, jobs: number): number {
  const chunks = cellKeys(grid).length * Math.ceil(grid.trials / CHUNK_TRIALS);
  return Math.max(1, Math.min(jobs, chunks));
}

function runInProcess(chunks: readonly ChunkRequest[], finished: (chunk: ChunkRequest) => void): TrialMetrics[][] {
  return chunks.map((chunk) => {
    const trials = runChunk(chunk);
    finished(chunk);
    return trials;
  });
}

/** A tiny pool: each worker takes the next chunk as soon as it returns one. */
function runInWorkers(chunks: readonly ChunkRequest[], jobs: number, finished: (chunk: ChunkRequest) => void): Promise<TrialMetrics[][]> {
  return new Promise((resolve, reject) => {
    const results: TrialMetrics[][] = new Array<TrialMetrics[]>(chunks.length);
    const workers: Worker[] = [];
    let next = 0;
    let remaining = chunks.length;
    let failed = false;
    const stopAll = () => {
      for (const worker of workers) void worker.terminate();
    };
    const feed = (worker: Worker) => {
      if (next >= chunks.length) return;
      const index = next++;
      worker.postMessage({ index, request: chunks[index] });
    };
    for (let j = 0; j < jobs; j++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url));
      workers.push(worker);
      worker.on('message', (reply: { index: number; trials?: TrialMetrics[]; error?: string }) => {
        if (failed) return;
        if (reply.error !== undefined || !reply.trials) {
          failed = true;
          stopAll();
          reject(new Error(`compare worker: ${reply.error ?? 'no result'}`));
          return;
        }
        results[reply.index] = reply.trials;
        finished(chunks[reply.index]!);
        if (--remaining === 0) {
          stopAll();
          resolve(results);
          return;
        }
        feed(worker);
      });
      worker.on('error', (error) => {
        if (failed) return;
        failed = true;
        stopAll();
        reject(error);
      });
      feed(worker);
    }
  });
}
