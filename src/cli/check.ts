/**
 * `ballot check HISTORY.jsonl`: is a key-value history linearizable? (docs/check.md). The checker is
 * src/check (pure); this file reads the file, gives the checker its clock (the time limit and the
 * progress lines) and prints the verdict.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { checkLinearizability, type CheckProgress, type CheckResult, type Excerpt } from '../check/checker.js';
import { HistoryError, kvRecord, parseKvHistory, type KvHistory, type KvOperation } from '../check/kv-history.js';
import { kvModel, type KvInput, type KvOutput, type KvState } from '../check/kv.js';
import { UsageError, helpText, integer, parseOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';

export const checkSpec: CommandSpec = {
  name: 'check',
  usage: 'ballot check HISTORY.jsonl [--json] [--timeout MS]',
  summary:
    'Checks that a key-value history is linearizable: that every operation can be given one instant between\n' +
    'its invoke and complete times at which a single copy of the store, run in that order, returns what\n' +
    'the client saw. One operation per line (docs/check.md), "-" reads standard input:\n' +
    '  {"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":2.5,"result":{"version":1}}\n' +
    'When it is not, prints the smallest set of operations on one key that cannot be linearized.',
  options: {
    json: { type: 'boolean', description: 'print one JSON object: {"result", "operations", "keys", ..., "excerpt"}' },
    timeout: { type: 'string', value: 'MS', description: 'give up after MS milliseconds with exit status 3, unknown (default: no limit)' },
  },
  epilog:
    'Exit status: 0 linearizable, 1 not linearizable, 2 bad arguments or a bad line (its number and field\n' +
    'named), 3 unknown: the time limit ran out first. Progress goes to stderr once a check takes over a second.',
};

const PROGRESS_AFTER_MS = 1000;
const PROGRESS_EVERY_MS = 1000;

type KvResult = CheckResult<KvState, KvInput, KvOutput>;

export function runCheck(argv: readonly string[], io: CommandIo): number {
  const { files, options } = splitArguments(argv);
  const values = parseOptions(checkSpec, options);
  if (values.help) {
    io.out(helpText(checkSpec));
    return 0;
  }
  if (files.length !== 1) throw new UsageError(files.length === 0 ? 'HISTORY is required: a JSON Lines file of operations (docs/check.md)' : `expected one HISTORY file, got ${files.length}`);
  const timeoutMs = values.timeout === undefined ? undefined : integer(values.timeout, 'timeout', 0, 1);
  const file = files[0]!;
  const history = readHistory(file);

  const started = performance.now();
  let lastProgress = started;
  const onProgress = (progress: CheckProgress): void => {
    const now = performance.now();
    if (now - started < PROGRESS_AFTER_MS || now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    io.err(`ballot check: ${describeProgress(progress)}, ${((now - started) / 1000).toFixed(0)} s\n`);
  };
  const result = checkLinearizability(kvModel, history.operations, {
    onProgress,
    ...(timeoutMs === undefined ? {} : { shouldStop: () => performance.now() - started > timeoutMs }),
  });
  io.out(values.json === true ? JSON.stringify(toJson(result, history, timeoutMs)) + '\n' : describe(result, history, timeoutMs));
  switch (result.kind) {
    case 'linearizable':
      return 0;
    case 'not-linearizable':
      return 1;
    case 'unknown':
      return 3;
  }
}

/** The file (or "-") apart from the options; `--timeout` takes the next argument as its value. */
function splitArguments(argv: readonly string[]): { files: string[]; options: string[] } {
  const files: string[] = [];
  const options: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-' || !arg.startsWith('-')) files.push(arg);
    else if (arg === '--timeout' && i + 1 < argv.length) options.push(arg, argv[++i]!);
    else options.push(arg);
  }
  return { files, options };
}

function readHistory(file: string): KvHistory {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return parseKvHistory(text);
  } catch (error) {
    if (error instanceof HistoryError) throw new UsageError(`${file === '-' ? 'standard input' : file}: ${error.message}`);
    throw error;
  }
}

