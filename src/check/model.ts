/**
 * What the linearizability checker checks: a history of operations, each with the interval in which it
 * ran, against a sequential model of the object (Herlihy & Wing 1990: a history is linearizable when
 * every operation can be given one instant inside its interval such that, taken in that order, the
 * operations are a legal run of the sequential object).
 *
 * Pure: no I/O, no clock. Any object can be checked by writing a `Model` for it; `kv.ts` is the
 * key-value register that `ballot check` uses.
 */

/** One operation as a client saw it. Times are on one clock, in any unit (ballot uses ms). */
export interface Operation<Input, Output> {
  /** The caller's name for the operation (`ballot check` uses the line number); shown in excerpts. */
  readonly id: number;
  /** Who ran it; only shown, never used to decide (a client whose request timed out may go on). */
  readonly client: string | number;
  readonly input: Input;
  /** When the request was sent. */
  readonly invoke: number;
  /**
   * When the answer arrived; `null` when none did (timeout, crash). An operation without an answer
   * may take effect at any time after `invoke`, or never (Knossos and Porcupine give it an infinite
   * completion time: placing it after everything else is the same as "never").
   */
  readonly complete: number | null;
  /** What it returned; `null` when unknown, which the model must accept as any output. */
  readonly output: Output | null;
}

/**
 * A sequential specification. States are values: `step` never changes the state it is given. Two states
 * the checker found `equal` with the same set of operations done are explored once (Lowe's memoization),
 * so `equal` must be exact and `hash` must agree with it (equal states, equal hashes).
 */
export interface Model<State, Input, Output> {
  readonly init: () => State;
  /**
   * The state after `input` ran in `state` and returned `output`, or `undefined` when the object could
   * not have returned that `output` there. `output === null` (unknown) allows every output.
   */
  readonly step: (state: State, input: Input, output: Output | null) => State | undefined;
  readonly equal: (a: State, b: State) => boolean;
  /** A 32-bit integer. */
  readonly hash: (state: State) => number;
  /**
   * Operations on different partitions never constrain each other (a key of a key-value store: P-compositionality,
   * Horn & Kroening 2015), so each partition is checked alone: the search is exponential in the
   * concurrency of one partition, not of the whole history.
   */
  readonly partition?: (input: Input) => string;
  /**
   * True when `input` never changes the state (a read). Such an operation with an unknown output
   * constrains nothing, and the checker leaves it out instead of searching over its placements.
   */
  readonly readOnly?: (input: Input) => boolean;
  /**
   * True when no state reachable from `state` can take this operation with this output (a key-value
   * result that reports version 3, when the key is at version 5: versions only grow). An operation
   * that must still be placed and never can be ends the path at once, instead of after every
   * placement of the unanswered operations has been tried. Must never say true wrongly; may always
   * say false (the search is then only slower).
   */
  readonly impossibleAfter?: (state: State, input: Input, output: Output | null) => boolean;
  /** One line for people ("put x=1", "get x → 1"). */
  readonly describeOperation: (input: Input, output: Output | null) => string;
  readonly describeState: (state: State) => string;
}
