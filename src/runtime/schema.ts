/**
 * Validators for untrusted bytes, built from the wire shapes each algorithm declares
 * (src/core/shapes.ts). One generic converter serves every algorithm, so no algorithm carries a
 * hand-written schema and a new message field cannot be forgotten at the edge: the mapped types make
 * the declaration complete, and this file turns it into a validator.
 *
 * Every object is strict (an unknown key is a rejection, which also stops `__proto__` keys from
 * JSON.parse), every number is a safe integer (terms, epochs and zxids at most their ceiling,
 * src/core/bounds.ts), every list has a bound, every string is one of a closed
 * set, so a frame that passes cannot smuggle anything the core did not declare.
 *
 * The validators are written here rather than with zod: the shapes need only integers, booleans,
 * closed strings, bounded lists and strict objects, and zod (some 70 files, its locales included) cost
 * a node about a quarter of its CPU from spawn to its first election (docs/runtime.md, Start-up).
 * They keep zod's `safeParse` form, so callers read a result the same way.
 */
import { MAX_EPOCH, MAX_TERM, MAX_ZXID } from '../core/bounds.js';
import type { FieldShape, ShapeOf } from '../core/shapes.js';
import type { AnyAlgorithm, Message } from '../core/types.js';
import { metaProblem, type Meta } from './meta.js';

/** Why a value was refused: where (the keys and indexes leading to it) and what was wrong. */
export interface Issue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export type Parsed<T> = { readonly success: true; readonly data: T } | { readonly success: false; readonly error: { readonly issues: readonly Issue[] } };

/** A check of untrusted input; `data` is the input itself once it passed (nothing is converted). */
export interface Validator<T = unknown> {
  safeParse(value: unknown): Parsed<T>;
}

/** The first problem with `value` at `path`, or null when it is fine. */
type Check = (value: unknown, path: (string | number)[]) => Issue | null;

