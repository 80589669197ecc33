/** `ballot compare`: the same seeded scenarios for every algorithm, as measured tables and charts. */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { algorithmNames } from '../core/algorithms.js';
import { parseRaftOptions, raftOptions } from './raft-flags.js';
import { compareScenarios } from '../compare/metrics.js';
import { charts, renderHtml, type Chart } from '../compare/html.js';
import { toJson } from '../compare/json.js';
import { comparisonTables, oddEvenAnswer, renderMarkdown, renderText } from '../compare/report.js';
import { runCompare, threadsFor, type CompareGrid, type CompareResult } from '../compare/run.js';
import { isScenarioName, scenarioNames, type ScenarioName } from '../sim/scenarios.js';
import { UsageError, helpText, integer, number, parseOptions, type CommandSpec } from './args.js';
import { parseWorkload } from '../sim/workload.js';

/** Every scenario but `random`: its faults differ from seed to seed, so it has no one election to measure. */
const comparableScenarios = scenarioNames.filter((s) => s !== 'random');
const defaultSizes = [3, 4, 5, 7, 9];
const defaultTrials = 200;

export const compareSpec: CommandSpec = {
  name: 'compare',
  usage: 'ballot compare [--algorithms LIST] [--sizes LIST] [--scenarios LIST] [--trials N] [--json | --markdown] [--html FILE]',
  summary:
    'Runs the same seeded scenarios for every algorithm over several cluster sizes and prints the source documents\'\n' +
    'comparison (election time, messages, failed rounds, stability, split brain, storage, fault tolerance)\n' +
    'as measured tables. Trial k runs with seed k, so any run replays with `ballot sim ... --seed K`.',
  options: {
    algorithms: { type: 'string', value: 'LIST', description: `comma-separated algorithms (default: every registered one; known: ${algorithmNames.join(', ')})` },
    sizes: { type: 'string', value: 'LIST', description: `comma-separated cluster sizes, voters (default ${defaultSizes.join(',')})` },
    scenarios: { type: 'string', value: 'LIST', description: `comma-separated scenarios: ${comparableScenarios.join(', ')} (default ${compareScenarios.join(',')})` },
    trials: { type: 'string', value: 'N', description: `seeded runs per algorithm, size and scenario; seeds 1..N (default ${defaultTrials})` },
    duration: { type: 'string', value: 'MS', description: 'virtual time per run (default: what ballot sim uses, 10000 at default timings)' },
    jobs: { type: 'string', value: 'N', description: 'worker threads (default: the number of CPUs); the results do not depend on it' },
    json: { type: 'boolean', description: 'print the result as one JSON object' },
    'per-trial': { type: 'boolean', description: 'with --json: include every trial\'s measurements' },
    markdown: { type: 'boolean', description: 'print the tables as Markdown (for docs/comparison.md)' },
    html: { type: 'string', value: 'FILE', description: 'also write a self-contained HTML page with charts to FILE' },
    svg: { type: 'string', value: 'DIR', description: 'also write each chart as an SVG file into DIR (with --markdown: linked as DIR-name/FILE.svg)' },
    ...raftOptions,
    workload: {
      type: 'string',
      value: 'kv[:RATE]',
      description: 'key-value clients in every run (RATE operations/s, default 50): adds four rows: acknowledged writes lost, time without a writable leader, reads served stale and histories not linearizable',
    },
  },
  epilog:
    'A progress bar goes to stderr when it is a terminal.\n' +
    'Example: ballot compare --sizes 4,5 --scenarios leader-crash --trials 500',
};

export interface CompareCommand {
  readonly grid: CompareGrid;
  readonly jobs: number;
  readonly format: 'text' | 'json' | 'markdown';
  readonly perTrial: boolean;
  readonly html: string | null;
  readonly svg: string | null;
}

function list(value: string | boolean | undefined, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`--${name} must be a comma-separated list, got ${JSON.stringify(value)}`);
  if (new Set(items).size !== items.length) throw new UsageError(`--${name}: ${JSON.stringify(value)} names something twice`);
  return items;
}

