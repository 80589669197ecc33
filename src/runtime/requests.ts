/**
 * Client requests a node's core answers by id (src/core/types.ts, ReplicationEvent), each waiting for
 * its answer: one copy for every service that submits requests (the key-value store, kv.ts; membership
 * changes, membership.ts).
 *
 * A request is answered exactly once — by its service, by its deadline ('unknown': it may or may not
 * take effect), or when the node stops ('stopped') — and every answer is counted by its type for
 * /metrics. A proposal waits at the (index, term) the core gave it ('proposed') until the entry at that
 * index commits: the same term means it is the proposal; another term's entry there means it was lost
 * and never will take effect (Raft §5.3's Log Matching; ZAB's zxid order likewise). A snapshot that
 * covers its index leaves its fate unknown here.
 */

/**
 * The ids of a node's client requests (writes, reads, membership changes): the core answers each by its
 * id ('proposed', 'request-refused'), so every service that submits requests takes them from one counter.
 */
export class RequestIds {
  private next = 1;

  take(): number {
    return this.next++;
  }
}

/** What every service's outcome union has: a `type` ('unknown' and 'stopped' among them). */
interface Outcome {
  readonly type: string;
}

/** One waiting request: its id, and where the core placed it once proposed (index 0 until then). */
export type Waiting<O extends Outcome, R> = R & {
  readonly id: number;
  index: number;
  term: number;
  readonly resolve: (outcome: O) => void;
  readonly timer: NodeJS.Timeout;
};

export class PendingRequests<O extends Outcome, R extends object> {
  private readonly byId = new Map<number, Waiting<O, R>>();
  /** Proposed requests by log index (a leader has at most one proposal per index). */
  private readonly byIndex = new Map<number, Waiting<O, R>>();
  private readonly counts = new Map<O['type'], number>();
  private closed = false;

  constructor(
    private readonly ids: RequestIds,
    private readonly timeoutMs: number,
    /** The outcomes of a deadline passed and of a node stopped (each service's own union has them). */
    private readonly unknown: O,
    private readonly stopped: O,
    /** Called as each request is answered, whoever answers it (a service's own bookkeeping). */
    private readonly onAnswered?: (request: Waiting<O, R>) => void,
  ) {}

  /** Starts a request: takes an id, arms its deadline, and hands the id to `submit` (which sends the input). */
  start(fields: R, submit: (id: number) => void): Promise<O> {
    if (this.closed) return Promise.resolve(this.count(this.stopped));
    return new Promise((resolve) => {
      const id = this.ids.take();
      const timer = setTimeout(() => {
        const request = this.byId.get(id);
        if (request) this.finish(request, this.unknown);
      }, this.timeoutMs);
      this.byId.set(id, { ...fields, id, index: 0, term: 0, resolve, timer } as Waiting<O, R>);
      submit(id);
    });
  }

  get(id: number): Waiting<O, R> | undefined {
    return this.byId.get(id);
  }

  /** 'proposed': the request waits at (index, term) for the entry there to commit. */
  proposed(id: number, index: number, term: number): void {
    const request = this.byId.get(id);
    if (!request) return;
    request.index = index;
    request.term = term;
    this.byIndex.set(index, request);
  }

  /**
   * The entry at `index` committed in `term`: the request waiting there (no longer waiting at the index)
   * and whether the entry is its proposal (the same term) — or undefined when none waits there.
   */
  committed(index: number, term: number): { readonly request: Waiting<O, R>; readonly same: boolean } | undefined {
    const request = this.byIndex.get(index);
    if (!request) return undefined;
    this.byIndex.delete(index);
    return { request, same: request.term === term };
  }

  /** A snapshot up to `index` replaced the log: the proposals it covers are answered 'unknown'. */
  coveredBy(index: number): void {
    for (const [at, request] of this.byIndex) if (at <= index) this.finish(request, this.unknown);
  }

  /** Answers `request` (once: a request already answered is no longer here). */
  finish(request: Waiting<O, R>, outcome: O): void {
    if (this.byId.get(request.id) !== request) return;
    clearTimeout(request.timer);
    this.byId.delete(request.id);
    if (request.index > 0 && this.byIndex.get(request.index) === request) this.byIndex.delete(request.index);
    this.onAnswered?.(request);
    request.resolve(this.count(outcome));
  }

  /** Counts an outcome answered without a request (a service's shortcut answer). */
  count(outcome: O): O {
    this.counts.set(outcome.type, (this.counts.get(outcome.type) ?? 0) + 1);
    return outcome;
  }

  /** The node stops: every waiting request is answered 'stopped', and any later one at once. */
  close(): void {
    this.closed = true;
    for (const request of [...this.byId.values()]) this.finish(request, this.stopped);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests waiting for an answer. */
  get size(): number {
    return this.byId.size;
  }

  /** Answers so far, by outcome type. */
  get outcomes(): ReadonlyMap<O['type'], number> {
    return this.counts;
  }
}
