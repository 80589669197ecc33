/**
 * Recording a real node's inputs, and replaying them into a fresh core (`ballot node --record FILE`,
 * `ballot replay FILE`).
 *
 * A core is deterministic given its start (config, durable state, clock) and its inputs (DESIGN.md),
 * except for its random draws, which on a real node come from the crypto-backed source. So a record
 * holds exactly those: a header per run of the node, then one line per input the core received
 * (time on the core's clock, kind, sender, message, and the random numbers the core drew while
 * handling it). Replay hands the same inputs, at the same times, with the same draws, to a new core
 * through the same host loop (NodeDriver), so it makes the same transitions the real node made.
 *
 * The format, JSON lines, one object each (version 1):
 *   {"ballotRecord":1,"algorithm":"raft","variant":null,"id":1,"voters":[1,2,3],"observers":[],
 *    "addresses":{"1":"127.0.0.1:7001",…},
 *    "timing":{...},"durable":{...},"startedAt":"2026-…Z","draws":[0.42]}        one per run (header)
 *   {"at":152.3,"kind":"tick","draws":[0.17]}                                    an input
 *   {"at":160.9,"kind":"message","from":2,"message":{"type":"AppendEntries",…}}   an input
 *   {"at":170.2,"kind":"peer-down","peer":2}                                     an input: a connection closed
 *   {"at":3.1,"kind":"peer-up","peer":2}                                         an input: a connection established
 *   {"at":180.4,"kind":"transfer-leadership","to":null}                          an input: hand leadership over (to: an id or null)
 *   {"at":181.0,"kind":"propose","id":7,"command":"{\"op\":\"put\",…}"}           an input: a client's write (issue 15)
 *   {"at":181.2,"kind":"read","id":8}                                            an input: a linearizable read
 *   {"at":190.0,"kind":"compact","index":1000,"snapshot":"…"}                    an input: the state machine's snapshot
 *   {"kind":"full","at":…}                                                       the size limit was reached
 * `at` is ms since the run started on the node's monotonic clock: the very number the core was given.
 * `addresses` (each starting member's peer address, by id) is absent in records made before it was
 * added: they replay all the same. The configurations the node used later carry their own addresses
 * in its log (a membership change), and the replay reports each (ReplayedRun.configurations).
 * A node restarted with the same --record appends a new header, and replay runs each run in turn.
 *
 * Writing: lines are buffered and appended synchronously (write(2), no fsync) whenever a step changed
 * the node's status or the core reported an event — BEFORE the driver publishes that change to the
 * node's logs, metrics and listeners — and otherwise once a second (of the node's clock, checked at
 * each input: no timer) or every 64 KiB. A follower at idle handles ~25 inputs a second: one write(2)
 * a second rather than one per input (docs/runtime.md has the measured cost). So a kill -9 loses at
 * most the last second of inputs after which nothing was reported, and never an input whose
 * consequences the node reported: the replay of a killed node still gives every change it reported.
 * A machine crash or power loss can also lose what the kernel had not flushed.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { bullyStable } from '../core/bully/index.js';
import { algorithms, findAlgorithm } from '../core/algorithms.js';
import { NodeDriver, type DriverEvent } from '../core/driver.js';
import { createRaft, raftOptionsOfVariant } from '../core/raft/index.js';
import type { AnyAlgorithm, Input, Membership, MembershipChange, Message, NodeId, Random, Status, Timing } from '../core/types.js';
import { durableSchema, messageValidator } from './schema.js';

export const RECORD_FORMAT = 1;

/** The default bound on a record's size: ~4 days of an idle Raft follower of three, ~2 of its leader (docs/runtime.md). */
export const DEFAULT_RECORD_MAX_BYTES = 1024 * 1024 * 1024;

/** The file is not a record this ballot can read (exit 2 in `ballot replay`). */
export class RecordError extends Error {}

/** Unreported inputs are written out at least this often (node clock) and at this size. */
const FLUSH_EVERY_MS = 1000;
const FLUSH_BYTES = 64 * 1024;

/** The file is a good record, but the core replayed it differently than the node ran it (exit 1). */
export class ReplayDiverged extends Error {}

