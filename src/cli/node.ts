/**
 * `ballot node`: one real node (docs/reference.md), a thin shell over the runtime's startNode.
 *
 * Its settings come from three places, the first that gives one winning: flags, then `BALLOT_*`
 * environment variables (BALLOT_DATA_DIR for --data-dir), then a JSON file (--config FILE, keys the
 * flags' names). A container or a StatefulSet configures a node without a shell to build a command line.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { algorithmNames } from '../core/algorithms.js';
import { createRaft, realNodeRaftOptions } from '../core/raft/index.js';
import { InvalidMeta, parseMeta, type Meta } from '../runtime/meta.js';
import { parseRaftOptions, raftOptions } from './raft-flags.js';
import { ConfigError, StorageError, jsonLogger, logLevels, startNode, type LogLevel, type NodeHandle, type StartOptions } from '../runtime/index.js';
import { readTlsFiles, type TlsOptions } from '../runtime/config.js';
import { MAX_PRIORITY } from '../runtime/schema.js';
import { UsageError, helpText, idMap, integer, oneOf, parseOptions, timing, timingOptions, type CommandSpec, type ParsedOptions } from './args.js';
import type { CommandIo } from './io.js';
import { onStopSignal, stopSignalCaught } from './signals.js';

export const nodeSpec: CommandSpec = {
  name: 'node',
  usage: 'ballot node --id N --algorithm bully|raft|zab --peers ID=HOST:PORT,... --data-dir DIR [options]\n' +
    '       (every option also as BALLOT_<NAME> in the environment, or a key of --config FILE)',
  summary:
    'Runs one real node: elects a leader with its peers over TCP, keeps its durable state in --data-dir\n' +
    '(read back at start, so a node killed and started again with the same arguments resumes), and\n' +
    'serves /status, /health, /livez, /readyz, /leader, /watch, /metrics, /members and the replicated\n' +
    'key-value store /kv/:key over HTTP. Runs until SIGTERM or SIGINT (at any time, also during\n' +
    'start-up), then stops cleanly; a Raft leader first hands its leadership over (TimeoutNow), waiting\n' +
    'at most the longest election timeout.',
  options: {
    id: { type: 'string', value: 'N', description: "this node's id (a positive integer; must appear in --peers or --observers, unless --join)" },
    'id-from-hostname': { type: 'boolean', description: 'the id is the ordinal ending $HOSTNAME plus one (a StatefulSet pod: ballot-0 is node 1)' },
    config: { type: 'string', value: 'FILE', description: 'a JSON object of settings, keys the option names ({"algorithm":"raft",...}); flags and BALLOT_* win' },
    algorithm: { type: 'string', value: 'NAME', description: `the election algorithm: ${algorithmNames.join(', ')} (required)` },
    listen: { type: 'string', value: 'HOST:PORT', description: "where to accept peer connections (default: this node's address in --peers)" },
    http: { type: 'string', value: 'HOST:PORT', description: 'where to serve /status, /health, /livez, /readyz, /leader, /watch, /metrics, /members and the key-value API /kv/:key (default: no HTTP)' },
    advertise: { type: 'string', value: 'JSON', description: 'a small flat JSON object this node tells its peers, e.g. \'{"url":"http://10.0.0.5:8080"}\' (GET /leader shows the leader\'s)' },
    priority: { type: 'string', value: 'N', description: `raft: preferred leader, 0-${MAX_PRIORITY} (default 0); a leader hands over, by a transfer, to a connected voter of higher priority (docs/embedding.md)` },
    peers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'every voting member and its peer address, this node included (with --join: the running members); raft: once the membership changed, the configuration in the log wins (required)' },
    observers: { type: 'string', value: 'ID=HOST:PORT,...', description: 'non-voting members (ZAB observers, Raft learners)' },
    'data-dir': { type: 'string', value: 'DIR', description: "this node's durable state (created if missing; required)" },
    'cluster-id': { type: 'string', value: 'NAME', description: 'only members naming the same cluster id may talk (default "ballot")' },
    'tls-cert': { type: 'string', value: 'FILE', description: "mutual TLS on the peer port: this node's certificate (PEM, subject CN ballot-node-<id>; {id} in FILE is the id)" },
    'tls-key': { type: 'string', value: 'FILE', description: "the certificate's private key (PEM; {id} in FILE is the id)" },
    'tls-ca': { type: 'string', value: 'FILE', description: "the cluster CA's certificate (PEM); peers must present a certificate it signed" },
    insecure: { type: 'boolean', description: 'without TLS, run although some member is not on loopback (and warn): anyone reaching the port can vote' },
    'join-new': { type: 'boolean', description: 'run although the data dir is empty and peers knew this node (a lost disk; read docs/runtime.md first)' },
    join: { type: 'boolean', description: "raft: a new node joining a running cluster: --peers names its members (not this node), --listen is required; it waits to be added (ballot member add; docs/membership.md)" },
    'compact-every': { type: 'string', value: 'N', description: 'snapshot the key-value store (/kv) and compact the log every N applied entries (default 10000; 0: never)' },
    ...timingOptions,
    ...raftOptions,
    log: { type: 'string', value: 'LEVEL', description: `${logLevels.join(', ')}: JSON lines on stderr, one per leadership or connection change at info (default info)` },
    record: { type: 'string', value: 'FILE', description: 'append every input the core receives to FILE (JSON lines) for `ballot replay FILE`' },
    'record-max-mb': { type: 'string', value: 'MB', description: 'stop recording once FILE would pass MB mebibytes (default 1024: ~4 days of an idle Raft follower)' },
    'exit-on-stdin-close': { type: 'boolean', description: 'also stop when stdin closes (used by ballot cluster, so a dead parent leaves no orphans)' },
  },
  epilog:
    'Precedence: flags, then BALLOT_* variables (BALLOT_DATA_DIR=DIR, BALLOT_JOIN_NEW=true), then --config.\n' +
    'Without --tls-* the peer port speaks plaintext: only when every member is on loopback, else --insecure.\n' +
    'Exit status: 0 after a clean stop, 1 when the node had to stop (e.g. its state could not be written),\n' +
    '2 for bad arguments or configuration (duplicate ids, own id missing, port in use, unusable data dir),\n' +
    'and when the data dir was empty but a peer knew this node as an existing member: it may have voted in\n' +
    'the current term and forgotten it. --join-new runs it anyway; that is safe only once the cluster has\n' +
    'moved past the term in which the disk was lost. --join is different: a node the cluster never knew,\n' +
    'started empty on purpose, which takes part only once the leader adds it (ballot member add).\n' +
    'Exit status 3: the cluster removed this node (a member said so); wipe its data dir before --join.\n' +
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

/** The variable that stands for option `name`: BALLOT_DATA_DIR for data-dir. */
export function envName(name: string): string {
  return `BALLOT_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Settings from BALLOT_* variables; an empty variable counts as unset. */
function fromEnvironment(env: NodeJS.ProcessEnv): ParsedOptions {
  const values: ParsedOptions = {};
  for (const [name, option] of Object.entries(nodeSpec.options)) {
    const text = env[envName(name)];
    if (text === undefined || text === '') continue;
    if (option.type === 'string') values[name] = text;
    else if (/^(1|true|yes|on)$/i.test(text)) values[name] = true;
    else if (/^(0|false|no|off)$/i.test(text)) values[name] = false;
    else throw new UsageError(`${envName(name)} must be true or false, got ${JSON.stringify(text)}`);
  }
  return values;
}

/**
 * The config file's shape, from the option table: one key per option, unknown keys refused; a member
 * list as "1=HOST:PORT,..." or {"1": "HOST:PORT", ...}. zod is loaded only for a --config file
 * (synchronously, so parsing stays synchronous): a node started from flags never pays for it
 * (docs/runtime.md, Start-up; src/cli/lazy-modules.test.ts).
 */
function configFileSchema(): import('zod').ZodType<ParsedOptions> {
  const { z } = createRequire(import.meta.url)('zod') as typeof import('zod');
  const memberList = z.union([z.string(), z.record(z.string().regex(/^\d+$/, 'a node id'), z.string())]).transform((value) =>
    typeof value === 'string' ? value : Object.entries(value).map(([id, address]) => `${id}=${address}`).join(','),
  );
  return z.strictObject(
    Object.fromEntries(
      Object.entries(nodeSpec.options)
        .filter(([name]) => name !== 'config')
        .map(([name, option]) => [
          name,
          (name === 'peers' || name === 'observers'
            ? memberList
            : name === 'advertise'
              ? z.union([z.string(), z.record(z.string(), z.unknown())]).transform((value) => (typeof value === 'string' ? value : JSON.stringify(value)))
              : option.type === 'boolean' ? z.boolean() : z.union([z.string(), z.number()]).transform(String)
          ).optional(),
        ]),
    ),
  );
}

function fromFile(path: string): ParsedOptions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--config: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${path}: not JSON (${(error as Error).message})`);
  }
  const parsed = configFileSchema().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the file';
    const what = issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}` : `${where}: ${issue.message}`;
    throw new UsageError(`--config ${path}: ${what}`);
  }
  return parsed.data;
}

/** Flags over BALLOT_* variables over the --config file (itself named by a flag or BALLOT_CONFIG). */
export function mergeSources(flags: ParsedOptions, env: NodeJS.ProcessEnv): ParsedOptions {
  const environment = fromEnvironment(env);
  const configPath = flags.config ?? environment.config;
  const file = configPath === undefined ? {} : fromFile(required(configPath, 'config'));
  const defined = (values: ParsedOptions): ParsedOptions => Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
  return { ...defined(file), ...defined(environment), ...defined(flags) };
}

/** A StatefulSet pod's ordinal plus one: `ballot-2` → 3 (ids start at 1, ordinals at 0). */
export function idFromHostname(name: string): number {
  const match = /-(\d{1,9})$/.exec(name);
  if (!match) throw new UsageError(`--id-from-hostname: hostname ${JSON.stringify(name)} does not end in -<ordinal> (as a StatefulSet pod's, e.g. ballot-0)`);
  return Number(match[1]) + 1;
}

