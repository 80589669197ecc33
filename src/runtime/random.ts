/**
 * Crypto-backed randomness for the core (DESIGN.md: "seeded in the simulator, crypto-backed in the
 * runtime"). Election timeouts must not be predictable or correlated between nodes started at the
 * same moment, which a time-seeded PRNG could give.
 */
import { getRandomValues } from 'node:crypto';
import type { Random } from '../core/types.js';

/** Draws 32-bit words in batches, so that a draw does not cost a system call. */
export function cryptoRandom(batch = 256): Random {
  const words = new Uint32Array(batch);
  let next = batch;
  const word = (): number => {
    if (next === batch) {
      getRandomValues(words);
      next = 0;
    }
    return words[next++]!;
  };
  return {
    // 53 random bits → a float uniform in [0, 1), the same construction as a 53-bit mantissa.
    next: () => ((word() >>> 5) * 67_108_864 + (word() >>> 6)) / 9_007_199_254_740_992,
  };
}
