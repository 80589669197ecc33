/**
 * The key-value workload of `ballot sim --workload kv[:RATE]` (issue 15): clients drive writes and
 * reads through the nemesis, every node hosts the replicated store (src/kv/store.ts) fed by its core's
 * `committed` and `snapshot-installed` events, the history the clients saw is recorded in virtual time
 * and checked for linearizability at the end (src/check). It speaks only the replication interface of
 * src/core/types.ts, so it drives any core that speaks it (Bully, Raft, ZAB) alike.
 *
 * The clients: a few, each with one operation outstanding, keys from a small set, a mix of put, get,
 * cas and delete. A write is a `propose` of its encoded command; a get is a `read`, served from the
 * store once it has applied the index of `read-ready`. A client sends to the node it believes leads,
 * follows a refusal's `leader` (else tries the next node), and gives an operation up after a timeout:
 * its outcome is then unknown (`complete: null` in the history) and the client goes on elsewhere.
 * A leader answers its client when its store applies the proposed (index, term); a committed entry of
 * another term there means the write failed (it did not take effect), and the client sends it again.
 * Hosts compact their logs every `compactEvery` applied entries, so snapshots are exercised.
 *
 * Everything it draws comes from its own random stream (seed, 'workload'): a run without a workload is
 * the run it always was, event for event.
 */
import { checkLinearizability } from '../check/checker.js';
import { kvModel, type KvInput, type KvOutput } from '../check/kv.js';
import type { KvOperation } from '../check/kv-history.js';
import type { NodeId, ReplicationEvent } from '../core/types.js';
import { encodeKvCommand, KvStore } from '../kv/store.js';
import { roundMs, type Engine, type SimNode } from './engine.js';
import type { SimEvent, SimEventType, Subscriber } from './events.js';
import { EventHeap } from './heap.js';
import { Prng } from '../core/prng.js';
import type { KvSummary, WorkloadOptions } from './types.js';

export type { KvSummary, WorkloadOptions } from './types.js';

export const DEFAULT_KV_RATE = 50;
const DEFAULT_CLIENTS = 4;
const DEFAULT_KEYS = 5;
const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_COMPACT_EVERY = 50;
/** How long a client waits before sending again after a refusal (with a leader named, or none). */
const REDIRECT_DELAY_MS = 1;
const NO_LEADER_DELAY_MS = 25;
/** The linearizability search's budget, in steps: beyond it the answer is "unknown" (null), deterministically. */
const CHECK_STEP_BUDGET = 5_000_000;

/** An operation a client has outstanding. */
interface Pending {
  readonly client: number;
  readonly id: number;
  readonly input: KvInput;
  readonly invoke: number;
  /** The request id of the attempt in flight (a new one for each send). */
  request: number;
}

/** Where a request went: the node (a crash forgets its requests), and, once proposed, its place. */
interface Request {
  readonly id: number;
  readonly op: Pending;
  readonly node: NodeId;
  proposed: { readonly index: number; readonly term: number } | null;
  /** A read: the index the store must have applied (from read-ready). */
  readIndex: number | null;
}

type Task =
  | { readonly time: number; readonly seq: number; readonly kind: 'send'; readonly client: number }
  | { readonly time: number; readonly seq: number; readonly kind: 'timeout'; readonly client: number; readonly request: number }
  | { readonly time: number; readonly seq: number; readonly kind: 'compact'; readonly node: NodeId; readonly incarnation: number };

/** A task without its place in time (distributes over the union). */
type TaskWhat = Task extends infer T ? (T extends Task ? Omit<T, 'time' | 'seq'> : never) : never;

/** An answered write and where it was applied. */
interface Acked {
  readonly index: number;
  readonly term: number;
}

export class Workload implements Subscriber {
  readonly wants: readonly SimEventType[] = ['driver', 'crash', 'status', 'pause', 'resume', 'restart'];
  private readonly random: Prng;
  private readonly rate: number;
  private readonly keys: readonly string[];
  private readonly timeoutMs: number;
  private readonly compactEvery: number;
  private readonly valueChars: number;
  private readonly tasks = new EventHeap<Task>();
  private seq = 0;
  private nextRequest = 1;
  private nextOp = 1;
  /**
   * Per client: the node it runs beside (it reaches only the nodes its home reaches both ways, so a
   * partition splits the clients too), the node it believes leads, its operation outstanding (null while it thinks).
   */
  private readonly home: NodeId[] = [];
  private readonly target: NodeId[] = [];
  private readonly pending: (Pending | null)[] = [];
  private readonly requests = new Map<number, Request>();
  private readonly stores = new Map<NodeId, KvStore>();
  /** Per node: the terms of the entries its store applied, by index (0: unknown, compacted from elsewhere). */
  private readonly terms = new Map<NodeId, number[]>();
  private readonly history: KvOperation[] = [];
  private readonly acked: Acked[] = [];
  private unavailableSince: number | null = 0;
  private unavailableTotalMs = 0;
  private summary: KvSummary | null = null;

