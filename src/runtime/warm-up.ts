/**
 * V8 warm-up of a node, off the start-up path, in two parts, rehearsal first:
 * - the receive path (transport.ts warmUp: encode, decode, validate), 1000 rounds in slices of 25. Run
 *   before listening, as it was, it cost 60-670 ms per node (Bully to Raft, measured on a loaded 2-core
 *   machine) before the first election could begin (docs/runtime.md, Start-up);
 * - a rehearsal of the rare paths (src/core/rehearsal.ts: an election, a write, a hand-off, a crash),
 *   REHEARSAL_ROUNDS rounds, then one every REHEARSAL_INTERVAL_MS: V8 drops the compiled code of a
 *   function that did not run for a few garbage collections (`--bytecode-old-age`, 5), and a node's
 *   election code may not run for days, until the hand-off that needs it fast.
 * It starts once this node knows a leader (see `leaderKnown`); each slice or round runs alone, after a
 * pause (WARM_UP_PAUSE_MS), so a heartbeat waits for one at most (a round: about 5 ms of CPU once
 * compiled) and the warm-up takes a fraction of a core.
 */
import type { MessageValidator } from './schema.js';
import { warmUp } from './transport.js';

/** How long (in longest election timeouts) the warm-up waits for every member to be heard; see leaderKnown. */
const WARM_UP_WAIT_ELECTION_TIMEOUTS = 5;
/** How long (in longest election timeouts) a known leader must stand before the warm-up starts; see leaderKnown. */
const WARM_UP_SETTLE_ELECTION_TIMEOUTS = 1;
/** Rehearsal rounds at the start of the warm-up (3 brought a hand-off's steps to their warm cost). */
const REHEARSAL_ROUNDS = 3;
/**
 * The pause before each slice of the warm-up. Run back to back (setImmediate), five members' warm-ups
 * on two cores delayed the answers to the new leader's heartbeats past its CheckQuorum window, and it
 * stepped down within a second of its election in 2 of 5 cold starts (none of 6 without a warm-up); a
 * pause of 20 ms after each slice of a few ms keeps a member's warm-up to a fraction of a core.
 */
const WARM_UP_PAUSE_MS = 20;
/** Then one round this often, so the rehearsed code stays compiled (well inside 5 idle garbage collections). */
const REHEARSAL_INTERVAL_MS = 60_000;

export interface WarmUpOptions {
  /** The node's frame validator and one sample of each message (schema.ts sampleMessages). */
  readonly validate: MessageValidator;
  readonly samples: readonly unknown[];
  readonly timing: { readonly electionTimeoutMaxMs: number; readonly heartbeatMs: number };
  /** Whether this node hears every other member now (a live link to each). */
  readonly everyoneHeard: () => boolean;
  /** Runs rehearsal round `round` (src/core/rehearsal.ts, with this node's algorithm, timing and store). */
  readonly rehearse: (round: number) => void;
  /** Default REHEARSAL_INTERVAL_MS (a test shortens it). */
  readonly rehearsalIntervalMs?: number;
}

/** The warm-up of one node: started once by `leaderKnown`, ended by `stop`. */
export class WarmUp {
  /** Whether the warm-up has begun (it runs once) or the node stopped: leaderKnown then does nothing. */
  private started = false;
  private stopped = false;
  private slice: NodeJS.Timeout | null = null;
  /** The next periodic rehearsal round. */
  private again: NodeJS.Timeout | null = null;
  private rounds = 0;
  /** The next check of leaderKnown, while it waits for every member to be heard. */
  private wait: NodeJS.Timeout | null = null;

  constructor(private readonly options: WarmUpOptions) {}

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
      this.begin();
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
    if (this.slice) clearTimeout(this.slice);
    this.slice = null;
    if (this.wait) clearTimeout(this.wait);
    this.wait = null;
    if (this.again) clearTimeout(this.again);
    this.again = null;
  }

  /** The rehearsal first (a hand-off soon after the start finds its code compiled), then the receive path. */
  private begin(): void {
    this.rehearse(REHEARSAL_ROUNDS, () => this.inSlices());
  }

  /** Runs `work` after WARM_UP_PAUSE_MS, unless the node stopped meanwhile. */
  private later(work: () => void): void {
    this.slice = setTimeout(() => {
      this.slice = null;
      if (!this.stopped) work();
    }, WARM_UP_PAUSE_MS);
  }

  /** `rounds` rehearsal rounds, one per slice, then `then`. */
  private rehearse(rounds: number, then: () => void): void {
    this.later(() => {
      this.options.rehearse(this.rounds++);
      if (rounds > 1) this.rehearse(rounds - 1, then);
      else then();
    });
  }

  private inSlices(rounds = 1000, slice = 25): void {
    const { validate, samples } = this.options;
    let left = rounds;
    const next = (): void => {
      warmUp(validate, samples, Math.min(slice, left));
      left -= slice;
      if (left > 0) this.later(next);
      else this.periodically();
    };
    this.later(next);
  }

  /** One rehearsal round every REHEARSAL_INTERVAL_MS from now on. */
  private periodically(): void {
    this.again = setTimeout(() => {
      this.again = null;
      this.rehearse(1, () => this.periodically());
    }, this.options.rehearsalIntervalMs ?? REHEARSAL_INTERVAL_MS);
    this.again.unref();
  }
}
