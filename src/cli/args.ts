/**
 * Declarative command-line options: every option is described once, and both parsing and `--help`
 * come from that description, so no option goes undocumented. Parsing is separate from running, so it
 * is unit-tested without spawning processes.
 */
import { parseArgs } from 'node:util';
import type { Timing } from '../core/types.js';
import { heartbeatProblem } from '../runtime/timing-rule.js';

/**
 * Marks a UsageError across copies of this module. Two copies are loaded at once when `ballot` runs from
 * its bundled entry (dist/cli/ballot.cjs holds one; the subcommands it loads lazily import tsc's
 * args.js, the other), so the class a subcommand throws is not the class main.ts catches.
 */
const usageErrorBrand = Symbol.for('ballot.usage-error');

/** A mistake in what the user typed: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {
  readonly [usageErrorBrand] = true;

  /** `instanceof UsageError` tests the brand, so it holds for an error of either copy (see usageErrorBrand). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { readonly [usageErrorBrand]?: unknown })[usageErrorBrand] === true;
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder for the value in --help (e.g. 'N', 'MIN-MAX'). */
  readonly value?: string;
  readonly description: string;
  readonly short?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Free text after the options in --help. */
  readonly epilog?: string;
}

export type ParsedOptions = Record<string, string | boolean | undefined>;

/** Parses `argv` against the command's options; `--help` is always accepted. */
export function parseOptions(spec: CommandSpec, argv: readonly string[]): ParsedOptions & { help?: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = option.short ? { type: option.type, short: option.short } : { type: option.type };
  }
  try {
    const { values } = parseArgs({ args: attachNegativeValues(argv, options), options, strict: true, allowPositionals: false });
    return values as ParsedOptions;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

/**
 * `--seed -1` → `--seed=-1`: parseArgs takes a value that starts with '-' for an option and calls it
 * "ambiguous", so a negative number would never reach the value parser that says what range is allowed.
 */
function attachNegativeValues(argv: readonly string[], options: Readonly<Record<string, { type: 'string' | 'boolean'; short?: string }>>): string[] {
  const takesValue = (token: string): string | undefined => {
    if (token.startsWith('--')) return options[token.slice(2)]?.type === 'string' ? token.slice(2) : undefined;
    if (/^-[A-Za-z]$/.test(token)) return Object.entries(options).find(([, option]) => option.short === token[1] && option.type === 'string')?.[0];
    return undefined;
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const next = argv[i + 1];
    const name = takesValue(token);
    if (name !== undefined && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(token);
    }
  }
  return out;
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // node's messages are long and mention internals; keep the first sentence.
  const first = message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
  return first.replace(/^Unknown option/, 'unknown option');
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`;
    return [flag, option.description] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, '', 'Options:'];
  for (const [flag, description] of rows) lines.push(`  ${flag.padEnd(width)}${description}`);
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n') + '\n';
}

// ---- value parsers (each throws UsageError naming the option) ---------------------------------------

export function integer(value: string | boolean | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value.trim())) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} is too large: ${value}`);
  if (n < min) throw new UsageError(min === 0 ? `--${name} must be ≥ 0, got ${n}` : `--${name} must be at least ${min}, got ${n}`);
  if (n > max) throw new UsageError(`--${name} must be at most ${max}, got ${n}`);
  return n;
}

export function number(value: string | boolean | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  if (n < 0 && min === 0) throw new UsageError(`--${name} must be ≥ 0, got ${n}`);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** "MIN-MAX" (or a single number for a fixed value), both non-negative, MIN <= MAX. */
export function range(value: string | boolean | undefined, name: string): { min: number; max: number } | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$/.exec(value) : null;
  if (!match) throw new UsageError(`--${name} must look like MIN-MAX (milliseconds), got ${JSON.stringify(value)}`);
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (min > max) throw new UsageError(`--${name}: MIN (${min}) is greater than MAX (${max})`);
  return { min, max };
}

export function oneOf<T extends string>(value: string | boolean | undefined, name: string, choices: readonly T[], fallback?: T): T {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`--${name} is required (one of: ${choices.join(', ')})`);
  }
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** "ID=N,ID=N" → Map. */
export function idMap(value: string | boolean | undefined, name: string): Map<number, string> {
  const map = new Map<number, string>();
  if (value === undefined) return map;
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} must look like ID=VALUE,ID=VALUE`);
  for (const part of value.split(',')) {
    const match = /^\s*(\d+)\s*=\s*(\S+)\s*$/.exec(part);
    if (!match) throw new UsageError(`--${name}: cannot read ${JSON.stringify(part)} (expected ID=VALUE)`);
    const id = Number(match[1]);
    if (id < 1) throw new UsageError(`--${name}: node ids are positive integers, got ${id}`);
    if (map.has(id)) throw new UsageError(`--${name}: node ${id} is given twice`);
    map.set(id, match[2]!);
  }
  return map;
}

// ---- the timing knobs every command that runs nodes shares -----------------------------------------

/** Every algorithm's default timing (the registry's defaultTiming), as --help states it. */
const DEFAULT_TIMEOUT_MIN_MS = 150;
const DEFAULT_HEARTBEAT_MS = 50;

export const timingOptions = {
  'election-timeout': {
    type: 'string',
    value: 'MIN-MAX',
    description: `election timeout range in ms; bully, zab: leader-failure detection (default ${DEFAULT_TIMEOUT_MIN_MS}-300)`,
  },
  heartbeat: { type: 'string', value: 'MS', description: `leader heartbeat interval in ms, below the election timeout's MIN (default ${DEFAULT_HEARTBEAT_MS})` },
} as const satisfies Record<string, OptionSpec>;

/** The timing the user asked for; what is left out keeps the algorithm's default. */
export function timing(values: ParsedOptions): Partial<Timing> {
  const timeout = range(values['election-timeout'], 'election-timeout');
  if (timeout && timeout.min <= 0) throw new UsageError('--election-timeout must be positive');
  const heartbeatMs = values.heartbeat !== undefined ? number(values.heartbeat, 'heartbeat', 0, 0.001, 3_600_000) : undefined;
  const problem = heartbeatProblem(heartbeatMs ?? DEFAULT_HEARTBEAT_MS, timeout?.min ?? DEFAULT_TIMEOUT_MIN_MS);
  if (problem) throw new UsageError(`--${problem}`);
  return {
    ...(timeout ? { electionTimeoutMinMs: timeout.min, electionTimeoutMaxMs: timeout.max } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
  };
}
