/**
 * `ballot cluster`: a local cluster of real `ballot node` processes on 127.0.0.1 (CONTRACT.md), with a
 * live table of who leads. Node i listens for peers on base+i-1 and serves HTTP on httpBase+i-1.
 * Ctrl-C or SIGTERM stops every child it started; children also stop by themselves if this process
 * dies without a chance to clean up (their stdin pipe closes). The nodes speak mutual TLS, with
 * certificates from a throw-away CA made for this run (certificates.ts) and kept in DIR/tls.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agreedLeader, algorithmNames, findAlgorithm } from '../core/index.js';
import { realNodeRaftOptions } from '../core/raft/index.js';
import { logLevels } from '../runtime/log.js';
import { LocalCluster, ballotJs, type MemberExit, type NodeStatus } from '../runtime/local-cluster.js';
import { parseRaftOptions, raftOptions } from './raft-flags.js';
import { UsageError, helpText, integer, oneOf, parseOptions, timing, timingOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';

export const clusterSpec: CommandSpec = {
  name: 'cluster',
  usage: 'ballot cluster --algorithm bully|raft|zab [--nodes 5] [--base-port 7001] [--http-base-port 8001] [--data-dir DIR]',
  summary:
    'Starts one `ballot node` process per member on 127.0.0.1 (node i: peer port base+i-1, HTTP port\n' +
    'http-base+i-1), shows a live table of their role, leader and term, and stops them all on Ctrl-C.\n' +
    'Kill a node (kill -9 PID) to watch a failover. The nodes authenticate each other with mutual TLS,\n' +
    'from a throw-away CA made at start (its certificates in DIR/tls). Write to any member, e.g.\n' +
    '`curl -X PUT 127.0.0.1:8001/kv/x -d 1`: a follower redirects to the leader (307).',
  options: {
    algorithm: { type: 'string', value: 'NAME', description: `the election algorithm: ${algorithmNames.join(', ')} (required)` },
    nodes: { type: 'string', value: 'N', description: 'voting members, ids 1..N (default 5)' },
    observers: { type: 'string', value: 'K', description: 'non-voting members after the voters (default 0)' },
    'base-port': { type: 'string', value: 'PORT', description: 'peer port of node 1 (default 7001)' },
    'http-base-port': { type: 'string', value: 'PORT', description: 'HTTP port of node 1 (default 8001)' },
    'data-dir': { type: 'string', value: 'DIR', description: 'node i keeps its state in DIR/n<i> and its log in DIR/node-<i>.log (default: a temporary directory, removed at exit)' },
    'cluster-id': { type: 'string', value: 'NAME', description: 'the cluster id every node is given (default "ballot")' },
    ...timingOptions,
    ...raftOptions,
    log: { type: 'string', value: 'LEVEL', description: `log level of the nodes' log files: ${logLevels.join(', ')} (default info)` },
  },
  epilog: 'Exit status: 0 after Ctrl-C/SIGTERM, 2 for bad arguments or when a node cannot start (e.g. a port in use).',
};

export interface ClusterCommand {
  readonly algorithm: string;
  readonly nodes: number;
  readonly observers: number;
  readonly basePort: number;
  readonly httpBasePort: number;
  readonly dataDir: string | null;
  readonly nodeArgs: readonly string[];
}

export function parseClusterArgs(argv: readonly string[]): ClusterCommand | 'help' {
  const values = parseOptions(clusterSpec, argv);
  if (values.help) return 'help';
  const algorithm = oneOf(values.algorithm, 'algorithm', algorithmNames);
  if (!findAlgorithm(algorithm)) throw new UsageError(`--algorithm ${algorithm} is not implemented yet`);
  const nodes = integer(values.nodes, 'nodes', 5, 1, 100);
  const observers = integer(values.observers, 'observers', 0, 0, 100);
  if (observers > 0 && !findAlgorithm(algorithm)!.supportsObservers) throw new UsageError(`--observers: ${algorithm} has no non-voting members`);
  const total = nodes + observers;
  const basePort = integer(values['base-port'], 'base-port', 7001, 1, 65536 - total);
  const httpBasePort = integer(values['http-base-port'], 'http-base-port', 8001, 1, 65536 - total);
  if (basePort < httpBasePort + total && httpBasePort < basePort + total) {
    throw new UsageError(`--base-port ${basePort} and --http-base-port ${httpBasePort} overlap for ${total} nodes`);
  }
  const nodeArgs: string[] = [];
  // Checked here, so a mistake is one line from the cluster rather than five from its children.
  const { electionTimeoutMinMs, electionTimeoutMaxMs, heartbeatMs } = timing(values);
  if (electionTimeoutMinMs !== undefined) nodeArgs.push('--election-timeout', `${electionTimeoutMinMs}-${electionTimeoutMaxMs}`);
  if (heartbeatMs !== undefined) nodeArgs.push('--heartbeat', String(heartbeatMs));
  if (values['cluster-id'] !== undefined) nodeArgs.push('--cluster-id', String(values['cluster-id']));
  parseRaftOptions(values, [algorithm], timing(values), false, realNodeRaftOptions);
  for (const name of Object.keys(raftOptions)) if (values[name] !== undefined) nodeArgs.push(`--${name}`, String(values[name]));
  nodeArgs.push('--log', oneOf(values.log, 'log', logLevels, 'info'));
  const dataDir = values['data-dir'];
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '')) throw new UsageError('--data-dir needs a directory');
  return { algorithm, nodes, observers, basePort, httpBasePort, dataDir: dataDir === undefined ? null : resolve(dataDir), nodeArgs };
}

const POLL_MS = 200;

export async function runCluster(argv: readonly string[], io: CommandIo): Promise<number> {
  const command = parseClusterArgs(argv);
  if (command === 'help') {
    io.out(helpText(clusterSpec));
    return 0;
  }
  const temporary = command.dataDir === null;
  let dataDir: string;
  try {
    dataDir = command.dataDir ?? mkdtempSync(join(tmpdir(), 'ballot-cluster-'));
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--data-dir: cannot use ${command.dataDir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const total = command.nodes + command.observers;
  // Loaded here, not at the top: only this command needs the certificate library.
  const { generateClusterCertificates, writeClusterCertificates } = await import('../runtime/certificates.js');
  const tlsDir = join(dataDir, 'tls');
  writeClusterCertificates(tlsDir, await generateClusterCertificates(Array.from({ length: total }, (_, i) => i + 1), 'ballot cluster'));
  const cluster = new LocalCluster({
    command: [process.execPath, ballotJs, 'node'],
    algorithm: command.algorithm,
    voters: command.nodes,
    observers: command.observers,
    peerPorts: Array.from({ length: total }, (_, i) => command.basePort + i),
    httpPorts: Array.from({ length: total }, (_, i) => command.httpBasePort + i),
    dataDir,
    logDir: dataDir,
    tlsDir,
    extraArgs: command.nodeArgs,
    advertiseUrls: true,
  });
  // Whatever ends this process, no child outlives it.
  const killAll = (): void => cluster.killAllSync();
  process.on('exit', killAll);

  const view = new ClusterView(cluster, command, dataDir, io, process.stdout.isTTY === true);
  let failure: MemberExit | null = null;
  let stopping = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  cluster.onExit((exit) => {
    view.exited(exit);
    // Exit status 2 is a node refusing its configuration (a port in use, an unusable data dir):
    // the cluster cannot run as asked, so stop it and say why.
    if (!stopping && exit.code === 2 && failure === null) {
      failure = exit;
      wake();
    }
  });
  const onSignal = (): void => wake();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  cluster.startAll();
  view.header();
  let polling = true;
  const poll = async (): Promise<void> => {
    while (polling) {
      view.update(await cluster.statuses(POLL_MS * 2));
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
    }
  };
  const poller = poll();
  await stopped;
  stopping = true;
  polling = false;
  await poller;
  // The signal handlers stay until the children are gone: a second Ctrl-C must not kill this process
  // half-way (the children would still stop, through their stdin, but without a report).
  await cluster.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', killAll);
  if (temporary) rmSync(dataDir, { recursive: true, force: true });
  if (failure !== null) {
    const { id, stderr } = failure as MemberExit;
    const reason = [...stderr].reverse().find((line) => line.startsWith('ballot')) ?? stderr.at(-1) ?? 'exit status 2';
    io.err(`ballot cluster: node ${id} could not start: ${reason.replace(/^ballot node: /, '')}\n`);
    return 2;
  }
  io.out(`stopped ${total} nodes${temporary ? '' : `; their state is in ${dataDir}`}\n`);
  return 0;
}

/** The live table: redrawn in place on a terminal, one line per change otherwise. */
class ClusterView {
  private readonly started = performance.now();
  private readonly rows = new Map<number, string>();
  private drawnLines = 0;
  private drawn = '';