export interface RecordHeader {
  readonly ballotRecord: typeof RECORD_FORMAT;
  readonly algorithm: string;
  readonly variant: string | null;
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly observers: readonly NodeId[];
  /**
   * Each member's peer address (HOST:PORT) at the start, by id as a decimal string (NodeConfig.addresses:
   * the starting configuration's, this node's own included). Optional: records written before it was
   * added have none, and replay the same.
   */
  readonly addresses?: Readonly<Record<string, string>>;
  readonly timing: Timing;
  /** The durable state the core started from (read back from --data-dir). */
  readonly durable: unknown;
  /** Wall-clock time of the start, for humans; replay never reads it. */
  readonly startedAt: string;
  /** The random numbers the core drew while it was created. */
  readonly draws: readonly number[];
}

// ---- writing ------------------------------------------------------------------------------------

/**
 * Appends a node's inputs to a file. Subscribe `observe` to the NodeDriver's stream, create the core
 * with `random(source)`, and call `endInput()` after each step (a step with no events of its own).
 */
export class InputRecorder {
  private readonly fd: number;
  private bytes = 0;
  private full = false;
  private closed = false;
  private pending: { at: number; input: Input<Message> } | null = null;
  private draws: number[] = [];
  private buffer = '';
  private flushedAt = 0;

  /** Opens (creates, or appends to) `path`; throws the fs error when it cannot. */
  constructor(
    readonly path: string,
    private readonly maxBytes = DEFAULT_RECORD_MAX_BYTES,
    private readonly onFull: () => void = () => {},
  ) {
    this.fd = openSync(path, 'a');
    // The bound is on the file, earlier runs included.
    this.bytes = fstatSync(this.fd).size;
  }

  /** Wraps the core's random source so that every draw is written beside the input that caused it. */
  random(source: Random): Random {
    return {
      next: () => {
        const value = source.next();
        this.draws.push(value);
        return value;
      },
    };
  }

  /** Starts a run: the header, with the draws the core made while it was created. */
  start(header: Omit<RecordHeader, 'ballotRecord' | 'draws'>): void {
    this.write({ ballotRecord: RECORD_FORMAT, ...header, draws: this.takeDraws() }, 0);
    this.flush();
  }