function describeProgress(progress: CheckProgress): string {
  const steps = `${(progress.steps / 1e6).toFixed(1)}M search steps`;
  if (progress.phase === 'shrink') return `not linearizable; shrinking it to a small excerpt, ${steps}`;
  return `${progress.partitionsDone}/${progress.partitions} keys, ${progress.operationsDone}/${progress.operations} operations, ${steps}`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function describe(result: KvResult, history: KvHistory, timeoutMs: number | undefined): string {
  const counts = [`${plural(result.operations, 'operation')} on ${plural(result.partitions, 'key')}`];
  if (result.leftOut > 0) counts.push(`${plural(result.leftOut, 'get')} without an answer left out`);
  if (history.refused > 0) counts.push(`${plural(history.refused, 'refused operation')} left out`);
  switch (result.kind) {
    case 'linearizable':
      return `linearizable\n${counts.join('; ')}\n`;
    case 'unknown':
      return `unknown\nthe time limit (${timeoutMs} ms) ran out with ${plural(result.uncheckedPartitions, 'key')} of ${result.partitions} not checked; ${counts.join('; ')}\n`;
    case 'not-linearizable': {
      const lines = ['not linearizable', counts.join('; ')];
      const unchecked = result.uncheckedPartitions > 0 ? ` (${plural(result.uncheckedPartitions, 'key')} not checked: the time limit ran out)` : '';
      lines.push(`${plural(result.failingPartitions.length, 'key')} cannot be linearized: ${result.failingPartitions.map((key) => JSON.stringify(key)).join(', ')}${unchecked}`);
      lines.push(...describeExcerpt(result.excerpt));
      return lines.join('\n') + '\n';
    }
  }
}

function describeOperation(op: KvOperation): string {
  const complete = op.output === null || op.complete === null ? 'no answer' : `${op.complete}`;
  return `line ${op.id}: client ${op.client}, ${op.invoke}–${complete} ms, ${kvModel.describeOperation(op.input, op.output)}`;
}

function describeExcerpt(excerpt: Excerpt<KvState, KvInput, KvOutput>): string[] {
  const { operations } = excerpt;
  const why =
    excerpt.kind === 'order'
      ? 'could take effect in some order, but in none that respects their times'
      : 'cannot take effect in any order';
  const count = operations.length === 1 ? 'this operation' : `these ${operations.length} operations`;
  const lines = [
    '',
    `key ${JSON.stringify(excerpt.partition)}: ${count} ${why}${excerpt.minimal ? '' : ' (shrinking stopped early: there may be a smaller set)'}:`,
    ...operations.map((op) => `  ${describeOperation(op)}`),
    '',
    excerpt.linearized.length === 0
      ? `no operation can come first (the key starts ${kvModel.describeState(kvModel.init())})`
      : `the longest order found (${excerpt.linearized.length} of ${operations.length}):`,
    ...excerpt.linearized.map(({ operation, stateAfter }) => `  line ${operation.id}: ${kvModel.describeOperation(operation.input, operation.output)}, then ${kvModel.describeState(stateAfter)}`),
  ];
  if (excerpt.linearized.length > 0) lines.push(`and none of these can come next, with the key at ${kvModel.describeState(excerpt.state)}:`);
  lines.push(...excerpt.unplaced.map((op) => `  line ${op.id}: ${kvModel.describeOperation(op.input, op.output)}`));
  return lines;
}

function toJson(result: KvResult, history: KvHistory, timeoutMs: number | undefined): Record<string, unknown> {
  const base = {
    result: result.kind,
    operations: result.operations,
    keys: result.partitions,
    leftOut: result.leftOut,
    refused: history.refused,
    steps: result.steps,
  };
  switch (result.kind) {
    case 'linearizable':
      return base;
    case 'unknown':
      return { ...base, uncheckedKeys: result.uncheckedPartitions, timeoutMs };
    case 'not-linearizable': {
      const { excerpt } = result;
      const state = (s: KvState): { value: string | null; version: number } => ({ value: s.value, version: s.version });
      return {
        ...base,
        failingKeys: result.failingPartitions,
        uncheckedKeys: result.uncheckedPartitions,
        excerpt: {
          key: excerpt.partition,
          kind: excerpt.kind,
          minimal: excerpt.minimal,
          operations: excerpt.operations.map((op) => ({ line: op.id, ...kvRecord(op) })),
          linearized: excerpt.linearized.map(({ operation, stateAfter }) => ({ line: operation.id, state: state(stateAfter) })),
          state: state(excerpt.state),
          unplaced: excerpt.unplaced.map((op) => op.id),
        },
      };
    }
  }
}
