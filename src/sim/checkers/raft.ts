/**
 * Raft's own invariants (Ongaro & Ousterhout 2014), checked against what the simulator knows and a
 * node cannot: every node's durable state (the engine keeps what each host persisted) and every
 * message sent.
 */
import { majority } from '../../core/quorum.js';
import type { LogEntry, RaftDurable, RaftMessage } from '../../core/raft/messages.js';
import type { NodeId } from '../../core/types.js';
import type { Engine } from '../engine.js';
import { NO_VIOLATIONS, startsReign, type Checker, type SimEvent } from '../events.js';

const durableOf = (engine: Engine, id: NodeId): RaftDurable => engine.node(id)!.durable as RaftDurable;

/**
 * Leader completeness (§5.4, Figure 3): a leader holds every committed entry. Committed are (1) the
 * entries any node reported `committed` (the cores' own claim, ReplicationEvent) and (2) the entries of
 * `--history` that a majority of the voters held at the start (histories must be ones Raft can reach —
 * e.g. every node a prefix of one log — for "a majority holds it" to mean "committed"; only at the
 * start: once leaders replicate, an entry a majority holds may still be overwritten, Figure 8). Entries
 * up to a leader's snapshot are committed by construction (§7) and are not looked at.
 */
export class LeaderCompleteness implements Checker {
  readonly name = 'leader-completeness';
  readonly wants = ['status', 'driver'] as const;
  /** committed[i] = the term of the committed entry at index i + 1, when one is known. */
  private readonly committed: (number | undefined)[];

  constructor(private readonly engine: Engine) {
    this.committed = majorityHeld(engine.voters.map((id) => durableOf(engine, id).log), majority(engine.voters.length));
  }

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'driver') {
      const reported = event.event;
      if (reported.type === 'core' && reported.event.type === 'committed') this.committed[reported.event.index - 1] ??= reported.event.term;
      return NO_VIOLATIONS;
    }
    if (event.type !== 'status' || !startsReign(event)) return NO_VIOLATIONS;
    const { log, snapshot } = durableOf(this.engine, event.node);
    const offset = snapshot?.index ?? 0;
    for (let index = offset + 1; index <= this.committed.length; index++) {
      const term = this.committed[index - 1];
      if (term !== undefined && log[index - offset - 1]?.term !== term) {
        return [`node ${event.node} leads term ${event.status.term} without committed entry ${index} (term ${term}) (its log: ${offset + log.length} entries, last term ${log[log.length - 1]?.term ?? snapshot?.term ?? 0})`];
      }
    }
    return NO_VIOLATIONS;
  }
}

/** For each index, the term `needed` of the logs hold there, or undefined. */
function majorityHeld(logs: readonly (readonly LogEntry[])[], needed: number): (number | undefined)[] {
  const longest = Math.max(0, ...logs.map((log) => log.length));
  const held: (number | undefined)[] = [];
  for (let index = 0; index < longest; index++) {
    const count = new Map<number, number>();
    let found: number | undefined;
    for (const log of logs) {
      const term = log[index]?.term;
      if (term === undefined) continue;
      const holders = (count.get(term) ?? 0) + 1;
      count.set(term, holders);
      if (holders >= needed) found = term;
    }
    held.push(found);
  }
  return held;
}

/**
 * §5.2: "each server will vote for at most one candidate in a given term", across crashes. Votes are
 * read from the grants sent (RequestVoteResponse with voteGranted) and from the votedFor each node
 * persisted (a candidate's vote for itself); a re-grant to the same candidate is the same vote.
 */
export class OneVotePerTerm implements Checker {
  readonly name = 'one-vote-per-term';
  readonly wants = ['sent', 'driver'] as const;
  /** `${voter}:${term}` → the candidate it voted for. */
  private readonly votes = new Map<string, NodeId>();

  observe(event: SimEvent): readonly string[] {
    if (event.type === 'sent') {
      const message = event.message as RaftMessage;
      if (message.type !== 'RequestVoteResponse' || !message.voteGranted) return NO_VIOLATIONS;
      return this.vote(event.from, message.term, event.to);
    }
    if (event.type === 'driver' && event.event.type === 'persisted') {
      const { currentTerm, votedFor } = event.event.state as RaftDurable;
      if (votedFor !== null) return this.vote(event.node, currentTerm, votedFor);
    }
    return NO_VIOLATIONS;
  }

  private vote(voter: NodeId, term: number, candidate: NodeId): readonly string[] {
    const key = `${voter}:${term}`;
    const earlier = this.votes.get(key);
    if (earlier === undefined) {
      this.votes.set(key, candidate);
      return NO_VIOLATIONS;
    }
    return earlier === candidate ? NO_VIOLATIONS : [`node ${voter} voted for ${earlier} and for ${candidate} in term ${term}`];
  }
}

/**
 * Figure 2 ("Persistent state ... updated on stable storage before responding to RPCs"): a grant
 * leaves only once the vote is durable — the state persisted by then (the driver persists before it
 * sends) has the grant's term and names the candidate. Otherwise a crash and restart could vote again.
 */
export class VoteDurability implements Checker {
  readonly name = 'vote-durability';
  readonly wants = ['sent'] as const;

  constructor(private readonly engine: Engine) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'sent') return NO_VIOLATIONS;
    const message = event.message as RaftMessage;
    if (message.type !== 'RequestVoteResponse' || !message.voteGranted) return NO_VIOLATIONS;
    const durable = durableOf(this.engine, event.from);
    if (durable.currentTerm === message.term && durable.votedFor === event.to) return NO_VIOLATIONS;
    return [`node ${event.from} granted its term-${message.term} vote to ${event.to} before it was durable (on disk: term ${durable.currentTerm}, votedFor ${durable.votedFor ?? 'null'})`];
  }
}