  constructor(
    private readonly cluster: LocalCluster,
    private readonly command: ClusterCommand,
    private readonly dataDir: string,
    private readonly io: CommandIo,
    private readonly tty: boolean,
  ) {}

  header(): void {
    const { algorithm, nodes, observers } = this.command;
    const members = observers > 0 ? `${nodes} voters + ${observers} observers` : `${nodes} nodes`;
    this.io.out(`ballot cluster: ${algorithm}, ${members} on 127.0.0.1 (mutual TLS), data and logs in ${this.dataDir} (Ctrl-C stops them all)\n`);
    if (!this.tty) {
      for (const id of this.cluster.members) {
        this.io.out(`node ${id} pid ${this.cluster.pid(id) ?? '-'} peer 127.0.0.1:${this.command.basePort + id - 1} http 127.0.0.1:${this.cluster.httpPort(id)}\n`);
      }
    }
  }

  exited(exit: MemberExit): void {
    const how = exit.signal ?? `exit ${exit.code}`;
    this.rows.set(exit.id, `down (${how})`);
    if (!this.tty) this.line(`node ${exit.id}: down (${how})`);
  }

  update(statuses: Map<number, NodeStatus | null>): void {
    const changed: string[] = [];
    for (const id of this.cluster.members) {
      if (!statuses.has(id)) continue; // not running; its row says why
      const status = statuses.get(id) ?? null;
      const text = status === null ? 'starting' : `${status.role}, leader ${status.leader ?? '-'}, term ${status.term}`;
      if (this.rows.get(id) !== text) {
        this.rows.set(id, text);
        changed.push(`node ${id}: ${text}`);
      }
    }
    if (this.tty) this.draw(statuses);
    else for (const text of changed) this.line(text);
  }

