/**
 * The on-disk format of a node's durable state, as DurableStore (storage.ts) writes and reads it:
 * state.log's records, one a line, `CRC32 JSON\n`; the references to field files (`files`, a record's
 * `f`); and CRC-32 (IEEE), which checks both. Pure encoding and decoding: no file is opened here.
 */

/** A large field's own file: `snapshot.12.json` (the field, a number never reused); its temporary file adds `.tmp`. */
export const FIELD_FILE = /^([A-Za-z][A-Za-z0-9_]*)\.(\d{1,15})\.json(\.tmp)?$/;

/** Where a field kept in its own file is: the file's name, length in bytes and CRC-32 (8 hex digits). */
export interface FieldFile {
  readonly name: string;
  readonly bytes: number;
  readonly crc32: string;
}

/**
 * One record of state.log: the generation it applies to, fields replaced (`s`), arrays extended (`a`),
 * arrays cut to a length then extended (`r`: [length, items]), fields now in files of their own (`f`),
 * fields removed (`d`).
 */
export interface LogRecord {
  readonly g: number;
  readonly s?: Readonly<Record<string, unknown>>;
  readonly a?: Readonly<Record<string, readonly unknown[]>>;
  readonly r?: Readonly<Record<string, readonly [number, readonly unknown[]]>>;
  readonly f?: Readonly<Record<string, FieldFile>>;
  /** Fields removed (a Bully node omits its log while it is empty). */
  readonly d?: readonly string[];
}

export function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** A reference to a field file, as state.json's `files` or a record's `f` holds it, or null. */
export function fieldFileOf(value: unknown): FieldFile | null {
  if (typeof value !== 'object' || value === null) return null;
  const { name, bytes, crc32: sum } = value as Record<string, unknown>;
  if (typeof name !== 'string' || !FIELD_FILE.test(name) || name.endsWith('.tmp')) return null;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) return null;
  if (typeof sum !== 'string' || !/^[0-9a-f]{8}$/.test(sum)) return null;
  return { name, bytes, crc32: sum };
}

/** state.json's `files` (or a record's `f`): field → its file, or null when malformed. */
export function fieldFiles(value: unknown): Record<string, FieldFile> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const files: Record<string, FieldFile> = {};
  for (const [key, entry] of Object.entries(value)) {
    const file = fieldFileOf(entry);
    if (file === null) return null;
    files[key] = file;
  }
  return files;
}

/** `CRC32 JSON\n`, as bytes. */
export function encodeRecord(record: LogRecord): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  return Buffer.concat([Buffer.from(`${hex32(crc32(json))} `, 'latin1'), json, Buffer.from('\n')]);
}

/** The record a line holds, or null when it is torn or not a record of this format. */
export function parseRecord(line: Buffer): LogRecord | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const json = line.subarray(9);
  if (line.toString('latin1', 0, 8) !== hex32(crc32(json))) return null;
  let record: unknown;
  try {
    record = JSON.parse(json.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null) return null;
  const { g, s, a, r, f, d } = record as Record<string, unknown>;
  if (typeof g !== 'number' || !Number.isSafeInteger(g)) return null;
  if (s !== undefined && (typeof s !== 'object' || s === null || Array.isArray(s))) return null;
  if (a !== undefined && (typeof a !== 'object' || a === null || Array.isArray(a) || !Object.values(a).every(Array.isArray))) return null;
  const cutOk = (entry: unknown): boolean =>
    Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'number' && Number.isSafeInteger(entry[0]) && entry[0] >= 0 && Array.isArray(entry[1]);
  if (r !== undefined && (typeof r !== 'object' || r === null || Array.isArray(r) || !Object.values(r).every(cutOk))) return null;
  if (f !== undefined && fieldFiles(f) === null) return null;
  if (d !== undefined && (!Array.isArray(d) || !d.every((key) => typeof key === 'string'))) return null;
  return record as LogRecord;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * From this many bytes on, crc32 uses zlib's (native: 3 ms for 16 MiB against 56 in the loop below, a
 * stall of the event loop at each compaction of a large state and at each start that reads it). Below,
 * the loop: loading node:zlib costs 3.5-5.5 ms, which a node's start (every record is checked) need not pay.
 */
const NATIVE_CRC_BYTES = 256 * 1024;

/** zlib.crc32, loaded at its first use; null where this Node.js lacks it (it needs 20.15, getBuiltinModule 20.16). */
let nativeCrc32: ((data: Uint8Array) => number) | null | undefined;

/** CRC-32 (IEEE), as zlib computes it (engines says Node >= 20: zlib's own where this Node.js has it, else the loop). */
export function crc32(data: Uint8Array): number {
  if (data.length >= NATIVE_CRC_BYTES) {
    nativeCrc32 ??= process.getBuiltinModule?.('node:zlib').crc32 ?? null;
    if (nativeCrc32 !== null) return nativeCrc32(data);
  }
  return crc32Loop(data);
}

/** The table-driven CRC-32 (IEEE), for short inputs and older Node.js. */
export function crc32Loop(data: Uint8Array): number {
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
