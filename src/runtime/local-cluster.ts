/**
 * A cluster of real `ballot node` processes on one machine: what `ballot cluster`, the failover
 * benchmark and the runtime's tests share. It starts, kills and restarts members with exactly the same
 * command line (so a restarted member resumes from its data dir), polls their /status over keep-alive
 * HTTP, and never leaves a child behind: children are started with --exit-on-stdin-close, so even a
 * parent killed with kill -9 takes them down (their stdin pipe closes), and `killAllSync` is meant for
 * the parent's 'exit' handler.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeId, Status } from '../core/types.js';
import { waitFor } from './testing.js';

export interface LocalClusterOptions {
  /** The command that runs `ballot node`, e.g. [process.execPath, '/…/dist/cli/main.js', 'node']. */
  readonly command: readonly string[];
  readonly algorithm: string;
  /** Voting members, ids 1..voters. */
  readonly voters: number;
  /** Non-voting members, ids after the voters. */
  readonly observers?: number;
  /**
   * Nodes that are not members yet, ids after the observers: each runs with `--join` (its --peers name
   * the voters, its --observers the observers) and waits to be added (docs/membership.md). startAll
   * leaves them out: start one with start(id) when the test means it to join.
   */
  readonly joiners?: number;
  /** Peer port and HTTP port of each member, in id order (voters then observers). */
  readonly peerPorts: readonly number[];
  readonly httpPorts: readonly number[];
  /** Member i keeps its state in `${dataDir}/n${i}`. */
  readonly dataDir: string;
  readonly clusterId?: string;
  /** More arguments for every member (timing knobs, --log). */
  readonly extraArgs?: readonly string[];
  /** Arguments of one member only, after extraArgs (e.g. its own --priority). */
  readonly memberArgs?: (id: NodeId) => readonly string[];
  /**
   * Each member advertises its own HTTP address (`--advertise {"url":"http://HOST:PORT"}`), so that a
   * follower answers a /kv request with a 307 to the leader.
   */
  readonly advertiseUrls?: boolean;
  /**
   * Run every member with mutual TLS, from the files certificates.ts writes into this directory
   * (ca.crt, node-<i>.crt, node-<i>.key); default: plaintext (every member is on loopback).
   */
  readonly tlsDir?: string;
  /** Append each member's stderr to `${logDir}/node-${i}.log`; default: not kept on disk. */
  readonly logDir?: string;
  /**
   * Each member's address, in id order (default: every member on 127.0.0.1). Members elsewhere than
   * loopback run with --insecure: plaintext peers off loopback are the caller's choice (e.g. addresses
   * inside network namespaces it made, src/torture/netns.ts).
   */
  readonly hosts?: readonly string[];
  /** A command prefix per member, e.g. ['ip', 'netns', 'exec', NS] to run it inside a network namespace. */
  readonly wrap?: (id: NodeId) => readonly string[];
}

export interface NodeStatus extends Status {
  readonly algorithm: string;
}

export interface MemberExit {
  readonly id: NodeId;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the member wrote on stderr. */
  readonly stderr: readonly string[];
}

const HOST = '127.0.0.1';

/**
 * The bundled `ballot` command (`bin`; scripts/bundle.mjs, part of `npm run build`): `ballot node` in one
 * CommonJS file, the fastest of the builds for a member to start from (docs/runtime.md, Start-up). `ballot
 * cluster` and the failover bench start their members with it.
 */
export const ballotJs = fileURLToPath(new URL('../cli/ballot.cjs', import.meta.url));

/** The unbundled command (`tsc`'s output, dist/cli/main.js): what tests and `ballot torture` spawn, the same code as ballotJs. */
export const mainJs = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** The --tls-* arguments of member `id`, in the layout of certificates.ts's certificateFiles. */
function tlsArgs(dir: string, id: NodeId): string[] {
  return ['--tls-cert', join(dir, `node-${id}.crt`), '--tls-key', join(dir, `node-${id}.key`), '--tls-ca', join(dir, 'ca.crt')];
}
const STDERR_LINES = 20;

/**
 * A member's environment: this process's, less NODE_EXTRA_CA_CERTS. Node.js reads and parses that file
 * as the process starts, before any of ballot's code runs (about 40 ms of CPU per process for Debian's
 * 220 KB bundle here: `node -e 0` takes 100 ms with it, 60 without), and a member never uses it: it
 * opens no connection that a public CA vouches for (its peers' certificates are checked against
 * --tls-ca alone). Members starting together on one machine share its cores, so this is 40 ms per
 * member off a cold start (docs/runtime.md, Start-up).
 */
export function memberEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const members = { ...env };
  delete members.NODE_EXTRA_CA_CERTS;
  return members;
}

interface Member {
  readonly id: NodeId;
  /** The program and its arguments (the same at every restart). */
  readonly program: string;
  readonly args: readonly string[];
  readonly host: string;
  readonly httpPort: number;
  child: ChildProcess | null;
  exited: Promise<MemberExit> | null;
  stderr: string[];
}