/** What a refused value was, for the message: its type, and its value when that is short. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  if (typeof value === 'string') return value.length <= 32 ? `string ${JSON.stringify(value)}` : 'a string';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function validator<T>(check: Check): Validator<T> {
  return {
    safeParse(value) {
      const issue = check(value, []);
      return issue === null ? { success: true, data: value as T } : { success: false, error: { issues: [issue] } };
    },
  };
}

function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): Check {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return { path, message: `expected a safe integer, got ${describe(value)}` };
    if (value < min) return { path, message: `too small: expected >= ${min}, got ${value}` };
    if (value > max) return { path, message: `too big: expected <= ${max}, got ${value}` };
    return null;
  };
}

function literal(expected: string | number | boolean): Check {
  return (value, path) => (value === expected ? null : { path, message: `expected ${JSON.stringify(expected)}, got ${describe(value)}` });
}

function strictObject(fields: Readonly<Record<string, Check>>, optional: ReadonlySet<string> = new Set()): Check {
  const entries = Object.entries(fields);
  return (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path, message: `expected an object, got ${describe(value)}` };
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) if (!Object.hasOwn(fields, key)) return { path, message: `unrecognized key ${JSON.stringify(key)}` };
    for (const [key, check] of entries) {
      if (!Object.hasOwn(record, key)) {
        if (optional.has(key)) continue;
        return { path: [...path, key], message: 'missing' };
      }
      const issue = check(record[key], [...path, key]);
      if (issue !== null) return issue;
    }
    return null;
  };
}

function fieldCheck(shape: FieldShape): Check {
  if (typeof shape === 'string') {
    switch (shape) {
      case 'nat':
        return integer(0);
      case 'term':
        return integer(0, MAX_TERM);
      case 'epoch':
        return integer(0, MAX_EPOCH);
      case 'zxid':
        // Every integer of 0 .. MAX_ZXID has an epoch half <= MAX_EPOCH and a counter half < 2^32.
        return integer(0, MAX_ZXID);
      case 'id':
        return integer(1);
      case 'id-or-null': {
        const id = integer(1);
        return (value, path) => (value === null ? null : id(value, path));
      }
      case 'bool':
        return (value, path) => (typeof value === 'boolean' ? null : { path, message: `expected a boolean, got ${describe(value)}` });
    }
  }
  if ('oneOf' in shape) {
    if (shape.oneOf.length === 0) throw new Error('schema: oneOf needs at least one string');
    const choices = new Set<unknown>(shape.oneOf);
    return (value, path) => (choices.has(value) ? null : { path, message: `expected one of ${shape.oneOf.join(', ')}` });
  }
  if ('text' in shape) {
    const { text: maxLength } = shape;
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) throw new Error(`schema: text bound must be a natural number, got ${maxLength}`);
    return (value, path) => {
      if (typeof value !== 'string') return { path, message: `expected a string, got ${describe(value)}` };
      return value.length > maxLength ? { path, message: `too long: expected at most ${maxLength} characters, got ${value.length}` } : null;
    };
  }
  if ('optional' in shape) {
    const inner = fieldCheck(shape.optional);
    return (value, path) => (value === undefined ? null : inner(value, path));
  }
  if ('list' in shape) {
    if (!Number.isSafeInteger(shape.max) || shape.max < 0) throw new Error(`schema: list bound must be a natural number, got ${shape.max}`);
    const item = fieldCheck(shape.list);
    const { max } = shape;
    return (value, path) => {
      if (!Array.isArray(value)) return { path, message: `expected an array, got ${describe(value)}` };
      if (value.length > max) return { path, message: `too long: expected at most ${max} items, got ${value.length}` };
      for (let i = 0; i < value.length; i++) {
        const issue = item(value[i], [...path, i]);
        if (issue !== null) return issue;
      }
      return null;
    };
  }
  if ('record' in shape) {
    if (!Number.isSafeInteger(shape.max) || shape.max < 0) throw new Error(`schema: record bound must be a natural number, got ${shape.max}`);
    const item = fieldCheck(shape.record);
    const { max } = shape;
    return (value, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path, message: `expected an object, got ${describe(value)}` };
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > max) return { path, message: `too many keys: expected at most ${max}, got ${keys.length}` };
      for (const key of keys) {
        // A node id in decimal (so `__proto__` and every other word is refused).
        if (!/^[1-9][0-9]{0,15}$/.test(key) || !Number.isSafeInteger(Number(key))) return { path, message: `expected node ids as keys, got ${JSON.stringify(key.slice(0, 32))}` };
        const issue = item(record[key], [...path, key]);
        if (issue !== null) return issue;
      }
      return null;
    };
  }
  return objectCheck(shape.object);
}

function objectCheck(shape: ShapeOf<object>, extra: Readonly<Record<string, Check>> = {}): Check {
  const fields: Record<string, Check> = {};
  const optional = new Set<string>();
  for (const [key, field] of Object.entries(shape as Record<string, FieldShape>)) {
    fields[key] = fieldCheck(field);
    if (typeof field === 'object' && 'optional' in field) optional.add(key);
  }
  return strictObject({ ...fields, ...extra }, optional);
}

/** A validator for one field shape. */
export function fieldSchema(shape: FieldShape): Validator {
  return validator(fieldCheck(shape));
}

/** A strict object validator: every declared field present with its shape, nothing else. */
export function objectSchema(shape: ShapeOf<object>): Validator<Record<string, unknown>> {
  return validator(objectCheck(shape));
}

