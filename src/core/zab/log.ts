/**
 * A server's history (Zab's h_f): the transactions it has logged, each with its zxid, in zxid order,
 * after the snapshot that stands for the ones compacted away.
 *
 * Zxids are laid out in runs: within one epoch a leader numbers its proposals 1, 2, 3 … and every
 * server holds an epoch's proposals from the first on, so an epoch's part of any history is one run of
 * consecutive counters (cut at the front only by a snapshot). The history is stored as those runs plus
 * the commands of its newest entries (older ones carry the empty command: `--history` entries), which
 * keeps a `--history` of a million entries a few numbers long, on disk and in NEWLEADER.
 *
 * Positions (`index`) are 1-based over the whole history, the snapshot's included (types.ts).
 */
import type { Command } from '../types.js';
import { counterOfZxid, epochOfZxid, makeZxid, type SyncMode, type ZabDurable, type ZabRun, type ZabSnapshot } from './messages.js';

/** One entry of a history: its zxid and command. */
export interface ZabEntry {
  readonly index: number;
  readonly zxid: number;
  readonly command: Command;
}

/** A stretch of a history: its runs and the commands of its newest entries (the rest are ''). */
export interface HistorySlice {
  readonly runs: readonly ZabRun[];
  readonly commands: readonly Command[];
}

export class ZabLog {
  private snap: ZabSnapshot;
  private runList: ZabRun[];
  /** The commands of the newest `commandList.length` entries; older ones are ''. */
  private commandList: Command[];
  private last: number;

  constructor(snapshot: ZabSnapshot, slice: HistorySlice) {
    this.snap = snapshot;
    this.runList = slice.runs.filter((run) => run.count > 0).map((run) => ({ ...run }));
    this.last = snapshot.index + this.runList.reduce((sum, run) => sum + run.count, 0);
    this.commandList = slice.commands.slice(Math.max(0, slice.commands.length - (this.last - snapshot.index)));
  }

  get snapshot(): ZabSnapshot {
    return this.snap;
  }

  get lastIndex(): number {
    return this.last;
  }

  get lastZxid(): number {
    const run = this.runList[this.runList.length - 1];
    return run === undefined ? this.snap.zxid : makeZxid(run.epoch, run.first + run.count - 1);
  }

  /** The history after the snapshot, as stored (copies). */
  slice(afterIndex = this.snap.index, upToIndex = this.last): HistorySlice {
    const runs: ZabRun[] = [];
    let index = this.snap.index;
    for (const run of this.runList) {
      const from = Math.max(index + 1, afterIndex + 1);
      const to = Math.min(index + run.count, upToIndex);
      if (from <= to) runs.push({ epoch: run.epoch, first: run.first + (from - index - 1), count: to - from + 1 });
      index += run.count;
    }
    const firstWithCommand = this.last - this.commandList.length + 1;
    const commands = this.commandList.slice(Math.max(0, afterIndex + 1 - firstWithCommand), Math.max(0, upToIndex + 1 - firstWithCommand));
    // Leading '' commands need not travel: only the newest entries' commands are kept.
    let skip = 0;
    while (skip < commands.length && commands[skip] === '') skip++;
    return { runs, commands: commands.slice(skip) };
  }

  /** The zxid at `index` (the snapshot's at its index), or null outside [snapshot, last]. */
  zxidAt(index: number): number | null {
    if (index === this.snap.index) return this.snap.zxid;
    if (index < this.snap.index || index > this.last) return null;
    let start = this.snap.index;
    for (const run of this.runList) {
      if (index <= start + run.count) return makeZxid(run.epoch, run.first + (index - start - 1));
      start += run.count;
    }
    return null;
  }

  /** The position of `zxid` in this history (the snapshot's counts), or null when it is not in it. */
  indexOf(zxid: number): number | null {
    if (zxid === this.snap.zxid) return this.snap.index;
    const epoch = epochOfZxid(zxid);
    const counter = counterOfZxid(zxid);
    let start = this.snap.index;
    for (const run of this.runList) {
      if (run.epoch === epoch && counter >= run.first && counter < run.first + run.count) return start + (counter - run.first) + 1;
      start += run.count;
    }
    return null;
  }

  /** The position of the newest entry whose zxid is at most `zxid` (the snapshot's at least). */
  indexAtMost(zxid: number): number {
    if (zxid >= this.lastZxid) return this.last;
    let start = this.snap.index;
    let found = this.snap.index;
    for (const run of this.runList) {
      const first = makeZxid(run.epoch, run.first);
      if (first > zxid) break;
      found = start + Math.min(run.count, zxid - first + 1);
      start += run.count;
    }
    return found;
  }

  commandAt(index: number): Command {
    const offset = index - (this.last - this.commandList.length + 1);
    return offset >= 0 && offset < this.commandList.length ? this.commandList[offset]! : '';
  }

  entry(index: number): ZabEntry | null {
    const zxid = index > this.snap.index ? this.zxidAt(index) : null;
    return zxid === null ? null : { index, zxid, command: this.commandAt(index) };
  }

  /**
   * The newest zxid of this history in `epoch` that is at most `zxid` (the snapshot's included), or
   * null when this history holds nothing of that epoch at or below it. Two servers that hold the same
   * zxid hold the same history up to it (one leader per epoch, and an epoch's proposals are logged from
   * the first on), so this is how far a learner whose last zxid is `zxid` agrees with this history.
   */
  lastOfEpochAtMost(epoch: number, zxid: number): number | null {
    let found: number | null = epochOfZxid(this.snap.zxid) === epoch && this.snap.zxid <= zxid ? this.snap.zxid : null;
    for (const run of this.runList) {
      if (run.epoch !== epoch) continue;
      const first = makeZxid(run.epoch, run.first);
      if (first > zxid) continue;
      found = Math.min(zxid, makeZxid(run.epoch, run.first + run.count - 1));
    }
    return found;
  }

