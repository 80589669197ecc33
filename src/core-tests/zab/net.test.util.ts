/**
 * ZAB on the test network (src/core/testnet.ts), for transcript tests: fixed latency (1 ms unless
 * told), no randomness, and the concrete ZabNode so a test can look at its phase.
 */
import type { NodeId, Timing } from '../../core/types.js';
import { zab } from '../../core/zab/index.js';
import type { ZabDurable, ZabMessage } from '../../core/zab/messages.js';
import { ZabNode, defaultZabOptions, type ZabOptions } from '../../core/zab/zab.js';
import { TestNet } from '../../core/testnet.js';

export interface ZabNetOptions {
  readonly voters: number;
  readonly observers?: number;
  /** Node id -> counter of its last zxid in epoch 1 (`--history`). */
  readonly history?: Readonly<Record<NodeId, number>>;
  readonly timing?: Partial<Timing>;
  readonly options?: Partial<ZabOptions>;
  /** One-way latency of every message, ms (default 1). */
  readonly latencyMs?: number;
}

export type ZabNet = TestNet<ZabMessage, ZabDurable, ZabNode>;

const noRandom = { next: () => 0.5 };

export function zabNet(options: ZabNetOptions): ZabNet {
  const zabOptions = { ...defaultZabOptions, ...options.options };
  return new TestNet<ZabMessage, ZabDurable, ZabNode>({
    algorithm: zab,
    voters: options.voters,
    ...(options.observers !== undefined ? { observers: options.observers } : {}),
    ...(options.history ? { history: options.history } : {}),
    ...(options.timing ? { timing: options.timing } : {}),
    latencyMs: options.latencyMs ?? 1,
    random: () => noRandom,
    create: (config, durable, random, now) => new ZabNode(config, durable, random, now, zabOptions),
  });
}