  private line(text: string): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(3);
    this.io.out(`[${seconds.padStart(8)}s] ${text}\n`);
  }

  private draw(statuses: Map<number, NodeStatus | null>): void {
    const lines = [`${'node'.padStart(4)}  ${'pid'.padEnd(8)}${'peer'.padEnd(17)}${'http'.padEnd(17)}${'role'.padEnd(13)}${'leader'.padStart(6)}${'term'.padStart(7)}`];
    const leaders = new Map<string, number>();
    for (const id of this.cluster.members) {
      const status = statuses.get(id) ?? null;
      const pid = this.cluster.pid(id);
      const peer = `127.0.0.1:${this.command.basePort + id - 1}`;
      const http = `127.0.0.1:${this.cluster.httpPort(id)}`;
      const prefix = `${String(id).padStart(4)}  ${String(pid ?? '-').padEnd(8)}${peer.padEnd(17)}${http.padEnd(17)}`;
      if (status === null) {
        lines.push(prefix + (this.cluster.isRunning(id) ? 'starting' : (this.rows.get(id) ?? 'down')));
        continue;
      }
      lines.push(prefix + status.role.padEnd(13) + String(status.leader ?? '-').padStart(6) + String(status.term).padStart(7));
      if (status.leader !== null) {
        const key = `${status.leader}@${status.term}`;
        leaders.set(key, (leaders.get(key) ?? 0) + 1);
      }
    }
    const live = this.cluster.running();
    const agreed = agreedLeader(live.map((id) => statuses.get(id) ?? null));
    const views = [...leaders.entries()].map(([key, count]) => `${key.replace('@', ' (term ')}) named by ${count}/${live.length}`);
    lines.push(
      agreed !== null
        ? `leader: ${agreed.leader} (term ${agreed.term}), agreed by all ${live.length} live nodes`
        : `leader: ${views.length > 0 ? `no agreement: ${views.join('; ')}` : 'none'}`,
    );
    const text = lines.join('\n');
    if (text === this.drawn) return; // nothing changed: leave the terminal alone
    this.drawn = text;
    // Move the cursor back over the previous drawing and overwrite it line by line.
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    this.io.out(up + lines.map((line) => `\r\x1b[2K${line}\n`).join(''));
    this.drawnLines = lines.length;
  }
}
