/**
 * Size limits every core shares, so that whatever a core sends fits one peer frame of the runtime
 * (src/runtime/frames.ts, MAX_FRAME_BYTES: 64 KiB; src/runtime/frames.test.ts checks the two agree — the
 * core may not import the runtime). The simulator has no frames, so a core that ignored these would
 * pass every simulated run and then lose messages on real nodes: the cores bound themselves.
 */

/** A peer frame's largest payload, in bytes (the runtime's MAX_FRAME_BYTES). */
export const FRAME_BYTES = 64 * 1024;

/**
 * The longest replicated command, in UTF-16 code units, for all three algorithms. JSON spends at most 6
 * bytes on one code unit (a `\u0001` escape), so one command of this length takes at most 48 KiB of a
 * frame, which leaves room for the message's other fields. A longer `propose` is refused (hosts check
 * first, to say why: src/kv/store.ts).
 */
export const MAX_COMMAND_LENGTH = 8_192;

/**
 * The largest snapshot sent whole in one message (ZAB's SNAP in NEWLEADER, Bully's Sync), in bytes once
 * JSON-encoded. A core whose snapshots travel whole ignores a `compact` with a larger one (its log keeps
 * the entries instead); Raft sends snapshots in chunks and has its own, larger bound.
 */
export const MAX_WHOLE_SNAPSHOT_BYTES = 40 * 1024;

/**
 * A snapshot that travels in chunks (beyond MAX_WHOLE_SNAPSHOT_BYTES: ZAB's SnapChunk, Bully's
 * SnapshotChunk) is cut into pieces of this many UTF-16 code units: at most 6 bytes each once
 * JSON-encoded, 48 KiB of a 64 KiB frame.
 */
export const SNAPSHOT_CHUNK_CHARS = 8_192;

/**
 * Most pieces of a chunked snapshot sent at once (src/core/chunks.ts): the receiver asks for the next
 * window once it holds this one. Well within a runtime peer link's queue (src/runtime/links.ts, 64
 * messages, the oldest dropped beyond), so a window is not lost to the sender's own burst.
 */
export const SNAPSHOT_CHUNK_WINDOW = 4;

/** The largest snapshot a core keeps (a larger `compact` is ignored), in UTF-16 code units: every core sends it in chunks. The key-value store stops growing below it (src/runtime/kv.ts). */
export const MAX_CHUNKED_SNAPSHOT_CHARS = 16 * 1024 * 1024;

/** The bytes `text` takes in a JSON frame (quoted and escaped, UTF-8). */
export function encodedLength(text: string): number {
  return utf8Length(JSON.stringify(text));
}

/** UTF-8 bytes of `text`, for keeping messages within a frame without node:buffer. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}
