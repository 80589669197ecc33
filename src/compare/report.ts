/**
 * The comparison as tables: the source documents' table measured, then the details by cluster size and the odd
 * versus even question. One table model, rendered as aligned text (terminal), Markdown (the docs) or
 * HTML (the page).
 */
import { findAlgorithm } from '../core/index.js';
import type { ScenarioName } from '../sim/index.js';
import type { CellSummary, Summary } from './metrics.js';
import type { CompareResult } from './run.js';

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Each column's alignment in text; absent: the first column left, the others (numbers) right. */
  readonly align?: readonly ('left' | 'right')[];
  /** Sentences under the table: definitions and caveats. */
  readonly notes?: readonly string[];
}

/** The textbook's count of messages for one election, where the algorithm declares one (Algorithm.textbookMessages). */
export function textbookMessages(algorithm: string, n: number): { readonly text: string; readonly value: number } | null {
  return findAlgorithm(algorithm)?.textbookMessages?.(n) ?? null;
}

// ---- number formats ---------------------------------------------------------------------------------

const dash = '–';
const int = (v: number): string => (Number.isFinite(v) ? String(Math.round(v)) : dash);
const one = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : dash);
const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : dash);
const p50p99 = (s: Summary): string => (s.count === 0 ? dash : `${int(s.p50)} / ${int(s.p99)}`);

export class CellIndex {
  private readonly byKey = new Map<string, CellSummary>();
  constructor(result: CompareResult) {
    for (const cell of result.cells) this.byKey.set(CellIndex.key(cell.summary.algorithm, cell.summary.nodes, cell.summary.scenario), cell.summary);
  }
  static key(algorithm: string, nodes: number, scenario: string): string {
    return `${algorithm}/${nodes}/${scenario}`;
  }
  get(algorithm: string, nodes: number, scenario: ScenarioName): CellSummary | undefined {
    return this.byKey.get(CellIndex.key(algorithm, nodes, scenario));
  }
}

