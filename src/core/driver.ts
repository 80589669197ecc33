/**
 * The one host loop. Every host — the simulator, a real node, the browser page, the tests — runs a core
 * node through a NodeDriver, so the rules of DESIGN.md hold in one place:
 *
 *   1. every input enters through `step(now, input)` (the core's single door, like etcd's Step), and
 *      is published first, so a host can record it and replay it later;
 *   2. the output is drained in the contract's order: persist (the host's `persist` must return only
 *      once the state is durable; if it throws, nothing of the batch is sent), then send, then events —
 *      or, for a host that persists off its event loop (`persistAsync`), the pipelined order of
 *      `stepAll` below: a leader's replication messages may leave while the persist runs (Raft thesis
 *      §10.2.1), everything else waits for it, and no input is stepped until it is durable;
 *   3. leadership is derived ONCE, from status (a node leads exactly when `status.leader === status.id`,
 *      src/core/types.ts), and published as typed events that metrics, invariant checkers, timelines,
 *      the page and the embedding API subscribe to;
 *   4. the host arms one timer for `nextDeadline()`.
 *
 * The driver is pure (it lives in src/core): time comes in with each step, persistence and sending are
 * the host's callbacks, and nothing here reads a clock or sets a timer.
 */
import type { AnyNode, ElectionEvent, Envelope, Input, Message, NodeId, Status } from './types.js';

/** What a driven node did, in order. One union, so every subscriber switches over the same kinds. */
export type DriverEvent =
  /** An input about to enter the core (record these to replay the node). */
  | { readonly type: 'input'; readonly atMs: number; readonly input: Input<Message> }
  /** The state handed to `persist` is durable. */
  | { readonly type: 'persisted'; readonly atMs: number; readonly state: unknown }
  /** An event the core itself reported (election-started, ...), passed through unchanged. */
  | { readonly type: 'core'; readonly atMs: number; readonly event: ElectionEvent }
  /** role, leader or term changed. */
  | { readonly type: 'status'; readonly atMs: number; readonly previous: Status; readonly status: Status }
  /** This node no longer leads in `term` (it stepped down, or leads again under a newer term). */
  | { readonly type: 'lost-leadership'; readonly atMs: number; readonly term: number }
  /** The leader this node knows changed (null: none known), or the same node leads in a new term. */
  | { readonly type: 'leader-changed'; readonly atMs: number; readonly leader: NodeId | null; readonly term: number }
  /** This node now leads in `term`; `again` when it already led and declared itself under a newer term. */
  | { readonly type: 'became-leader'; readonly atMs: number; readonly term: number; readonly again: boolean };

export type DriverEventType = DriverEvent['type'];

