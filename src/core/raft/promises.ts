/**
 * What a node has promised the leaders it heard (thesis §4.2.3 with CheckQuorum, §9.6): for
 * electionTimeoutMin after each heartbeat it grants no vote and no pre-vote, and a leader's lease rests
 * on that (lease.ts, leaseDurationMs). This class keeps how long the promises run, which heartbeat round
 * of the current term's leader they reach (leadership transfer, thesis §3.10, releases only those), and
 * whether the leader's connection closed. The vote rules that consult it are in raft.ts; the safety
 * argument is in docs/algorithms/raft.md.
 */
export class PromisesToLeaders {
  /** How long each acknowledgement promises (electionTimeoutMin, by this node's clock). */
  private readonly quietMs: number;
  /**
   * Until then the node grants no vote (§4.2.3 of the thesis, with CheckQuorum) and no pre-vote (§9.6):
   * it heard a live leader less than electionTimeoutMin ago, or it started less than that ago (a node
   * that restarts has forgotten whom it heard, and a lease may rest on its acknowledgement).
   */
  private quietUntil: number;
  /**
   * The connection to the leader this follower heard closed (a peer-down input) and no heartbeat came
   * since: it no longer "hears a leader", so it grants (pre-)votes before `quietUntil` — telling each
   * candidate how long its promise still runs (RequestVoteResponse.promiseMs).
   */
  private leaderConnectionClosed = false;
  /**
   * The highest heartbeat round of the current term's leader this node acknowledged; 0 when none. A
   * leadership transfer after round n is voted for only by nodes whose acknowledgements stop at n
   * (RequestVote.transfer).
   */
  private promisedRound = 0;
  /**
   * How long promises to leaders of EARLIER terms run (this node's clock): `quietUntil` as it stood
   * when this node first acknowledged the current term's leader. A transfer vote reports these
   * (promiseMs), as only the transferring leader's own promises are released by a transfer.
   */
  private earlierPromiseUntil = -Infinity;

  /** `quietUntil`: when the node starts (see the constructor of RaftNode), `quietMs`: electionTimeoutMin. */
  constructor(quietUntil: number, quietMs: number) {
    this.quietUntil = quietUntil;
    this.quietMs = quietMs;
  }

  /** When every promise this node made ends, by its clock. */
  get until(): number {
    return this.quietUntil;
  }

  /** The highest heartbeat round of the current term's leader this node acknowledged (0: none). */
  get round(): number {
    return this.promisedRound;
  }

  /** Whether a live leader was heard within electionTimeoutMin (its connection has not closed since). */
  hearsLeader(now: number): boolean {
    return now < this.quietUntil && !this.leaderConnectionClosed;
  }

  /** A message of the current term's leader, of heartbeat round `round`, arrived: it promises not to vote for a while. */
  heard(now: number, round: number): void {
    this.leaderConnectionClosed = false;
    if (this.promisedRound === 0) this.earlierPromiseUntil = this.quietUntil;
    this.promisedRound = Math.max(this.promisedRound, round);
    this.quietUntil = Math.max(this.quietUntil, now + this.quietMs);
  }

  /** The connection to the leader it heard closed (see `leaderConnectionClosed`). */
  leaderConnectionLost(): void {
    this.leaderConnectionClosed = true;
  }

  /** A new term: no round of its leader is acknowledged yet. */
  newTerm(): void {
    this.promisedRound = 0;
  }

  /**
   * This node campaigns for a new term (`transfer`: the round after which the leader handed over, or 0).
   * Returns when its own vote's promise ends: its promise to the leader it last heard (if its connection
   * closed early) must end too — except, in a transfer, the promise to the leader who handed over (its
   * lease is given up).
   */
  campaign(transfer: number): number {
    const ownPromiseUntil = transfer > 0 && this.promisedRound > 0 ? this.earlierPromiseUntil : this.quietUntil;
    this.promisedRound = 0;
    return ownPromiseUntil;
  }

  /**
   * For a transfer vote after round `transfer` (see RaftNode.transferPromiseMs): how long the promises
   * it does not release still run (ms), or null when this node acknowledged (or, leading, sent:
   * `leaderRound`) a later round and so may not vote.
   */
  transferPromiseMs(now: number, transfer: number, leaderRound: number | null): number | null {
    const round = leaderRound ?? this.promisedRound;
    if (round > transfer) return null;
    const earlier = round === 0 || leaderRound !== null ? this.quietUntil : this.earlierPromiseUntil;
    return Math.max(0, earlier - now);
  }
}
