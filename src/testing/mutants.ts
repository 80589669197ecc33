/**
 * The mutation catalog: each mutant is the REAL core with one rule broken, by wrapping one method of
 * its class for as long as the mutant is applied (never a copy of the core). The sweep of
 * src/sim/sweep.ts must catch every one (src/sim/mutants.test.ts); `npm run mutants` counts in how
 * many runs each is caught, and by which checker (docs/invariants.md).
 *
 * The wrapped methods are private to the cores; a mutant that names one that no longer exists throws
 * at once, so a renamed method cannot silently turn a mutant into the correct core.
 */
import { BullyNode } from '../core/bully/bully.js';
import { bully } from '../core/bully/index.js';
import { raft } from '../core/raft/index.js';
import { RaftNode } from '../core/raft/raft.js';
import { figure8 } from './raft-figure8.js';
import { disjointMajorities } from './raft-membership.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { FastLeaderElection } from '../core/zab/election.js';
import { LeaderSession, type PhaseHost } from '../core/zab/establishment.js';
import { LearnerSession } from '../core/zab/learner.js';
import { zab } from '../core/zab/index.js';
import type { AckEpoch } from '../core/zab/messages.js';

export interface Mutant {
  readonly name: string;
  /** The rule it breaks, with its source. */
  readonly rule: string;
  readonly algorithm: AnyAlgorithm;
  /** The checker meant to catch it (others may catch it too). */
  readonly caughtBy: string;
  /**
   * For a rule the sweep's random runs hardly ever make matter: a deterministic run that does, returning
   * what `caughtBy` found in it (nothing on the correct core). src/sim/mutants.test.ts runs it instead
   * of the sweep.
   */
  readonly scenario?: () => readonly string[];
  /**
   * 'kv': the broken rule shows only when clients write, so the mutant is swept with the key-value
   * workload (the sweep's runs with clients, src/sim/sweep.ts and src/sim/workload.ts) rather than by
   * the plain election sweep.
   */
  readonly workload?: 'kv';
  /**
   * The broken rule is one of changing the configuration: the sweep with the membership nemesis and
   * spare nodes (src/sim/membership.ts) flags it too, by `caughtBy` there (the rule's own checker, which
   * sees the broken step itself, where `scenario` stages its consequence). `npm run mutants` sweeps it so.
   */
  readonly membershipSweep?: { readonly caughtBy: string };
  /** Breaks the rule; returns what restores the correct core. */
  apply(): () => void;
}

/** The instance of a core as a mutant sees it: its private fields by name. */
type Internals = Record<string, unknown>;
type Method = (this: Internals, ...args: never[]) => unknown;

/** Replaces `name` on `prototype` with `wrap(original)`; returns the undo. */
function patch(prototype: object, name: string, wrap: (original: (self: Internals, ...args: unknown[]) => unknown) => Method): () => void {
  const target = prototype as Record<string, unknown>;
  const original = target[name];
  if (typeof original !== 'function') throw new Error(`mutant: ${prototype.constructor.name}.${name} does not exist (renamed?)`);
  target[name] = wrap((self, ...args) => (original as (...a: unknown[]) => unknown).apply(self, args));
  return () => {
    target[name] = original;
  };
}

/** Applies several patches as one mutant. */
function all(...undos: (() => void)[]): () => void {
  return () => {
    for (const undo of undos.reverse()) undo();
  };
}

/** Calls `original` with `field` of `self` replaced by `value` for the duration of the call. */
function withField(self: Internals, field: string, value: unknown, call: () => unknown): unknown {
  const had = Object.hasOwn(self, field);
  const saved = self[field];
  self[field] = value;
  try {
    return call();
  } finally {
    if (had) self[field] = saved;
    else delete self[field];
  }
}

const asAny = (algorithm: unknown): AnyAlgorithm => algorithm as AnyAlgorithm;

