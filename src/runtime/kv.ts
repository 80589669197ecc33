/**
 * The replicated key-value store on a real node (issue 15): the node's one KvStore (src/kv/store.ts),
 * fed by the core's replication events, and the requests of its clients (HTTP, kv-http.ts; embedders).
 *
 * Any core that speaks the replication interface of src/core/types.ts works here:
 * - a write is a `propose` input; the leader answers `proposed {id, index, term}`; the client is
 *   answered when the store applies the `committed` entry at that index: with the store's result when
 *   its term is the proposal's, 'lost' when another term's entry committed there (the write certainly
 *   did not take effect: Raft §5.3's Log Matching), 'unknown' when nothing is known in time;
 * - a linearizable read is a `read` input; it is served from the local store once the store has
 *   applied `read-ready`'s index (Raft ReadIndex, §6.4 of the thesis);
 * - `request-refused` (not the leader) comes back as 'not-leader', for a redirect;
 * - every `compactEvery` applied entries, the node hands the core a `compact` input with the store's
 *   snapshot (Raft §7), and `snapshot-installed` replaces the store.
 *
 * The service never touches the network or the clock itself: `submit` hands an input to the node's
 * host loop (which batches the inputs of one event-loop turn: one fsync for all, group commit), and
 * timers bound how long a client waits.
 */
import type { KvInput, KvOutput } from '../check/kv.js';
import type { Input, Message, NodeId, ReplicationEvent } from '../core/types.js';
import { MAX_CHUNKED_SNAPSHOT_CHARS } from '../core/limits.js';
import { encodeKvCommand, KvStore, type SnapshotText } from '../kv/store.js';
import { PendingRequests, RequestIds, type Waiting } from './requests.js';

/** What a client's request came to. */
export type KvOutcome =
  | { readonly type: 'done'; readonly output: KvOutput }
  /** This node does not lead (or no longer): `leader` is the one it knows, for a redirect. */
  | { readonly type: 'not-leader'; readonly leader: NodeId | null }
  /** Another entry committed at the write's index: it did not take effect and never will. */
  | { readonly type: 'lost' }
  /** No answer in time (leadership lost, a partition, a snapshot that covered it): it may or may not take effect. */
  | { readonly type: 'unknown' }
  /** The node stopped before an answer. */
  | { readonly type: 'stopped' }
  /**
   * Refused before it was proposed: applied, it would make the store's snapshot longer than a snapshot
   * may be (`limit`, characters), and a store that cannot be snapshotted cannot compact its log.
   */
  | { readonly type: 'full'; readonly snapshotLength: number; readonly limit: number };

/** The writes: a read (get) is not logged. */
export type KvWrite = Exclude<KvInput, { op: 'get' }>;

export interface KvOptions {
  /** Compact the log every this many applied entries (default DEFAULT_COMPACT_EVERY; 0: never). */
  readonly compactEvery?: number;
  /**
   * Where in the cycle of `compactEvery` entries this node compacts, a fraction in [0, 1) (default 0):
   * its compactions come that share of a cycle earlier. Members with different phases (compactionPhase)
   * do not compact at the same index: writing a large snapshot stalls a node (docs/runtime.md,
   * Durability), and a leader whose followers all stalled at once lost its quorum's answers and stepped
   * down at each compaction.
   */
  readonly compactionPhase?: number;
  /**
   * Called when a compaction is due, before the core is handed it: `ready` hands it over. The node
   * writes the snapshot's file ahead there (DurableStore.prepareField), so that the compaction's own
   * persist does not stall the node for the write. `snapshot` comes with the pieces it is joined from
   * (SnapshotText), which the writer is sent rather than the string. Default: at once.
   */
  readonly prepareCompaction?: (index: number, snapshot: SnapshotText, ready: () => void) => void;
  /** A request not answered within this time is answered 'unknown' (default DEFAULT_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
  /**
   * The longest the store's snapshot may grow (characters; default DEFAULT_MAX_SNAPSHOT_LENGTH): a write
   * that would pass it is answered 'full' rather than proposed.
   */
  readonly maxSnapshotLength?: number;
  /** The node's request ids, when other services submit requests too (membership.ts). */
  readonly ids?: RequestIds;
}

export const DEFAULT_COMPACT_EVERY = 10_000;

/**
 * The store's snapshot stops growing below the largest snapshot a core keeps (MAX_CHUNKED_SNAPSHOT_CHARS,
 * 16 MiB characters; a longer `compact` is ignored, so the log would grow for ever), less 64 KiB: the
 * writes admitted at once are counted, but the snapshot's header and a key written twice while both
 * writes wait move it by a few characters more.
 */
export const DEFAULT_MAX_SNAPSHOT_LENGTH = MAX_CHUNKED_SNAPSHOT_CHARS - 64 * 1024;

