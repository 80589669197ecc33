/** `ballot node`: one real node (CONTRACT.md), a thin shell over the runtime's startNode. */
import { algorithmNames } from '../core/algorithms.js';
import { createRaft } from '../core/raft/index.js';
import { parseRaftOptions, raftOptions } from './raft-flags.js';
import { ConfigError, StorageError, jsonLogger, logLevels, startNode, type LogLevel, type NodeHandle, type StartOptions } from '../runtime/index.js';
import { UsageError, helpText, idMap, integer, oneOf, parseOptions, timing, timingOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';
import { onStopSignal, stopSignalCaught } from './signals.js';

export const nodeSpec: CommandSpec = {
  name: 'node',
  usage: 'ballot node --id N --algorithm bully|raft|zab --peers ID=HOST:PORT,... --data-dir DIR [options]',
  summary:
    'Runs one real node: elects a leader with its peers over TCP, keeps its durable state in --data-dir\n' +
    '(read back at start, so a node killed and started again with the same arguments resumes), and\n' +
    'serves /status, /health, /livez, /readyz and /metrics over HTTP. Runs until SIGTERM or SIGINT\n' +
    '(at any time, also during start-up), then stops cleanly.',
  options: {
    id: { type: 'string', value: 'N', description: "this node's id (a positive integer; must appear in --peers or --observers)" },
    algorithm: { type: 'string', value: 'NAME', description: `the election algorithm: ${algorithmNames.join(', ')} (required)` },
    listen: { type: 'string', value: 'HOST:PORT', description: "where to accept peer connections (default: this node's address in --peers)" },
    http: { type: 'string', value: 'HOST:PORT', description: 'where to serve /status, /health, /livez, /readyz, /metrics (default: no HTTP)' },
    peers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'every voting member and its peer address, this node included (required)' },
    observers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'non-voting members (ZAB observers, Raft learners)' },
    'data-dir': { type: 'string', value: 'DIR', description: "this node's durable state (created if missing; required)" },
    'cluster-id': { type: 'string', value: 'NAME', description: 'only members naming the same cluster id may talk (default "ballot")' },
    'join-new': { type: 'boolean', description: 'run although the data dir is empty and peers knew this node (a lost disk; read docs/runtime.md first)' },
    ...timingOptions,
    ...raftOptions,
    log: { type: 'string', value: 'LEVEL', description: `${logLevels.join(', ')}: JSON lines on stderr, one per leadership or connection change at info (default info)` },
    record: { type: 'string', value: 'FILE', description: 'append every input the core receives to FILE (JSON lines) for `ballot replay FILE`' },
    'record-max-mb': { type: 'string', value: 'MB', description: 'stop recording once FILE would pass MB mebibytes (default 1024: ~4 days of an idle Raft follower)' },
    'exit-on-stdin-close': { type: 'boolean', description: 'also stop when stdin closes (used by ballot cluster, so a dead parent leaves no orphans)' },
  },
  epilog:
    'Exit status: 0 after a clean stop, 1 when the node had to stop (e.g. its state could not be written),\n' +
    '2 for bad arguments or configuration (duplicate ids, own id missing, port in use, unusable data dir),\n' +
    'and when the data dir was empty but a peer knew this node as an existing member: it may have voted in\n' +
    'the current term and forgotten it. --join-new runs it anyway; that is safe only once the cluster has\n' +
    'moved past the term in which the disk was lost.\n' +
    'Example: ballot node --id 1 --algorithm raft --listen 127.0.0.1:7001 --http 127.0.0.1:8001 \\\n' +
    '           --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data-dir ./data/n1',
};

export interface NodeCommand {
  readonly options: StartOptions;
  readonly log: LogLevel;
  readonly exitOnStdinClose: boolean;
}

function required(value: string | boolean | undefined, name: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** Turns the command line into node options; throws UsageError for any mistake it can see. */
export function parseNodeArgs(argv: readonly string[]): NodeCommand | 'help' {
  const values = parseOptions(nodeSpec, argv);
  if (values.help) return 'help';
  if (values.id === undefined) throw new UsageError('--id is required');
  const id = integer(values.id, 'id', 0, 1);
  const algorithm = oneOf(values.algorithm, 'algorithm', algorithmNames);
  const peers = idMap(required(values.peers, 'peers'), 'peers');
  const observers = idMap(values.observers, 'observers');
  const dataDir = required(values['data-dir'], 'data-dir');
  const raftAsked = parseRaftOptions(values, [algorithm], timing(values));
  const options: StartOptions = {
    id,
    algorithm: algorithm === 'raft' ? createRaft(raftAsked) : algorithm,
    peers,
    observers,
    dataDir,
    timing: timing(values),
    ...(values.listen !== undefined ? { listen: required(values.listen, 'listen') } : {}),
    ...(values.http !== undefined ? { http: required(values.http, 'http') } : {}),
    ...(values['cluster-id'] !== undefined ? { clusterId: required(values['cluster-id'], 'cluster-id') } : {}),
    ...(values['join-new'] === true ? { joinNew: true } : {}),
    ...(values.record !== undefined ? { record: required(values.record, 'record') } : {}),
    ...(values['record-max-mb'] !== undefined ? { recordMaxBytes: integer(values['record-max-mb'], 'record-max-mb', 1024, 1, 1024 * 1024) * 1024 * 1024 } : {}),
  };
  if (values['record-max-mb'] !== undefined && values.record === undefined) throw new UsageError('--record-max-mb needs --record FILE');
  return { options, log: oneOf(values.log, 'log', logLevels, 'info'), exitOnStdinClose: values['exit-on-stdin-close'] === true };
}

/**
 * The exit status after the node stopped itself: 2 when the user must fix something before starting it
 * again (its data dir is empty but the cluster knew it), 1 otherwise (its state could not be written).
 */
export function fatalExitCode(error: Error): 1 | 2 {
  return error instanceof ConfigError ? 2 : 1;
}

/** Runs the node until a signal (or stdin closing, if asked); returns the exit status. */
export async function runNode(argv: readonly string[], io: CommandIo): Promise<number> {
  const command = parseNodeArgs(argv);
  if (command === 'help') {
    io.out(helpText(nodeSpec));
    return 0;
  }
  // Told to stop before the node has even started (while the runtime was loading): do not join the
  // cluster just to leave it.
  if (stopSignalCaught() !== null) return 0;
  const logger = jsonLogger(command.log, io.err, { node: command.options.id });
  let handle: NodeHandle;
  try {
    handle = await startNode({ ...command.options, logger });
  } catch (error) {
    // Configuration the user can fix: one line, exit 2 (main prints UsageErrors that way).
    if (error instanceof ConfigError || error instanceof StorageError) throw new UsageError(error.message);
    throw error;
  }
  return new Promise<number>((resolve) => {
    let code = 0;
    // A second signal while stopping is ignored: stop() is idempotent.
    const stop = (): void => {
      if (command.exitOnStdinClose) process.stdin.destroy();
      void handle.stop();
    };
    // A signal that came while the node was starting stops it now (signals.ts).
    onStopSignal(stop);
    if (command.exitOnStdinClose) {
      process.stdin.on('end', stop);
      process.stdin.on('close', stop);
      process.stdin.resume();
    }
    handle.on('fatal', ({ error }) => {
      io.err(`ballot node: ${error.message}\n`);
      code = fatalExitCode(error);
      stop();
    });
    void handle.stopped.then(() => {
      // The signal handlers stay (signals.ts); stdin's go.
      process.stdin.off('close', stop);
      process.stdin.off('end', stop);
      resolve(code);
    });
  });
}
