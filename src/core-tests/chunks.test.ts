/**
 * The windowed transfer of large snapshots both Bully and ZAB use (src/core/chunks.ts): which pieces one
 * window holds, which pieces are well-formed, and a receiver's first missing offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPiece, isPieceOffset, SnapshotPieces, SNAPSHOT_WINDOW_CHARS, windowPieces } from '../core/chunks.js';
import { MAX_CHUNKED_SNAPSHOT_CHARS, SNAPSHOT_CHUNK_CHARS as CHUNK, SNAPSHOT_CHUNK_WINDOW } from '../core/limits.js';

const data = Array.from({ length: 10 * CHUNK + 17 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');

test('a window is SNAPSHOT_CHUNK_WINDOW pieces from its offset, fewer at the end; none from an offset that starts no piece', () => {
  const first = windowPieces(data, 0);
  assert.deepEqual(first.map((p) => p.offset), [0, 1, 2, 3].map((k) => k * CHUNK));
  assert.equal(first.length, SNAPSHOT_CHUNK_WINDOW);
  assert.equal(first.map((p) => p.data).join(''), data.slice(0, SNAPSHOT_WINDOW_CHARS));
  const last = windowPieces(data, 9 * CHUNK);
  assert.deepEqual(last.map((p) => [p.offset, p.data.length]), [[9 * CHUNK, CHUNK], [10 * CHUNK, 17]]);
  for (const garbage of [1, CHUNK - 1, 11 * CHUNK, data.length, -CHUNK, 0.5, Number.MAX_SAFE_INTEGER + 1]) {
    assert.deepEqual(windowPieces(data, garbage), [], `offset ${garbage}`);
    assert.equal(isPieceOffset(data.length, garbage), false);
  }
});

test('a piece must sit on the grid and fill its cell, of a snapshot within the bound', () => {
  assert.equal(isPiece(data.length, CHUNK, CHUNK), true);
  assert.equal(isPiece(data.length, 10 * CHUNK, 17), true);
  assert.equal(isPiece(data.length, CHUNK, CHUNK - 1), false, 'short');
  assert.equal(isPiece(data.length, 10 * CHUNK, CHUNK), false, 'past the end');
  assert.equal(isPiece(data.length, 5, CHUNK), false, 'off the grid');
  assert.equal(isPiece(MAX_CHUNKED_SNAPSHOT_CHARS + 1, 0, CHUNK), false, 'beyond the bound');
});

test('a receiver keeps pieces in any order, tells the first one missing, and when it holds a whole window', () => {
  const pieces = new SnapshotPieces(data.length);
  const at = (k: number) => windowPieces(data, k * CHUNK)[0]!;
  assert.equal(pieces.add(at(1).offset, at(1).data), 'kept');
  assert.equal(pieces.missing, 0);
  assert.equal(pieces.add(at(0).offset, at(0).data), 'kept');
  assert.equal(pieces.add(at(0).offset, at(0).data), 'duplicate');
  assert.equal(pieces.missing, 2 * CHUNK);
  assert.equal(pieces.add(at(3).offset, at(3).data), 'kept', 'a piece is still missing in the window');
  assert.equal(pieces.add(at(2).offset, at(2).data), 'window-held');
  assert.equal(pieces.missing, 4 * CHUNK);
  for (let k = 4; k <= 10; k++) pieces.add(at(k).offset, at(k).data);
  assert.equal(pieces.complete, true);
  assert.equal(pieces.assemble(), data);
});
