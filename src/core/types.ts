/**
 * The core contract shared by Bully, Raft and ZAB.
 *
 * A core node is a pure state machine: the host hands it time (milliseconds, any origin, never
 * decreasing), randomness and messages; the node hands back what the host must do. It never reads a
 * clock, sets a timer or touches I/O, so the same object runs unchanged in the simulator (virtual time),
 * in a real process (wall-clock time, TCP, files) and in the browser.
 *
 * The host loop, in every host (one implementation of it: NodeDriver in src/core/driver.ts):
 *   1. deliver an input through the single door `step(now, input)`: a message from a peer, or a tick
 *      once `now >= nextDeadline()`;
 *   2. `takeOutput()`: persist `output.persist` (if not null) durably FIRST, then send `output.messages`
 *      in order, then act on `output.events`. A Raft vote is on disk before the grant leaves the node.
 *      One exception, for hosts that persist off their event loop: a leader's replication messages
 *      (Algorithm.replicatesBeforePersist, Raft's AppendEntries: thesis §10.2.1) may leave while the
 *      persist runs, when the leader's term was durable before the input, and events in such a term
 *      may be acted on meanwhile (a write a majority already holds, a leader of that term); and a
 *      candidate's request for votes (Algorithm.campaignsBeforePersist, Raft's RequestVote) may leave
 *      while its new term and self-vote are written, its own vote counting only once they are durable;
 *      never a grant, an answer, or anything of a leader whose term is not yet durable.
 *      NodeDriver.pipeline states the exact rule and why;
 *   3. re-arm ONE timer for `nextDeadline()`.
 */

import type { BoundedCounter } from './bounds.js';
import type { History } from './history.js';
import type { Message } from './message.js';
import type { MessageShapes, ShapeOf } from './shapes.js';

// Message lives in its own module so that shapes.ts can use it without importing this file back.
export type { Message } from './message.js';

/** Node ids are positive integers (CONTRACT.md). */
export type NodeId = number;

/**
 * Injected randomness. The simulator hands in a seeded PRNG (a seed replays a run exactly); the runtime
 * hands in a crypto-backed one. The core never uses Math.random.
 */
export interface Random {
  /** A float uniformly distributed in [0, 1). */
  next(): number;
}

/** A float uniform in [min, max]. */
export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random.next();
}

/**
 * The uniform status of a node, the same shape for all three algorithms (CONTRACT.md, /status).
 * A node believes it is THE leader exactly when `leader === id`; hosts, invariants and metrics use
 * that one test. (ZAB reports itself as leader only once established by a quorum, not on entering
 * LEADING, so the test means the same thing in all three algorithms.)
 */
export interface Status {
  readonly id: NodeId;
  /** The role in the algorithm's own words, lower case (bully: leader|follower|electing, ...). */
  readonly role: string;
  readonly leader: NodeId | null;
  /** Raft: term; ZAB: epoch; Bully: generation. Usable as a fencing token. */
  readonly term: number;
  /**
   * Whether this node holds a leader lease now: no other node can hold one, or be elected, until it
   * expires (Raft with CheckQuorum, docs/algorithms/raft.md). Absent for algorithms without leases.
   */
  readonly lease?: boolean;
}

/**
 * Events a node reports to its host. Leadership (became-leader, lost-leadership, leader-changed) is not
 * among them: the host loop derives it once from `status()` (NodeDriver, src/core/driver.ts).
 */
export type ElectionEvent =
  | { readonly type: 'election-started'; readonly term: number }
  /**
   * A counter is at its ceiling (src/core/bounds.ts): the node refuses to add past it, so it does not
   * campaign (Raft, Bully) or propose a new epoch (ZAB). Emitted at each refusal; hosts report it once.
   */
  | { readonly type: 'ceiling-reached'; readonly counter: BoundedCounter; readonly value: number }
  /**
   * A message was ignored because its counter was implausibly far ahead of the node's own (more than
   * the believable step of src/core/bounds.ts): forged or corrupt, and treated as lost.
   */
  | { readonly type: 'message-ignored'; readonly counter: BoundedCounter; readonly value: number }
  /**
   * This leader's lease (Status.lease) now lasts until `until`, by the node's own clock (the `now` its
   * host hands it), unless it steps down first. Emitted at each renewal that extends it, before the
   * status that says `lease: true`: a host that may have been paused, or an observer converting the
   * node's clock to true time (the simulator's lease-safety checker), ends the lease there.
   */
  | { readonly type: 'lease-renewed'; readonly term: number; readonly until: number }
  /**
   * A leadership transfer (Raft's TimeoutNow) began: this leader gave up its lease and told `to` to
   * campaign; it resumes at `deadline` (its clock) unless it has been deposed by then.
   */
  | { readonly type: 'transfer-started'; readonly term: number; readonly to: NodeId; readonly deadline: number }
  /** The transfer begun in `term` did not complete within an election timeout: this node leads on. */
  | { readonly type: 'transfer-abandoned'; readonly term: number; readonly to: NodeId }
  | ReplicationEvent;