/** Turns the command line into a grid; throws UsageError for any mistake. */
export function parseCompareArgs(argv: readonly string[]): CompareCommand | 'help' {
  const values = parseOptions(compareSpec, argv);
  if (values.help) return 'help';

  const algorithmList = list(values.algorithms, 'algorithms') ?? [...algorithmNames];
  for (const name of algorithmList) {
    if (!(algorithmNames as readonly string[]).includes(name)) {
      throw new UsageError(`--algorithms: unknown algorithm ${JSON.stringify(name)} (known: ${algorithmNames.join(', ')})`);
    }
  }

  const sizes = (list(values.sizes, 'sizes') ?? defaultSizes.map(String)).map((s) => integer(s, 'sizes', 0, 1, 100));
  const scenarios = (list(values.scenarios, 'scenarios') ?? [...compareScenarios]).map((s): ScenarioName => {
    if (!isScenarioName(s) || s === 'random') {
      throw new UsageError(`--scenarios: unknown scenario ${JSON.stringify(s)} (one of: ${comparableScenarios.join(', ')})`);
    }
    return s;
  });
  const trials = integer(values.trials, 'trials', defaultTrials, 1, 1_000_000);
  const jobs = integer(values.jobs, 'jobs', Math.max(1, Math.min(8, availableParallelism())), 1, 64);
  const durationMs = values.duration === undefined ? undefined : number(values.duration, 'duration', 0, 1, 100_000_000);

  if (values.json && values.markdown) throw new UsageError('give either --json or --markdown, not both');
  if (values['per-trial'] && !values.json) throw new UsageError('--per-trial goes with --json');
  let html: string | null = null;
  if (values.html !== undefined) {
    html = resolve(String(values.html));
    const dir = dirname(html);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--html: directory ${dir} does not exist`);
    if (existsSync(html) && statSync(html).isDirectory()) throw new UsageError(`--html: ${html} is a directory`);
  }

  let svg: string | null = null;
  if (values.svg !== undefined) {
    svg = resolve(String(values.svg));
    if (existsSync(svg) && !statSync(svg).isDirectory()) throw new UsageError(`--svg: ${svg} is not a directory`);
    if (!existsSync(dirname(svg))) throw new UsageError(`--svg: directory ${dirname(svg)} does not exist`);
  }

  const workload = values.workload === undefined ? undefined : parseWorkload(String(values.workload));
  if (typeof workload === 'string') throw new UsageError(workload);

  const raftAsked = Object.keys(raftOptions).some((name) => values[name] !== undefined) ? { raft: parseRaftOptions(values, algorithmList, {}) } : {};
  return {
    grid: { algorithms: algorithmList, sizes, scenarios, trials, ...(durationMs !== undefined ? { durationMs } : {}), ...raftAsked, ...(workload ? { workload } : {}) },
    jobs,
    format: values.json ? 'json' : values.markdown ? 'markdown' : 'text',
    perTrial: values['per-trial'] === true,
    html,
    svg,
  };
}

export interface Terminal {
  /** Whether stderr is a terminal (then a progress bar is drawn on it). */
  readonly isTTY: boolean;
  readonly columns: number;
}

const processTerminal = (): Terminal => ({ isTTY: process.stderr.isTTY === true, columns: process.stderr.columns || 80 });

/** A one-line bar redrawn in place at most every 100 ms. */
export function progressBar(err: (text: string) => void, columns: number, now: () => number = () => performance.now()) {
  const started = now();
  let last = -Infinity;
  return {
    update(done: number, total: number, label: string): void {
      const t = now();
      if (done < total && t - last < 100) return;
      last = t;
      const seconds = ((t - started) / 1000).toFixed(1);
      const text = ` ${String(Math.floor((done / total) * 100)).padStart(3)}%  ${done}/${total} runs  ${seconds} s  ${label}`;
      // A fixed-width bar, so it does not jump as the label changes; the label is cut to fit the line.
      const width = Math.max(10, Math.min(30, columns - 56));
      const filled = Math.round((done / total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${text}`;
      const room = Math.max(20, columns - 1);
      err(`\r${line.slice(0, room).padEnd(room)}`);
    },
    clear(): void {
      err(`\r${' '.repeat(Math.max(20, columns - 1))}\r`);
    },
  };
}

