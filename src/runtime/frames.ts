/**
 * The peer wire format: length-prefixed frames. Each frame is a 4-byte unsigned big-endian length N
 * (0 ≤ N ≤ the maximum frame size) followed by N bytes of UTF-8 JSON. The first frame of a connection
 * is the handshake (schema.ts), every later one a message of the algorithm. A frame of length 0 is the
 * keepalive (protocol version 2): no body, no JSON, four zero bytes that say "this link is alive"
 * (transport.ts, liveness).
 *
 * The decoder never throws on input: any byte sequence yields frames, or one reason to reject the
 * connection. After a rejection it accepts nothing more (the transport closes the connection), so a
 * peer sending garbage cannot make the node parse unbounded amounts of it.
 */

/** Frames larger than this are refused on both sides: election messages are a few dozen bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;
const HEADER_BYTES = 4;

/** The keepalive: a frame of length 0. */
export const KEEPALIVE_FRAME: Buffer = Buffer.alloc(HEADER_BYTES);

/** Stands for a keepalive among the decoded values, in its place in the stream. */
export const KEEPALIVE: unique symbol = Symbol('keepalive');

/** Why a frame (and with it, its connection) was refused; the label of ballot_frames_rejected_by_reason_total. */
export type RejectReason =
  | 'oversized' // length prefix above the maximum
  | 'truncated' // the connection ended inside a frame
  | 'bad-utf8'
  | 'bad-json'
  | 'bad-handshake' // first frame is not a handshake
  | 'wrong-cluster'
  | 'wrong-algorithm'
  | 'wrong-recipient' // the handshake names another node as the receiver
  | 'unknown-sender' // the handshake names a node that is not a member (or ourselves)
  | 'bad-message' // not one of the algorithm's messages, wrong fields or kinds
  | 'tls-refused' // with TLS: the TLS handshake failed (no certificate, or one the cluster's CA did not sign)
  | 'wrong-identity'; // with TLS: the handshake's sender is not the member the certificate names

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
  'tls-refused',
  'wrong-identity',
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
  /** The JSON values of the complete frames in the bytes so far, in order; KEEPALIVE for a keepalive. */
  readonly values: unknown[];
  /** Set when the stream is broken; values before the broken frame are still returned. */
  readonly error: RejectReason | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a byte stream into frames in time linear in its length, however it is cut: a frame that
 * arrives in pieces is gathered as a list of chunks and joined once, when all of it is there (joining
 * on every chunk made one-byte writes quadratic: 56% of a core for the receiver of a one-byte writer).
 */
export class FrameDecoder {
  /** The incomplete frame so far, in pieces (each copied: the caller may reuse its chunk). */
  private readonly pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** The length announced by the buffered header, once its four bytes are there. */
  private wanted = -1;
  private broken = false;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Feeds bytes as they arrive. */
  push(chunk: Uint8Array): DecodeResult {
    const values: unknown[] = [];
    if (this.broken) return { values, error: null };
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.pieceBytes > 0) {
      // Gather until the buffered frame is complete; only then join it (with whatever follows it).
      this.pieces.push(Buffer.from(bytes));
      this.pieceBytes += bytes.length;
      if (this.wanted < 0 && this.pieceBytes >= HEADER_BYTES) {
        this.wanted = readHeader(this.pieces);
        if (this.wanted > this.maxBytes) return this.fail(values, 'oversized');
      }
      if (this.wanted < 0 || this.pieceBytes < HEADER_BYTES + this.wanted) return { values, error: null };
      bytes = Buffer.concat(this.pieces, this.pieceBytes);
      this.pieces.length = 0;
      this.pieceBytes = 0;
      this.wanted = -1;
    }
    // Whole frames are parsed in place, without copying.
    let offset = 0;
    while (bytes.length - offset >= HEADER_BYTES) {
      const length = bytes.readUInt32BE(offset);
      // Checked before waiting for the body: an oversized length is refused at once, never buffered.
      if (length > this.maxBytes) return this.fail(values, 'oversized');
      if (bytes.length - offset - HEADER_BYTES < length) break;
      const body = bytes.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      offset += HEADER_BYTES + length;
      if (length === 0) {
        values.push(KEEPALIVE);
        continue;
      }
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        return this.fail(values, 'bad-utf8');
      }
      try {
        values.push(JSON.parse(text));
      } catch {
        return this.fail(values, 'bad-json');
      }
    }
    if (offset < bytes.length) {
      // Keep the incomplete tail, copied: a small tail must not pin a large chunk in memory.
      const tail = Buffer.from(bytes.subarray(offset));
      this.pieces.push(tail);
      this.pieceBytes = tail.length;
      if (tail.length >= HEADER_BYTES) this.wanted = tail.readUInt32BE(0);
    }
    return { values, error: null };
  }

  /** Called when the connection ends: bytes left over mean the last frame was cut short. */
  end(): RejectReason | null {
    if (this.broken) return null;
    this.broken = true;
    const truncated = this.pieceBytes > 0;
    this.pieces.length = 0;
    this.pieceBytes = 0;
    return truncated ? 'truncated' : null;
  }

  private fail(values: unknown[], error: RejectReason): DecodeResult {
    this.broken = true;
    this.pieces.length = 0;
    this.pieceBytes = 0;
    return { values, error };
  }
}

/** The big-endian length in the first four bytes spread over `pieces`. */
function readHeader(pieces: readonly Buffer[]): number {
  let length = 0;
  let taken = 0;
  for (const piece of pieces) {
    for (let i = 0; i < piece.length && taken < HEADER_BYTES; i++, taken++) length = length * 256 + piece[i]!;
    if (taken === HEADER_BYTES) break;
  }
  return length;
}