  constructor(
    private readonly engine: Engine,
    seed: number,
    options: WorkloadOptions,
  ) {
    this.random = new Prng(seed, 'workload');
    this.rate = options.rate;
    this.keys = Array.from({ length: options.keys ?? DEFAULT_KEYS }, (_, i) => `k${i + 1}`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY;
    this.valueChars = options.valueChars ?? 0;
    for (const node of engine.nodes) {
      this.stores.set(node.id, new KvStore());
      this.terms.set(node.id, []);
    }
    const clients = options.clients ?? DEFAULT_CLIENTS;
    for (let client = 0; client < clients; client++) {
      this.home.push(engine.voters[client % engine.voters.length]!);
      this.target.push(this.random.pick(engine.voters));
      this.pending.push(null);
      this.schedule({ kind: 'send', client }, this.thinkMs());
    }
  }

  // ---- time ---------------------------------------------------------------------------------------

  /** When the next client action is due (Infinity: none). */
  nextTime(): number {
    return this.tasks.peek()?.time ?? Infinity;
  }

  /** Runs the next due action (the engine's clock is already at its time). */
  step(): void {
    const task = this.tasks.pop();
    if (!task) return;
    switch (task.kind) {
      case 'send':
        this.send(task.client);
        return;
      case 'timeout':
        this.timeout(task.client, task.request);
        return;
      case 'compact': {
        const node = this.engine.node(task.node)!;
        if (node.incarnation !== task.incarnation) return;
        const store = this.stores.get(node.id)!;
        this.engine.local(node, { type: 'compact', index: store.applied, snapshot: store.snapshot() });
        return;
      }
    }
  }

  private schedule(task: TaskWhat, afterMs: number): void {
    this.tasks.push({ ...task, time: this.engine.now + afterMs, seq: this.seq++ });
  }

  /** A client's pause between operations: the clients together invoke `rate` operations per second. */
  private thinkMs(): number {
    const meanMs = (1000 * this.pending.length || 1000) / this.rate;
    return meanMs * (0.5 + this.random.next());
  }

  // ---- clients ------------------------------------------------------------------------------------

  /** Sends the client's outstanding operation (a new one if it has none) to the node it believes leads. */
  private send(client: number): void {
    let op = this.pending[client];
    if (!op) {
      op = { client, id: this.nextOp++, input: this.draw(client), invoke: this.engine.now, request: 0 };
      this.pending[client] = op;
    }
    const request = this.nextRequest++;
    op.request = request;
    const node = this.engine.node(this.target[client]!)!;
    this.requests.set(request, { id: request, op, node: node.id, proposed: null, readIndex: null });
    this.schedule({ kind: 'timeout', client, request }, this.timeoutMs);
    // A node that is down, or cut off from the client's home, takes nothing: the client times out.
    const home = this.home[client]!;
    const reachable = home === node.id || (this.engine.network.connected(home, node.id) && this.engine.network.connected(node.id, home));
    if (reachable) this.engine.local(node, op.input.op === 'get' ? { type: 'read', id: request } : { type: 'propose', id: request, command: encodeKvCommand(op.input) });
  }

  private draw(client: number): KvInput {
    const key = this.random.pick(this.keys);
    const tag = `${client + 1}.${this.nextOp}`;
    const value = this.valueChars > tag.length ? tag + 'x'.repeat(this.valueChars - tag.length) : tag;
    const roll = this.random.next();
    if (roll < 0.4) return { op: 'get', key };
    if (roll < 0.7) return { op: 'put', key, value };
    if (roll < 0.85) return { op: 'cas', key, expect: this.random.int(4), value };
    return { op: 'delete', key };
  }

  /** No answer within the timeout: the outcome is unknown; the client tries the next node with a new operation. */
  private timeout(client: number, request: number): void {
    const op = this.pending[client];
    if (!op || op.request !== request) return; // answered, or sent again since
    this.requests.delete(request);
    this.record(op, null, null);
    this.target[client] = this.nextNode(this.target[client]!);
    this.schedule({ kind: 'send', client }, this.thinkMs());
  }

  /** The client is answered: recorded, and it thinks before its next operation. */
  private answer(request: Request, output: KvOutput): void {
    const op = request.op;
    if (this.pending[op.client] !== op || op.request !== request.id) return;
    this.requests.delete(request.id);
    this.record(op, this.engine.now, output);
    if (request.proposed !== null) this.acked.push(request.proposed);
    this.target[op.client] = request.node; // it answered: it leads
    this.schedule({ kind: 'send', client: op.client }, this.thinkMs());
  }

  /** The request was certainly not carried out: send the same operation again, to `to` or the next node. */
  private retry(request: Request, to: NodeId | null): void {
    const op = request.op;
    this.requests.delete(request.id);
    if (this.pending[op.client] !== op || op.request !== request.id) return;
    op.request = 0; // the timeout of the old attempt no longer applies
    this.target[op.client] = to ?? this.nextNode(request.node);
    this.schedule({ kind: 'send', client: op.client }, to === null ? NO_LEADER_DELAY_MS : REDIRECT_DELAY_MS);
  }

  private record(op: Pending, complete: number | null, output: KvOutput | null): void {
    this.pending[op.client] = null;
    this.history.push({ id: op.id, client: op.client + 1, input: op.input, invoke: roundMs(op.invoke), complete: complete === null ? null : roundMs(complete), output });
  }

  private nextNode(after: NodeId): NodeId {
    const voters = this.engine.voters;
    return voters[(voters.indexOf(after) + 1) % voters.length]!;
  }

  // ---- the nodes' hosts -----------------------------------------------------------------------------

  observe(event: SimEvent): void {
    switch (event.type) {
      case 'driver':
        if (event.event.type === 'core') this.onReplication(event.node, event.event.event as ReplicationEvent);
        return;
      case 'crash': {
        // The process and its store are gone; its requests die with it (their clients time out).
        this.stores.set(event.node, new KvStore());
        for (const [id, request] of this.requests) if (request.node === event.node) this.requests.delete(id);
        this.availability();
        return;
      }
      case 'status':
      case 'pause':
      case 'resume':
      case 'restart':
        this.availability();
        return;
      default:
        return;
    }
  }

  private onReplication(id: NodeId, event: ReplicationEvent): void {
    switch (event.type) {
      case 'proposed': {
        const request = this.requests.get(event.id);
        if (request) request.proposed = { index: event.index, term: event.term };
        return;
      }
      case 'request-refused': {
        const request = this.requests.get(event.id);
        if (request) this.retry(request, event.leader);
        return;
      }
      case 'read-ready': {
        const request = this.requests.get(event.id);
        if (!request) return;
        request.readIndex = event.index;
        this.serveReads(id);
        return;
      }
      case 'committed':
        this.apply(id, event.index, event.term, event.command);
        return;
      case 'snapshot-installed':
        this.install(id, event.index, event.term, event.snapshot);
        return;
      default:
        return;
    }
  }

  private apply(id: NodeId, index: number, term: number, command: string): void {
    const store = this.stores.get(id)!;
    const output = store.applyCommitted(index, command);
    const terms = this.terms.get(id)!;
    terms.length = Math.max(terms.length, index);
    terms[index - 1] = term;
    if (store.applied % this.compactEvery === 0) this.schedule({ kind: 'compact', node: id, incarnation: this.engine.node(id)!.incarnation }, 0);
    // The proposer's client learns the outcome of its write at this index.
    for (const request of this.requests.values()) {
      if (request.node !== id || request.proposed?.index !== index) continue;
      if (request.proposed.term === term && output !== null) this.answer(request, output);
      else this.retry(request, null); // another entry won the index: the write did not take effect
      break;
    }
    this.serveReads(id);
  }

  private install(id: NodeId, index: number, term: number, snapshot: string): void {
    this.stores.get(id)!.restore(index, snapshot);
    // The entries it covers: as the node's own log had them (a restart), else as its leader's has them.
    const own = this.terms.get(id)!;
    if (index === 0 || own[index - 1] !== term) {
      const leader = this.engine.node(id)!.status.leader;
      const source = leader !== null && leader !== id ? this.terms.get(leader)! : [];
      const taken = source[index - 1] === term ? source.slice(0, index) : new Array<number>(index).fill(0);
      this.terms.set(id, taken);
    } else {
      own.length = index;
    }
    this.serveReads(id);
  }

  /** Answers the reads at `id` whose read-ready index its store has applied. */
  private serveReads(id: NodeId): void {
    const store = this.stores.get(id)!;
    for (const request of [...this.requests.values()]) {
      if (request.node !== id || request.readIndex === null || store.applied < request.readIndex) continue;
      if (request.op.input.op === 'get') this.answer(request, store.get(request.op.input.key));
    }
  }

  /** Tracks the time during which no node is up, running and believing it leads. */
  private availability(): void {
    const writable = this.engine.nodes.some((n: SimNode) => n.up && n.believesLeader && !this.engine.paused(n));
    const now = this.engine.now;
    if (writable && this.unavailableSince !== null) {
      this.unavailableTotalMs += now - this.unavailableSince;
      this.unavailableSince = null;
    } else if (!writable && this.unavailableSince === null) {
      this.unavailableSince = now;
    }
  }

  // ---- the end --------------------------------------------------------------------------------------

  /** Ends the run: outstanding operations are recorded as unknown, the history is checked, and summed up. */
  finish(): KvSummary {
    if (this.summary) return this.summary;
    for (const op of this.pending) if (op) this.record(op, null, null);
    if (this.unavailableSince !== null) this.unavailableTotalMs += this.engine.now - this.unavailableSince;
    this.unavailableSince = null;
    const history = [...this.history].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
    let steps = 0;
    const checked = checkLinearizability(kvModel, history, {
      onProgress: (progress) => (steps = progress.steps),
      shouldStop: () => steps > CHECK_STEP_BUDGET,
    });
    if (checked.kind === 'not-linearizable') {
      const { partition, operations } = checked.excerpt;
      const describe = (op: KvOperation) => `${kvModel.describeOperation(op.input, op.output)} [${op.invoke}, ${op.complete ?? '∞'}]`;
      this.notLinearizable = `the history (${history.length} operations) is not linearizable on key ${partition}: ${operations.map(describe).join('; ')}`;
    }
    this.summary = {
      ops: this.history.length,
      acked: this.acked.length,
      lostAcked: this.lostAcked(),
      linearizable: checked.kind === 'unknown' ? null : checked.kind === 'linearizable',
      staleReads: staleReads(history),
      unavailableMs: roundMs(this.unavailableTotalMs),
    };
    return this.summary;
  }

  /** After `finish`: why the history is not linearizable (a minimal excerpt), or null. */
  notLinearizable: string | null = null;

  /** The recorded history (after `finish`: with the outstanding operations), in invocation order. */
  operations(): readonly KvOperation[] {
    return [...this.history].sort((a, b) => a.invoke - b.invoke || a.id - b.id);
  }

  /**
   * Answered writes whose entry is not the one the leader at the end (the agreed one, else the live
   * self-believed leader with the highest term, else the node that applied most) applied at its index.
   * An index that leader has not applied, or holds only in a snapshot taken elsewhere, decides nothing.
   */
  private lostAcked(): number {
    const { engine } = this;
    const agreed = engine.agreement()?.leader;
    const leaders = engine.nodes.filter((n) => n.up && n.believesLeader).sort((a, b) => b.status.term - a.status.term);
    const byLength = [...engine.nodes].sort((a, b) => this.terms.get(b.id)!.length - this.terms.get(a.id)!.length);
    const reference = agreed ?? leaders[0]?.id ?? byLength[0]!.id;
    const terms = this.terms.get(reference)!;
    let lost = 0;
    for (const { index, term } of this.acked) {
      const final = terms[index - 1];
      if (final !== undefined && final !== 0 && final !== term) lost++;
    }
    return lost;
  }
}

/**
 * Gets that returned an older version than a write on the same key had been answered with before the
 * get was invoked (a write's answer carries the key's new version; a successful cas too).
 */
export function staleReads(history: readonly KvOperation[]): number {
  let stale = 0;
  for (const read of history) {
    if (read.input.op !== 'get' || read.output?.op !== 'get' || read.output.version === undefined) continue;
    let newest = 0;
    for (const write of history) {
      if (write.input.key !== read.input.key || write.input.op === 'get' || write.complete === null || write.complete >= read.invoke) continue;
      const version = write.output?.op === 'cas' && !write.output.ok ? undefined : write.output?.version;
      if (version !== undefined && version > newest) newest = version;
    }
    if (read.output.version < newest) stale++;
  }
  return stale;
}

/**
 * Reads `kv` or `kv:RATE` (`--workload` of `ballot sim`, `ballot compare` and the sweep): the workload's
 * options, or what is wrong with the text (one line for the user).
 */
export function parseWorkload(text: string): WorkloadOptions | string {
  const match = /^kv(?::(.+))?$/.exec(text);
  if (!match) return `--workload must be kv or kv:RATE (operations per second), got ${JSON.stringify(text)}`;
  if (match[1] === undefined) return { rate: DEFAULT_KV_RATE };
  const rate = Number(match[1]);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000) return `--workload kv:RATE: RATE must be a number of operations per second in (0, 10000], got ${JSON.stringify(match[1])}`;
  return { rate };
}
