/**
 * What a node advertises about itself (`startNode({ advertise })`, `ballot node --advertise JSON`): a
 * small application payload, typically the URL its service answers on, carried to every peer in the
 * peer handshake (transport.ts) so that any member can say where the leader is (`node.leader()`,
 * `GET /leader`), as etcd's `proclaim` lets a leader publish a value.
 *
 * It crosses the wire, so it is bounded and flat: a JSON object of at most MAX_META_KEYS keys, each
 * a short name, each value a string (at most MAX_META_STRING characters), a finite number, a boolean
 * or null, and at most MAX_META_BYTES of JSON in all. The same check runs on what this node is told
 * (InvalidMeta) and on every handshake received (a refused handshake, never a crash). Keys start
 * with a letter, which also keeps `__proto__` and its kin out.
 */
import { z } from 'zod';

/**
 * What `checkMeta` throws; startNode turns it into a ConfigError, `ballot node` into exit 2. (Not a
 * ConfigError itself: config.ts → schema.ts → this module would be an import cycle.)
 */
export class InvalidMeta extends Error {}

export type MetaValue = string | number | boolean | null;
/** A member's advertised payload, as every node knows it. */
export type Meta = Readonly<Record<string, MetaValue>>;

export const MAX_META_BYTES = 1024;
export const MAX_META_KEYS = 16;
export const MAX_META_STRING = 512;
export const META_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

const metaValue = z.union([z.string().max(MAX_META_STRING), z.number().refine(Number.isFinite), z.boolean(), z.null()]);

/** Whether `value` is a plain object whose own keys are all acceptable (checked on the input: zod's record drops a `__proto__` key silently). */
function hasMetaKeys(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length <= MAX_META_KEYS && keys.every((key) => META_KEY_PATTERN.test(key));
}

export const metaSchema: z.ZodType<Meta> = z
  .unknown()
  .refine(hasMetaKeys, { message: `an object of at most ${MAX_META_KEYS} keys matching ${META_KEY_PATTERN.source}` })
  .pipe(z.record(z.string(), metaValue))
  .refine((meta) => Buffer.byteLength(JSON.stringify(meta), 'utf8') <= MAX_META_BYTES, { message: `at most ${MAX_META_BYTES} bytes of JSON` });

/** Checks what a node is told to advertise; an InvalidMeta (one line) names what is wrong. */
export function checkMeta(value: unknown, what = 'advertise'): Meta {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidMeta(`${what}: expected a JSON object such as {"url":"http://10.0.0.5:8080"}`);
  const parsed = metaSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidMeta(`${what}: not a valid advertisement${where} (${issue.message}; values are strings up to ${MAX_META_STRING} characters, numbers, booleans or null)`);
  }
  return Object.freeze({ ...parsed.data });
}

/** `--advertise JSON`: the text parsed and checked. */
export function parseMeta(text: string, what = '--advertise'): Meta {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidMeta(`${what}: not JSON (expected an object such as {"url":"http://10.0.0.5:8080"})`);
  }
  return checkMeta(value, what);
}
