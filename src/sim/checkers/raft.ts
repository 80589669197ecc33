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
 * Leader completeness (§5.4, Figure 3): a leader holds every committed entry. The core replicates no
 * log, so the entries are those of `--history`; an entry (index, term) is committed when a majority of
 * the voters hold it (their durable logs, crashed nodes included) at the moment a leader is elected.
 * §5.4.1's vote restriction is what makes this hold; a leader lacking such an entry breaks it.
 * (Histories must be ones Raft can reach — e.g. prefixes of one log — for "a majority holds it" to
 * mean "committed".)
 */
export class LeaderCompleteness implements Checker {
  readonly name = 'leader-completeness';
  readonly wants = ['status'] as const;
  /** The committed entries computed for these logs (logs are immutable arrays: compared by identity). */
  private cache: { readonly logs: readonly (readonly LogEntry[])[]; readonly committed: readonly (number | undefined)[] } | null = null;

  constructor(private readonly engine: Engine) {}

  observe(event: SimEvent): readonly string[] {
    if (event.type !== 'status' || !startsReign(event)) return NO_VIOLATIONS;
    const committed = this.committed();
    const log = durableOf(this.engine, event.node).log;
    for (let index = 0; index < committed.length; index++) {
      const term = committed[index];
      if (term !== undefined && log[index]?.term !== term) {
        return [`node ${event.node} leads term ${event.status.term} without entry ${index + 1} (term ${term}) that a majority holds (its log: ${log.length} entries, last term ${log[log.length - 1]?.term ?? 0})`];
      }
    }
    return NO_VIOLATIONS;
  }

  /** committed[i] = the term a majority of voters hold at index i + 1, or undefined. */
  private committed(): readonly (number | undefined)[] {
    const logs = this.engine.voters.map((id) => durableOf(this.engine, id).log);
    if (this.cache && this.cache.logs.every((log, i) => log === logs[i])) return this.cache.committed;
    const needed = majority(this.engine.voters.length);
    const longest = Math.max(0, ...logs.map((log) => log.length));
    const committed: (number | undefined)[] = [];
    for (let index = 0; index < longest; index++) {
      const count = new Map<number, number>();
      let found: number | undefined;
      for (const log of logs) {
        const term = log[index]?.term;
        if (term === undefined) continue;
        const held = (count.get(term) ?? 0) + 1;
        count.set(term, held);
        if (held >= needed) found = term;
      }
      committed.push(found);
    }
    this.cache = { logs, committed };
    return committed;
  }
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
