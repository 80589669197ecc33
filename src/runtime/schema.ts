/**
 * Validators for untrusted bytes, built from the wire shapes each algorithm declares
 * (src/core/shapes.ts). One generic converter serves every algorithm, so no algorithm carries a
 * hand-written schema and a new message field cannot be forgotten at the edge: the mapped types make
 * the declaration complete, and this file turns it into a zod validator.
 *
 * Every object is strict (an unknown key is a rejection, which also stops `__proto__` keys from
 * JSON.parse), every number is a safe integer (terms, epochs and zxids at most their ceiling,
 * src/core/bounds.ts), every list has a bound, every string is one of a closed
 * set, so a frame that passes cannot smuggle anything the core did not declare.
 */
import { z } from 'zod';
import { MAX_EPOCH, MAX_TERM, MAX_ZXID } from '../core/bounds.js';
import type { FieldShape, ShapeOf } from '../core/shapes.js';
import type { AnyAlgorithm, Message } from '../core/types.js';
import { metaSchema, type Meta } from './meta.js';

/**
 * Version of the wire protocol, named in the handshake. 2: the keepalive frame (length 0, both
 * directions; an acceptor now writes on its connections), the handshake's optional `fresh`, and the
 * acceptor's `{"recognized":true}` answer. A version-1 node refuses all three, so members are upgraded
 * together (a v1 and a v2 node refuse each other's handshakes, counted as bad-handshake).
 */
export const PROTOCOL_VERSION = 2;

/** A validator for one field shape. */
export function fieldSchema(shape: FieldShape): z.ZodType {
  if (typeof shape === 'string') {
    switch (shape) {
      case 'nat':
        return z.int().min(0);
      case 'term':
        return z.int().min(0).max(MAX_TERM);
      case 'epoch':
        return z.int().min(0).max(MAX_EPOCH);
      case 'zxid':
        // Every integer of 0 .. MAX_ZXID has an epoch half <= MAX_EPOCH and a counter half < 2^32.
        return z.int().min(0).max(MAX_ZXID);
      case 'id':
        return z.int().min(1);
      case 'id-or-null':
        return z.int().min(1).nullable();
      case 'bool':
        return z.boolean();
    }
  }
  if ('oneOf' in shape) {
    if (shape.oneOf.length === 0) throw new Error('schema: oneOf needs at least one string');
    return z.enum(shape.oneOf as [string, ...string[]]);
  }
  if ('list' in shape) {
    if (!Number.isSafeInteger(shape.max) || shape.max < 0) throw new Error(`schema: list bound must be a natural number, got ${shape.max}`);
    return z.array(fieldSchema(shape.list)).max(shape.max);
  }
  return objectSchema(shape.object);
}

/** A strict object validator: every declared field present with its shape, nothing else. */
export function objectSchema(shape: ShapeOf<object>): z.ZodObject {
  const fields: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(shape as Record<string, FieldShape>)) fields[key] = fieldSchema(field);
  return z.strictObject(fields);
}

/** Checks one decoded frame: the message it is, or null when it is not one of the algorithm's. */
export type MessageValidator = (value: unknown) => Message | null;

/**
 * The validator of an algorithm's messages: `type` is one of its message types, and the other fields
 * are exactly those declared for that type. It dispatches on `type` through a Map to one strict object
 * schema per type (cheaper than a zod union, which matters at 20 heartbeats a second per peer).
 */
export function messageValidator(algorithm: AnyAlgorithm): MessageValidator {
  const byType = new Map<string, z.ZodType>();
  for (const [type, shape] of messageShapeEntries(algorithm)) byType.set(type, objectSchema(shape).extend({ type: z.literal(type) }));
  return (value) => {
    if (typeof value !== 'object' || value === null) return null;
    const type = (value as { type?: unknown }).type;
    const schema = typeof type === 'string' ? byType.get(type) : undefined;
    if (!schema) return null;
    const parsed = schema.safeParse(value);
    return parsed.success ? (parsed.data as Message) : null;
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
  if ('list' in shape) return [];
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
export function durableSchema(algorithm: AnyAlgorithm): z.ZodType<unknown> {
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
}

/** Cluster ids: short printable names (they appear in logs and handshakes). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const handshakeSchema: z.ZodType<Handshake> = z.strictObject({
  ballot: z.literal(PROTOCOL_VERSION),
  cluster: z.string().regex(CLUSTER_ID_PATTERN),
  algorithm: z.string().max(32),
  from: z.int().min(1),
  to: z.int().min(1),
  fresh: z.literal(true).optional(),
  meta: metaSchema.optional(),
});

/**
 * The only JSON frame an acceptor writes (besides keepalives): the answer to a fresh handshake from a
 * member this process has known before, i.e. one that has lost its data dir (transport.ts).
 */
export const RECOGNIZED = { recognized: true } as const;
export const recognizedSchema = z.strictObject({ recognized: z.literal(true) });
