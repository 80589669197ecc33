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

/**
 * What is wrong with `value` as an advertisement, or null when it is fine. Written by hand, not with
 * zod: it runs on every handshake, and a node loads no validation library before its first election
 * (docs/runtime.md, Start-up; src/cli/lazy-modules.test.ts).
 */
export function metaProblem(value: unknown): { readonly path: readonly string[]; readonly message: string } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path: [], message: 'expected an object' };
  // Object.keys sees an own `__proto__` key that JSON.parse created; the pattern refuses it.
  const keys = Object.keys(value);
  if (keys.length > MAX_META_KEYS || !keys.every((key) => META_KEY_PATTERN.test(key))) {
    return { path: [], message: `an object of at most ${MAX_META_KEYS} keys matching ${META_KEY_PATTERN.source}` };
  }
  for (const key of keys) {
    const item: unknown = (value as Record<string, unknown>)[key];
    const fine =
      item === null ||
      typeof item === 'boolean' ||
      (typeof item === 'number' && Number.isFinite(item)) ||
      (typeof item === 'string' && item.length <= MAX_META_STRING);
    if (!fine) return { path: [key], message: 'expected a string, a finite number, a boolean or null' };
  }
  if (Buffer.byteLength(JSON.stringify(value), 'utf8') > MAX_META_BYTES) return { path: [], message: `at most ${MAX_META_BYTES} bytes of JSON` };
  return null;
}

/** Checks what a node is told to advertise; an InvalidMeta (one line) names what is wrong. */
export function checkMeta(value: unknown, what = 'advertise'): Meta {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidMeta(`${what}: expected a JSON object such as {"url":"http://10.0.0.5:8080"}`);
  const issue = metaProblem(value);
  if (issue !== null) {
    const where = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidMeta(`${what}: not a valid advertisement${where} (${issue.message}; values are strings up to ${MAX_META_STRING} characters, numbers, booleans or null)`);
  }
  return Object.freeze({ ...(value as Meta) });
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