/**
 * Replication (issue 15): what a core tells its host about the replicated log. The cores replicate
 * opaque commands (`Command`); the host owns the state machine (the key-value store, src/kv) and
 * applies what is committed. Every core reports with these same events, so the simulator, the real
 * node and the page drive any algorithm alike.
 *
 * Positions: `index` is the 1-based position in the node's log (Raft's log index; ZAB: the position in
 * the history, whose zxid is (term = epoch, counter); Bully: the primary's sequence within its
 * generation's log). `term` is the term/epoch/generation of the entry at that position.
 */
export type ReplicationEvent =
  /**
   * The leader accepted proposal `id` (Input 'propose') as the entry at `index` in `term`. The proposal
   * took effect iff a `committed` event later reports that same (index, term); a committed entry of
   * another term at `index` means it was lost (the client is told it failed, or nothing is known).
   */
  | { readonly type: 'proposed'; readonly id: number; readonly index: number; readonly term: number }
  /**
   * Request `id` (a proposal, a read or a membership change) was not accepted. Without `reason`: this
   * node does not lead (or is handing its leadership over); `leader` is the leader it knows, for a
   * redirect, null when none is known. With `reason`: this node leads but refuses this change
   * (MembershipRefusal); the client is told so, not redirected.
   */
  | { readonly type: 'request-refused'; readonly id: number; readonly leader: NodeId | null; readonly reason?: MembershipRefusal }
  /**
   * The configuration this node now uses changed: the newest configuration entry in its log, committed
   * or not (Raft thesis §4.1: "a server always uses the latest configuration in its log"), or the
   * snapshot's when the log holds none. Reported at start (the node's configuration as read back) and at
   * every change: a configuration entry appended or received, one removed by a conflicting leader, a
   * snapshot installed. `index` is the entry's position (0: the configuration the node was started with).
   * The host connects to the members it names and drops the others; it learns the entry is committed
   * from the `committed` event at `index` (whose command is the no-op '').
   */
  | { readonly type: 'membership-changed'; readonly index: number; readonly membership: Membership }
  /**
   * The entry at `index` is committed (and known so by this node): apply `command` to the state
   * machine. Reported on EVERY node that learns it, in index order, each index once per node
   * incarnation — after a restart, from the snapshot's index + 1 (`snapshot-installed` comes first).
   * History entries given at start (`--history`) carry the empty command, which the host ignores.
   */
  | { readonly type: 'committed'; readonly index: number; readonly term: number; readonly command: Command }
  /**
   * Replace the state machine with `snapshot`, which holds every entry up to `index` (in `term`): a
   * snapshot the leader sent (Raft InstallSnapshot, ZAB SNAP) or the node's own one read back at start.
   * `committed` events continue from index + 1. The empty snapshot '' is the state machine before any
   * entry: a Bully backup installs it at index 0 when it must take its coordinator's log and that log was
   * never compacted.
   */
  | { readonly type: 'snapshot-installed'; readonly index: number; readonly term: number; readonly snapshot: string }
  /**
   * Read `id` (Input 'read') is linearizable once this node's state machine has applied `index`: the
   * leader confirmed it still led when the read arrived (Raft ReadIndex §6.4, or its lease), so the host
   * serves the read locally once it has applied up to `index`.
   */
  | { readonly type: 'read-ready'; readonly id: number; readonly index: number };

/**
 * A cluster's configuration (issue 15, membership change): who votes, who only learns, and where each
 * member is. `addresses` is the host's (a peer address, HOST:PORT) carried through the log so that every
 * member can reach a member added later; the core never reads it. The simulator gives '' for each.
 */
export interface Membership {
  /** Voting members, ascending. */
  readonly voters: readonly NodeId[];
  /** Non-voting members (Raft learners), ascending; disjoint from `voters`. */
  readonly observers: readonly NodeId[];
  /** Each member's address by id (the keys are the ids of voters and observers, as decimal strings). */
  readonly addresses: Readonly<Record<string, string>>;
}

/**
 * One change of membership (Raft thesis §4.1: one server at a time, so any majority of the old
 * configuration and any of the new one share a voter). A new server joins as a non-voter first and
 * becomes a voter once it has caught up (§4.2.1), so its arrival cannot stall commitment.
 */