export const mutants: readonly Mutant[] = [
  {
    name: 'raft-ignores-log-restriction',
    rule: 'Raft §5.4.1: vote only for a candidate whose log is at least as up to date',
    algorithm: asAny(raft),
    caughtBy: 'leader-completeness',
    apply: () => patch(RaftNode.prototype, 'candidateLogIsUpToDate', () => function () {
      return true;
    }),
  },
  {
    name: 'raft-vote-before-durable',
    rule: 'Raft Figure 2: votedFor is on stable storage before the RequestVote is answered',
    algorithm: asAny(raft),
    caughtBy: 'vote-durability',
    // The vote is not persisted with the grant (it reaches disk only with a later term change).
    apply: () => patch(RaftNode.prototype, 'handleRequestVote', (original) => function (this: Internals, ...args: unknown[]) {
      return withField(this, 'persistDurable', () => undefined, () => original(this, ...args));
    }),
  },
  {
    name: 'raft-votes-twice',
    rule: 'Raft §5.2: at most one vote per term (first come, first served)',
    algorithm: asAny(raft),
    caughtBy: 'one-vote-per-term',
    // The voter forgets whom it voted for in this term before each request.
    apply: () => patch(RaftNode.prototype, 'handleRequestVote', (original) => function (this: Internals, ...args: unknown[]) {
      this.votedFor = null;
      return original(this, ...args);
    }),
  },
  {
    name: 'raft-ignores-higher-term',
    rule: 'Raft §5.1: a higher term in any message makes the receiver adopt it and follow',
    algorithm: asAny(raft),
    caughtBy: 'convergence',
    apply: () => patch(RaftNode.prototype, 'receive', (original) => function (this: Internals, now: number, from: NodeId, message: { term: number }) {
      if (message.term <= (this.currentTerm as number)) return original(this, now, from, message);
      return withField(this, 'becomeFollower', () => undefined, () => original(this, now, from, message));
    }),
  },
  {
    name: 'raft-slow-election-timeout',
    rule: 'Raft §5.2/§5.6: election timeouts are drawn from the configured range (broadcastTime ≪ electionTimeout ≪ MTBF), so a leader is elected within a bound of the last fault',
    algorithm: asAny(raft),
    caughtBy: 'convergence',
    // Every election timeout is 25 times the one drawn: the cluster agrees in the end, but far too late.
    apply: () => patch(RaftNode.prototype, 'resetElectionTimer', (original) => function (this: Internals, now: number) {
      original(this, now);
      this.electionDeadline = now + 25 * ((this.electionDeadline as number) - now);
    }),
  },
  {
    name: 'raft-commit-previous-term',
    rule: 'Raft §5.4.2 (Figure 8): a leader commits by counting replicas only an entry of its own term',
    algorithm: asAny(raft),
    caughtBy: 'log-agreement',
    // A new leader's blank entry follows its older entries at once, so only a follower lagging by more
    // than one AppendEntries makes a quorum hold an older entry alone: Figure 8, staged.
    scenario: () => figure8().violations,
    // The leader commits whatever a quorum holds, an earlier term's entry included.
    apply: () => patch(RaftNode.prototype, 'commitsByCounting', () => function () {
      return true;
    }),
  },
  {
    name: 'raft-skip-log-check',
    rule: 'Raft §5.3: a follower refuses AppendEntries unless its log holds an entry at prevLogIndex whose term is prevLogTerm',
    algorithm: asAny(raft),
    caughtBy: 'log-agreement',
    // The follower checks only that it holds an entry at prevLogIndex, whatever its term.
    apply: () => patch(RaftNode.prototype, 'logMatches', () => function (this: Internals, index: number) {
      return (this.log as { termAt(index: number): number | undefined }).termAt(index) !== undefined;
    }),
  },
  {
    name: 'raft-membership-unchecked',
    rule: 'Raft thesis §4.1: one membership change at a time — a leader accepts a change only once the previous configuration entry is committed (and an entry of its own term is)',
    algorithm: asAny(raft),
    caughtBy: 'log-agreement',
    // The thesis's disjoint majorities, staged (src/testing/raft-membership.ts): the committed entries
    // that two configurations at once let diverge.
    scenario: () => disjointMajorities().violations,
    // The random sweep with the membership nemesis asks for changes back to back in some runs: the
    // second one accepted while the first is uncommitted is configuration-safety's first rule.
    membershipSweep: { caughtBy: 'configuration-safety' },
    // The leader never finds a change pending: a second change starts while the first is uncommitted.
    apply: () => patch(RaftNode.prototype, 'changePending', () => function () {
      return false;
    }),
  },
  {
    name: 'zab-elects-by-id-accepts-ahead',
    rule: 'ZAB: FLE orders votes by (epoch, zxid, id), and a leader refuses a follower that is ahead (Phase 1)',
    algorithm: asAny(zab),
    caughtBy: 'zab-history',
    apply: () => all(
      // FLE compares server ids only.
      patch(FastLeaderElection.prototype, 'beats', (original) => function (this: Internals, candidate: { leader: NodeId | null }, current: { leader: NodeId } | null) {
        const idOnly = <T extends object>(p: T) => ({ ...p, zxid: 0, peerEpoch: 0 });
        return original(this, idOnly(candidate), current === null ? null : idOnly(current));
      }),
      // The leader reads every follower's history as empty, so none is ever ahead.
      patch(LeaderSession.prototype, 'receiveAckEpoch', (original) => function (this: Internals, now: number, from: NodeId, ack: AckEpoch) {
        return original(this, now, from, { ...ack, currentEpoch: 0, lastZxid: 0 });
      }),
    ),
  },
  {
    name: 'zab-promises-epoch-twice',
    rule: 'ZAB Phase 1: a follower promises an epoch only if above its acceptedEpoch (once per epoch)',
    algorithm: asAny(zab),
    caughtBy: 'zab-epoch-promise',
    // The follower reads its acceptedEpoch as just below the proposed epoch, so every proposal is new.
    apply: () => patch(LearnerSession.prototype, 'acceptEpoch', (original) => function (this: Internals, epoch: number) {
      const real = this.host as PhaseHost;
      const forgetful: PhaseHost = { ...real, durable: () => ({ ...real.durable(), acceptedEpoch: Math.min(real.durable().acceptedEpoch, epoch - 1) }) };
      return withField(this, 'host', forgetful, () => original(this, epoch));
    }),
  },
  {
    name: 'zab-counts-stale-promise',
    rule: "ZAB Phase 1 (ZooKeeper's ACKEPOCH -1): a leader counts only new promises toward its epoch quorum",
    algorithm: asAny(zab),
    caughtBy: 'zab-epoch-promise',
    apply: () => patch(LeaderSession.prototype, 'receiveAckEpoch', (original) => function (this: Internals, now: number, from: NodeId, ack: AckEpoch) {
      return original(this, now, from, { ...ack, newlyAccepted: true });
    }),
  },
  {
    name: 'zab-leader-never-steps-down',
    rule: "ZAB (ZooKeeper's syncLimit): a leader that hears from no quorum goes back to LOOKING",
    algorithm: asAny(zab),
    caughtBy: 'zab-sync-limit',
    // Its quorum check counts only itself, so it keeps pinging whoever is left and never abandons.
    apply: () => patch(LeaderSession.prototype, 'tick', (original) => function (this: Internals, now: number) {
      const host = this.host as PhaseHost;
      return withField(this, 'host', { ...host, voters: [host.id] }, () => original(this, now));
    }),
  },
  {
    name: 'zab-commit-before-quorum',
    rule: 'ZAB Phase 3 (ZooKeeper Leader.processAck): the leader commits a proposal once a quorum of voters acknowledged it',
    algorithm: asAny(zab),
    caughtBy: 'acked-durable',
    workload: 'kv',
    // Once established, the leader counts its quorum among itself and the follower whose ACK it reads:
    // it commits on the first ACK.
    apply: () => patch(LeaderSession.prototype, 'receive', (original) => function (this: Internals, now: number, from: NodeId, message: { type: string }) {
      const host = this.host as PhaseHost;
      if (this.phaseName !== 'broadcast' || (message.type !== 'Ack' && message.type !== 'PingReply')) return original(this, now, from, message);
      return withField(this, 'host', { ...host, voters: host.voters.filter((id) => id === host.id || id === from) }, () => original(this, now, from, message));
    }),
  },
  {
    name: 'zab-skip-trunc',
    rule: "ZAB synchronization (ZooKeeper's TRUNC): a learner drops the proposals its new leader's history does not hold",
    algorithm: asAny(zab),
    caughtBy: 'log-agreement',
    workload: 'kv',
    // The learner keeps its divergent tail and appends the leader's history after it.
    apply: () => patch(LearnerSession.prototype, 'truncate', () => function () {
      return undefined;
    }),
  },
  {
    name: 'bully-generation-max-plus-one',
    rule: 'Bully generations (src/core/bully/bully.ts): each member uses only its own numbers, so no two reigns share one',
    algorithm: asAny(bully),
    caughtBy: 'election-safety',
    // nextGeneration over a membership of one is "the highest seen + 1".
    apply: () => {
      const alone = (original: (self: Internals, ...args: unknown[]) => unknown) => function (this: Internals, ...args: unknown[]) {
        const config = this.config as { id: NodeId };
        return withField(this, 'config', { ...config, voters: [config.id] }, () => original(this, ...args));
      };
      return all(patch(BullyNode.prototype, 'becomeCoordinator', alone), patch(BullyNode.prototype, 'reassert', alone));
    },
  },
  {
    name: 'bully-victory-despite-alive',
    rule: 'Bully (Garcia-Molina 1982): an Alive from a higher id means wait for its Victory, not declare',
    algorithm: asAny(bully),
    caughtBy: 'bully-victory',
    apply: () => patch(BullyNode.prototype, 'handleAlive', () => function () {
      return undefined;
    }),
  },
];