/**
 * Version of the wire protocol, named in the handshake. 2: the keepalive frame (length 0, both
 * directions; an acceptor now writes on its connections), the handshake's optional `fresh`, and the
 * acceptor's `{"recognized":true}` answer. A version-1 node refuses all three, so members are upgraded
 * together (a v1 and a v2 node refuse each other's handshakes, counted as bad-handshake).
 * 3: Raft's messages changed: RequestVoteResponse.promiseMs and AppendEntries/AppendEntriesResponse
 * `round` (the leader lease), RequestVote.transfer and the new TimeoutNow (leadership transfer, thesis
 * §3.10). A v2 node would refuse every such message as malformed (strict shapes), so the handshake says
 * so first: v2 and v3 nodes refuse each other (bad-handshake), and a cluster is upgraded together.
 * 4: Raft replicates its log (issue 15): AppendEntries gains prevLogIndex, prevLogTerm and entries,
 * AppendEntriesResponse gains matchIndex, and InstallSnapshot/InstallSnapshotResponse are new (§5.3, §7);
 * ZAB broadcasts (Proposal, Commit, Inform are new; NewLeader carries the sync, Ack/UpToDate/Ping/
 * PingReply carry zxids); Bully copies its log (Copy, SyncRequest, Sync). A v3 node would refuse them as malformed; v3 and v4 nodes refuse each other's handshakes instead.
 */
export const PROTOCOL_VERSION = 4;

/** Checks one decoded frame: the message it is, or null when it is not one of the algorithm's. */
export type MessageValidator = (value: unknown) => Message | null;

/**
 * The validator of an algorithm's messages: `type` is one of its message types, and the other fields
 * are exactly those declared for that type. It dispatches on `type` through a Map to one strict object
 * validator per type (cheaper than trying each, which matters at 20 heartbeats a second per peer).
 */
export function messageValidator(algorithm: AnyAlgorithm): MessageValidator {
  const byType = new Map<string, Check>();
  for (const [type, shape] of messageShapeEntries(algorithm)) byType.set(type, objectCheck(shape, { type: literal(type) }));
  return (value) => {
    if (typeof value !== 'object' || value === null) return null;
    const type = (value as { type?: unknown }).type;
    const check = typeof type === 'string' ? byType.get(type) : undefined;
    if (!check) return null;
    return check(value, []) === null ? (value as Message) : null;
  };
}

function messageShapeEntries(algorithm: AnyAlgorithm): [string, ShapeOf<object>][] {
  const shapes = algorithm.messageShapes as unknown as Readonly<Record<string, ShapeOf<object>>>;
  if (algorithm.messageTypes.length === 0) throw new Error(`schema: ${algorithm.name} has no message types`);
  return algorithm.messageTypes.map((type) => {
    const shape = Object.hasOwn(shapes, type) ? shapes[type] : undefined;
    if (!shape) throw new Error(`schema: ${algorithm.name} declares message type ${type} without a shape`);
    if (Object.hasOwn(shape, 'type')) throw new Error(`schema: ${algorithm.name} ${type} declares a field named "type"`);
    return [type, shape];
  });
}

/** The simplest value of a shape (0, 1, false, the first choice, an empty list). */
export function sampleValue(shape: FieldShape): unknown {
  if (typeof shape === 'string') {
    switch (shape) {
      case 'nat':
      case 'term':
      case 'epoch':
      case 'zxid':
        return 0;
      case 'id':
      case 'id-or-null':
        return 1;
      case 'bool':
        return false;
    }
  }
  if ('oneOf' in shape) return shape.oneOf[0];
  if ('text' in shape) return '';
  if ('optional' in shape) return undefined;
  if ('list' in shape) return [];
  if ('record' in shape) return {};
  return sampleObject(shape.object);
}

function sampleObject(shape: ShapeOf<object>): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape as Record<string, FieldShape>)) value[key] = sampleValue(field);
  return value;
}

/** One sample message of each type, as they arrive: parsed from JSON. */
export function sampleMessages(algorithm: AnyAlgorithm): unknown[] {
  return messageShapeEntries(algorithm).map(([type, shape]) => JSON.parse(JSON.stringify({ type, ...sampleObject(shape) })) as unknown);
}

/** The validator of an algorithm's durable state, for what is read back from disk. */
export function durableSchema(algorithm: AnyAlgorithm): Validator {
  return objectSchema(algorithm.durableShape as ShapeOf<object>);
}