export type MembershipChange =
  /** Add `peer`, reachable at `address`, as a non-voting member (a learner). */
  | { readonly type: 'add-learner'; readonly peer: NodeId; readonly address: string }
  /** Make the learner `peer` a voter; refused ('not-caught-up') while its log lags the leader's commit index. */
  | { readonly type: 'promote'; readonly peer: NodeId }
  /** Remove `peer` (voter or learner). A leader that removes itself leads until the change commits, then steps down (§4.2.2). */
  | { readonly type: 'remove'; readonly peer: NodeId };

/**
 * Why a leader refused a membership change (it is not redirected: another leader would refuse too).
 * 'change-pending': an earlier change is not committed yet, or this leader has not yet committed an
 * entry of its own term (thesis §4.1 and its correction on raft-dev, 2015); 'not-caught-up': the learner
 * to promote lags; 'not-a-member' / 'already-a-member': the change names the wrong peer; 'last-voter': the
 * change would leave no voter; 'unsupported': the algorithm changes no membership (ZAB, Bully).
 */
export type MembershipRefusal = 'change-pending' | 'not-caught-up' | 'not-a-member' | 'already-a-member' | 'last-voter' | 'unsupported';

/**
 * A client's command as the cores carry it: an opaque string (the host encodes its state machine's
 * operation, e.g. JSON of a key-value operation). The empty string is a no-op (history entries, a new
 * leader's blank entry), which the host's state machine skips.
 */
export type Command = string;

export interface Envelope<M> {
  readonly to: NodeId;
  readonly message: M;
}

/** What the host must do after an input, in this order: persist, send, report. */
export interface Output<M, D> {
  /** Durable state to write (the whole state, replacing the previous one) before any message is sent. */
  readonly persist: D | null;
  readonly messages: readonly Envelope<M>[];
  readonly events: readonly ElectionEvent[];
}

/**
 * Everything a node can be told, as one union, so that every input goes through one door (etcd's
 * `Step`) and can be recorded and replayed: a message from a peer, or a tick of the host's one timer
 * (due once `now >= nextDeadline()`; an early tick is harmless). Local requests join this union later.
 */
export type Input<M extends Message = Message> =
  | { readonly type: 'message'; readonly from: NodeId; readonly message: M }
  | { readonly type: 'tick' }
  /**
   * The host's connection to `peer` closed or was refused (a process that dies closes its sockets at
   * once: ZooKeeper's followers notice their leader's death this way). A hint, never proof: a reset may
   * be spurious while the peer lives, so a core may act sooner on it but must stay safe when it is wrong.
   */
  | { readonly type: 'peer-down'; readonly peer: NodeId }
  /**
   * The host's connection to `peer` is established (the peer's process listens, so its core runs). A
   * hint like 'peer-down': Raft with fast start (RaftOptions.fastStart) campaigns early at a fresh start
   * once a quorum is connected; a core without a use for it ignores it. The simulator never sends it.
   */
  | { readonly type: 'peer-up'; readonly peer: NodeId }
  /**
   * A local request: hand leadership to `to` (null: the core picks the most up-to-date live voter).
   * Raft transfers it (TimeoutNow, thesis §3.10); a core without a transfer ignores it, and so does a
   * node that does not lead (docs/embedding.md, "Graceful restart").
   */
  | { readonly type: 'transfer-leadership'; readonly to: NodeId | null }
  /**
   * A local client asks to replicate `command`; `id` is the host's, unique per node incarnation, and
   * comes back in 'proposed' or 'request-refused' (ReplicationEvent).
   */
  | { readonly type: 'propose'; readonly id: number; readonly command: Command }
  /** A local client asks for a linearizable read; answered by 'read-ready' or 'request-refused'. */
  | { readonly type: 'read'; readonly id: number }
  /**
   * The host's state machine has applied every entry up to `index` and `snapshot` holds it: the core
   * keeps the snapshot in its durable state and may drop the entries it covers (log compaction, Raft §7).
   */
  | { readonly type: 'compact'; readonly index: number; readonly snapshot: string }
  /**
   * A local client asks the leader to change the cluster's membership; `id` is the host's (as for
   * 'propose'). Answered like a proposal: 'proposed' (the configuration entry's index and term, done when
   * `committed` reports it) or 'request-refused' (not the leader; or a MembershipRefusal). A core without
   * membership change (Algorithm.membershipChange false) answers 'request-refused' with 'unsupported'.
   */
  | { readonly type: 'change-membership'; readonly id: number; readonly change: MembershipChange };

