/**
 * V8 warm-up of a node's receive path (transport.ts warmUp), off the start-up path. Run before
 * listening, as it was, its 1000 rounds cost 60-670 ms per node (Bully to Raft, measured on a loaded
 * 2-core machine) before the first election could begin (docs/runtime.md, Start-up). It runs once this
 * node knows a leader (see `leaderKnown`), in slices of 25 rounds between I/O, so a heartbeat waits at
 * most one slice.
 */
import type { MessageValidator } from './schema.js';
import { warmUp } from './transport.js';

/** How long (in longest election timeouts) the warm-up waits for every member to be heard; see leaderKnown. */
const WARM_UP_WAIT_ELECTION_TIMEOUTS = 5;
/** How long (in longest election timeouts) a known leader must stand before the warm-up starts; see leaderKnown. */
const WARM_UP_SETTLE_ELECTION_TIMEOUTS = 1;

export interface ReceiveWarmUpOptions {
  /** The node's frame validator and one sample of each message (schema.ts sampleMessages). */
  readonly validate: MessageValidator;
  readonly samples: readonly unknown[];
  readonly timing: { readonly electionTimeoutMaxMs: number; readonly heartbeatMs: number };
  /** Whether this node hears every other member now (a live link to each). */
  readonly everyoneHeard: () => boolean;
}

/** The receive path's warm-up of one node: at most once, started by `leaderKnown`, ended by `stop`. */
export class ReceiveWarmUp {
  /** Whether the warm-up has begun (it runs once) or the node stopped: leaderKnown then does nothing. */
  private started = false;
  private stopped = false;
  private slice: NodeJS.Immediate | null = null;
  /** The next check of leaderKnown, while it waits for every member to be heard. */
  private wait: NodeJS.Timeout | null = null;

  constructor(private readonly options: ReceiveWarmUpOptions) {}

  /**
   * A leader became known at `since` (performance.now()). The warm-up (about 120 ms of CPU for Raft on
   * this 2-core machine) starts once a leader has been known for WARM_UP_SETTLE_ELECTION_TIMEOUTS longest
   * election timeouts AND every member is heard, or WARM_UP_WAIT_ELECTION_TIMEOUTS longest election
   * timeouts after the leader became known, whichever comes first. Members on one machine that start
   * together share its cores: a node that warms up as soon as it knows a leader takes the CPU the members
   * still loading their modules need, and one that warms up as soon as every member is heard takes it
   * from the members still learning the leader (every one is connected, but the last may not have heard
   * the leader's first AppendEntries yet, and each answers its /status late while four warm-ups run on
   * two cores). The cold start ends only when the last member names the leader (docs/runtime.md,
   * Start-up: without the warm-up, 5 nodes agreed 600 ms sooner at load 10, 2.45 against 3.07 s; with it
   * delayed so, they use as little CPU until they agree).
   */
  leaderKnown(since: number): void {
    if (this.started || this.stopped) return;
    const { electionTimeoutMaxMs, heartbeatMs } = this.options.timing;
    const known = performance.now() - since;
    const settled = known >= WARM_UP_SETTLE_ELECTION_TIMEOUTS * electionTimeoutMaxMs;
    const waitedEnough = known >= WARM_UP_WAIT_ELECTION_TIMEOUTS * electionTimeoutMaxMs;
    if ((this.options.everyoneHeard() && settled) || waitedEnough) {
      if (this.wait) clearTimeout(this.wait);
      this.wait = null;
      this.started = true;
      this.inSlices();
      return;
    }
    // One pending check at a time, every heartbeat interval (each leader change calls again).
    this.wait ??= setTimeout(() => {
      this.wait = null;
      this.leaderKnown(since);
    }, heartbeatMs);
  }

  /** The node stops: nothing more runs, now or later. */
  stop(): void {
    this.stopped = true;
    if (this.slice) clearImmediate(this.slice);
    this.slice = null;
    if (this.wait) clearTimeout(this.wait);
    this.wait = null;
  }

  private inSlices(rounds = 1000, slice = 25): void {
    const { validate, samples } = this.options;
    let left = rounds;
    const next = (): void => {
      this.slice = null;
      if (this.stopped) return;
      warmUp(validate, samples, Math.min(slice, left));
      left -= slice;
      if (left > 0) this.slice = setImmediate(next);
    };
    this.slice = setImmediate(next);
  }
}