/**
 * Bully's replication declared to promise consensus: what the log checkers (src/sim/checkers/
 * replication.ts) judge in the mutants below. Correct, it keeps that promise in runs without a failover
 * or a split brain (replicationProofRuns, src/sim/sweep.ts): a broken replication is caught there.
 */
export const bullyAsConsensus: AnyAlgorithm = { ...asAny(bully), replication: 'consensus' };

/**
 * Broken replications for the log checkers, until the Raft and ZAB mutants (raft-commit-previous-term,
 * zab-commit-before-quorum) join the catalog with those cores' replication: each is Bully's
 * replication with one rule broken, swept over replicationProofRuns, where the correct Bully passes.
 */
export const replicationMutants: readonly Mutant[] = [
  {
    name: 'bully-backup-ignores-copy-order',
    rule: "Primary–backup in order (Raft §5.3's AppendEntries consistency check): a backup appends a copy only directly after its last entry",
    algorithm: bullyAsConsensus,
    caughtBy: 'acked-durable',
    // A copy ahead of the backup's log is appended at the backup's next index, whatever its own index:
    // two copies that overtake each other on the network land at each other's places.
    apply: () => patch(BullyNode.prototype, 'handleCopy', (original) => function (this: Internals, now: number, from: NodeId, copy: { index: number; prevTerm: number }) {
      const last = (this.lastIndex as () => number).call(this);
      const inOrder = { ...copy, index: last + 1, prevTerm: (this.lastTerm as () => number).call(this) };
      return original(this, now, from, copy.index > last ? inOrder : copy);
    }),
  },
  {
    name: 'bully-sync-forgets-snapshot-event',
    rule: 'The replication interface (src/core/types.ts): a node that replaces its state with a snapshot reports snapshot-installed before the committed entries that follow it',
    algorithm: bullyAsConsensus,
    caughtBy: 'log-agreement',
    // A backup that takes the coordinator's snapshot and log reports the entries but not the snapshot:
    // its host's state machine goes on from where it was, and its committed indexes jump.
    apply: () => patch(BullyNode.prototype, 'handleSync', (original) => function (this: Internals, ...args: unknown[]) {
      const out = this.out as { emit(event: { type: string }): void; persist(state: unknown): void; send(to: NodeId, message: unknown): void };
      const silent = { emit: (event: { type: string }) => (event.type === 'snapshot-installed' ? undefined : out.emit(event)), persist: (state: unknown) => out.persist(state), send: (to: NodeId, message: unknown) => out.send(to, message) };
      return withField(this, 'out', silent, () => original(this, ...args));
    }),
  },
];

/** Runs `body` with `mutant` applied, restoring the correct core afterwards (even on failure). */
export function withMutant<T>(mutant: Mutant, body: () => T): T {
  const undo = mutant.apply();
  try {
    return body();
  } finally {
    undo();
  }
}
