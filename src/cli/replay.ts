/**
 * `ballot replay FILE`: feeds a real node's recorded inputs (`ballot node --record FILE`) to a fresh
 * core through the same host loop, and prints the node's state transitions. They are the transitions
 * the real node made: the way to turn a production incident into a deterministic test (docs/runtime.md).
 */
import { readFileSync } from 'node:fs';
import type { Membership } from '../core/types.js';
import { RecordError, ReplayDiverged, replayRecord, type ReplayedConfiguration, type ReplayedRun, type Transition } from '../runtime/record.js';
import { UsageError, helpText, parseOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';

export const replaySpec: CommandSpec = {
  name: 'replay',
  usage: 'ballot replay FILE [--json]',
  summary:
    "Replays a node's record (written by `ballot node ... --record FILE`): every input, at its time, with\n" +
    'the random numbers the node drew, into a fresh core through the same host loop. Prints the state\n' +
    'transitions (time in ms since the node started, role, leader, term, events): the ones the node made,\n' +
    'and each configuration it used (Raft: voters, learners, and each member\'s address).',
  options: {
    json: { type: 'boolean', description: 'print one JSON object: {"runs":[{header, inputs, full, cut, transitions, configurations}]}' },
  },
  epilog:
    'A node restarted with the same --record appends a new run; each run is replayed from its own header.\n' +
    'Exit status: 0 replayed, 1 the replay diverged from the record (another version of ballot?),\n' +
    '2 for bad arguments or a file that is not a readable record.',
};

export function runReplay(argv: readonly string[], io: CommandIo): number {
  // The only option is a flag, so every other argument is the file.
  const files = argv.filter((arg) => !arg.startsWith('-'));
  const values = parseOptions(replaySpec, argv.filter((arg) => arg.startsWith('-')));
  if (values.help) {
    io.out(helpText(replaySpec));
    return 0;
  }
  if (files.length !== 1) throw new UsageError(files.length === 0 ? 'FILE is required (a record written by ballot node --record FILE)' : `expected one FILE, got ${files.length}`);
  const file = files[0]!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let runs: ReplayedRun[];
  try {
    runs = replayRecord(text);
  } catch (error) {
    if (error instanceof RecordError) throw new UsageError(`${file}: ${error.message}`);
    if (error instanceof ReplayDiverged) {
      io.err(`ballot replay: ${file}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  io.out(values.json === true ? JSON.stringify({ runs }) + '\n' : runs.map(describeRun).join('\n'));
  return 0;
}

function describeRun(run: ReplayedRun, index: number): string {
  const { header } = run;
  const algorithm = header.variant === null ? header.algorithm : `${header.algorithm} (${header.variant})`;
  // Records made before the header had addresses have none: then the run's line names none.
  const at = header.addresses === undefined ? '' : ` at ${describeAddresses(header.addresses)}`;
  const lines = [
    `run ${index + 1}: ${algorithm} node ${header.id} of voters ${header.voters.join(',') || '-'}${header.observers.length > 0 ? ` observers ${header.observers.join(',')}` : ''}${at}, ` +
      `started ${header.startedAt || '(time unknown)'} from ${JSON.stringify(header.durable)}; ${run.inputs} inputs`,
    ...inTimeOrder(run.transitions, run.configurations),
  ];
  if (run.full) lines.push('  (the record reached its size limit here; the node went on unrecorded)');
  if (run.cut) lines.push("  (the file's last line was cut short and was left out)");
  return lines.join('\n') + '\n';
}

/** The transitions and the configurations as lines, by time (a configuration after the transition of its step). */
function inTimeOrder(transitions: readonly Transition[], configurations: readonly ReplayedConfiguration[]): string[] {
  const lines: string[] = [];
  let next = 0;
  for (const transition of transitions) {
    while (next < configurations.length && configurations[next]!.atMs < transition.atMs) lines.push(describeConfiguration(configurations[next++]!));
    lines.push(describeTransition(transition));
  }
  while (next < configurations.length) lines.push(describeConfiguration(configurations[next++]!));
  return lines;
}

/**
 * `1=127.0.0.1:7001,2=127.0.0.1:7002` (as --peers takes them), ascending by id; `?` for an address not
 * known (a record without addresses in its header: the core fills in '').
 */
function describeAddresses(addresses: Membership['addresses']): string {
  const entries = Object.entries(addresses).sort(([a], [b]) => Number(a) - Number(b));
  return entries.length === 0 ? '-' : entries.map(([id, address]) => `${id}=${address || '?'}`).join(',');
}

function describeConfiguration({ atMs, index, membership }: ReplayedConfiguration): string {
  const { voters, observers, addresses } = membership;
  return `${timeColumn(atMs)}  configuration ${index}: voters ${voters.join(',') || '-'}, learners ${observers.join(',') || '-'}, at ${describeAddresses(addresses)}`;
}

const timeColumn = (atMs: number): string => `${atMs.toFixed(3)} ms`.padStart(14);

function describeTransition(transition: Transition): string {
  const at = timeColumn(transition.atMs);
  const leader = `leader ${transition.leader ?? '-'}`.padEnd(12);
  return `${at}  ${transition.role.padEnd(10)} ${leader} term ${String(transition.term).padEnd(5)} ${transition.events.join(' ')}`.trimEnd();
}