export interface DriverHost<M extends Message, D> {
  /** Make `state` durable before returning. Throwing stops the batch: none of its messages leave. */
  persist(state: D): void;
  /**
   * Optional, for a host whose writes run off its event loop (a real node: fdatasync in libuv's thread
   * pool). Starts making `state` durable and calls `durable()` once it is — possibly before returning,
   * when there was nothing to wait for. On failure the host never calls `durable()`: the batch's held
   * messages never leave, and the host must stop the node (as a crash would). While a persist is in
   * flight the driver is `busy`: the host must not step it, and queues its inputs until `settled`.
   * A host without it persists synchronously through `persist`, with the order of `step`.
   */
  persistAsync?(state: D, durable: () => void): void;
  /**
   * With persistAsync: write a batch that sends nothing before its write (no early message) through the
   * synchronous `persist` instead. The asynchronous write overlaps the disk with what leaves early; with
   * nothing leaving early every message and report of the batch waits for it anyway, and no input may be
   * stepped meanwhile, so the batch gains nothing from it, and a real node pays for it in wake-ups (libuv's
   * pool thread, then the event loop): on a loaded 2-core machine 3–13 ms for a vote through the pool
   * against 2–4 ms inline, five members writing at once (docs/runtime.md, "A vote is written on the event
   * loop"). A voter's write sits on a hand-off's path (Raft thesis §3.10).
   */
  readonly persistsInlineWhenNothingOverlaps?: boolean;
  /** Called after a pipelined batch's persist completed and its output was released (see persistAsync). */
  settled?(): void;
  /**
   * The message types that a LEADER may send before the batch's persist completes: the algorithm's
   * `replicatesBeforePersist` (Raft: AppendEntries, thesis §10.2.1). Only used with persistAsync; absent
   * (ZAB, Bully), every message and every report of a batch waits for its write (see pipeline).
   */
  readonly sendsBeforePersist?: ReadonlySet<string>;
  /**
   * The message types that a CANDIDATE may send before the write of its new term and its vote for
   * itself is durable: the algorithm's `campaignsBeforePersist` (Raft: RequestVote; etcd's raft does the
   * same). Only used with persistAsync; absent, they wait for the write like every other message.
   */
  readonly campaignsBeforePersist?: ReadonlySet<string>;
  /**
   * The algorithm's `coalesce` (Raft: contiguous AppendEntries, src/core/raft/coalesce.ts): a pipelined
   * batch's messages to one peer are joined where it says they mean the same as one. Only used with
   * persistAsync.
   */
  coalesce?(earlier: M, later: M): M | null;
  /** Hand a message to the network (never blocks). */
  send(to: NodeId, message: M): void;
  /**
   * Optional, with persistAsync: called once the messages of a batch that may leave now have all been
   * handed to `send`, before the batch's write starts and before the reports that follow them. A host that gathers a turn's writes (a real
   * node corks its sockets until the turn ends) writes them out here, so that they do not wait for the
   * reports' handlers (logs, watchers, lead() jobs): a new leader's first AppendEntries, a voter's
   * grant, TimeoutNow (Raft thesis §3.10: each on a hand-off's path).
   */
  flushSends?(): void;
  /** Every event of the stream, in order; see DriverEvent. */
  publish(event: DriverEvent): void;
  /**
   * Whether to publish an 'input' event per input (default true). A host that neither records nor
   * replays inputs, and already knows each one because it delivered it (the simulator), says false
   * and saves an allocation per message on its hot path.
   */
  readonly publishInputs?: boolean;
}

/** Whether a status names its own node as leader: the one test of leadership (src/core/types.ts). */
export function leads(status: Status): boolean {
  return status.leader === status.id;
}

/** Messages in the order sent, each joined with the one before it to the same peer where `coalesce` says so. */
class Outbox<M extends Message> {
  readonly envelopes: Envelope<M>[] = [];
  /** Where the last message to each peer is in `envelopes`. */
  private readonly last = new Map<NodeId, number>();

  constructor(private readonly coalesce: ((earlier: M, later: M) => M | null) | undefined) {}

  add(to: NodeId, message: M): void {
    const at = this.last.get(to);
    if (at !== undefined && this.coalesce) {
      const joined = this.coalesce(this.envelopes[at]!.message, message);
      if (joined !== null) {
        this.envelopes[at] = { to, message: joined };
        return;
      }
    }
    this.last.set(to, this.envelopes.length);
    this.envelopes.push({ to, message });
  }
}

/** A batch whose persist is in flight: what it may release only once its state is durable. */
interface HeldBatch {
  readonly now: number;
  readonly state: unknown;
  readonly messages: readonly Envelope<Message>[];
  readonly reports: readonly { readonly events: readonly ElectionEvent[]; readonly status: Status }[];
}

export class NodeDriver<M extends Message = Message, D = unknown> {
  private last: Status;
  private readonly publishInputs: boolean;
  /** The pipelined batch waiting for its persist (persistAsync), or null. */
  private held: HeldBatch | null = null;

  /**
   * Wraps a core node built by its algorithm's `create` (which may already hold output, e.g. a cluster
   * of one that elects itself at once): that output is drained here, at `now`.
   */
  constructor(
    readonly core: AnyNode,
    private readonly host: DriverHost<M, D>,
    now: number,
  ) {
    this.last = { id: core.id, role: 'starting', leader: null, term: 0 };
    this.publishInputs = host.publishInputs ?? true;
    this.drain(now);
  }

  get id(): NodeId {
    return this.core.id;
  }

  /** The status as of the last drained step (what every subscriber has been told). */
  status(): Status {
    return this.last;
  }

  nextDeadline(): number {
    return this.core.nextDeadline();
  }

