/**
 * Shrinks a non-linearizable set of operations (of one partition) to a small one that still cannot be
 * linearized, so a person can read why: first the shortest failing prefix in invocation order, then
 * greedy removal (chunks of halving size, as in Zeller's ddmin, then single operations, repeated until a
 * whole pass removes nothing). Linearizability is not monotone (dropping a write can break a read that
 * saw it), so every candidate is checked by the search itself; a set is only ever replaced by one the
 * search proved not linearizable, and the result is 1-minimal when `minimal` is true: removing any one
 * of its operations leaves a linearizable history, or one whose failure is of the other kind below.
 *
 * Two kinds of failure. Most are about time ('order'): the operations could all take effect in some
 * order, only in none that respects when they ran (a stale read: put 1, put 2, then get 1). Then the
 * excerpt is kept of that kind, so it keeps the writes its reads saw; otherwise the smallest set would
 * be the read alone, reading a value nobody wrote, which says nothing about what went wrong. Failures
 * that no order explains ('no-order': a read of a value never written, two compare-and-sets that both
 * won on one version) are shrunk to the smallest such set.
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
  let current = [...failing].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
  let undecided = false; // a trial ran out of steps, so a removal may have been missed
  let stopped = false;
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
  const kind: FailureKind = someOrder(failing) ? 'order' : 'no-order';
  const fails = (candidate: readonly Operation<Input, Output>[]): boolean =>
    trial(candidate) === 'not-linearizable' && (kind === 'no-order' || someOrder(candidate));

  // 1. The shortest failing prefix (binary search keeps `high` a prefix shown to fail, `low` one that did not).
  let low = 0;
  let high = current.length;
  while (high - low > 1 && !stopped) {
    const middle = (low + high) >>> 1;
    if (fails(current.slice(0, middle))) high = middle;
    else low = middle;
  }
  current = current.slice(0, high);

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