  /** Logs a transaction after the last; its zxid must follow (same epoch + 1, or a later epoch). */
  append(zxid: number, command: Command): void {
    const epoch = epochOfZxid(zxid);
    const counter = counterOfZxid(zxid);
    const run = this.runList[this.runList.length - 1];
    if (run && run.epoch === epoch && run.first + run.count === counter) this.runList[this.runList.length - 1] = { ...run, count: run.count + 1 };
    else this.runList.push({ epoch, first: counter, count: 1 });
    this.last += 1;
    if (command !== '' || this.commandList.length > 0) this.commandList.push(command);
  }

  /** Drops every entry after `index` (TRUNC); `index` at least the snapshot's. */
  truncateAfter(index: number): void {
    if (index >= this.last) return;
    this.runList = this.slice(this.snap.index, index).runs.slice();
    const drop = this.last - index;
    this.commandList = this.commandList.slice(0, Math.max(0, this.commandList.length - drop));
    this.last = index;
  }

  /** Appends a slice that follows the last entry (DIFF). */
  appendSlice(slice: HistorySlice): void {
    const total = slice.runs.reduce((sum, run) => sum + run.count, 0);
    const firstCommand = total - slice.commands.length;
    let position = 0;
    for (const run of slice.runs) {
      for (let i = 0; i < run.count; i++, position++) {
        this.append(makeZxid(run.epoch, run.first + i), position >= firstCommand ? slice.commands[position - firstCommand]! : '');
      }
    }
  }

  /** Replaces the whole history (SNAP): the snapshot, then the slice after it. */
  replace(snapshot: ZabSnapshot, slice: HistorySlice): void {
    const fresh = new ZabLog(snapshot, slice);
    this.snap = fresh.snap;
    this.runList = fresh.runList;
    this.commandList = fresh.commandList;
    this.last = fresh.last;
  }

  /** Log compaction: `data` holds every entry up to `index` (within the history), which are dropped. */
  compact(index: number, data: string): void {
    const zxid = this.zxidAt(index);
    if (zxid === null || index <= this.snap.index) return;
    const rest = this.slice(index);
    this.snap = { index, zxid, data };
    this.runList = rest.runs.slice();
    this.commandList = this.commandList.slice(Math.max(0, this.commandList.length - (this.last - index)));
  }
}

/**
 * How a learner whose last zxid is `peerZxid` is brought to this history up to `upTo` (ZooKeeper's
 * LearnerHandler.syncFollower): from the position where the two histories part (`baseIndex`), by
 * DIFF when the learner holds nothing beyond it, TRUNC when it does; by SNAP (this history's snapshot,
 * then its entries) when that position was compacted away or cannot be known.
 *
 * Where they part: the learner's last zxid itself when this history holds it; else this history's
 * newest zxid of the learner's last epoch below it — two histories that hold one zxid agree up to it
 * (one leader per epoch, and every server logs an epoch's proposals from its first), and the learner,
 * holding a later zxid of that epoch, holds that one.
 */
export function syncPoint(log: ZabLog, peerZxid: number, upTo: number): { readonly sync: SyncMode; readonly baseIndex: number } {
  let at = log.indexOf(peerZxid);
  if (at === null) {
    const common = log.lastOfEpochAtMost(epochOfZxid(peerZxid), peerZxid);
    at = common === null ? null : log.indexOf(common);
  }
  if (at === null) return { sync: 'snap', baseIndex: log.snapshot.index };
  const baseIndex = Math.min(at, upTo);
  return { sync: peerZxid > log.zxidAt(baseIndex)! ? 'trunc' : 'diff', baseIndex };
}

export { encodedLength, utf8Length } from '../limits.js';

/**
 * The history held in a durable state. The fields are written only when `lastZxid` alone cannot say
 * it (historyFields); without them the history is `lastZxid`'s counter entries of its epoch with empty
 * commands (how `--history N` reads, and every state written before replication), or, with a counter
 * of 0, nothing but that position.
 */
export function historyOf(durable: ZabDurable): ZabLog {
  const snapshot = durable.snapshot ?? { index: 0, zxid: 0, data: '' };
  if (durable.runs !== undefined || durable.snapshot !== undefined) return new ZabLog(snapshot, { runs: durable.runs ?? [], commands: durable.commands ?? [] });
  const epoch = epochOfZxid(durable.lastZxid);
  const count = counterOfZxid(durable.lastZxid);
  if (count === 0) return new ZabLog({ index: 0, zxid: makeZxid(epoch, 0), data: '' }, { runs: [], commands: [] });
  return new ZabLog(snapshot, { runs: [{ epoch, first: 1, count }], commands: [] });
}

/**
 * The durable fields of a history: none when `lastZxid` says it all (historyOf), so that a state
 * without commands reads and writes as it did before replication; else its runs, commands and snapshot.
 */
export function historyFields(log: ZabLog): Pick<ZabDurable, 'lastZxid' | 'runs' | 'commands' | 'snapshot'> {
  const lastZxid = log.lastZxid;
  const { runs, commands } = log.slice();
  const snapshot = log.snapshot;
  const run = runs[0];
  const plain = snapshot.index === 0 && snapshot.zxid === 0 && commands.length === 0 && runs.length <= 1 && (run === undefined || run.first === 1);
  if (plain) return { lastZxid };
  return { lastZxid, runs, commands, ...(snapshot.index > 0 || snapshot.zxid > 0 ? { snapshot } : {}) };
}