  /** Whether a pipelined persist is in flight: step nothing until the host's `settled` (persistAsync). */
  get busy(): boolean {
    return this.held !== null;
  }

  /** Delivers one input through the core's single door, then drains the output in order. */
  step(now: number, input: Input<M>): void {
    if (this.host.persistAsync) return this.stepAll(now, [input]);
    if (this.publishInputs) this.host.publish({ type: 'input', atMs: now, input });
    this.core.step(now, input);
    this.drain(now);
  }

  /**
   * Group commit: delivers several inputs that arrived together (one event-loop turn of a real node),
   * then persists ONCE — the state after the last of them, which holds everything each of them made
   * durable — then sends every message, in order, then reports each input's events and status in order.
   * Persist-before-send holds for every message of the batch: none leaves before the one persist
   * returns. (Each input's output is taken before the next input enters, as `step` would.)
   */
  stepAll(now: number, inputs: readonly Input<M>[]): void {
    if (this.host.persistAsync) return this.pipeline(now, inputs);
    if (inputs.length === 1) return this.step(now, inputs[0]!);
    let persist: unknown = null;
    const messages: Envelope<Message>[] = [];
    const reports: { readonly events: readonly ElectionEvent[]; readonly status: Status }[] = [];
    const take = (): void => {
      const output = this.core.takeOutput();
      if (output.persist !== null) persist = output.persist;
      for (const envelope of output.messages) messages.push(envelope);
      reports.push({ events: output.events, status: this.core.status() });
    };
    for (const input of inputs) {
      if (this.publishInputs) this.host.publish({ type: 'input', atMs: now, input });
      this.core.step(now, input);
      take();
    }
    if (persist !== null) {
      this.host.persist(persist as D);
      this.host.publish({ type: 'persisted', atMs: now, state: persist });
    }
    for (const { to, message } of messages) this.host.send(to, message as M);
    for (const { events, status } of reports) {
      for (const event of events) this.host.publish({ type: 'core', atMs: now, event });
      this.observe(now, status);
    }
  }

