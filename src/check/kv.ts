/**
 * The key-value store's sequential specification: one register per key, with a version.
 *
 * Each key holds a value (a string) or nothing, and a version: the number of writes that took effect on
 * the key since it was created. Every key starts absent at version 0.
 *   - put(value)              always takes effect: the value is set, the version goes up by one.
 *   - delete                  always takes effect, also on an absent key: the key becomes absent and the
 *                             version goes up by one (a delete is a write; versions never go back, so a
 *                             compare-and-set cannot mistake a key re-created after a delete for the old one).
 *   - get                     returns the value (or absent) and the version; changes nothing.
 *   - cas(expect, value)      takes effect exactly when the version equals `expect`: then it is a put
 *                             (ok); otherwise nothing changes and it fails (not ok). expect 0 on a key never
 *                             written is "create if it never existed".
 * A result may report the version: after a write, the new version; after a get or a failed cas, the
 * current one. When it does, the version must match; when it does not, only the rest is checked.
 */
import type { Model } from './model.js';

export type KvInput =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expect: number; readonly value: string };

export type KvOp = KvInput['op'];

export type KvOutput =
  | { readonly op: 'put' | 'delete'; readonly version?: number }
  | { readonly op: 'get'; readonly value: string | null; readonly version?: number }
  | { readonly op: 'cas'; readonly ok: boolean; readonly version?: number };

export interface KvState {
  /** `null`: the key is absent. */
  readonly value: string | null;
  readonly version: number;
  readonly hash: number;
}

function stringHash(text: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** The state of a key holding `value` (null: absent) at `version`. */
export function kvState(value: string | null, version: number): KvState {
  const valueHash = value === null ? 0x5bd1e995 : stringHash(value);
  return { value, version, hash: (Math.imul(version, 0x9e3779b1) ^ valueHash) | 0 };
}

const absent = kvState(null, 0);

/** Whether a reported version (if any) is the one the model expects. */
function versionMatches(output: { readonly version?: number } | null, version: number): boolean {
  return output?.version === undefined || output.version === version;
}

/**
 * The model's step: the state after `input` if `output` (when known) is what the specification gives
 * there, else undefined. The transition itself is applyKvInput's, the one the replicated store runs.
 */
function stepKv(state: KvState, input: KvInput, output: KvOutput | null): KvState | undefined {
  if (output !== null && output.op !== input.op) return undefined;
  const { state: next, output: expected } = applyKvInput(state, input);
  if (output === null) return next;
  if (!versionMatches(output, expected.version)) return undefined;
  switch (expected.op) {
    case 'put':
    case 'delete':
      return next;
    case 'get':
      return output.op === 'get' && output.value === expected.value ? next : undefined;
    case 'cas':
      return output.op === 'cas' && output.ok === expected.ok ? next : undefined;
  }
}

/**
 * Versions only grow, so an operation that needs the key at a version below the current one can never
 * be placed again: a write that reports version w needs w - 1 before it, a get or failed cas that
 * reports w needs w, a successful cas needs its `expect`.
 */
function kvImpossibleAfter(state: KvState, input: KvInput, output: KvOutput | null): boolean {
  if (output === null) return false;
  const needs = ((): number | undefined => {
    switch (output.op) {
      case 'put':
      case 'delete':
        return output.version === undefined ? undefined : output.version - 1;
      case 'get':
        return output.version;
      case 'cas':
        if (output.ok && input.op === 'cas') return input.expect;
        return output.version;
    }
  })();
  return needs !== undefined && state.version > needs;
}

function describeKvOperation(input: KvInput, output: KvOutput | null): string {
  const version = output?.version === undefined ? '' : ` (v${output.version})`;
  const answer = (known: string): string => (output === null ? ' → ?' : ` → ${known}${version}`);
  switch (input.op) {
    case 'put':
      return `put ${input.key}=${JSON.stringify(input.value)}${answer('ok')}`;
    case 'delete':
      return `delete ${input.key}${answer('ok')}`;
    case 'get':
      return `get ${input.key}${answer(output?.op === 'get' ? describeValue(output.value) : '?')}`;
    case 'cas':
      return `cas ${input.key} if v${input.expect} =${JSON.stringify(input.value)}${answer(output?.op === 'cas' && output.ok ? 'ok' : 'failed')}`;
  }
}

function describeValue(value: string | null): string {
  return value === null ? 'absent' : JSON.stringify(value);
}

/**
 * Applies `input` to a key in `state` as the specification says, with the result a client is told: the
 * new version after a write, the value and version for a get, ok and the version for a cas. The
 * replicated store (src/kv/store.ts) runs exactly this, so what nodes do and what the checker expects
 * cannot drift apart.
 */
export function applyKvInput(state: KvState, input: KvInput): { readonly state: KvState; readonly output: KvOutput & { readonly version: number } } {
  switch (input.op) {
    case 'put':
      return { state: kvState(input.value, state.version + 1), output: { op: 'put', version: state.version + 1 } };
    case 'delete':
      return { state: kvState(null, state.version + 1), output: { op: 'delete', version: state.version + 1 } };
    case 'get':
      return { state, output: { op: 'get', value: state.value, version: state.version } };
    case 'cas':
      return state.version === input.expect
        ? { state: kvState(input.value, state.version + 1), output: { op: 'cas', ok: true, version: state.version + 1 } }
        : { state, output: { op: 'cas', ok: false, version: state.version } };
  }
}

/** The key-value register model, partitioned by key. */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => absent,
  step: stepKv,
  equal: (a, b) => a.version === b.version && a.value === b.value,
  hash: (state) => state.hash,
  partition: (input) => input.key,
  readOnly: (input) => input.op === 'get',
  impossibleAfter: kvImpossibleAfter,
  describeOperation: describeKvOperation,
  describeState: (state) => `${describeValue(state.value)} (v${state.version})`,
};
