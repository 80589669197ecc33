/**
 * The key-value history file of `ballot check` (docs/check.md): JSON Lines, one operation per line.
 *
 *   {"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":2.5,"result":{"version":1}}
 *   {"client":2,"op":"get","key":"x","value":"1","invoke":1,"complete":3}
 *   {"client":3,"op":"cas","key":"x","expect":1,"value":"2","invoke":4,"complete":null}
 *
 * `value` is what a put or cas writes and what a get read (`null`: absent). `complete: null` is an
 * operation that got no answer. `result` is optional but for a cas (`ok`); `result.error` marks an
 * operation that certainly did not take effect (a refusal), which is left out. Fields not named here
 * are ignored, so a harness may add its own. Parsing is pure: text in, typed operations or the first
 * mistake (line and field) out.
 */
import type { KvInput, KvOp, KvOutput } from './kv.js';
import type { Operation } from './model.js';

export type KvOperation = Operation<KvInput, KvOutput>;

/** One line of a history file, as JSON. */
export interface KvRecord {
  readonly client: string | number;
  readonly op: KvOp;
  readonly key: string;
  readonly value?: string | null;
  readonly expect?: number;
  readonly invoke: number;
  readonly complete: number | null;
  readonly result?: { readonly version?: number; readonly ok?: boolean; readonly error?: string };
}

/** A mistake in a history file: the line (1-based) and the field (null: the line as a whole). */
export class HistoryError extends Error {
  constructor(
    readonly line: number,
    readonly field: string | null,
    problem: string,
  ) {
    super(`line ${line}${field === null ? '' : `, field "${field}"`}: ${problem}`);
  }
}

export interface KvHistory {
  /** Every operation that may have taken effect; `id` is its line number. */
  readonly operations: KvOperation[];
  /** Lines whose `result.error` says the operation did not take effect; left out. */
  readonly refused: number;
}

const ops: readonly KvOp[] = ['put', 'get', 'delete', 'cas'];

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses a whole history file. Blank lines are skipped; the first mistake throws a HistoryError. */
export function parseKvHistory(text: string): KvHistory {
  const operations: KvOperation[] = [];
  let refused = 0;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    const parsed = parseKvLine(line, index + 1);
    if (parsed === 'refused') refused++;
    else operations.push(parsed);
  }
  return { operations, refused };
}

/** One line: an operation, or 'refused' when its result says it did not take effect. */
export function parseKvLine(text: string, line: number): KvOperation | 'refused' {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HistoryError(line, null, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isObject(json)) throw new HistoryError(line, null, 'must be a JSON object, one operation');
  const fail = (field: string, problem: string): never => {
    throw new HistoryError(line, field, problem);
  };

  const { client, op, key, value, expect, invoke, complete } = json;
  if (!(typeof client === 'string' || (typeof client === 'number' && Number.isSafeInteger(client)))) fail('client', 'must be a string or an integer');
  if (typeof op !== 'string' || !(ops as readonly string[]).includes(op)) fail('op', `must be one of ${ops.join(', ')}`);
  if (typeof key !== 'string' || key === '') fail('key', 'must be a non-empty string');
  if (typeof invoke !== 'number' || !Number.isFinite(invoke)) fail('invoke', 'must be a number (ms)');
  if (!('complete' in json)) fail('complete', 'is required: a number (ms), or null when no answer came');
  if (complete !== null && (typeof complete !== 'number' || !Number.isFinite(complete))) fail('complete', 'must be a number (ms) or null');
  if (typeof complete === 'number' && complete < (invoke as number)) fail('complete', `must not be before invoke (${String(invoke)})`);
  const kind = op as KvOp;
  const answered = complete !== null;

  const result = json['result'];
  if (result !== undefined && result !== null && !isObject(result)) fail('result', 'must be an object');
  if (!answered && isObject(result)) fail('result', 'must be absent or null when complete is null (no answer, no result)');
  const resultFields: Fields = isObject(result) ? result : {};
  const { version, ok, error } = resultFields;
  if (error !== undefined && typeof error !== 'string') fail('result.error', 'must be a string');
  if (typeof error === 'string') return 'refused';
  if (version !== undefined && !isVersion(version)) fail('result.version', 'must be a non-negative integer');

  if (kind === 'cas') {
    if (!isVersion(expect)) fail('expect', 'must be a non-negative integer: the version the cas requires');
  } else if (expect !== undefined) {
    fail('expect', 'is only for cas');
  }
  if (ok !== undefined && kind !== 'cas') fail('result.ok', 'is only for cas');
  if (kind === 'cas' && answered && typeof ok !== 'boolean') fail('result.ok', 'is required for an answered cas: true or false');

  switch (kind) {
    case 'put':
    case 'cas':
      if (typeof value !== 'string') fail('value', `must be a string: the value the ${kind} writes`);
      break;
    case 'get':
      if (answered && value !== null && typeof value !== 'string') fail('value', 'must be the value read: a string, or null when the key was absent');
      if (!answered && value !== undefined && value !== null) fail('value', 'must be absent or null when complete is null (nothing was read)');
      break;
    case 'delete':
      if (value !== undefined && value !== null) fail('value', 'must be absent for a delete');
      break;
  }

  const input = kvInput(kind, key as string, value, expect);
  const versionField = version === undefined ? {} : { version: version as number };
  let output: KvOutput | null = null;
  if (answered) {
    switch (kind) {
      case 'put':
      case 'delete':
        output = { op: kind, ...versionField };
        break;
      case 'get':
        output = { op: 'get', value: value as string | null, ...versionField };
        break;
      case 'cas':
        output = { op: 'cas', ok: ok as boolean, ...versionField };
        break;
    }
  }
  return { id: line, client: client as string | number, input, invoke: invoke as number, complete: complete as number | null, output };
}

function kvInput(op: KvOp, key: string, value: unknown, expect: unknown): KvInput {
  switch (op) {
    case 'put':
      return { op, key, value: value as string };
    case 'get':
      return { op, key };
    case 'delete':
      return { op, key };
    case 'cas':
      return { op, key, expect: expect as number, value: value as string };
  }
}

/** The line a history file holds for `operation` (the inverse of parseKvLine). */
export function kvRecord(operation: KvOperation): KvRecord {
  const { input, output } = operation;
  const version = output?.version === undefined ? {} : { version: output.version };
  const result = output !== null && output.version !== undefined ? { result: version } : {};
  const base = { client: operation.client, op: input.op, key: input.key };
  const times = { invoke: operation.invoke, complete: output === null ? null : operation.complete };
  switch (input.op) {
    case 'put':
      return { ...base, value: input.value, ...times, ...result };
    case 'delete':
      return { ...base, ...times, ...result };
    case 'get':
      return { ...base, ...(output?.op === 'get' ? { value: output.value } : {}), ...times, ...result };
    case 'cas':
      return { ...base, expect: input.expect, value: input.value, ...times, ...(output?.op === 'cas' ? { result: { ok: output.ok, ...version } } : {}) };
  }
}

/** A whole history file. */
export function formatKvHistory(operations: readonly KvOperation[]): string {
  return operations.map((operation) => JSON.stringify(kvRecord(operation)) + '\n').join('');
}