/**
 * The single door's dispatch, shared by every core: a message goes to `receive`, a tick to `tick`, a
 * closed connection to `peerDown`, an established one to `peerUp` (where a core has it). (Cores keep the
 * handlers; hosts only ever call `step`.)
 */
export function applyInput<M extends Message>(
  node: {
    receive(now: number, from: NodeId, message: M): void;
    tick(now: number): void;
    peerDown(now: number, peer: NodeId): void;
    peerUp?(now: number, peer: NodeId): void;
    transferLeadership?(now: number, to: NodeId | null): void;
    propose?(now: number, id: number, command: Command): void;
    read?(now: number, id: number): void;
    compact?(now: number, index: number, snapshot: string): void;
    changeMembership?(now: number, id: number, change: MembershipChange): void;
    /** Where a core has no changeMembership: how it answers a request it cannot serve. */
    refuse?(id: number, reason: MembershipRefusal): void;
  },
  now: number,
  input: Input<M>,
): void {
  switch (input.type) {
    case 'message':
      return node.receive(now, input.from, input.message);
    case 'tick':
      return node.tick(now);
    case 'peer-down':
      return node.peerDown(now, input.peer);
    case 'peer-up':
      return node.peerUp?.(now, input.peer);
    case 'transfer-leadership':
      return node.transferLeadership?.(now, input.to);
    case 'propose':
      return node.propose?.(now, input.id, input.command);
    case 'read':
      return node.read?.(now, input.id);
    case 'compact':
      return node.compact?.(now, input.index, input.snapshot);
    case 'change-membership':
      if (node.changeMembership !== undefined) return node.changeMembership(now, input.id, input.change);
      return node.refuse?.(input.id, 'unsupported');
  }
}

/** One running member of a cluster, as a pure state machine. */
export interface ElectionNode<M extends Message, D> {
  readonly id: NodeId;
  /** The single input door: applies one input at time `now` (never decreasing). */
  step(now: number, input: Input<M>): void;
  /** The time of the node's next deadline, or Infinity when it waits only for messages. */
  nextDeadline(): number;
  /** Drains what the host must do; see Output. */
  takeOutput(): Output<M, D>;
  status(): Status;
  /**
   * Optional, pure: the field of the durable state that a `compact` input with these arguments would
   * set now, and its value; null when the input would change nothing. A host writes a large snapshot's
   * file ahead with it, in the background (src/runtime/storage.ts, prepareField), so that the persist
   * of the compaction itself only refers to the file and no input waits for the write.
   */
  compactionPreview?(index: number, snapshot: string): { readonly field: string; readonly value: unknown } | null;
}

/** Timing knobs shared by the command line of all three algorithms (`--election-timeout`, `--heartbeat`). */
export interface Timing {
  /** Randomized election timeout range, ms (Raft: 150–300; Bully/ZAB: leader-failure detection). */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** Leader heartbeat (Raft AppendEntries, Bully coordinator heartbeat, ZAB ping) interval, ms. */
  readonly heartbeatMs: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  /** Voting members, ascending, including `id` when the node is a voter. */
  readonly voters: readonly NodeId[];
  /** Non-voting members (ZAB observers, Raft learners), ascending. */
  readonly observers: readonly NodeId[];
  readonly timing: Timing;
  /**
   * Each member's peer address (HOST:PORT) by id, as decimal strings (Membership.addresses): what the
   * starting configuration records, so that a configuration entry built from it carries them to members
   * added later. Absent (the simulator): '' for each member.
   */
  readonly addresses?: Readonly<Record<string, string>>;
}

/**
 * An algorithm as the hosts see it: how to build a node and what its durable state looks like.
 * `M` is the message union, `D` the durable state (JSON-serializable: the runtime writes it to disk).
 */