/** Turns the command line (and the environment, and a config file) into node options; throws UsageError for any mistake it can see. */
export function parseNodeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeCommand | 'help' {
  const flags = parseOptions(nodeSpec, argv);
  if (flags.help) return 'help';
  const values = mergeSources(flags, env);
  if (values.id !== undefined && values['id-from-hostname'] === true) throw new UsageError('give --id or --id-from-hostname, not both');
  // Kubernetes sets HOSTNAME to the pod's name; os.hostname() is the same there and elsewhere a fallback.
  const id = values['id-from-hostname'] === true ? idFromHostname(env.HOSTNAME || hostname()) : values.id === undefined ? null : integer(values.id, 'id', 0, 1);
  if (id === null) throw new UsageError('--id is required (or --id-from-hostname)');
  const tlsFlags = (['tls-cert', 'tls-key', 'tls-ca'] as const).filter((name) => values[name] !== undefined);
  if (tlsFlags.length > 0 && tlsFlags.length < 3) throw new UsageError('--tls-cert, --tls-key and --tls-ca go together');
  if (tlsFlags.length === 3 && values.insecure === true) throw new UsageError('--insecure contradicts --tls-cert: with TLS the peer port is authenticated');
  const algorithm = oneOf(values.algorithm, 'algorithm', algorithmNames);
  const peers = idMap(required(values.peers, 'peers'), 'peers');
  if (values.join === true && values.listen === undefined) throw new UsageError('--join needs --listen HOST:PORT (a joining node is not in --peers, which gives the others their addresses)');
  const observers = idMap(values.observers, 'observers');
  const dataDir = required(values['data-dir'], 'data-dir');
  const raftAsked = parseRaftOptions(values, [algorithm], timing(values), false, realNodeRaftOptions);
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
    ...(values.join === true ? { join: true } : {}),
    ...(values['compact-every'] !== undefined ? { compactEvery: integer(values['compact-every'], 'compact-every', 10_000, 0) } : {}),
    ...(values.insecure === true ? { insecure: true } : {}),
    ...(tlsFlags.length === 3 ? { tls: readTls(withId(values['tls-cert'], 'tls-cert', id), withId(values['tls-key'], 'tls-key', id), required(values['tls-ca'], 'tls-ca')) } : {}),
    ...(values.record !== undefined ? { record: required(values.record, 'record') } : {}),
    ...(values.advertise !== undefined ? { advertise: advertised(required(values.advertise, 'advertise')) } : {}),
    ...(values.priority !== undefined ? { priority: integer(values.priority, 'priority', 0, 0, MAX_PRIORITY) } : {}),
    ...(values['record-max-mb'] !== undefined ? { recordMaxBytes: integer(values['record-max-mb'], 'record-max-mb', 1024, 1, 1024 * 1024) * 1024 * 1024 } : {}),
  };
  if (values['record-max-mb'] !== undefined && values.record === undefined) throw new UsageError('--record-max-mb needs --record FILE');
  return { options, log: oneOf(values.log, 'log', logLevels, 'info'), exitOnStdinClose: values['exit-on-stdin-close'] === true };
}