/** Member `id`'s compaction phase: the fractional parts of multiples of the golden ratio, spread for any cluster size. */
export function compactionPhase(id: NodeId): number {
  return ((id - 1) * 0.6180339887498949) % 1;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** The numbers of /metrics (ballot_kv_*). */
export interface KvNumbers {
  readonly applied: number;
  readonly keys: number;
  readonly compactions: number;
  readonly snapshotsInstalled: number;
  /** Answers to clients, by outcome (done, not-leader, lost, unknown, stopped). */
  readonly outcomes: ReadonlyMap<KvOutcome['type'], number>;
  readonly pending: number;
}

/** A write waits at its proposal's index; a read (`key`) at read-ready's index, which it stores in `index`. */
type KvRequest = Waiting<KvOutcome, KvFields>;

/** A request's own fields: the key of a read (null: a write), and how much a write may grow the snapshot. */
interface KvFields {
  readonly key: string | null;
  readonly growth: number;
}

export class KvService {
  readonly store = new KvStore();
  private readonly requests: PendingRequests<KvOutcome, KvFields>;
  /** Reads whose read-ready index the store has not applied yet. */
  private readonly readsWaiting = new Set<KvRequest>();
  private readonly compactEvery: number;
  private readonly prepareCompaction: (index: number, snapshot: SnapshotText, ready: () => void) => void;
  /** compactEvery × the phase: entries by which this node's compactions come early. */
  private readonly compactionLead: number;
  private compactedAt: number;
  private compactions = 0;
  private snapshotsInstalled = 0;
  private readonly maxSnapshotLength: number;
  /** What the writes admitted and not yet answered may add to the snapshot (their growth, when positive). */
  private pendingGrowth = 0;

  constructor(
    /** Hands an input to the node's host loop. */
    private readonly submit: (input: Input<Message>) => void,
    options: KvOptions = {},
  ) {
    this.compactEvery = options.compactEvery ?? DEFAULT_COMPACT_EVERY;
    this.compactionLead = Math.floor((options.compactionPhase ?? 0) * this.compactEvery);
    this.compactedAt = -this.compactionLead;
    this.prepareCompaction = options.prepareCompaction ?? ((_index, _snapshot, ready) => ready());
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxSnapshotLength = options.maxSnapshotLength ?? DEFAULT_MAX_SNAPSHOT_LENGTH;
    this.requests = new PendingRequests<KvOutcome, KvFields>(options.ids ?? new RequestIds(), timeoutMs, { type: 'unknown' }, { type: 'stopped' }, (request) => {
      this.readsWaiting.delete(request);
      this.pendingGrowth -= request.growth;
    });
  }

  /**
   * Replicates `write`; resolves with the store's result once this node has applied it — or at once
   * with 'full' when, with the writes already waiting, it would grow the snapshot past its bound (a
   * write that shrinks it, a delete, always goes ahead).
   */
  write(write: KvWrite): Promise<KvOutcome> {
    const growth = Math.max(0, this.store.growth(write));
    const snapshotLength = this.store.snapshotLength + this.pendingGrowth;
    if (growth > 0 && snapshotLength + growth > this.maxSnapshotLength) {
      return Promise.resolve(this.requests.count({ type: 'full', snapshotLength, limit: this.maxSnapshotLength }));
    }
    return this.requests.start({ key: null, growth }, (id) => {
      this.pendingGrowth += growth; // until answered (onAnswered); a node stopped starts nothing
      this.submit({ type: 'propose', id, command: encodeKvCommand(write) });
    });
  }

  /** A linearizable read of `key` (a read barrier, then the local store). */
  read(key: string): Promise<KvOutcome> {
    return this.requests.start({ key, growth: 0 }, (id) => this.submit({ type: 'read', id }));
  }

  /** The local store's value of `key` now (`?stale=1`): possibly behind the leader. */
  readStale(key: string): KvOutput {
    return this.store.get(key);
  }

  /** The core's replication events, in the order the driver reports them. */
  onEvent(event: ReplicationEvent): void {
    switch (event.type) {
      case 'proposed': {
        const request = this.requests.get(event.id);
        if (request?.key === null) this.requests.proposed(event.id, event.index, event.term);
        return;
      }
      case 'request-refused': {
        const request = this.requests.get(event.id);
        if (request) this.requests.finish(request, { type: 'not-leader', leader: event.leader });
        return;
      }
      case 'committed': {
        const output = this.store.applyCommitted(event.index, event.command);
        const waiting = this.requests.committed(event.index, event.term);
        if (waiting) this.requests.finish(waiting.request, waiting.same && output !== null ? { type: 'done', output } : { type: 'lost' });
        this.applied();
        return;
      }
      case 'snapshot-installed': {
        this.store.restore(event.index, event.snapshot);
        this.compactedAt = event.index - this.compactionLead;
        this.snapshotsInstalled++;
        // Writes the snapshot covers: whether each is in it (in its term) is not known here.
        this.requests.coveredBy(event.index);
        this.applied();
        return;
      }
      case 'read-ready': {
        const read = this.requests.get(event.id);
        if (!read || read.key === null) return;
        read.index = event.index;
        if (this.store.applied >= read.index) this.serve(read);
        else this.readsWaiting.add(read);
        return;
      }
      case 'membership-changed':
        return; // the store's state does not depend on who the members are
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  numbers(): KvNumbers {
    return {
      applied: this.store.applied,
      keys: this.store.size,
      compactions: this.compactions,
      snapshotsInstalled: this.snapshotsInstalled,
      outcomes: this.requests.outcomes,
      pending: this.requests.size,
    };
  }

  /** The node stops: every waiting client is answered 'stopped'. */
  close(): void {
    this.requests.close();
  }

  /** After the store advanced: serve the reads it now covers, and compact when due. */
  private applied(): void {
    const applied = this.store.applied;
    for (const read of this.readsWaiting) {
      if (read.index <= applied) this.serve(read);
    }
    if (this.compactEvery > 0 && applied - this.compactedAt >= this.compactEvery) {
      this.compactedAt = applied;
      this.compactions++;
      const snapshot = this.store.snapshotText();
      this.prepareCompaction(applied, snapshot, () => this.submit({ type: 'compact', index: applied, snapshot: snapshot.text }));
    }
  }

  private serve(read: KvRequest): void {
    this.requests.finish(read, { type: 'done', output: this.store.get(read.key!) });
  }
}
