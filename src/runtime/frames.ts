/**
 * The peer wire format: length-prefixed frames. Each frame is a 4-byte unsigned big-endian length N
 * (1 ≤ N ≤ the maximum frame size) followed by N bytes of UTF-8 JSON. The first frame of a connection
 * is the handshake (schema.ts), every later one a message of the algorithm.
 *
 * The decoder never throws on input: any byte sequence yields frames, or one reason to reject the
 * connection. After a rejection it accepts nothing more (the transport closes the connection), so a
 * peer sending garbage cannot make the node parse unbounded amounts of it.
 */

/** Frames larger than this are refused on both sides: election messages are a few dozen bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;
const HEADER_BYTES = 4;

/** Why a frame (and with it, its connection) was refused; the label of ballot_frames_rejected_by_reason_total. */
export type RejectReason =
  | 'oversized' // length prefix above the maximum, or zero
  | 'truncated' // the connection ended inside a frame
  | 'bad-utf8'
  | 'bad-json'
  | 'bad-handshake' // first frame is not a handshake
  | 'wrong-cluster'
  | 'wrong-algorithm'
  | 'wrong-recipient' // the handshake names another node as the receiver
  | 'unknown-sender' // the handshake names a node that is not a member (or ourselves)
  | 'bad-message'; // not one of the algorithm's messages, wrong fields or kinds

export const rejectReasons: readonly RejectReason[] = [
  'oversized',
  'truncated',
  'bad-utf8',
  'bad-json',
  'bad-handshake',
  'wrong-cluster',
  'wrong-algorithm',
  'wrong-recipient',
  'unknown-sender',
  'bad-message',
];

/** Encodes one value as a frame, or returns null when it would exceed `maxBytes`. */
export function encodeFrame(value: unknown, maxBytes = MAX_FRAME_BYTES): Buffer | null {
  const json = JSON.stringify(value);
  const length = Buffer.byteLength(json, 'utf8');
  if (length === 0 || length > maxBytes) return null;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame.write(json, HEADER_BYTES, 'utf8');
  return frame;
}

export interface DecodeResult {
  /** The JSON values of the complete frames in the bytes so far, in order. */
  readonly values: unknown[];
  /** Set when the stream is broken; values before the broken frame are still returned. */
  readonly error: RejectReason | null;
}

const EMPTY = Buffer.alloc(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class FrameDecoder {
  private buffered: Buffer = EMPTY;
  private broken = false;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Feeds bytes as they arrive. */
  push(chunk: Uint8Array): DecodeResult {
    const values: unknown[] = [];
    if (this.broken) return { values, error: null };
    // The common case, whole frames in one chunk, parses the chunk in place without copying it.
    this.buffered =
      this.buffered.length > 0 ? Buffer.concat([this.buffered, chunk]) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    let error: RejectReason | null = null;
    while (this.buffered.length - offset >= HEADER_BYTES) {
      const length = this.buffered.readUInt32BE(offset);
      // Checked before waiting for the body: an oversized length is refused at once, never buffered.
      if (length === 0 || length > this.maxBytes) {
        error = 'oversized';
        break;
      }
      if (this.buffered.length - offset - HEADER_BYTES < length) break;
      const body = this.buffered.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      offset += HEADER_BYTES + length;
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        error = 'bad-utf8';
        break;
      }
      try {
        values.push(JSON.parse(text));
      } catch {
        error = 'bad-json';
        break;
      }
    }
    if (error !== null) {
      this.broken = true;
      this.buffered = EMPTY;
    } else {
      // Keep only the incomplete tail, copied: the caller may reuse the chunk, and a small tail must not
      // pin a large chunk in memory.
      this.buffered = offset === this.buffered.length ? EMPTY : Buffer.from(this.buffered.subarray(offset));
    }
    return { values, error };
  }

  /** Called when the connection ends: bytes left over mean the last frame was cut short. */
  end(): RejectReason | null {
    if (this.broken) return null;
    this.broken = true;
    return this.buffered.length > 0 ? 'truncated' : null;
  }
}