export function formatText(result: CompareResult, command: string): string {
  const { grid } = result;
  const lines = [
    `${command}`,
    `${result.runs} simulated runs: ${grid.algorithms.join(', ')} × sizes ${grid.sizes.join(', ')} × ${grid.scenarios.join(', ')} × ${grid.trials} trials (seeds 1..${grid.trials})`,
    `replay any run: ballot sim --algorithm A --nodes N --scenario S --seed K${grid.durationMs !== undefined ? ` --duration ${grid.durationMs}` : ''}${grid.workload ? ` --workload kv:${grid.workload.rate}` : ''}`,
    '',
  ];
  const answer = oddEvenAnswer(result);
  const tables = comparisonTables(result).map(renderText);
  return lines.join('\n') + '\n' + tables.join('\n') + (answer.length > 0 ? `\n4 or 5 nodes?\n${answer.map((a) => `  ${a}`).join('\n')}\n` : '');
}

/**
 * The tables as Markdown; with `images`, the charts are linked as `dirName/FILE.svg`, for a document
 * that sits beside the chart directory (docs/comparison.md beside docs/comparison/).
 */
export function formatMarkdown(result: CompareResult, command: string, images?: { readonly dirName: string; readonly charts: readonly Chart[] }): string {
  const { grid } = result;
  const head = [
    `Produced by \`${command}\`: ${result.runs} simulated runs (${grid.algorithms.join(', ')}; sizes ${grid.sizes.join(', ')}; ` +
      `${grid.scenarios.join(', ')}; ${grid.trials} trials each, seeds 1..${grid.trials}).`,
    '',
  ];
  const answer = oddEvenAnswer(result);
  const [headline, ...details] = comparisonTables(result).map(renderMarkdown);
  const pictures = images
    ? ['### Charts', '', ...images.charts.map((c) => `![${c.title}](${images.dirName}/${c.file})`), ''].join('\n')
    : null;
  const oddEven = answer.length > 0 ? `### 4 or 5 nodes?\n\n${answer.map((a) => `- ${a}`).join('\n')}\n` : null;
  return head.join('\n') + '\n' + [headline, oddEven, pictures, ...details].filter((x) => x !== null && x !== undefined).join('\n');
}

/** Runs the command; returns the exit status (1 when any run violated an invariant). */
export async function compareCommand(
  argv: readonly string[],
  io: { readonly out: (text: string) => void; readonly err: (text: string) => void },
  terminal: Terminal = processTerminal(),
): Promise<number> {
  const command = parseCompareArgs(argv);
  if (command === 'help') {
    io.out(helpText(compareSpec));
    return 0;
  }
  const started = performance.now();
  const bar = terminal.isTTY ? progressBar(io.err, terminal.columns) : null;
  const result = await runCompare(command.grid, {
    jobs: command.jobs,
    ...(bar ? { onProgress: (done, total, cell) => bar.update(done, total, `${cell.algorithm} n=${cell.nodes} ${cell.scenario}`) } : {}),
  });
  bar?.clear();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  // The exact command, so a reader can reproduce the numbers (JSON.stringify quotes odd arguments).
  const shown = ['ballot compare', ...argv.map((a) => (/^[\w.,=:/@+-]+$/.test(a) ? a : JSON.stringify(a)))].join(' ');

  switch (command.format) {
    case 'json':
      io.out(JSON.stringify(toJson(result, shown, command.perTrial), null, 2) + '\n');
      break;
    case 'markdown':
      io.out(formatMarkdown(result, shown, command.svg ? { dirName: basename(command.svg), charts: charts(result) } : undefined));
      break;
    case 'text':
      io.out(formatText(result, shown));
      break;
  }
  if (command.html) {
    try {
      writeFileSync(command.html, renderHtml(result, shown));
    } catch (error) {
      throw new UsageError(`--html: cannot write ${command.html} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  if (command.svg) {
    try {
      mkdirSync(command.svg, { recursive: true });
      for (const chart of charts(result)) writeFileSync(join(command.svg, chart.file), chart.svg);
    } catch (error) {
      throw new UsageError(`--svg: cannot write into ${command.svg} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  const wrote = [command.html, command.svg && `${command.svg}/*.svg`].filter(Boolean).join(', ');
  const threads = threadsFor(command.grid, command.jobs);
  io.err(`ballot compare: ${result.runs} runs in ${seconds} s on ${threads} thread${threads === 1 ? '' : 's'}${wrote ? `; wrote ${wrote}` : ''}\n`);
  const violations = result.cells.reduce((sum, c) => sum + c.summary.violations, 0);
  if (violations > 0) io.err(`ballot compare: ${violations} invariant violation(s); see the violations column and replay with ballot sim\n`);
  return violations > 0 ? 1 : 0;
}