  /**
   * Group commit with the persist off the host's event loop (persistAsync). The inputs are stepped as in
   * stepAll and their state is handed to `persistAsync` once; then:
   *
   *   - a message the host names in `sendsBeforePersist` (Raft's AppendEntries) leaves BEFORE the write
   *     starts (once every input is stepped) when the node, after the input that made it, leads in the
   *     term it had when the batch began. That term,
   *     and this node's vote for itself in it, were then made durable by an earlier batch (a report of
   *     a new term waits for its write, even when the candidate asked for votes before it, see
   *     campaignsBeforePersist below), so the message rests on nothing this persist writes but
   *     the leader's own new entries — and thesis §10.2.1 lets a leader write those in parallel with
   *     sending them, provided it counts itself toward a commit only once its write is durable. That
   *     proviso holds because nothing is stepped while the persist is in flight: a follower's answer,
   *     which could complete a majority, reaches the core only after the leader's entries are on disk.
   *     Per destination the order is kept: once a message to a peer is held, every later one to it is.
   *   - a message the host names in `campaignsBeforePersist` (Raft's RequestVote) leaves before the
   *     write starts when the input that made it is the first of the batch to produce state to write
   *     (so the write holds nothing of an earlier input: the algorithm promises that the candidacy
   *     itself writes only its new term and its vote for itself). The candidate's own vote is counted
   *     only once that write is durable, as etcd's raft counts it on its storage append's answer:
   *     whatever the vote could complete — a majority, hence leadership — is held here, because
   *     nothing is stepped while the write is in flight (a grant waits for `settled`), and a
   *     leadership completed within the batch itself (a cluster of one; or grants of the new term that
   *     reached the batch — answers to an earlier incarnation's request, see below) is in a term that
   *     is not yet durable, so its messages and its report are held like any other. Safety (§5.1,
   *     §5.2, §5.4): the voters' grants still wait for their own durable writes. If the candidate
   *     crashes before its write, no one ever counted its vote, so after restart it may vote for
   *     another in that term — no double vote. Peers may then have seen the term from a node that
   *     restarts at its older term T: it accepts only what a follower of T accepts (a leader of T is
   *     legitimate; a voter who granted the lost term rejects T's entries from then on, so the
   *     argument of §5.4.3 holds with the grants that exist), and its votes in T are those on disk. If
   *     it campaigns for the same term again, a stale grant from before the crash counts as a real
   *     durable vote for it, and what §5.4.3 needs of it still holds: the grant judged a log that was
   *     durable before the candidacy (the request advertised nothing this write holds), so it held
   *     every entry the voter had committed; since then only a leader (of T) changed that log, and a
   *     leader removes no committed entry (Leader Completeness); the voter, once it granted, accepts no
   *     entry of T, and the candidate's own new vote follows whatever it acknowledged since.
   *   - every other message — a vote, a term change, an AppendEntries response, anything a node sends
   *     that is not leading in a term already durable — is held until the state is durable, then
   *     released in order (DriverHost.persistAsync).
   *   - an input's report (its core events, then its status and the leadership derived from it) is
   *     released at once when no earlier report of the batch waits, its status is in the term that was
   *     durable when the batch began, and either it has no core event or its input is a peer's message
   *     stepped before any input of the batch produced state to write; otherwise it is held, and so is
   *     every later one. Such a report rests on nothing this write holds: who leads a term already on
   *     disk is settled (one leader per term, §5.2), so a follower names its term's new leader, and a
   *     leader reports its own election, without waiting for the entries that came with the news. And
   *     an entry such a report calls `committed` is on a majority's disks already: a follower's commit
   *     follows its leader's; a leader counts a follower's copy only from the answer to an AppendEntries
   *     sent in an earlier batch, and its own copies — all it counts in a cluster of one voter — are all
   *     written when no earlier input of the batch appended (a peer's message appends nothing to a
   *     leader's log). A report whose term is new (a candidacy, a newer leader's term) waits: the term
   *     is what this write makes durable.
   *
   * Without persistAsync the driver never calls this (the simulator: its order is step's and stepAll's).
   */
  private pipeline(now: number, inputs: readonly Input<M>[]): void {
    if (this.held !== null) throw new Error('NodeDriver: stepped while a persist is in flight (wait for settled)');
    const early = this.host.sendsBeforePersist;
    const campaigns = this.host.campaignsBeforePersist;
    const termAtStart = this.last.term;
    let state: unknown = null;
    // Both leave in order, the first after the loop (the host's sockets send a turn's writes together
    // anyway), the second once the write is durable; each joins a message with the one before it to
    // the same peer where the algorithm says they mean the same as one (DriverHost.coalesce).
    const atOnce = new Outbox<M>(this.host.coalesce);
    const held = new Outbox<M>(this.host.coalesce);
    const waiting = new Set<NodeId>();
    const reports: { readonly events: readonly ElectionEvent[]; readonly status: Status }[] = [];
    /** Reports released at once (see above), after the messages that leave at once, as stepAll orders them. */
    const reportsNow: { readonly events: readonly ElectionEvent[]; readonly status: Status }[] = [];
    for (const input of inputs) {
      if (this.publishInputs) this.host.publish({ type: 'input', atMs: now, input });
      this.core.step(now, input);
      const output = this.core.takeOutput();
      const status = this.core.status();
      // Whether every entry this input could count toward a commit was written by an earlier batch.
      const nothingPendingBefore = state === null;
      if (output.persist !== null) state = output.persist;
      const leadsDurably = early !== undefined && leads(status) && status.term === termAtStart;
      const campaignsAtOnce = campaigns !== undefined && nothingPendingBefore;
      for (const envelope of output.messages) {
        const type = envelope.message.type;
        const before = (leadsDurably && early.has(type)) || (campaignsAtOnce && campaigns.has(type));
        if (before && !waiting.has(envelope.to)) atOnce.add(envelope.to, envelope.message as M);
        else {
          waiting.add(envelope.to);
          held.add(envelope.to, envelope.message as M);
        }
      }
      // A report in the term that was durable when the batch began rests on nothing this write holds
      // (see above): reported now, unless an earlier report of the batch waits.
      const report = { events: output.events, status };
      const settled = output.events.length === 0 || (input.type === 'message' && nothingPendingBefore);
      if (reports.length === 0 && early !== undefined && status.term === termAtStart && settled) reportsNow.push(report);
      else reports.push(report);
    }
    // Sends first: a new leader's first AppendEntries (its election's news to the followers) then leaves
    // before the host's handlers of its election run (logs, lead() jobs, watchers). They are written out
    // (flushSends) before this batch's write starts, too: a candidate's voters and a leader's followers
    // begin their own writes — the slower part of the round — while this one's runs. (Written after the
    // write had started, a planned hand-off of 5 real nodes took 1 ms longer at the median:
    // scripts/handoff-trace.mjs, docs/bench.md "Where a hand-off's time goes".)
    for (const { to, message } of atOnce.envelopes) this.host.send(to, message);
    if (atOnce.envelopes.length > 0) this.host.flushSends?.();
    const batch: HeldBatch = { now, state, messages: held.envelopes, reports };
    const reportNow = (): void => {
      for (const report of reportsNow) this.report(now, report);
    };
    if (state === null) {
      reportNow();
      return this.release(batch);
    }
    if (atOnce.envelopes.length === 0 && this.host.persistsInlineWhenNothingOverlaps === true) {
      // Nothing overlaps the write (persistsInlineWhenNothingOverlaps): the order of stepAll. A throw
      // stops the batch, and none of its held messages leave.
      reportNow();
      this.host.persist(state as D);
      return this.release(batch);
    }
    this.held = batch;
    /** Whether persistAsync has returned; a write durable before it did is released after reportNow. */
    let started = false;
    let durableAtOnce = false;
    const settle = (): void => {
      this.held = null;
      this.release(batch);
      this.host.settled?.();
    };
    this.host.persistAsync!(state as D, () => {
      if (this.held !== batch) return;
      if (started) settle();
      else durableAtOnce = true;
    });
    started = true;
    reportNow();
    if (durableAtOnce) settle();
  }

