/**
 * Wire shapes: each algorithm declares the fields of its messages and of its durable state as plain
 * data. The core never validates anything (untrusted bytes are the runtime's business); the runtime
 * turns these declarations into validators at its edge. The mapped types below make the declaration
 * complete by construction: a message field without a shape, or a shape without a field, fails to compile.
 */
import type { Message } from './message.js';

export type FieldShape =
  /** A non-negative safe integer (indexes, counts). */
  | 'nat'
  /** A term-like counter: Raft term, Bully generation, ZAB election round; 0 .. MAX_TERM (src/core/bounds.ts). */
  | 'term'
  /** A ZAB epoch: 0 .. MAX_EPOCH, so that every zxid of it is a safe integer. */
  | 'epoch'
  /** A ZAB zxid: epoch · 2^32 + counter, its epoch half at most MAX_EPOCH and its counter half below 2^32. */
  | 'zxid'
  /** A node id: a positive safe integer. */
  | 'id'
  | 'id-or-null'
  | 'bool'
  /** One of these strings. */
  | { readonly oneOf: readonly string[] }
  /** A string of at most `maxLength` UTF-16 code units (a replicated command, a snapshot). */
  | { readonly text: number }
  /** The field may be absent; when present it has this shape (fields added to durable state later). */
  | { readonly optional: FieldShape }
  /** A list of at most `max` items of one shape. */
  | { readonly list: FieldShape; readonly max: number }
  /**
   * An object keyed by node ids (positive safe integers in decimal, no leading zero), at most `max` keys,
   * each value of one shape: Raft's Membership.addresses.
   */
  | { readonly record: FieldShape; readonly max: number }
  | { readonly object: ShapeOf<object> };

/** The shape of every field of T. */
export type ShapeOf<T> = { readonly [K in keyof T]-?: FieldShape };

/** For each message type of the union, the shapes of its fields other than `type`. */
export type MessageShapes<M extends Message> = {
  readonly [T in M['type']]: ShapeOf<Omit<Extract<M, { type: T }>, 'type'>>;
};
