/**
 * `checkLinearizability(model, history)`: splits the history by the model's partition (a key), searches
 * each part for a linearization (search.ts), and, when one has none, shrinks it to a small excerpt that
 * still has none and explains it with the longest order the search could build (shrink.ts).
 *
 * Pure and synchronous: time limits and progress come in as callbacks, so a host decides what a clock is.
 */
import type { Model, Operation } from './model.js';
import { search } from './search.js';
import { shrinkFailure, type FailureKind, type Shrunk } from './shrink.js';

export interface CheckOptions {
  /** Asked now and then; `true` ends the check, with 'unknown' unless a failure was already found. */
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (progress: CheckProgress) => void;
  /** Steps allowed to each trial while shrinking a failure (default 1,000,000); see shrink.ts. */
  readonly shrinkStepsPerTrial?: number;
}

export interface CheckProgress {
  readonly phase: 'search' | 'shrink';
  readonly partitionsDone: number;
  readonly partitions: number;
  readonly operationsDone: number;
  readonly operations: number;
  /** Search steps so far, all partitions and trials together. */
  readonly steps: number;
}

/** The longest order the search found for the excerpt, and what could not follow it. */
export interface Excerpt<State, Input, Output> {
  readonly partition: string;
  /** Operations that cannot be linearized together, by invocation time. */
  readonly operations: readonly Operation<Input, Output>[];
  /**
   * 'order': they could all take effect in some order, only in none that respects their times (a stale
   * read); 'no-order': in no order at all (a read of a value never written). See shrink.ts.
   */
  readonly kind: FailureKind;
  /**
   * 'order' only: removing any one of `operations` leaves a linearizable history, or one that no order
   * explains. A 'no-order' excerpt is every answered operation called by the first moment the history failed.
   */
  readonly minimal: boolean;
  /** The longest sequence of them the search could place, each with the model's state after it. */
  readonly linearized: readonly { readonly operation: Operation<Input, Output>; readonly stateAfter: State }[];
  /** The state after `linearized` (the initial state when nothing could be placed). */
  readonly state: State;
  /** The rest of `operations`: none of them can come next. */
  readonly unplaced: readonly Operation<Input, Output>[];
}

export interface CheckCounts {
  /** Operations in the history. */
  readonly operations: number;
  /** Reads with unknown results, left out because they constrain nothing (Model.readOnly). */
  readonly leftOut: number;
  readonly partitions: number;
  readonly steps: number;
}

export type CheckResult<State, Input, Output> =
  | ({ readonly kind: 'linearizable' } & CheckCounts)
  | ({
      readonly kind: 'not-linearizable';
      /** Every partition found without a linearization (all that were checked before a stop). */
      readonly failingPartitions: readonly string[];
      /** Partitions not checked because the check was stopped after the first failure was found. */
      readonly uncheckedPartitions: number;
      /** The first failing partition's excerpt. */
      readonly excerpt: Excerpt<State, Input, Output>;
    } & CheckCounts)
  | ({ readonly kind: 'unknown'; readonly uncheckedPartitions: number } & CheckCounts);

const DEFAULT_SHRINK_STEPS_PER_TRIAL = 1_000_000;

/** Groups operations by partition, in sorted partition order (so runs are repeatable). */
function partitionsOf<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
): [string, Operation<Input, Output>[]][] {
  const parts = new Map<string, Operation<Input, Output>[]>();
  for (const op of history) {
    const name = model.partition?.(op.input) ?? '';
    const part = parts.get(name);
    if (part) part.push(op);
    else parts.set(name, [op]);
  }
  return [...parts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<State, Input, Output> {
  const kept = history.filter((op) => !(op.output === null && model.readOnly?.(op.input) === true));
  const parts = partitionsOf(model, kept);
  let steps = 0;
  let partitionsDone = 0;
  let operationsDone = 0;
  const progress = (phase: CheckProgress['phase'], extraSteps: number): void =>
    options.onProgress?.({ phase, partitionsDone, partitions: parts.length, operationsDone, operations: kept.length, steps: steps + extraSteps });
  const counts = (): CheckCounts => ({ operations: history.length, leftOut: history.length - kept.length, partitions: parts.length, steps });
  const stopOptions = options.shouldStop ? { shouldStop: options.shouldStop } : {};

  const failing: [string, Operation<Input, Output>[]][] = [];
  const failed = (uncheckedPartitions: number): CheckResult<State, Input, Output> => {
    const [partition, operations] = failing[0]!;
    const shrinkSteps = options.shrinkStepsPerTrial ?? DEFAULT_SHRINK_STEPS_PER_TRIAL;
    const shrunk = shrinkFailure(model, operations, {
      maxStepsPerTrial: shrinkSteps,
      ...stopOptions,
      onTrial: (_smallest, trialSteps) => {
        steps += trialSteps;
        progress('shrink', 0);
      },
    });
    return {
      kind: 'not-linearizable',
      failingPartitions: failing.map(([name]) => name),
      uncheckedPartitions,
      excerpt: explain(model, partition, shrunk, shrinkSteps),
      ...counts(),
    };
  };
  for (const [name, operations] of parts) {
    progress('search', 0);
    const outcome = search(model, operations, { ...stopOptions, onSteps: (taken) => progress('search', taken) });
    steps += outcome.steps;
    if (outcome.kind === 'stopped') {
      const unchecked = parts.length - partitionsDone;
      return failing.length === 0 ? { kind: 'unknown', uncheckedPartitions: unchecked, ...counts() } : failed(unchecked);
    }
    if (outcome.kind === 'not-linearizable') failing.push([name, operations]);
    partitionsDone++;
    operationsDone += operations.length;
  }
  return failing.length === 0 ? { kind: 'linearizable', ...counts() } : failed(0);
}

/** Runs the search once more on the excerpt, keeping the longest order it builds. */
function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: string,
  { operations, kind, minimal }: Shrunk<Input, Output>,
  maxSteps: number,
): Excerpt<State, Input, Output> {
  const outcome = search(model, operations, { recordLongest: true, maxSteps });
  const order = outcome.kind === 'not-linearizable' ? outcome.longest : [];
  const linearized: { operation: Operation<Input, Output>; stateAfter: State }[] = [];
  let state = model.init();
  for (const index of order) {
    const operation = operations[index]!;
    state = model.step(state, operation.input, operation.output)!;
    linearized.push({ operation, stateAfter: state });
  }
  const placed = new Set(order);
  return {
    partition,
    operations,
    kind,
    minimal,
    linearized,
    state,
    unplaced: operations.filter((_, index) => !placed.has(index)),
  };
}
