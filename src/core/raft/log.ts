/**
 * A Raft node's log (Ongaro & Ousterhout 2014, §5.3) with its snapshot (§7): 1-based indexes, entries up
 * to the snapshot's index compacted away. It knows nothing of terms of office, leaders or messages — only
 * positions, the consistency check's arithmetic and the bounds of one AppendEntries.
 *
 * The entries handed out with the durable state (`durable()`) are never changed afterwards: the host may
 * still hold them (the simulator keeps the last persisted state, a crash restores it), so the log copies
 * its array before the first change that follows (copy on write).
 */
import type { Command, Membership } from '../types.js';
import { membershipChars } from './membership.js';
import type { LogEntry, RaftDurable, RaftSnapshot } from './messages.js';

/** What `merge` returns when the log already held every entry (shared: a heartbeat allocates nothing for it). */
const UNCHANGED = Object.freeze({ changed: false, deletedFrom: null });

export class RaftLog {
  private entries: LogEntry[];
  /** `entries` was handed out (durable): copy it before changing it. */
  private shared = true;
  private snapshotHeld: RaftSnapshot | null;

  constructor(durable: Pick<RaftDurable, 'log' | 'snapshot'>) {
    this.entries = durable.log as LogEntry[];
    this.snapshotHeld = durable.snapshot ?? null;
  }

  get snapshot(): RaftSnapshot | null {
    return this.snapshotHeld;
  }

  snapshotIndex(): number {
    return this.snapshotHeld === null ? 0 : this.snapshotHeld.index;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex())!;
  }

  /** The term of the entry at `index` (0 for index 0, the snapshot's at its index), or undefined when it is not held. */
  termAt(index: number): number | undefined {
    const snapshotIndex = this.snapshotIndex();
    if (index === snapshotIndex) return this.snapshotHeld === null ? 0 : this.snapshotHeld.term;
    if (index < snapshotIndex) return undefined;
    return this.entries[index - snapshotIndex - 1]?.term;
  }

  /** The entry at `index`, which must be held (after the snapshot, at most the last). */
  entryAt(index: number): LogEntry {
    const entry = this.entries[index - this.snapshotIndex() - 1];
    if (entry === undefined) throw new Error(`raft: no entry ${index} in the log (${this.snapshotIndex()} compacted, last ${this.lastIndex()})`);
    return entry;
  }

  /** Appends an entry of `term` (a configuration entry when `membership` is given); returns its index. */
  append(term: number, command: Command, membership?: Membership): number {
    this.writable().push(membership === undefined ? { term, command } : { term, command, membership });
    return this.lastIndex();
  }

  /**
   * The latest configuration the log holds (thesis §4.1), with its entry's index: the newest
   * configuration entry, else the snapshot's configuration (at the snapshot's index); null when neither
   * holds one. Scans back from the end: configuration entries are rare, and this runs at start and
   * when a configuration entry arrives or is deleted.
   */
  latestMembership(): { readonly index: number; readonly membership: Membership } | null {
    const snapshotIndex = this.snapshotIndex();
    for (let k = this.entries.length - 1; k >= 0; k--) {
      const membership = this.entries[k]!.membership;
      if (membership !== undefined) return { index: snapshotIndex + 1 + k, membership };
    }
    const snapshot = this.snapshotHeld;
    return snapshot?.membership === undefined ? null : { index: snapshot.index, membership: snapshot.membership };
  }

  /**
   * §5.3, Figure 2: "If an existing entry conflicts with a new one (same index but different terms),
   * delete the existing entry and all that follow it. Append any new entries not already in the log."
   * Entries that match are kept (a reordered, older AppendEntries never truncates what a newer one
   * brought). `entries` start at prevIndex + 1, which must be at or after the snapshot. Returns whether
   * the log changed, and the first index deleted (null: none).
   */
  merge(prevIndex: number, entries: readonly LogEntry[]): { readonly changed: boolean; readonly deletedFrom: number | null } {
    for (let k = 0; k < entries.length; k++) {
      const index = prevIndex + 1 + k;
      const existing = this.termAt(index);
      if (existing === entries[k]!.term) continue;
      const log = this.writable();
      if (existing !== undefined) log.length = index - 1 - this.snapshotIndex();
      for (let j = k; j < entries.length; j++) log.push(entries[j]!);
      return { changed: true, deletedFrom: existing === undefined ? null : index };
    }
    return UNCHANGED; // a heartbeat's empty list, or entries already held
  }

  /**
   * After a failed consistency check at `prevIndex`: the highest index that may still match (the
   * optimization at the end of §5.3) — below our last index, and below every entry of the conflicting
   * term, so the leader skips a whole term per round trip rather than one entry.
   */
  conflictHint(prevIndex: number): number {
    const last = this.lastIndex();
    if (prevIndex > last) return last;
    const conflictTerm = this.termAt(prevIndex);
    let index = prevIndex - 1;
    while (index > this.snapshotIndex() && this.termAt(index) === conflictTerm) index--;
    return index;
  }

  /**
   * The entries from `next` on that one AppendEntries carries: at most `maxEntries`, and at most
   * `maxChars` characters of commands (one longer entry goes alone).
   */
  batchFrom(next: number, maxEntries: number, maxChars: number): LogEntry[] {
    const batch: LogEntry[] = [];
    let chars = 0;
    for (let index = next; index <= this.lastIndex() && batch.length < maxEntries; index++) {
      const entry = this.entryAt(index);
      // A configuration entry weighs its JSON (ASCII: a byte a character, within the 6 a command's may take).
      chars += (entry.command?.length ?? 0) + (entry.membership === undefined ? 0 : membershipChars(entry.membership));
      if (batch.length > 0 && chars > maxChars) break;
      batch.push(entry);
    }
    return batch;
  }

  /**
   * §7: `data` holds every entry up to `index` (held, after the snapshot): keep it and drop them. The
   * snapshot records the latest configuration as of `index` (paper §7), when there is one.
   */
  compact(index: number, data: string): void {
    const snapshot = this.compacted(index, data);
    this.entries = this.entries.slice(index - this.snapshotIndex());
    this.shared = false;
    this.snapshotHeld = snapshot;
  }

  /** The snapshot `compact(index, data)` would hold: its last entry's term, and the configuration as of it. */
  compacted(index: number, data: string): RaftSnapshot {
    const term = this.termAt(index)!;
    let membership = this.snapshotHeld?.membership;
    for (let k = index - this.snapshotIndex() - 1; k >= 0; k--) {
      const entry = this.entries[k]!;
      if (entry.membership !== undefined) {
        membership = entry.membership;
        break;
      }
    }
    return membership === undefined ? { index, term, data } : { index, term, data, membership };
  }

  /**
   * §7, Figure 13: a snapshot from the leader replaces the log — all of it, unless the log holds the
   * snapshot's last entry (same index and term): then the entries after it are kept (step 6).
   */
  install(snapshot: RaftSnapshot): void {
    this.entries = this.termAt(snapshot.index) === snapshot.term ? this.entries.slice(snapshot.index - this.snapshotIndex()) : [];
    this.shared = false;
    this.snapshotHeld = snapshot;
  }

  /** The log's part of the durable state; never changed afterwards. */
  durable(): Pick<RaftDurable, 'log' | 'snapshot'> {
    this.shared = true;
    return this.snapshotHeld === null ? { log: this.entries } : { log: this.entries, snapshot: this.snapshotHeld };
  }

  private writable(): LogEntry[] {
    if (this.shared) {
      this.entries = this.entries.slice();
      this.shared = false;
    }
    return this.entries;
  }
}
