/**
 * Shrinks a non-linearizable set of operations (of one partition) to a small one that still cannot be
 * linearized, so a person can read why: first the shortest failing prefix in invocation order, then
 * greedy removal (chunks of halving size, as in Zeller's ddmin, then single operations, repeated until a
 * whole pass removes nothing). Linearizability is not monotone (dropping a write can break a read that
 * saw it), so every candidate is checked by the search itself; a set is only ever replaced by one the
 * search proved not linearizable, and the result is 1-minimal when `minimal` is true: removing any one
 * of its operations leaves a linearizable history.
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

export interface Shrunk<Input, Output> {
  readonly operations: readonly Operation<Input, Output>[];
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
  const fails = (candidate: readonly Operation<Input, Output>[]): boolean => {
    if (stopped) return false;
    const outcome = search(model, candidate, { maxSteps: options.maxStepsPerTrial, ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}) });
    if (outcome.kind === 'stopped') {
      if (options.shouldStop?.() === true) stopped = true;
      undecided = true;
    }
    options.onTrial?.(current.length, outcome.steps);
    return outcome.kind === 'not-linearizable';
  };

  let current = [...failing].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
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
    if (stopped) return { operations: current, minimal: false };
    if (size > 1) size = Math.max(1, size >>> 1);
    else if (!removed) break;
  }
  return { operations: current, minimal: !undecided };
}