/** The size the headline table is about: 5 when measured (the source documents' usual example), else the middle one. */
export function headlineSize(sizes: readonly number[]): number {
  if (sizes.includes(5)) return 5;
  const sorted = [...sizes].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The scenario whose elections stand for "an election" in the headline: the failover if measured. */
function failoverScenario(scenarios: readonly ScenarioName[]): ScenarioName | undefined {
  return (['leader-crash', 'cold-start', 'partition', 'flapping'] as const).find((s) => scenarios.includes(s));
}

export function comparisonTables(result: CompareResult): Table[] {
  const { grid } = result;
  const cells = new CellIndex(result);
  const names = result.algorithms.map((a) => a.name);
  const n = headlineSize(grid.sizes);
  const has = (s: ScenarioName) => grid.scenarios.includes(s);
  const failover = failoverScenario(grid.scenarios);
  const tables: Table[] = [];

  // 1. The source documents' table, measured, at one size: one row per property, one column per algorithm.
  const rows: string[][] = [];
  const row = (label: string, value: (name: string) => string) => rows.push([label, ...names.map(value)]);
  if (has('cold-start')) row('election time, cold start, p50 / p99 ms', (a) => p50p99(cells.get(a, n, 'cold-start')!.electionMs));
  if (has('leader-crash')) row('election time, leader crash, p50 / p99 ms', (a) => p50p99(cells.get(a, n, 'leader-crash')!.electionMs));
  if (failover) {
    row(`messages per election (${failover}), mean: all / election types`, (a) => {
      const c = cells.get(a, n, failover)!;
      return `${one(c.messages.mean)} / ${one(c.electionMessages.mean)}`;
    });
    row('election messages per candidacy, mean', (a) => one(cells.get(a, n, failover)!.electionMessagesPerCandidacy.mean));
    row('textbook messages per election', (a) => textbookMessages(a, n)?.text ?? dash);
    row(`elections with more than one candidacy (${failover})`, (a) => pct(cells.get(a, n, failover)!.extraCandidacyShare));
    row(`elections that needed a second round, more than one term (${failover})`, (a) => pct(cells.get(a, n, failover)!.newRoundShare));
  }
  if (has('flapping')) row('leader changes under flapping, mean / max per run', (a) => {
    const c = cells.get(a, n, 'flapping')!;
    return `${one(c.leaderChanges.mean)} / ${int(c.leaderChanges.max)}`;
  });
  if (has('partition')) row('dual-leader time under partition, mean ms (runs with any)', (a) => {
    const c = cells.get(a, n, 'partition')!;
    return `${int(c.dualLeaderMs.mean)} (${pct(c.dualLeaderShare)})`;
  });
  row('lease overlap, all scenarios: total ms (runs with any)', (a) => {
    const scenarioCells = grid.scenarios.map((s) => cells.get(a, n, s)!);
    const total = scenarioCells.reduce((sum, c) => sum + c.leaseOverlapMs.mean * c.trials, 0);
    const runs = scenarioCells.reduce((sum, c) => sum + Math.round(c.leaseOverlapShare * c.trials), 0);
    return `${int(total)} (${runs} of ${scenarioCells.reduce((sum, c) => sum + c.trials, 0)})`;
  });
  const healed = (['partition', 'leader-isolate'] as const).filter(has);
  if (healed.length > 0) row(`leader changes after a heal (${healed.join(', ')}), mean / max per run`, (a) => {
    const summaries = healed.map((s) => cells.get(a, n, s)!.leaderChangesAfterHeal);
    const count = summaries.reduce((sum, s) => sum + s.count, 0);
    const mean = count === 0 ? NaN : summaries.reduce((sum, s) => sum + (s.count === 0 ? 0 : s.mean * s.count), 0) / count;
    return `${one(mean)} / ${int(Math.max(...summaries.map((s) => (s.count === 0 ? 0 : s.max))))}`;
  });
  row('durable state per node, bytes (fresh / largest at the end of a run)', (a) => {
    const info = result.algorithms.find((x) => x.name === a)!;
    const largest = Math.max(...grid.scenarios.map((s) => cells.get(a, n, s)!.durableBytes));
    return `${info.initialDurableBytes} / ${largest}`;
  });
  if (grid.workload) {
    // The key-value workload's rows (docs/comparison.md, "With clients"): what replication costs the clients.
    const kvCells = (a: string) => grid.scenarios.map((s) => cells.get(a, n, s)!.kv!);
    const runsOf = (a: string) => grid.scenarios.reduce((sum, s) => sum + cells.get(a, n, s)!.trials, 0);
    row('acknowledged writes lost, all scenarios: lost / acknowledged (runs with any)', (a) => {
      const kv = kvCells(a);
      const runs = grid.scenarios.reduce((sum, s) => sum + Math.round(cells.get(a, n, s)!.kv!.lostAckedShare * cells.get(a, n, s)!.trials), 0);
      return `${kv.reduce((sum, c) => sum + c.lostAcked, 0)} / ${kv.reduce((sum, c) => sum + c.acked, 0)} (${runs} of ${runsOf(a)})`;
    });
    for (const scenario of grid.scenarios.filter((s) => s !== 'cold-start')) {
      row(`time without a writable leader (${scenario}), p50 / p99 ms per run`, (a) => p50p99(cells.get(a, n, scenario)!.kv!.unavailableMs));
    }
    row('reads served stale, all scenarios: total (runs with any)', (a) => {
      const runs = grid.scenarios.reduce((sum, s) => sum + Math.round(cells.get(a, n, s)!.kv!.staleReadShare * cells.get(a, n, s)!.trials), 0);
      return `${kvCells(a).reduce((sum, c) => sum + c.staleReads, 0)} (${runs} of ${runsOf(a)})`;
    });
    row('histories not linearizable, all scenarios (undecided)', (a) => {
      const kv = kvCells(a);
      return `${kv.reduce((sum, c) => sum + c.notLinearizable, 0)} of ${runsOf(a)} (${kv.reduce((sum, c) => sum + c.undecided, 0)})`;
    });
  }
  row(`crashed voters tolerated (of ${n})`, (a) => String(result.algorithms.find((x) => x.name === a)!.faultsTolerated[n]));
  row('invariant violations (all scenarios)', (a) => String(grid.scenarios.reduce((sum, s) => sum + cells.get(a, n, s)!.violations, 0)));
  tables.push({
    title: `The source documents' comparison, measured: ${n} nodes, ${grid.trials} seeded runs per scenario`,
    columns: ['', ...names],
    rows,
    notes: [
      'Election time: from the loss of the leader (or the start) until every live node on the leader\'s side agrees on it.',
      `Election types: message types a settled cluster never sends (${result.algorithms.map((a) => `${a.name}: ${a.electionTypes.join(', ') || dash}`).join('; ')}).`,
    ],
  });

  // 2. Election time by size and scenario.
  tables.push({
    title: 'Election time by cluster size, p50 / p99 ms',
    columns: ['algorithm', 'nodes', ...grid.scenarios],
    rows: names.flatMap((a) => grid.sizes.map((size) => [a, String(size), ...grid.scenarios.map((s) => p50p99(cells.get(a, size, s)!.electionMs))])),
    notes: [
      'cold-start: the first election; other scenarios: every election that starts at or after the first fault (flapping: only the crashes that hit the leader cause one).',
    ],
  });

  // 3. Messages per election by size.
  const messageScenarios = (['cold-start', 'leader-crash'] as const).filter(has);
  if (messageScenarios.length > 0) {
    tables.push({
      title: 'Messages per election, mean: all / election types / election types per round',
      columns: ['algorithm', 'nodes', ...messageScenarios, 'textbook'],
      rows: names.flatMap((a) =>
        grid.sizes.map((size) => [
          a,
          String(size),
          ...messageScenarios.map((s) => {
            const c = cells.get(a, size, s)!;
            return `${one(c.messages.mean)} / ${one(c.electionMessages.mean)} / ${one(c.electionMessagesPerCandidacy.mean)}`;
          }),
          textbookMessages(a, size)?.text ?? dash,
        ]),
      ),
      notes: [
        'all: every message sent during the election period, heartbeats included; election types: without the types a settled cluster keeps sending.',
        'After a crash the dead node still receives requests (they are sent, then lost), so Raft sends (n−1) + (n−2) per round there.',
      ],
    });
  }

  // 4. Failed rounds, stability, split brain.
  const failedScenarios = grid.scenarios.filter((s) => s !== 'flapping');
  tables.push({
    title: 'Extra candidacies and new rounds per election, mean (share of elections with any): extra candidacies / new rounds',
    columns: ['algorithm', 'nodes', ...failedScenarios],
    rows: names.flatMap((a) =>
      grid.sizes.map((size) => [
        a,
        String(size),
        ...failedScenarios.map((s) => {
          const c = cells.get(a, size, s)!;
          return c.elections === 0
            ? dash
            : `${c.extraCandidacies.mean.toFixed(2)} (${pct(c.extraCandidacyShare)}) / ${c.newRounds.mean.toFixed(2)} (${pct(c.newRoundShare)})`;
        }),
      ]),
    ),
    notes: [
      'candidacies: elections any node started in the period (Raft: a node became candidate); terms: the distinct terms (ZAB: epochs, Bully: generations) they were for.',
      'extra candidacies = candidacies − 1 (competing candidates in one term and new rounds alike); new rounds = terms − 1 (a round failed and another began: Raft after a split vote).',
    ],
  });

  if (has('flapping') || has('partition')) {
    tables.push({
      title: 'Stability and split brain',
      columns: [
        'algorithm',
        'nodes',
        ...(has('flapping') ? ['flapping: leader changes mean / max'] : []),
        ...(has('partition') ? ['partition: dual-leader ms mean / p99', 'partition: runs with two leaders'] : []),
        'violations',
        'unfinished',
      ],
      rows: names.flatMap((a) =>
        grid.sizes.map((size) => {
          const flapping = cells.get(a, size, 'flapping');
          const partition = cells.get(a, size, 'partition');
          const all = grid.scenarios.map((s) => cells.get(a, size, s)!);
          return [
            a,
            String(size),
            ...(flapping ? [`${one(flapping.leaderChanges.mean)} / ${int(flapping.leaderChanges.max)}`] : []),
            ...(partition ? [`${int(partition.dualLeaderMs.mean)} / ${int(partition.dualLeaderMs.p99)}`, pct(partition.dualLeaderShare)] : []),
            String(all.reduce((sum, c) => sum + c.violations, 0)),
            String(all.reduce((sum, c) => sum + c.unfinished, 0)),
          ];
        }),
      ),
      notes: [
        'flapping: the highest id crashes and restarts four times (crash at 2, 4, 6, 8 s, restart 1 s later; default timings); leader changes = leaders.length − 1.',
        'partition: at 2 s the leader and ⌈n/2⌉−2 others (a minority) are cut off from the rest, healed at 6 s; dual-leader time = virtual time with two or more self-believed leaders.',
        'violations: invariant violations in all runs (election safety, term monotonicity, convergence); unfinished: runs whose measured election never completed.',
      ],
    });
  }

  const oddEven = oddEvenTable(result, cells);
  if (oddEven) tables.push(oddEven);
  return tables;
}

/** Sizes around each even size of the grid (4 → 3, 4, 5), where both neighbours were measured. */
function oddEvenSizes(sizes: readonly number[]): number[] {
  const picked = new Set<number>();
  for (const n of sizes) {
    if (n % 2 === 0 && (sizes.includes(n - 1) || sizes.includes(n + 1))) {
      for (const m of [n - 1, n, n + 1]) if (sizes.includes(m)) picked.add(m);
    }
  }
  return [...picked].sort((a, b) => a - b);
}

function oddEvenTable(result: CompareResult, cells: CellIndex): Table | null {
  const sizes = oddEvenSizes(result.grid.sizes);
  if (sizes.length === 0) return null;
  const scenarios = (['cold-start', 'leader-crash'] as const).filter((s) => result.grid.scenarios.includes(s));
  return {
    title: 'Odd versus even cluster sizes',
    columns: [
      'algorithm',
      'nodes',
      'crashes tolerated',
      ...scenarios.map((s) => `${s} p50 / p99 ms`),
      ...scenarios.map((s) => `${s}: new round needed`),
    ],
    rows: result.algorithms.flatMap((info) =>
      sizes.map((n) => [
        info.name,
        String(n),
        String(info.faultsTolerated[n]),
        ...scenarios.map((s) => p50p99(cells.get(info.name, n, s)!.electionMs)),
        ...scenarios.map((s) => pct(cells.get(info.name, n, s)!.newRoundShare)),
      ]),
    ),
    notes: [
      'crashes tolerated: the most voters that may be down while the others can still elect (from the algorithm\'s canElect).',
      'new round needed: share of elections whose candidacies spanned more than one term (the source documents\' "tied votes, vote again"; Raft: a split vote). ZAB\'s epoch changes only when a leader is established, so its re-votes within one election are not counted here.',
    ],
  };
}

/** One sentence per algorithm answering "4 or 5 nodes?" with the measured numbers. */
export function oddEvenAnswer(result: CompareResult): string[] {
  const { sizes, scenarios } = result.grid;
  if (!sizes.includes(4) || !sizes.includes(5)) return [];
  const cells = new CellIndex(result);
  const scenario = failoverScenario(scenarios);
  if (!scenario) return [];
  return result.algorithms.map((info) => {
    const four = cells.get(info.name, 4, scenario)!;
    const five = cells.get(info.name, 5, scenario)!;
    return (
      `${info.name}: 4 nodes tolerate ${info.faultsTolerated[4]} crash${info.faultsTolerated[4] === 1 ? '' : 'es'}, ` +
      `5 tolerate ${info.faultsTolerated[5]}; ${scenario} election p50 ${int(four.electionMs.p50)} vs ${int(five.electionMs.p50)} ms, ` +
      `p99 ${int(four.electionMs.p99)} vs ${int(five.electionMs.p99)} ms; elections that needed a new round ${pct(four.newRoundShare)} vs ${pct(five.newRoundShare)}.`
    );
  });
}

// ---- renderers ----------------------------------------------------------------------------------------

export function renderText(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => ((table.align?.[i] ?? (i === 0 ? 'left' : 'right')) === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [table.title, '', line(table.columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of table.rows) out.push(line(r));
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return out.join('\n') + '\n';
}

export function renderMarkdown(table: Table): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const out = [`### ${table.title}`, '', `| ${table.columns.map(escape).join(' | ')} |`, `|${table.columns.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of table.rows) out.push(`| ${r.map(escape).join(' | ')} |`);
  if (table.notes && table.notes.length > 0) out.push('', ...table.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderHtmlTable(table: Table): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = table.rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('\n');
  const notes = (table.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  return `<h2>${escapeHtml(table.title)}</h2>\n<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${notes ? `<ul class="notes">${notes}</ul>` : ''}\n`;
}
