/**
 * A rehearsal: throwaway nodes of an algorithm, on the test network (testnet.ts), run through what a
 * real node does rarely and must then do fast — an election, a write, a hand-off (where the algorithm
 * has one), a leader's crash and the election after it, its return — so that the JavaScript engine has
 * compiled that code before a real node needs it.
 *
 * Why: V8 compiles a function the first time it runs. A settled node runs its heartbeat paths 20 times
 * a second, but the paths of a hand-off or an election only when one happens: in a planned hand-off of
 * 5 real nodes, compiling them on the spot cost 0.4–0.9 ms per step (TimeoutNow, a vote, winning), on
 * the path four times over (docs/bench.md, "Where a hand-off's time goes"). The rehearsing nodes share
 * no state with the real one: only the compiled code is shared. Pure, like the rest of src/core: time is
 * the test network's, randomness a seeded stream.
 */
import { Prng } from './prng.js';
import { TestNet } from './testnet.js';
import type { Algorithm, Message, NodeId, Timing } from './types.js';

export interface RehearsalOptions<M extends Message, D> {
  readonly algorithm: Algorithm<M, D>;
  /** The real cluster's size; the rehearsal uses at least 3 voters, so that elections take votes. */
  readonly voters: number;
  readonly timing: Timing;
  /** Which round this is (a different seed each, so rounds differ in their timeouts). */
  readonly round: number;
  /** Each durable state a rehearsing node persists, after the state it held before. */
  readonly persisted?: (before: D, after: D) => void;
}

/** Heartbeat intervals a rehearsal lets pass after each change, so that followers catch up and ack. */
const SETTLE_HEARTBEATS = 3;

/** What a round did: the leader the nodes agreed on after each step (first, hand-off, crash, return). */
export interface Rehearsal {
  readonly leaders: readonly NodeId[];
}

/** Runs one rehearsal round (a few ms of CPU once compiled). Throws only if the algorithm is broken. */
export function rehearse<M extends Message, D>(options: RehearsalOptions<M, D>): Rehearsal {
  const { algorithm, timing, round } = options;
  const net = new TestNet<M, D>({
    algorithm,
    voters: Math.max(3, options.voters),
    timing,
    latencyMs: 1,
    random: (id) => new Prng(round, `rehearsal:${id}`),
    ...(options.persisted ? { persisted: (_id: NodeId, before: D, after: D) => options.persisted!(before, after) } : {}),
  });
  const leaders: NodeId[] = [];
  const settle = (): NodeId => {
    const leader = net.runUntilAgreed();
    net.run(SETTLE_HEARTBEATS * timing.heartbeatMs);
    leaders.push(leader);
    return leader;
  };
  const first = settle();
  net.driver(first).step(net.now, { type: 'propose', id: 1, command: 'rehearsal' });
  net.run(SETTLE_HEARTBEATS * timing.heartbeatMs);
  // A hand-off (Raft's TimeoutNow; an algorithm without one refuses, which is rehearsed too).
  net.driver(first).step(net.now, { type: 'transfer-leadership', to: null });
  const second = settle();
  net.crash(second);
  settle();
  net.restart(second);
  settle();
  return { leaders };
}