  /**
   * The driver's stream, subscribed before anything that reports: an input opens a line; the first
   * event after it closes the line (the core has drawn all it will draw); a change about to be
   * reported puts every line so far on disk first.
   */
  observe(event: DriverEvent): void {
    switch (event.type) {
      case 'input':
        this.endInput();
        this.pending = { at: event.atMs, input: event.input };
        return;
      case 'persisted':
        this.endInput();
        return;
      case 'core':
        this.endInput();
        // A lease renewal (one a heartbeat interval) reports nothing outside: no write of its own.
        if (event.event.type !== 'lease-renewed') this.flush();
        return;
      case 'status':
      case 'lost-leadership':
      case 'leader-changed':
      case 'became-leader':
        this.endInput();
        this.flush();
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  /** Writes the pending input's line, if any (call after every step). */
  endInput(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    const draws = this.takeDraws();
    const input = pending.input;
    const line = {
      at: pending.at,
      kind: input.type,
      ...(input.type === 'message' ? { from: input.from, message: input.message } : {}),
      ...(input.type === 'peer-down' || input.type === 'peer-up' ? { peer: input.peer } : {}),
      ...(input.type === 'transfer-leadership' ? { to: input.to } : {}),
      ...(input.type === 'propose' ? { id: input.id, command: input.command } : {}),
      ...(input.type === 'read' ? { id: input.id } : {}),
      ...(input.type === 'compact' ? { index: input.index, snapshot: input.snapshot } : {}),
      ...(input.type === 'change-membership' ? { id: input.id, change: input.change } : {}),
      ...(draws.length > 0 ? { draws } : {}),
    };
    this.write(line, pending.at);
  }

  close(): void {
    if (this.closed) return;
    this.endInput();
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }

  private takeDraws(): number[] {
    const draws = this.draws;
    this.draws = [];
    return draws;
  }

  /** Buffers a line; writes the buffer out once a second of the node's clock or every 64 KiB. */
  private write(value: object, at: number): void {
    if (this.closed || this.full) return;
    const line = JSON.stringify(value) + '\n';
    // Lengths in UTF-16 units are bytes here: a record is ASCII (numbers, ids, type names).
    if (this.bytes + line.length > this.maxBytes) {
      // The bound: say so in the file (replay reports it) and stop recording; the node goes on.
      this.full = true;
      this.buffer += JSON.stringify({ kind: 'full', at }) + '\n';
      this.flush();
      this.onFull();
      return;
    }
    this.bytes += line.length;
    this.buffer += line;
    if (this.buffer.length >= FLUSH_BYTES || at - this.flushedAt >= FLUSH_EVERY_MS) {
      this.flushedAt = at;
      this.flush();
    }
  }

  private flush(): void {
    if (this.buffer === '') return;
    writeSync(this.fd, this.buffer);
    this.buffer = '';
  }
}

// ---- replaying ----------------------------------------------------------------------------------

/** One state transition of a node: the status after a step, and the events it reported. */
export interface Transition {
  readonly atMs: number;
  readonly role: string;
  readonly leader: NodeId | null;
  readonly term: number;
  /** Leadership events (lost-leadership, leader-changed, became-leader) and the core's own events. */
  readonly events: readonly string[];
}

/** A configuration the replayed core put in force (its 'membership-changed'), and when. */
export interface ReplayedConfiguration {
  readonly atMs: number;
  /** The configuration entry's log index; 0: the one the node was started with. */
  readonly index: number;
  /** Voters, learners, and where each member was (the addresses its entry carried). */
  readonly membership: Membership;
}

export interface ReplayedRun {
  readonly header: RecordHeader;
  readonly inputs: number;
  /** The record of this run ended at its size limit. */
  readonly full: boolean;
  /** The file's last line was cut short (the machine stopped mid-write) and was left out. */
  readonly cut: boolean;
  readonly transitions: readonly Transition[];
  /**
   * Every configuration the core used, in order (the first: the one it started with, from its log or
   * its flags), with the members' addresses: who was where, across membership changes.
   */
  readonly configurations: readonly ReplayedConfiguration[];
}

/** Every algorithm a node can run, by name and variant. */
const knownAlgorithms: readonly AnyAlgorithm[] = [...Object.values(algorithms), bullyStable];

function algorithmOf(name: unknown, variant: unknown): AnyAlgorithm | undefined {
  if (typeof name !== 'string') return undefined;
  if (variant === null || variant === undefined) return findAlgorithm(name);
  const known = knownAlgorithms.find((algorithm) => algorithm.name === name && algorithm.variant === variant);
  if (known !== undefined || name !== 'raft' || typeof variant !== 'string') return known;
  // Raft's variants are its options (--pre-vote, --check-quorum, --max-clock-drift), named in words.
  const options = raftOptionsOfVariant(variant);
  return options === undefined ? undefined : createRaft(options);
}

const isNat = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** A MembershipChange as a record line carries it. */
function isChange(value: unknown): value is MembershipChange {
  if (typeof value !== 'object' || value === null) return false;
  const { type, peer, address } = value as Record<string, unknown>;
  if (!isNat(peer) || peer === 0) return false;
  return type === 'add-learner' ? typeof address === 'string' : type === 'promote' || type === 'remove';
}
/** Addresses by node id: `{"1":"127.0.0.1:7001"}` (Membership.addresses). */
function isAddresses(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([id, address]) => /^[1-9]\d*$/.test(id) && typeof address === 'string');
}
const isDraws = (value: unknown): value is number[] => Array.isArray(value) && value.every((draw) => typeof draw === 'number' && draw >= 0 && draw < 1);

/** Replays every run of a record. Throws a RecordError (one line, naming the line) for a bad file. */
export function replayRecord(text: string): ReplayedRun[] {
  const runs: ReplayedRun[] = [];
  let current: RunReplayer | null = null;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new RecordError('the record is empty');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // A last line cut short (a crash of the machine mid-write; a kill -9 cannot cut a write(2)):
      // replay what came before it, and say so.
      if (index === lines.length - 1 && current !== null && !text.endsWith('\n')) {
        (current as RunReplayer).cut = true;
        return;
      }
      throw new RecordError(`${where}: not JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordError(`${where}: expected a JSON object`);
    const fields = value as Record<string, unknown>;
    if ('ballotRecord' in fields) {
      if (current) runs.push(current.finish());
      current = new RunReplayer(parseHeader(fields, where));
      return;
    }
    if (!current) throw new RecordError(`${where}: the record does not start with a header (is this a ballot --record file?)`);
    current.apply(fields, where);
  });
  runs.push(current!.finish());
  return runs;
}

function parseHeader(fields: Record<string, unknown>, where: string): RecordHeader {
  if (fields.ballotRecord !== RECORD_FORMAT) throw new RecordError(`${where}: record format ${JSON.stringify(fields.ballotRecord)} is not supported (this ballot reads format ${RECORD_FORMAT})`);
  const algorithm = algorithmOf(fields.algorithm, fields.variant);
  if (!algorithm) throw new RecordError(`${where}: unknown algorithm ${JSON.stringify(fields.algorithm)}${fields.variant ? ` variant ${JSON.stringify(fields.variant)}` : ''}`);
  const ids = (value: unknown): value is NodeId[] => Array.isArray(value) && value.every((id) => isNat(id) && id > 0);
  if (!isNat(fields.id) || fields.id === 0) throw new RecordError(`${where}: header: id must be a positive integer`);
  // No voters: a node started with --join (membership.md), in no configuration yet.
  if (!ids(fields.voters) || (fields.voters.length === 0 && !algorithm.membershipChange) || !ids(fields.observers)) throw new RecordError(`${where}: header: voters and observers must be lists of node ids`);
  const timing = fields.timing as Partial<Timing> | undefined;
  if (typeof timing !== 'object' || timing === null || ![timing.electionTimeoutMinMs, timing.electionTimeoutMaxMs, timing.heartbeatMs].every((ms) => typeof ms === 'number' && ms > 0)) {
    throw new RecordError(`${where}: header: timing must give electionTimeoutMinMs, electionTimeoutMaxMs and heartbeatMs`);
  }
  if (!durableSchema(algorithm).safeParse(fields.durable).success) throw new RecordError(`${where}: header: durable is not a valid ${algorithm.name} state`);
  if (!isDraws(fields.draws)) throw new RecordError(`${where}: header: draws must be a list of numbers in [0, 1)`);
  const addresses = fields.addresses;
  if (addresses !== undefined && !isAddresses(addresses)) throw new RecordError(`${where}: header: addresses must map node ids to HOST:PORT strings`);
  return {
    ballotRecord: RECORD_FORMAT,
    algorithm: algorithm.name,
    variant: algorithm.variant ?? null,
    id: fields.id,
    voters: fields.voters,
    observers: fields.observers,
    ...(addresses !== undefined ? { addresses } : {}),
    timing: { electionTimeoutMinMs: timing.electionTimeoutMinMs!, electionTimeoutMaxMs: timing.electionTimeoutMaxMs!, heartbeatMs: timing.heartbeatMs! },
    durable: fields.durable,
    startedAt: typeof fields.startedAt === 'string' ? fields.startedAt : '',
    draws: fields.draws,
  };
}

/** The random source of a replay: the recorded draws of the current input, and no others. */
class RecordedRandom implements Random {
  private draws: readonly number[] = [];
  private next_ = 0;
  where = 'the header';

  serve(draws: readonly number[], where: string): void {
    this.draws = draws;
    this.next_ = 0;
    this.where = where;
  }

  next(): number {
    if (this.next_ >= this.draws.length) throw new ReplayDiverged(`${this.where}: replay diverged: the core drew more random numbers than the node did (was the record made by another version of ballot?)`);
    return this.draws[this.next_++]!;
  }

  /** Every draw served must have been used. */
  check(): void {
    if (this.next_ !== this.draws.length) throw new ReplayDiverged(`${this.where}: replay diverged: the core drew ${this.next_} random numbers, the node drew ${this.draws.length}`);
  }
}

class RunReplayer {
  private readonly random = new RecordedRandom();
  private readonly driver: NodeDriver;
  private readonly validate: (value: unknown) => Message | null;
  /** The members the node started with: who may send, where membership is fixed (membership.md). */
  private readonly members: ReadonlySet<NodeId>;
  /** The algorithm changes its membership at run time: any other node may have become a member (or been told of, by --join). */
  private readonly dynamic: boolean;
  private readonly transitions: Transition[] = [];
  private readonly configurations: ReplayedConfiguration[] = [];
  private step: { atMs: number; events: string[]; status: Status | null } | null = null;
  private inputs = 0;
  private full = false;
  cut = false;
  private lastAt = 0;

  constructor(private readonly header: RecordHeader) {
    const algorithm = algorithmOf(header.algorithm, header.variant)!;
    this.validate = messageValidator(algorithm);
    this.members = new Set([...header.voters, ...header.observers]);
    this.dynamic = algorithm.membershipChange;
    this.random.serve(header.draws, 'header');
    const { id, voters, observers, timing, addresses } = header;
    // The addresses only travel in configuration entries (the core never reads them): the replay's
    // entries carry the node's, as its log did.
    const core = algorithm.create({ id, voters, observers, timing, ...(addresses !== undefined ? { addresses } : {}) }, header.durable, this.random, 0);
    this.random.check();
    this.step = { atMs: 0, events: [], status: null };
    this.driver = new NodeDriver(core, { persist: () => {}, send: () => {}, publish: (event) => this.observe(event) }, 0);
    this.endStep();
  }

  apply(fields: Record<string, unknown>, where: string): void {
    if (this.full) throw new RecordError(`${where}: an input after the record was marked full`);
    const at = fields.at;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < this.lastAt) throw new RecordError(`${where}: "at" must be a time in ms, not before the previous input's`);
    if (fields.kind === 'full') {
      this.full = true;
      return;
    }
    const draws = fields.draws ?? [];
    if (!isDraws(draws)) throw new RecordError(`${where}: draws must be a list of numbers in [0, 1)`);
    let input: Input<Message>;
    if (fields.kind === 'tick') {
      input = { type: 'tick' };
    } else if (fields.kind === 'message') {
      const from = fields.from;
      if (!this.isPeer(from)) throw new RecordError(`${where}: "from" must be another member's id`);
      const message = this.validate(fields.message);
      if (message === null) throw new RecordError(`${where}: not a valid ${this.header.algorithm} message`);
      input = { type: 'message', from, message };
    } else if (fields.kind === 'peer-down' || fields.kind === 'peer-up') {
      const peer = fields.peer;
      if (!this.isPeer(peer)) throw new RecordError(`${where}: "peer" must be another member's id`);
      input = { type: fields.kind, peer };
    } else if (fields.kind === 'transfer-leadership') {
      const to = fields.to;
      if (to !== null && !this.isPeer(to)) throw new RecordError(`${where}: "to" must be another member's id or null`);
      input = { type: 'transfer-leadership', to };
    } else if (fields.kind === 'propose') {
      const { id, command } = fields;
      if (!isNat(id) || typeof command !== 'string') throw new RecordError(`${where}: a propose needs an "id" (a natural number) and a "command" (a string)`);
      input = { type: 'propose', id, command };
    } else if (fields.kind === 'read') {
      const id = fields.id;
      if (!isNat(id)) throw new RecordError(`${where}: a read needs an "id" (a natural number)`);
      input = { type: 'read', id };
    } else if (fields.kind === 'compact') {
      const { index, snapshot } = fields;
      if (!isNat(index) || typeof snapshot !== 'string') throw new RecordError(`${where}: a compact needs an "index" (a natural number) and a "snapshot" (a string)`);
      input = { type: 'compact', index, snapshot };
    } else if (fields.kind === 'change-membership') {
      const { id, change } = fields;
      if (!isNat(id) || !isChange(change)) throw new RecordError(`${where}: a change-membership needs an "id" (a natural number) and a "change" (add-learner with peer and address, promote or remove with peer)`);
      input = { type: 'change-membership', id, change };
    } else {
      throw new RecordError(`${where}: unknown kind ${JSON.stringify(fields.kind)} (expected tick, message, peer-down, peer-up, transfer-leadership, propose, read, compact, change-membership or full)`);
    }
    this.lastAt = at;
    this.inputs++;
    this.random.serve(draws, where);
    this.step = { atMs: at, events: [], status: null };
    this.driver.step(at, input);
    this.random.check();
    this.endStep();
  }

  /** Whether `id` can be another member of the recorded node's cluster. */
  private isPeer(id: unknown): id is NodeId {
    return isNat(id) && id > 0 && id !== this.header.id && (this.dynamic || this.members.has(id));
  }

  finish(): ReplayedRun {
    return { header: this.header, inputs: this.inputs, full: this.full, cut: this.cut, transitions: this.transitions, configurations: this.configurations };
  }

  private observe(event: DriverEvent): void {
    const step = this.step!;
    switch (event.type) {
      case 'input':
      case 'persisted':
        return;
      case 'core':
        // The core's own leadership events say what the driver derives from status (and publishes
        // below): list them once, the driver's way, as every host reports them.
        if (event.event.type === 'election-started') step.events.push(event.event.type);
        if (event.event.type === 'membership-changed') this.configurations.push({ atMs: step.atMs, index: event.event.index, membership: event.event.membership });
        return;
      case 'status':
        step.status = event.status;
        return;
      case 'lost-leadership':
      case 'leader-changed':
      case 'became-leader':
        step.events.push(event.type);
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  /** A step with a status change or an event is a transition. */
  private endStep(): void {
    const step = this.step!;
    this.step = null;
    if (step.status === null && step.events.length === 0) return;
    const status = step.status ?? this.driver.status();
    this.transitions.push({ atMs: step.atMs, role: status.role, leader: status.leader, term: status.term, events: step.events });
  }
}
