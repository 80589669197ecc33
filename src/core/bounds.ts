/**
 * Bounds: the one place for every ceiling of the counters the algorithms exchange and persist.
 *
 * Why: a counter that can grow without bound eventually leaves the safe integers, where `x + 1 === x`
 * and two different counters compare equal. Worse, one forged or corrupted frame can carry a term of
 * 2^53 − 1; a node that adopts it and adds 1 persists 2^53, which no peer accepts and its own loader
 * refuses, so one frame disables a cluster for good. Three rules, held end to end, rule that out:
 *
 *  1. The edge accepts no counter above its ceiling (the wire shapes of src/core/shapes.ts use these
 *     constants), and the durable state uses the same shapes, so a node never persists a value it could
 *     not read back.
 *  2. Each core ignores a message whose counter is more than a believable step ahead of its own
 *     (`believable`): no correct peer can be that far ahead, so the message is forged or corrupt, and
 *     dropping a message is always safe in Raft, Bully and ZAB (they are built for lossy networks).
 *  3. No algorithm adds past a ceiling on its own (`increment`): at the ceiling it refuses to campaign
 *     or to propose and reports a 'ceiling-reached' event, which the host logs as one line.
 */

/**
 * The ceiling of the term-like counters: Raft's term, Bully's generation, ZAB's election round (FLE's
 * logical clock). 2^52 − 1 leaves a factor of two below 2^53, so every sum near the ceiling (a term
 * plus one, a generation plus the member count) is still exact. At one election per millisecond, a
 * cluster would need 140,000 years to reach it honestly.
 */
export const MAX_TERM = 2 ** 52 - 1;

/**
 * The largest believable step of a term-like counter: how far ahead of the receiver a correct peer's
 * counter can be. 2^32 elections at one per 150 ms (Raft's smallest timeout) take 20 years; no correct
 * node falls that far behind and comes back. So a forged frame moves a term at most 2^32, and reaching
 * MAX_TERM would take 2^20 forged frames in a row, not one.
 */
export const MAX_TERM_STEP = 2 ** 32;

/**
 * The ceiling of ZAB epochs. A zxid is epoch · 2^32 + counter, kept in a JS number (src/core/zab/
 * messages.ts), which is exact only below 2^53: so epochs stop at 2^21 − 1. This is a real lifetime
 * limit of this implementation (2,097,151 leader establishments, each failover uses at least one);
 * at it, no voter can propose a new epoch and the cluster stays without a leader, saying so in its log.
 */
export const MAX_EPOCH = 2 ** 21 - 1;

/**
 * The largest believable step of a ZAB epoch. Epochs are a scarce resource (MAX_EPOCH above), so the
 * step is much smaller than a term's: one forged frame can move a cluster's epoch by at most 2^16, 1/32
 * of the lifetime. The price: a member that missed more than 65,536 leader changes while it was down
 * (or a member whose data dir was lost, in a cluster past epoch 65,536) ignores the cluster and cannot
 * rejoin until its state is restored from a peer's (docs/algorithms/zab.md).
 */
export const MAX_EPOCH_STEP = 2 ** 16;

/** The span of the counter half of a zxid: counters are 0 .. 2^32 − 1. */
export const ZXID_COUNTER_SPAN = 2 ** 32;

/** The largest zxid: epoch MAX_EPOCH, counter 2^32 − 1 (= 2^53 − 1, the largest safe integer). */
export const MAX_ZXID = MAX_EPOCH * ZXID_COUNTER_SPAN + (ZXID_COUNTER_SPAN - 1);

/** The counters these bounds govern, as named in events, logs and metrics. */
export type BoundedCounter = 'term' | 'generation' | 'epoch' | 'round';


/** Whether `incoming` is at most `step` ahead of `own` (anything at or behind `own` is believable). */
export function believable(incoming: number, own: number, step: number): boolean {
  return incoming - own <= step;
}

/** `value + by`, or null when that would pass `ceiling`: callers refuse to act rather than overflow. */
export function increment(value: number, ceiling: number, by = 1): number | null {
  return value > ceiling - by ? null : value + by;
}
