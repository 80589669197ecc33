/**
 * Shrinks a non-linearizable partition to a small set of its operations that still cannot be
 * linearized, so a person can read why. Linearizability is not monotone (dropping a write can break a
 * read that saw it), so every candidate is checked by the search itself, and a set is only ever replaced
 * by one the search proved not linearizable.
 *
 *  1. The earliest failure in time: the history as it stood at time T (operations still running then
 *     have no answer yet) is linearizable for every T before some first failing T*, and not after, so
 *     a binary search finds T*. The answered operations called by T* fail together.
 *  2. Two kinds of failure. Most are about time ('order'): the operations could all take effect in some
 *     order, only in none that respects when they ran (a stale read: put 1, put 2, then get 1). Those
 *     are shrunk greedily (chunks of halving size, as in Zeller's ddmin, then single operations until a
 *     pass removes nothing), keeping the failure of that kind, so the excerpt keeps the writes its reads
 *     saw; `minimal` then means 1-minimal: removing any one operation leaves a linearizable history or
 *     one no order explains. The smallest set overall would often be a read alone, reading a value
 *     nobody wrote in it, which says nothing. Failures no order explains ('no-order': a read of a value
 *     never written, two compare-and-sets that won the same version) keep everything called by T*, since
 *     without the earlier writes other operations would fail for the wrong reason (a write reporting
 *     version 5 fails alone).
 */
import type { Model, Operation } from './model.js';
import { search } from './search.js';

export interface ShrinkOptions {
  readonly shouldStop?: () => boolean;
  /** Steps allowed to each trial search; a trial that needs more counts as "not shown to fail". */
  readonly maxStepsPerTrial: number;
  /** Called after each trial with the size of the smallest failing set so far and the steps it took. */
  readonly onTrial?: (smallest: number, steps: number) => void;
}

export type FailureKind = 'order' | 'no-order';

export interface Shrunk<Input, Output> {
  readonly operations: readonly Operation<Input, Output>[];
  readonly kind: FailureKind;
  /** True when every single removal was tried on the final set and each left it linearizable. */
  readonly minimal: boolean;
}

/** `failing` must be a set the search found not linearizable. */
export function shrinkFailure<State, Input, Output>(
  model: Model<State, Input, Output>,
  failing: readonly Operation<Input, Output>[],
  options: ShrinkOptions,
): Shrunk<Input, Output> {
  let undecided = false; // a trial ran out of steps, so a removal may have been missed
  let stopped = false;
  let current: Operation<Input, Output>[] = [];
  const trial = (candidate: readonly Operation<Input, Output>[]): 'linearizable' | 'not-linearizable' | 'stopped' => {
    if (stopped) return 'stopped';
    const outcome = search(model, candidate, { maxSteps: options.maxStepsPerTrial, ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}) });
    if (outcome.kind === 'stopped') {
      if (options.shouldStop?.() === true) stopped = true;
      undecided = true;
    }
    options.onTrial?.(current.length, outcome.steps);
    return outcome.kind;
  };
  /** Whether some order of `candidate`, ignoring their times, is a legal run (all made concurrent). */
  const someOrder = (candidate: readonly Operation<Input, Output>[]): boolean =>
    trial(candidate.map((op) => ({ ...op, invoke: 0, complete: op.complete === null ? null : 1 }))) === 'linearizable';
  const fails = (candidate: readonly Operation<Input, Output>[]): boolean => trial(candidate) === 'not-linearizable' && someOrder(candidate);

  // 1. The earliest time at which the history, as seen then, fails: every operation called by then,
  //    those still running without an answer. Such a cut of a linearizable history is linearizable, so
  //    the binary search is exact. The operations answered by that time then fail on their own (the
  //    unanswered ones can always be dropped: they can take effect never).
  const answered = failing.filter((op) => op.complete !== null && op.output !== null);
  const times = [...new Set(answered.map((op) => op.complete!))].sort((a, b) => a - b);
  const cut = (time: number): Operation<Input, Output>[] =>
    failing.filter((op) => op.invoke <= time).map((op) => (op.complete !== null && op.output !== null && op.complete <= time ? op : { ...op, complete: null, output: null }));
  let low = -1; // times[low] is a cut that did not fail (or none)
  let high = times.length - 1; // times[high] is a cut that fails: the whole history
  while (high - low > 1 && !stopped) {
    const middle = (low + high) >>> 1;
    if (trial(cut(times[middle]!)) === 'not-linearizable') high = middle;
    else low = middle;
  }
  // Everything called by T*, with its answer: answers only constrain more, so this fails too, and it keeps
  // the writes still running at T* that the reads then saw.
  current = answered.filter((op) => op.invoke <= times[high]!).sort((a, b) => a.invoke - b.invoke || a.id - b.id);
  const kind: FailureKind = someOrder(current) ? 'order' : 'no-order';
  // A failure that no order explains stops here: removing writes from it would make other operations
  // fail for the wrong reason (a write reporting version 5 fails alone), so it keeps its whole past.
  if (kind === 'no-order' || stopped) return { operations: current, kind, minimal: false };

  // 2. Remove chunks of halving size; at size 1, repeat until a pass removes nothing.
  let size = Math.max(1, current.length >>> 1);
  for (;;) {
    let removed = false;
    undecided = false; // only the last pass decides whether the result is 1-minimal
    for (let start = 0; start < current.length && !stopped; ) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      if (candidate.length > 0 && fails(candidate)) {
        current = candidate;
        removed = true;
      } else {
        start += size;
      }
    }
    if (stopped) return { operations: current, kind, minimal: false };
    if (size > 1) size = Math.max(1, size >>> 1);
    else if (!removed) break;
  }
  return { operations: current, kind, minimal: !undecided };
}