/** `--advertise JSON`, checked here so that a mistake is one line and exit 2 before anything starts. */
function advertised(text: string): Meta {
  try {
    return parseMeta(text);
  } catch (error) {
    if (error instanceof InvalidMeta) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * A path in which `{id}` stands for the node id: every pod of a StatefulSet gets the same settings and
 * the same Secret, and picks its own certificate with /etc/ballot/tls/node-{id}.crt.
 */
function withId(value: string | boolean | undefined, name: string, id: number): string {
  return required(value, name).replaceAll('{id}', String(id));
}

function readTls(cert: string, key: string, ca: string): TlsOptions {
  try {
    return readTlsFiles({ cert, key, ca });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * The exit status after the node stopped itself: 2 when the user must fix something before starting it
 * again (its data dir is empty but the cluster knew it), 1 otherwise (its state could not be written).
 */
export function fatalExitCode(error: Error): 1 | 2 {
  return error instanceof ConfigError ? 2 : 1;
}

/**
 * The exit status of a node the cluster removed (NodeEvents 'removed'): distinct from a failure (1) and
 * a mistake (2), so that a supervisor can be told not to restart it (systemd RestartPreventExitStatus=3):
 * started again on the same data dir, it would only learn it again and stop.
 */
export const REMOVED_EXIT_CODE = 3;

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
      // The node first: a leader's hand-off (TimeoutNow) is written within handle.stop(), and a
      // hand-off's time counts from the signal (issue 13). Letting go of stdin can wait.
      void handle.stop();
      if (command.exitOnStdinClose) process.stdin.destroy();
    };
    // A signal that came while the node was starting stops it now (signals.ts).
    onStopSignal(stop);
    if (command.exitOnStdinClose) {
      process.stdin.on('end', stop);
      process.stdin.on('close', stop);
      process.stdin.resume();
    }
    handle.on('removed', ({ index, by }) => {
      io.err(`ballot node: node ${handle.id} was removed from the cluster (node ${by} says so: configuration index ${index}); wipe its data dir before it joins again (--join)\n`);
      code = REMOVED_EXIT_CODE;
      stop(); // the node is stopping already; this lets go of stdin
    });
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
