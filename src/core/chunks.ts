/**
 * A snapshot too large for one frame travels in pieces (Bully's SnapshotChunk, ZAB's SnapChunk), one
 * window at a time: the receiver asks for a window from the first offset it lacks, and asks for the
 * next as soon as it holds the window. What the two algorithms share is here, once: which pieces one
 * window holds, which pieces are well-formed, and a receiver's pieces with its first missing offset.
 *
 * Why windows: a runtime peer link queues at most a few dozen frames and drops the oldest when the
 * socket is congested (src/runtime/links.ts), so a sender that put a whole 3 MB snapshot (hundreds of
 * frames) on it at once would lose most of it, and one that started over after every loss would never
 * finish. A window of SNAPSHOT_CHUNK_WINDOW pieces fits the queue, and the receiver's request for the
 * next one is the flow control TCP gives ZooKeeper's snapshot stream.
 */
import { MAX_CHUNKED_SNAPSHOT_CHARS, SNAPSHOT_CHUNK_CHARS, SNAPSHOT_CHUNK_WINDOW } from './limits.js';

/** The characters one window of pieces covers. */
export const SNAPSHOT_WINDOW_CHARS = SNAPSHOT_CHUNK_WINDOW * SNAPSHOT_CHUNK_CHARS;

/** Whether `offset` is where a piece of a snapshot of `length` characters starts. */
export function isPieceOffset(length: number, offset: number): boolean {
  return Number.isSafeInteger(offset) && offset >= 0 && offset < length && offset % SNAPSHOT_CHUNK_CHARS === 0;
}

/**
 * Whether a piece of `pieceLength` characters at `offset` is one a correct sender cuts from a snapshot
 * of `length` characters: on the SNAPSHOT_CHUNK_CHARS grid, filling its cell exactly (only the last
 * piece is shorter), of a snapshot within MAX_CHUNKED_SNAPSHOT_CHARS. So however many pieces arrive,
 * duplicates included, the pieces a receiver keeps never exceed `length` characters.
 */
export function isPiece(length: number, offset: number, pieceLength: number): boolean {
  return length <= MAX_CHUNKED_SNAPSHOT_CHARS && isPieceOffset(length, offset) && pieceLength === Math.min(SNAPSHOT_CHUNK_CHARS, length - offset);
}

/**
 * The pieces of `data` one window holds: SNAPSHOT_CHUNK_WINDOW of them from `from` (fewer at the end);
 * none when `from` is no piece's offset (the caller decides whether that means "from the start").
 */
export function windowPieces(data: string, from: number): { readonly offset: number; readonly data: string }[] {
  if (!isPieceOffset(data.length, from)) return [];
  const end = Math.min(data.length, from + SNAPSHOT_WINDOW_CHARS);
  const pieces: { offset: number; data: string }[] = [];
  for (let offset = from; offset < end; offset += SNAPSHOT_CHUNK_CHARS) pieces.push({ offset, data: data.slice(offset, offset + SNAPSHOT_CHUNK_CHARS) });
  return pieces;
}

/**
 * What adding a piece did: nothing ('duplicate'); kept it ('kept'); kept it and the first missing
 * offset passed the end of a window ('window-held': time to ask for the next window).
 */
export type PieceAdded = 'duplicate' | 'kept' | 'window-held';

/** A receiver's pieces of one snapshot of `length` characters, by offset, in any order. */
export class SnapshotPieces {
  private readonly pieces = new Map<number, string>();
  private received = 0;
  private firstMissing = 0;

  constructor(readonly length: number) {}

  /** The first offset whose piece is not held: where the next window is to start. */
  get missing(): number {
    return this.firstMissing;
  }

  /** Every piece is held. */
  get complete(): boolean {
    return this.received >= this.length;
  }

  /** Keeps a piece the caller checked with `isPiece` against this snapshot's length. */
  add(offset: number, data: string): PieceAdded {
    if (this.pieces.has(offset)) return 'duplicate';
    this.pieces.set(offset, data);
    this.received += data.length;
    const before = this.firstMissing;
    while (this.pieces.has(this.firstMissing)) this.firstMissing += SNAPSHOT_CHUNK_CHARS;
    return Math.floor(this.firstMissing / SNAPSHOT_WINDOW_CHARS) > Math.floor(before / SNAPSHOT_WINDOW_CHARS) ? 'window-held' : 'kept';
  }

  /** The snapshot, once complete. */
  assemble(): string {
    return [...this.pieces.entries()].sort(([a], [b]) => a - b).map(([, piece]) => piece).join('');
  }
}