export class LocalCluster {
  readonly members: readonly NodeId[];
  /** The members started with --join (LocalClusterOptions.joiners). */
  readonly joiners: readonly NodeId[];
  private readonly table = new Map<NodeId, Member>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 });
  private readonly exitListeners = new Set<(exit: MemberExit) => void>();
  private readonly lineListeners = new Set<(id: NodeId, line: string) => void>();
  private readonly logs = new Map<NodeId, WriteStream>();

  constructor(private readonly options: LocalClusterOptions) {
    const members = options.voters + (options.observers ?? 0);
    const total = members + (options.joiners ?? 0);
    if (options.peerPorts.length < total || options.httpPorts.length < total) throw new Error('local cluster: a peer and an HTTP port per member are needed');
    this.members = Array.from({ length: total }, (_, i) => i + 1);
    const host = (id: NodeId): string => options.hosts?.[id - 1] ?? HOST;
    const address = (id: NodeId): string => `${id}=${host(id)}:${options.peerPorts[id - 1]!}`;
    const offLoopback = this.members.some((id) => host(id) !== HOST);
    const voters = this.members.filter((id) => id <= options.voters);
    const observers = this.members.filter((id) => id > options.voters && id <= members);
    this.joiners = this.members.filter((id) => id > members);
    for (const id of this.members) {
      const wrap = options.wrap?.(id) ?? [];
      const args = [
        ...wrap.slice(1),
        ...options.command.slice(wrap.length > 0 ? 0 : 1),
        '--id', String(id),
        '--algorithm', options.algorithm,
        '--listen', `${host(id)}:${options.peerPorts[id - 1]!}`,
        '--http', `${host(id)}:${options.httpPorts[id - 1]!}`,
        '--peers', voters.map(address).join(','),
        ...(observers.length > 0 ? ['--observers', observers.map(address).join(',')] : []),
        '--data-dir', join(options.dataDir, `n${id}`),
        ...(this.joiners.includes(id) ? ['--join'] : []),
        ...(options.clusterId ? ['--cluster-id', options.clusterId] : []),
        ...(options.tlsDir ? tlsArgs(options.tlsDir, id) : []),
        ...(offLoopback && !options.tlsDir ? ['--insecure'] : []),
        ...(options.advertiseUrls ? ['--advertise', JSON.stringify({ url: `http://${host(id)}:${options.httpPorts[id - 1]!}` })] : []),
        ...(options.extraArgs ?? []),
        ...(options.memberArgs?.(id) ?? []),
        '--exit-on-stdin-close',
      ];
      const program = wrap[0] ?? options.command[0]!;
      this.table.set(id, { id, program, args, host: host(id), httpPort: options.httpPorts[id - 1]!, child: null, exited: null, stderr: [] });
    }
  }

  /** Starts every member that is not running (joiners aside: see LocalClusterOptions.joiners). */
  startAll(): void {
    for (const id of this.members) if (!this.isRunning(id) && !this.joiners.includes(id)) this.start(id);
  }

  /** The member's peer address, HOST:PORT (what `ballot member add ID=HOST:PORT` takes). */
  peerAddress(id: NodeId): string {
    const index = this.members.indexOf(id);
    if (index < 0) throw new Error(`local cluster: no member ${id}`);
    return `${this.host(id)}:${this.options.peerPorts[index]!}`;
  }

  /** The full command line of a member (the same on every restart). */
  commandLine(id: NodeId): string[] {
    const member = this.member(id);
    return [member.program, ...member.args];
  }

  httpPort(id: NodeId): number {
    return this.member(id).httpPort;
  }

  /** The address the member listens on (peers and HTTP). */
  host(id: NodeId): string {
    return this.member(id).host;
  }

  pid(id: NodeId): number | null {
    return this.member(id).child?.pid ?? null;
  }

  isRunning(id: NodeId): boolean {
    return this.member(id).child !== null;
  }

  running(): NodeId[] {
    return this.members.filter((id) => this.isRunning(id));
  }

  /** Called whenever a member's process exits, for whatever reason. */
  onExit(listener: (exit: MemberExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => void this.exitListeners.delete(listener);
  }

  /** Called with every line a member writes on stderr (its JSON log lines), as soon as it is read. */
  onStderrLine(listener: (id: NodeId, line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => void this.lineListeners.delete(listener);
  }

  /** Starts (or restarts, with the same arguments) one member. */
  start(id: NodeId): void {
    const member = this.member(id);
    if (member.child) throw new Error(`local cluster: member ${id} is already running`);
    if (this.options.logDir !== undefined && !this.logs.has(id)) {
      mkdirSync(this.options.logDir, { recursive: true });
      this.logs.set(id, createWriteStream(join(this.options.logDir, `node-${id}.log`), { flags: 'a' }));
    }
    const child = spawn(member.program, member.args, { stdio: ['pipe', 'ignore', 'pipe'], env: memberEnvironment(process.env) });
    member.child = child;
    member.stderr = [];
    const log = this.logs.get(id);
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      log?.write(text);
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      const complete = lines.filter((line) => line.trim() !== '');
      member.stderr.push(...complete);
      for (const line of complete) for (const listener of this.lineListeners) listener(id, line);
      if (member.stderr.length > STDERR_LINES) member.stderr.splice(0, member.stderr.length - STDERR_LINES);
    });
    child.stdin!.on('error', () => {}); // the child may be gone before we close its stdin
    member.exited = new Promise<MemberExit>((resolve) => {
      child.once('exit', (code, signal) => {
        if (member.child === child) member.child = null;
        if (partial.trim() !== '') member.stderr.push(partial);
        const exit: MemberExit = { id, code, signal, stderr: [...member.stderr] };
        for (const listener of this.exitListeners) listener(exit);
        resolve(exit);
      });
    });
  }

  /** Sends a signal to a member and resolves once its process is gone (kill -9 by default). */
  async kill(id: NodeId, signal: NodeJS.Signals = 'SIGKILL'): Promise<MemberExit | null> {
    const member = this.member(id);
    if (!member.child || !member.exited) return null;
    member.child.kill(signal);
    return member.exited;
  }

  /** Sends a signal to a member without waiting (SIGSTOP, SIGCONT); a no-op when it is not running. */
  signal(id: NodeId, signal: NodeJS.Signals): void {
    const child = this.member(id).child;
    if (!child) return;
    try {
      child.kill(signal);
    } catch {
      // raced with its exit
    }
  }

  /** One member's /status, or null when it does not answer within `timeoutMs`. */
  status(id: NodeId, timeoutMs = 1000): Promise<NodeStatus | null> {
    const member = this.member(id);
    return fetchStatus(member.httpPort, this.agent, timeoutMs, member.host);
  }

  /** Every running member's /status (null for one that does not answer), polled in parallel. */
  async statuses(timeoutMs = 1000): Promise<Map<NodeId, NodeStatus | null>> {
    const ids = this.running();
    const replies = await Promise.all(ids.map((id) => this.status(id, timeoutMs)));
    return new Map(ids.map((id, i) => [id, replies[i]!]));
  }

  /** Every running member's status, when they all answer and name one leader in one term; else undefined (poll it). */
  async agreement(timeoutMs = 1000): Promise<NodeStatus[] | undefined> {
    const statuses = [...(await this.statuses(timeoutMs)).values()];
    if (statuses.length === 0 || statuses.some((s) => s === null)) return undefined;
    const { leader, term } = statuses[0]!;
    if (leader === null || statuses.some((s) => s!.leader !== leader || s!.term !== term)) return undefined;
    return statuses as NodeStatus[];
  }

  /**
   * Polls until every running member answers and names one leader in one term, and `done` accepts their statuses
   * (default: any agreement); rejects after `timeoutMs` with the last statuses seen.
   */
  async agreed(what: string, done: (statuses: NodeStatus[]) => boolean = () => true, timeoutMs = 30_000): Promise<NodeStatus[]> {
    let last = '';
    return waitFor(
      what,
      timeoutMs,
      async () => {
        const statuses = await this.agreement();
        last = JSON.stringify(statuses ?? [...(await this.statuses()).values()]);
        return statuses && done(statuses) ? statuses : undefined;
      },
      50,
      () => last,
    );
  }

  /**
   * Stops every member cleanly: closes their stdin (they run with --exit-on-stdin-close), sends
   * SIGTERM to any still running after a second, and SIGKILL after `graceMs`. Closing stdin first
   * matters on a terminal: Ctrl-C reaches the children too, and a SIGTERM landing while a child is
   * already exiting would be reported as a death by signal. Safe to call twice.
   */
  async stop(graceMs = 5000): Promise<MemberExit[]> {
    const running = this.members.filter((id) => this.isRunning(id));
    const exits = running.map((id) => this.member(id).exited!);
    for (const id of running) this.member(id).child?.stdin?.end();
    const term = setTimeout(() => {
      for (const id of this.members) this.member(id).child?.kill('SIGTERM');
    }, Math.min(1000, graceMs / 2));
    const kill = setTimeout(() => this.killAllSync(), graceMs);
    const results = await Promise.all(exits);
    clearTimeout(term);
    clearTimeout(kill);
    this.agent.destroy();
    await Promise.all([...this.logs.values()].map((log) => new Promise<void>((resolve) => log.end(() => resolve()))));
    this.logs.clear();
    return results;
  }

  /** kill -9 of every running member, synchronously (for process 'exit' handlers). */
  killAllSync(): void {
    for (const id of this.members) {
      const child = this.member(id).child;
      if (child) {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  private member(id: NodeId): Member {
    const member = this.table.get(id);
    if (!member) throw new Error(`local cluster: no member ${id}`);
    return member;
  }
}

/** GET /status of the node serving HTTP on `host`:`port`, or null when it does not answer in time. */
export function fetchStatus(port: number, agent: Agent | false = false, timeoutMs = 1000, host = HOST): Promise<NodeStatus | null> {
  return new Promise((resolve) => {
    const request = get({ host, port, path: '/status', agent, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(response.statusCode === 200 ? (JSON.parse(body) as NodeStatus) : null);
        } catch {
          resolve(null);
        }
      });
      response.on('error', () => resolve(null));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(null));
  });
}