/** The first frame on every peer connection: who is talking, in which cluster, with which algorithm. */
export interface Handshake {
  readonly ballot: typeof PROTOCOL_VERSION;
  readonly cluster: string;
  readonly algorithm: string;
  readonly from: number;
  readonly to: number;
  /**
   * Present (true) when the sender started on an empty data dir without being told it joins as a new
   * member: an acceptor that knew the sender before answers `{"recognized":true}` (a lost disk).
   */
  readonly fresh?: true | undefined;
  /**
   * What the sender advertises (meta.ts), present only when it advertises something: a node that
   * advertises nothing sends the handshake every version-2 node accepts, so `meta` needs no version
   * bump; members that advertise need peers that know the field (upgrade, then advertise).
   */
  readonly meta?: Meta | undefined;
  /**
   * The sender's leadership priority (`--priority`, preferred leader: leadership.ts), present only when
   * above 0; like `meta` it needs no version bump: members given a priority need peers that know the
   * field (upgrade, then set priorities).
   */
  readonly priority?: number | undefined;
}

/** The highest `--priority` (any bound would do; this one keeps the handshake's number small). */
export const MAX_PRIORITY = 1_000_000;

/** Cluster ids: short printable names (they appear in logs and handshakes). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** A string of at most `max` characters, matching `pattern` if given. */
function string(max: number, pattern?: RegExp): Check {
  return (value, path) => {
    if (typeof value !== 'string') return { path, message: `expected a string, got ${describe(value)}` };
    if (value.length > max) return { path, message: `too long: expected at most ${max} characters` };
    if (pattern && !pattern.test(value)) return { path, message: `does not match ${pattern}` };
    return null;
  };
}

export const handshakeSchema: Validator<Handshake> = validator(
  strictObject(
    {
      ballot: literal(PROTOCOL_VERSION),
      cluster: string(64, CLUSTER_ID_PATTERN),
      algorithm: string(32),
      from: integer(1),
      to: integer(1),
      fresh: literal(true),
      meta: (value, path) => {
        const issue = metaProblem(value);
        return issue === null ? null : { path: [...path, 'meta', ...issue.path], message: issue.message };
      },
      priority: integer(1, MAX_PRIORITY),
    },
    new Set(['fresh', 'meta', 'priority']),
  ),
);

/**
 * The only JSON frame an acceptor writes (besides keepalives): the answer to a fresh handshake from a
 * member this process has known before, i.e. one that has lost its data dir (transport.ts).
 */
export const RECOGNIZED = { recognized: true } as const;
export const recognizedSchema: Validator<typeof RECOGNIZED> = validator(strictObject({ recognized: literal(true) }));

/**
 * The acceptor's answer to a handshake that is valid in every way (this cluster, this algorithm, this
 * node as the receiver; with TLS, a certificate naming the sender) but from a node that the
 * configuration in force leaves out (transport.ts): `index` is that configuration's index. Like
 * etcd's `410 Gone` ("the member has been permanently removed from the cluster") it lets a removed
 * node learn what no entry will tell it (the leader stops replicating to a member it removes). Written
 * only for an index above 0 (index 0 is the configuration of the flags: nothing to tell). A node of an
 * earlier version refuses it as a bad frame on a connection that is closing anyway: no version bump.
 */
export interface NotMember {
  readonly notMember: true;
  readonly index: number;
}
export const notMemberSchema: Validator<NotMember> = validator(strictObject({ notMember: literal(true), index: integer(1) }));

/**
 * The envelope of a state file (storage.ts): which format, algorithm and node it belongs to, the state,
 * the generation its append-only log (state.log) must carry (absent in files written before the log),
 * and (format 2) the fields kept in files of their own, which storage.ts checks.
 */
export function envelopeSchema(format: number): Validator<{ format: number; algorithm: string; node: number; state: unknown; generation?: number; files?: unknown }> {
  return validator(
    strictObject(
      { format: literal(format), algorithm: string(Number.MAX_SAFE_INTEGER), node: integer(1), state: () => null, generation: integer(0), files: () => null },
      new Set(['generation', 'files']),
    ),
  );
}
