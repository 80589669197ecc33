/**
 * The search for a linearization of one partition: Wing & Gong's backtracking (1993) with Lowe's
 * memoization (2017), the algorithm of Knossos' "wgl" and of Porcupine.
 *
 * The history is a doubly linked list of call and return events in time order. Walking from the
 * front, a call is a candidate: every operation whose call comes before the first remaining return may
 * be the next to take effect, because none of them returned before it was invoked. Linearizing one
 * steps the model and unlinks its call and return; meeting a return first means the operation that
 * returned there was never placed, so the last choice was wrong and is undone (its events are linked
 * back, dancing-links style, which is exact because undos are last-in first-out). The history is
 * linearizable when the list empties.
 *
 * Lowe's observation: two paths that placed the same set of operations and reached equal states have
 * the same future, so each (set, state) pair is explored once. The set is a bitset; its hash is updated
 * incrementally (Zobrist hashing: one fixed random word per operation, xor-ed in and out).
 */
import type { Model, Operation } from './model.js';

/** How a search ended. Operation positions are indices into the array given to `search`. */
export type SearchOutcome<State> =
  | { readonly kind: 'linearizable'; readonly order: readonly number[]; readonly steps: number }
  | {
      readonly kind: 'not-linearizable';
      /** The longest sequence of operations the search placed (only with `recordLongest`, else empty). */
      readonly longest: readonly number[];
      /** The model's state after `longest`. */
      readonly stateAfterLongest: State;
      readonly steps: number;
    }
  | { readonly kind: 'stopped'; readonly steps: number };

export interface SearchOptions {
  /** Asked every few thousand steps; `true` ends the search as 'stopped' (a time limit, Ctrl-C). */
  readonly shouldStop?: () => boolean;
  /** End as 'stopped' after this many steps (one step: one event looked at). */
  readonly maxSteps?: number;
  /** Called every `PROGRESS_EVERY` steps with the steps taken so far in this search. */
  readonly onSteps?: (steps: number) => void;
  /** Keep the longest partial linearization, for explaining a failure (costs a copy per new maximum). */
  readonly recordLongest?: boolean;
}

export const PROGRESS_EVERY = 1 << 16;
const STOP_EVERY = 1 << 12;
const NONE = -1;

/** A 32-bit mixer (splitmix32's finalizer): the Zobrist words, fixed so that runs are repeatable. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}

interface CacheEntry<State> {
  readonly done: Uint32Array;
  readonly state: State;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An operation without an answer: it may take effect at any time after its call, or never. */
function unanswered(op: Operation<unknown, unknown>): boolean {
  return op.complete === null || op.output === null;
}

/**
 * Searches for a linearization of `operations` (one partition) under `model`.
 *
 * Operations without an answer are kept apart from the event list: their return is at infinity, so
 * they are candidates from their call on, for ever. Trying them only after every answered candidate
 * (the order of candidates is free; the search stays complete) keeps them from multiplying the search:
 * tried first, as in a plain walk in time order, every pending one is placed and refuted at every step,
 * in every combination. And once every answered operation is placed the history is linearizable: the
 * rest take effect after everything (the same as never).
 */