  /** A pipelined batch's output once its state is durable: persisted, then the held messages, then events. */
  private release({ now, state, messages, reports }: HeldBatch): void {
    if (state !== null) this.host.publish({ type: 'persisted', atMs: now, state });
    for (const { to, message } of messages) this.host.send(to, message as M);
    if (messages.length > 0) this.host.flushSends?.();
    for (const report of reports) this.report(now, report);
  }

  /** One input's events of the core, then its status (and the leadership derived from it). */
  private report(now: number, { events, status }: { readonly events: readonly ElectionEvent[]; readonly status: Status }): void {
    for (const event of events) this.host.publish({ type: 'core', atMs: now, event });
    this.observe(now, status);
  }

  /** Shorthands for the two kinds of input. */
  receive(now: number, from: NodeId, message: M): void {
    this.step(now, { type: 'message', from, message });
  }

  tick(now: number): void {
    this.step(now, { type: 'tick' });
  }

  /** Persist, then send, then report; then derive leadership from the new status. */
  private drain(now: number): void {
    const output = this.core.takeOutput();
    if (output.persist !== null) {
      this.host.persist(output.persist as D);
      this.host.publish({ type: 'persisted', atMs: now, state: output.persist });
    }
    for (const { to, message } of output.messages) this.host.send(to, message as M);
    for (const event of output.events) this.host.publish({ type: 'core', atMs: now, event });
    this.observe(now, this.core.status());
  }

  /**
   * Leadership events derived from status, so that events, `status()`, /status and ballot_is_leader can
   * never disagree: lost-leadership, then leader-changed, then became-leader.
   */
  private observe(now: number, status: Status): void {
    const previous = this.last;
    if (previous.leader === status.leader && previous.term === status.term && previous.role === status.role && previous.lease === status.lease) return;
    this.last = status;
    this.host.publish({ type: 'status', atMs: now, previous, status });
    const wasLeader = leads(previous);
    const isLeader = leads(status);
    if (wasLeader && (!isLeader || status.term !== previous.term)) this.host.publish({ type: 'lost-leadership', atMs: now, term: previous.term });
    if (status.leader !== previous.leader || (status.leader !== null && status.term !== previous.term)) {
      this.host.publish({ type: 'leader-changed', atMs: now, leader: status.leader, term: status.term });
    }
    if (isLeader && (!wasLeader || status.term !== previous.term)) {
      this.host.publish({ type: 'became-leader', atMs: now, term: status.term, again: wasLeader });
    }
  }
}
