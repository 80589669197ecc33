/**
 * Seeded randomness for the simulator, the test network and the statistics. One seed drives
 * everything; each subsystem (network, each node, the nemesis) gets its own stream derived from it, so adding randomness in one place does not shift
 * the draws of another (TigerBeetle's VOPR does the same).
 */
import type { Random } from './types.js';

/** splitmix32: a good 32-bit mixer, used to expand a seed into generator state. */
function splitmix32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * sfc32 (Small Fast Counting generator): fast, passes PractRand, 128 bits of state.
 *
 * The state is kept as int32 (`| 0`), not uint32 (`>>> 0`): the bits are the same, but V8 keeps int32
 * values as small integers while a uint32 above 2^31 becomes a heap number, so every draw allocated.
 * Only the value handed out is made unsigned. The stream is pinned by prng.test.ts (issue 10, item 8).
 */
export class Prng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A stream for `seed` (any safe integer) and a stream label (e.g. 'network', 'node:3'). */
  constructor(seed: number, stream = '') {
    let h = 0x811c9dc5; // FNV-1a of the label, so each label gets its own stream
    for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193) >>> 0;
    const low = seed >>> 0;
    const high = Math.floor(seed / 0x100000000) >>> 0;
    const mix = splitmix32(low ^ Math.imul(high, 0x9e3779b1) ^ h);
    this.a = mix() | 0;
    this.b = mix() | 0;
    this.c = mix() | 0;
    this.d = mix() | 0;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (((this.c << 21) | (this.c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }
}
