/**
 * The linearizability checker (docs/check.md): Wing & Gong's search with Lowe's memoization, per
 * partition, as in Knossos and Porcupine; the key-value model of `ballot check`; its history format.
 * Pure: no I/O, no clock.
 */
export type { Model, Operation } from './model.js';
export { checkLinearizability, type CheckOptions, type CheckProgress, type CheckResult, type CheckCounts, type Excerpt } from './checker.js';
export type { FailureKind } from './shrink.js';
export { kvModel, type KvInput, type KvOutput, type KvState, type KvOp } from './kv.js';
export { parseKvHistory, parseKvLine, kvRecord, formatKvHistory, HistoryError, type KvHistory, type KvOperation, type KvRecord } from './kv-history.js';
export { generateKvHistory, type KvWorkload } from './generate.js';