export function search<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: SearchOptions = {},
): SearchOutcome<State> {
  const n = operations.length;
  for (const op of operations) {
    if (!Number.isFinite(op.invoke)) throw new RangeError(`operation ${op.id}: invoke must be a finite number`);
    if (op.complete !== null && !(op.complete >= op.invoke)) throw new RangeError(`operation ${op.id}: complete must not be before invoke`);
  }
  const invoke = new Float64Array(n);
  for (let i = 0; i < n; i++) invoke[i] = operations[i]!.invoke;

  // The answered operations' events: node 2i is operation i's call, 2i+1 its return; node 2n is the
  // head. In time order; at equal times calls first, so intervals that touch count as concurrent.
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(NONE);
  const prev = new Int32Array(2 * n + 1).fill(NONE);
  const time = (node: number): number => ((node & 1) === 0 ? invoke[node >> 1]! : operations[node >> 1]!.complete!);
  const events: number[] = [];
  const pending: number[] = []; // the unanswered operations, latest call first
  for (let i = 0; i < n; i++) {
    if (unanswered(operations[i]!)) pending.push(i);
    else events.push(2 * i, 2 * i + 1);
  }
  events.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);
  pending.sort((a, b) => invoke[b]! - invoke[a]! || a - b);
  let last = head;
  for (const event of events) {
    next[last] = event;
    prev[event] = last;
    last = event;
  }
  // The unanswered operations' list: node i is operation i, node n the head.
  const pendingHead = n;
  const pendingNext = new Int32Array(n + 1).fill(NONE);
  const pendingPrev = new Int32Array(n + 1).fill(NONE);
  last = pendingHead;
  for (const i of pending) {
    pendingNext[last] = i;
    pendingPrev[i] = last;
    last = i;
  }
  const unlink = (links: { next: Int32Array; prev: Int32Array }, node: number): void => {
    links.next[links.prev[node]!] = links.next[node]!;
    if (links.next[node] !== NONE) links.prev[links.next[node]!] = links.prev[node]!;
  };
  const relink = (links: { next: Int32Array; prev: Int32Array }, node: number): void => {
    links.next[links.prev[node]!] = node;
    if (links.next[node] !== NONE) links.prev[links.next[node]!] = node;
  };
  const answeredList = { next, prev };
  const pendingList = { next: pendingNext, prev: pendingPrev };

  const words = (n + 31) >>> 5;
  const done = new Uint32Array(words);
  const zobristLow = new Int32Array(n);
  const zobristHigh = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    zobristLow[i] = mix32(2 * i);
    zobristHigh[i] = mix32(2 * i + 1);
  }
  let doneLow = 0;
  let doneHigh = 0;
  const cache = new Map<number, CacheEntry<State>[]>();
  /** Adds (done, state) to the cache; false when it was there already. */
  const remember = (state: State): boolean => {
    const key = ((doneLow ^ Math.imul(model.hash(state), 0x9e3779b1)) >>> 0) + (doneHigh & 0x1fffff) * 0x100000000;
    const bucket = cache.get(key);
    if (bucket === undefined) {
      cache.set(key, [{ done: done.slice(), state }]);
      return true;
    }
    for (const entry of bucket) if (sameBits(entry.done, done) && model.equal(entry.state, state)) return false;
    bucket.push({ done: done.slice(), state });
    return true;
  };
  const flip = (i: number): void => {
    done[i >>> 5]! ^= 1 << (i & 31);
    doneLow ^= zobristLow[i]!;
    doneHigh ^= zobristHigh[i]!;
  };

  // The choices made so far: the operation placed, the state before it, and for an unanswered one the
  // time of the first return at that point (the candidates' limit, to resume with the next one).
  const placed: number[] = [];
  const before: State[] = [];
  const limits: number[] = [];
  let state = model.init();
  let longest: number[] = [];
  let stateAfterLongest = state;
  const place = (i: number, after: State, limit: number): void => {
    placed.push(i);
    before.push(state);
    limits.push(limit);
    state = after;
    if (options.recordLongest === true && placed.length > longest.length) {
      longest = placed.slice();
      stateAfterLongest = state;
    }
  };
  /** Tries operation i next: placed, refused by the model, or a (set, state) explored before. */
  const tryPlace = (i: number, limit: number): 'placed' | 'refused' | 'seen' => {
    const op = operations[i]!;
    const after = model.step(state, op.input, op.output);
    if (after === undefined) return 'refused';
    flip(i);
    if (remember(after)) {
      place(i, after, limit);
      return 'placed';
    }
    flip(i); // been here before: this path leads nowhere new
    return 'seen';
  };
  const hopeless = (i: number): boolean => {
    const op = operations[i]!;
    return model.impossibleAfter?.(state, op.input, op.output) === true;
  };

  // The walk: first the answered calls before the first return (`node`), then the unanswered
  // operations called by then (`candidate`, while `limit` is that return's time).
  let steps = 0;
  let node = next[head]!;
  let candidate = NONE;
  let limit = -Infinity;
  while (next[head] !== NONE) {
    steps++;
    if ((steps & (STOP_EVERY - 1)) === 0) {
      if (options.maxSteps !== undefined && steps >= options.maxSteps) return { kind: 'stopped', steps };
      if (options.shouldStop?.() === true) return { kind: 'stopped', steps };
      if ((steps & (PROGRESS_EVERY - 1)) === 0) options.onSteps?.(steps);
    }
    if (node !== NONE) {
      if ((node & 1) === 0) {
        const tried = tryPlace(node >> 1, Infinity);
        if (tried === 'placed') {
          unlink(answeredList, node);
          unlink(answeredList, node + 1);
          node = next[head]!;
          continue;
        }
        // An operation that no later state can take makes every path from here fail: undo now.
        if (!(tried === 'refused' && hopeless(node >> 1))) {
          node = next[node]!;
          continue;
        }
        candidate = NONE;
        node = NONE;
      } else {
        // The first return: the answered candidates are used up; on to the unanswered ones.
        limit = time(node);
        candidate = pendingNext[pendingHead]!;
        node = NONE;
      }
    }
    while (candidate !== NONE && invoke[candidate]! > limit) candidate = pendingNext[candidate]!;
    if (candidate !== NONE) {
      if (tryPlace(candidate, limit) === 'placed') {
        unlink(pendingList, candidate);
        node = next[head]!;
      } else {
        candidate = pendingNext[candidate]!;
      }
      continue;
    }
    // No candidate is left at this point: undo the last choice and try the one after it.
    const i = placed.pop();
    if (i === undefined) return { kind: 'not-linearizable', longest, stateAfterLongest, steps };
    state = before.pop()!;
    const placedLimit = limits.pop()!;
    flip(i);
    if (unanswered(operations[i]!)) {
      relink(pendingList, i);
      limit = placedLimit;
      candidate = pendingNext[i]!;
    } else {
      relink(answeredList, 2 * i + 1);
      relink(answeredList, 2 * i);
      node = next[2 * i]!;
    }
  }
  // Every answered operation is placed; the unanswered ones left take effect after them, or never.
  return { kind: 'linearizable', order: placed, steps };
}
