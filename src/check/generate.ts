/**
 * Linearizable key-value histories made to order, for tests and the benchmark: clients issue
 * operations one after another, each with a random latency; each operation takes effect at a random
 * instant inside its interval, and the results are what a sequential store (the model itself) gives when
 * the operations run in the order of those instants. So every history made here is linearizable by
 * construction, whatever the concurrency. Some operations may get no answer: they take effect at their
 * instant, or never.
 */
import type { Random } from '../core/types.js';
import { kvModel, type KvInput, type KvOutput, type KvState } from './kv.js';
import type { KvOperation } from './kv-history.js';

export interface KvWorkload {
  readonly operations: number;
  readonly keys: number;
  /** Clients running at once; each has one operation in flight at a time. */
  readonly clients: number;
  /** Share of operations that get no answer (complete null), 0 to 1. Default 0. */
  readonly unknownRate?: number;
  /** Whether results report versions (a store may not). Default true. */
  readonly reportVersions?: boolean;
  /** Latency range in ms (default 1–20); times are integers, so intervals may touch. */
  readonly latencyMs?: { readonly min: number; readonly max: number };
}

interface Planned {
  readonly client: number;
  readonly key: string;
  readonly op: KvInput['op'];
  readonly invoke: number;
  readonly complete: number;
  /** When it takes effect, or never (an unanswered operation that was lost). */
  readonly at: number | null;
  readonly answered: boolean;
  readonly sequence: number;
}

export function generateKvHistory(workload: KvWorkload, random: Random): KvOperation[] {
  const between = (min: number, max: number): number => min + Math.floor(random.next() * (max - min + 1));
  const latency = workload.latencyMs ?? { min: 1, max: 20 };
  const unknownRate = workload.unknownRate ?? 0;
  const reportVersions = workload.reportVersions ?? true;

  // 1. Who does what, when (the clients take turns by their next free time).
  const freeAt = new Array<number>(workload.clients).fill(0);
  const planned: Planned[] = [];
  for (let sequence = 0; sequence < workload.operations; sequence++) {
    let client = 0;
    for (let c = 1; c < freeAt.length; c++) if (freeAt[c]! < freeAt[client]!) client = c;
    const invoke = freeAt[client]! + between(0, 3);
    const complete = invoke + between(latency.min, latency.max);
    const answered = random.next() >= unknownRate;
    const roll = random.next();
    const op: KvInput['op'] = roll < 0.4 ? 'get' : roll < 0.7 ? 'put' : roll < 0.9 ? 'cas' : 'delete';
    // An unanswered operation took effect, or was lost on the way (then never).
    const at = answered || random.next() < 0.5 ? invoke + random.next() * (complete - invoke) : null;
    planned.push({ client: client + 1, key: `k${between(0, workload.keys - 1)}`, op, invoke, complete, at, answered, sequence });
    freeAt[client] = complete;
  }

  // 2. Run them on the sequential store in the order they take effect, recording each result.
  const states = new Map<string, KvState>();
  const operations = new Array<KvOperation>(planned.length);
  const byEffect = planned.filter((p) => p.at !== null).sort((a, b) => a.at! - b.at! || a.sequence - b.sequence);
  const lost = planned.filter((p) => p.at === null);
  for (const p of [...byEffect, ...lost]) {
    const before = states.get(p.key) ?? kvModel.init();
    const value = `c${p.client}-${p.sequence}`;
    const input: KvInput =
      p.op === 'cas'
        ? // Half the time the version the store holds (the cas succeeds), else a near miss.
          { op: 'cas', key: p.key, expect: random.next() < 0.5 ? before.version : Math.max(0, before.version + between(-2, 1)), value }
        : p.op === 'put'
          ? { op: 'put', key: p.key, value }
          : { op: p.op, key: p.key };
    const output = p.at === null ? null : resultOf(before, input, reportVersions);
    if (p.at !== null) states.set(p.key, kvModel.step(before, input, output)!);
    operations[p.sequence] = {
      id: p.sequence + 1,
      client: p.client,
      input,
      invoke: p.invoke,
      complete: p.answered ? p.complete : null,
      output: p.answered ? output : null,
    };
  }
  return operations;
}

/** What the store answers to `input` in `state`. */
function resultOf(state: KvState, input: KvInput, reportVersions: boolean): KvOutput {
  const version = (v: number): { version?: number } => (reportVersions ? { version: v } : {});
  switch (input.op) {
    case 'put':
    case 'delete':
      return { op: input.op, ...version(state.version + 1) };
    case 'get':
      return { op: 'get', value: state.value, ...version(state.version) };
    case 'cas': {
      const ok = state.version === input.expect;
      return { op: 'cas', ok, ...version(ok ? state.version + 1 : state.version) };
    }
  }
}