export interface Algorithm<M extends Message, D> {
  /** The name the command line uses; the registry (src/core/algorithms.ts) keys the algorithm by it. */
  readonly name: string;
  /** A named variant of the algorithm (Bully's 'stable' mode), reported beside its name; none for the default. */
  readonly variant?: string;
  readonly defaultTiming: Timing;
  /** Every message type of the union, for metrics (messages by type) and validation. */
  readonly messageTypes: readonly M['type'][];
  /**
   * The message types a settled cluster keeps sending (the leader's heartbeat and its answers). Every
   * other type is the cost of electing; `ballot compare` counts election messages with this split.
   */
  readonly heartbeatTypes: readonly M['type'][];
  /** The fields of each message type, for validating frames at the runtime's edge. */
  readonly messageShapes: MessageShapes<M>;
  /** The bounded counters the algorithm carries in its messages (src/core/bounds.ts; closed label sets for metrics). */
  readonly boundedCounters: readonly BoundedCounter[];
  /** The fields of the durable state, for validating what is read back from disk. */
  readonly durableShape: ShapeOf<D>;
  /**
   * What the algorithm promises about its replicated log (issue 15), so the simulator knows which
   * losses are violations and which are measurements. 'consensus' (Raft, ZAB): an entry committed on
   * one node is the entry at that index on every node, and an acknowledged proposal is never lost; the
   * log checkers (src/sim/checkers/replication.ts) hold it to that. 'primary-backup' (Bully): the
   * primary acknowledges before any copy exists, so a failover or a split brain loses acknowledged
   * writes, which the workload measures and reports. Undefined: the algorithm replicates nothing.
   */
  readonly replication?: 'consensus' | 'primary-backup';
  /**
   * The message types a leader may send before the state of the same output batch is durable, for hosts
   * that persist off their event loop (NodeDriver's persistAsync): Raft's AppendEntries, which a leader
   * may send while it writes its own new entries (thesis §10.2.1; it counts itself toward a commit only
   * once they are durable, which the driver ensures by stepping nothing while the write runs). Never a
   * vote, a term change or an answer. Omitted: every message waits for the persist.
   */
  readonly replicatesBeforePersist?: readonly M['type'][];
  /**
   * The message types a CANDIDATE may send before its own write of its new term and its vote for
   * itself is durable, for hosts that persist off their event loop: Raft's RequestVote (etcd's raft
   * does the same with asynchronous storage writes: its self-vote is the answer of its own append). Its
   * own vote is counted only once that write is durable, which the driver ensures: nothing is stepped,
   * and no leadership the vote could complete is sent or reported, while the write runs. The algorithm
   * promises that such a message, made by the first input of a batch that changes durable state, rests
   * on nothing of that write but the new term and the self-vote (Raft: a candidacy appends nothing).
   * Proof and conditions: NodeDriver.pipeline, docs/runtime.md. Omitted: every message waits.
   */
  readonly campaignsBeforePersist?: readonly M['type'][];
  /**
   * Joins two messages to one peer, the second sent right after the first, into one that means the
   * same to the receiver, or null when they do not join (Raft: contiguous AppendEntries within one
   * message's bounds, src/core/raft/coalesce.ts). A host that sends a batch's messages together uses it
   * (NodeDriver.pipeline); omitted: every message goes as the core made it.
   */
  coalesce?(earlier: M, later: M): M | null;
  /** Whether the algorithm has non-voting members (ZAB observers, Raft learners); Bully has none. */
  readonly supportsObservers: boolean;
  /**
   * Whether members can be added and removed while the cluster runs, through the log (Input
   * 'change-membership'): Raft's single-server changes (thesis §4). ZAB's dynamic reconfiguration
   * (ZooKeeper 3.5) and Bully have none here: their membership is fixed at start (docs/membership.md).
   */
  readonly membershipChange: boolean;
  /**
   * The textbook's count of messages for one election among `voters` nodes, for `ballot compare` to set
   * beside the measured count; omitted when the literature gives none.
   */
  textbookMessages?(voters: number): { readonly text: string; readonly value: number };
  /** Every role word `status().role` can report. */
  readonly roles: readonly string[];
  /** Durable state of a node that has never run, holding `history` (`--history`, src/core/history.ts). */
  initialDurable(history: History): D;
  /** Builds a node from its durable state (fresh or recovered after a crash), at time `now`. */
  create(config: NodeConfig, durable: D, random: Random, now: number): ElectionNode<M, D>;
  /**
   * The leader the algorithm promises once the network is connected and faults have stopped, or
   * undefined when it promises only "some leader" (Raft, ZAB). Bully promises the highest live id.
   */
  expectedLeader?(liveVoters: readonly NodeId[]): NodeId | undefined;
  /**
   * Whether a cluster with these live voters can elect a leader at all (Raft/ZAB: a strict majority of
   * voters; Bully: any live node). The simulator checks convergence only where this holds.
   */
  canElect(liveVoters: number, totalVoters: number): boolean;
  /**
   * Algorithm-specific safety checks on each message sent, e.g. "observers never vote" (ZAB).
   * Returns a description of the violation, or null.
   */
  checkSend?(from: NodeId, to: NodeId, message: M, config: { voters: readonly NodeId[]; observers: readonly NodeId[] }): string | null;
}

/**
 * An algorithm with its type parameters erased, for hosts that handle all three alike. (Method
 * parameters are bivariant, so every Algorithm<M, D> is assignable to it.)
 */
export type AnyAlgorithm = Algorithm<Message, unknown>;
export type AnyNode = ElectionNode<Message, unknown>;
