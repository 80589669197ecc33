/**
 * A node's durable history at the start of a run (`ballot sim --history`): runs of entries by term,
 * oldest first. `[{ term: 1, entries: 3 }, { term: 2, entries: 2 }]` (written `1:3+2:2`) is three
 * entries of term 1 then two of term 2; a bare number N keeps its old meaning, N entries of term 1.
 * Each algorithm reads it in its own terms (Algorithm.initialDurable): Raft as its log, ZAB as the
 * summary of its history (the last zxid), Bully not at all.
 */
export interface HistoryRun {
  /** Raft: the entries' term; ZAB: their epoch. At least 1; strictly increasing along a history. */
  readonly term: number;
  readonly entries: number;
}

export type History = number | readonly HistoryRun[];

/** The runs of a history, oldest first (a bare N is one run of term 1; N = 0 is no run). */
export function historyRuns(history: History): readonly HistoryRun[] {
  if (typeof history === 'number') return history > 0 ? [{ term: 1, entries: history }] : [];
  return history.filter((run) => run.entries > 0);
}

/** The term of the newest entry, 0 for an empty history. */
export function lastHistoryTerm(history: History): number {
  const runs = historyRuns(history);
  return runs.length === 0 ? 0 : runs[runs.length - 1]!.term;
}
