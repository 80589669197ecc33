/**
 * Child processes of the failover bench (etcd, java, ballot node): spawned with their output in a log
 * file, killed with SIGKILL, and never left behind. Every process started here is recorded until it
 * exits; if the bench itself exits (normally, on an uncaught error, or after Ctrl-C) the survivors are
 * killed synchronously from the 'exit' hook, so a benchmark run leaves no orphans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AnnouncementListener, ClusterUnderTest, MemberSignal, MemberView } from './system.js';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** How many processes started here are still running (tests use it to prove cleanup). */
export function liveProcessCount(): number {
  return live.size;
}

export interface StartedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** kill -9; resolves once the process is gone (bounded: a SIGKILLed process always goes). */
  kill(): Promise<void>;
  /** Sends a signal without waiting (a no-op once the process has exited). */
  signal(signal: NodeJS.Signals): void;
  /** The last lines of the log, for error messages. */
  logTail(lines?: number): string;
}

/**
 * The processes of one cluster under test, by member: which are alive, signals to one, stop of all.
 * Shared by the etcd and ZooKeeper adapters (through startProcessCluster), which differ only in how
 * they start and poll.
 */
export class ProcessGroup {
  private readonly processes = new Map<number, StartedProcess>();
  /** Members sent SIGKILL or SIGTERM by the bench: their exit is expected. */
  private readonly leaving = new Set<number>();
  private stopped = false;

  /** `what` names a member in errors, e.g. 'etcd member' or 'ZooKeeper server'. */
  constructor(private readonly what: string) {}

  add(member: number, process: StartedProcess): void {
    this.processes.set(member, process);
  }

  /** Throws, with the log's tail, if one of `members` died although the bench did not stop it. */
  requireAlive(members: readonly number[]): void {
    for (const member of members) {
      const child = this.processes.get(member);
      if (child && !this.leaving.has(member) && !child.isRunning()) throw new Error(`${this.what} ${member} exited unexpectedly; its log ends:\n${child.logTail()}`);
    }
  }

  /** Sends `signal`; SIGKILL resolves once the process is gone. */
  async signal(member: number, signal: MemberSignal): Promise<void> {
    const child = this.processes.get(member);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') this.leaving.add(member);
    if (signal === 'SIGKILL') await child?.kill();
    else child?.signal(signal);
  }

  /** kill -9 of every process (the data directory is thrown away after the trial); safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.processes.values()].map((p) => p.kill()));
  }
}

/** What a system adds to a ProcessGroup to make a cluster under test (etcd-system.ts, zookeeper-system.ts). */
export interface ProcessClusterParts {
  /** Writes what the members need before they start (directories, configuration files). */
  prepare?(): Promise<void>;
  /** Starts every member's process into `group`, all at once (see startAll). */
  launch(group: ProcessGroup): Promise<void>;
  /** Polls each of `members` once (see ClusterUnderTest.views). */
  poll(members: readonly number[]): Promise<Map<number, MemberView | null>>;
  /** Releases what polling one member (or, without an argument, every member) holds: keep-alive connections. */
  release?(member?: number): void;
  /** See ClusterUnderTest.announcements; absent where the system's log does not name the leader. */
  announcements?(listener: AnnouncementListener): () => void;
}

/**
 * A cluster of `nodes` members (ids 1..nodes), one process each: checks that `ports` are free, launches,
 * and on a failed launch stops what did start before rethrowing.
 */
export async function startProcessCluster(what: string, nodes: number, ports: readonly number[], parts: ProcessClusterParts): Promise<ClusterUnderTest> {
  return (await prepareProcessCluster(what, nodes, ports, parts))();
}

/**
 * startProcessCluster in two steps (SystemUnderTest.prepare): checks that `ports` are free and writes
 * the members' files now; the function it returns launches them. The bench times a cold start from that
 * launch, as it times ballot's from its spawns, so neither system's clock runs while the other's
 * preparations are left out.
 */
export async function prepareProcessCluster(what: string, nodes: number, ports: readonly number[], parts: ProcessClusterParts): Promise<() => Promise<ClusterUnderTest>> {
  await requireFreePorts(ports);
  await parts.prepare?.();
  return () => launchProcessCluster(what, nodes, parts);
}

async function launchProcessCluster(what: string, nodes: number, parts: ProcessClusterParts): Promise<ClusterUnderTest> {
  const group = new ProcessGroup(what);
  const cluster: ClusterUnderTest = {
    members: Array.from({ length: nodes }, (_, i) => i + 1),
    views(members) {
      group.requireAlive(members);
      return parts.poll(members);
    },
    async signal(member, signal) {
      if (signal === 'SIGKILL' || signal === 'SIGTERM') parts.release?.(member);
      await group.signal(member, signal);
    },
    async stop() {
      parts.release?.();
      await group.stop();
    },
    ...(parts.announcements ? { announcements: parts.announcements.bind(parts) } : {}),
  };
  try {
    await parts.launch(group);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

export interface StartOptions {
  readonly args: readonly string[];
  /** stdout and stderr go to this file (created or truncated). */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Called with every line the process writes (stdout or stderr) as soon as it is read; its output
   * then passes through this process on its way to `logFile` (without it, straight to the file).
   */
  readonly onLine?: (line: string) => void;
}

/**
 * Starts every member's process at once (each `start` spawns before its first await), as a cluster
 * restart would and as LocalCluster starts ballot's members, and adds each started one to `group`; if
 * any could not be started, rejects with the first error once all have settled (what did start is in
 * `group`, for the caller to stop).
 */
export async function startAll(group: ProcessGroup, nodes: number, start: (member: number) => Promise<StartedProcess>): Promise<void> {
  const members = Array.from({ length: nodes }, (_, i) => i + 1);
  const results = await Promise.allSettled(members.map(start));
  let failure: unknown = null;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') group.add(members[i]!, result.value);
    else failure ??= result.reason;
  });
  if (failure !== null) throw failure;
}

/**
 * Starts `command`; rejects if it cannot be started at all (ENOENT: not installed), with a message that
 * names the command.
 */
export async function startProcess(command: string, options: StartOptions): Promise<StartedProcess> {
  installExitHook();
  const log = openSync(options.logFile, 'w');
  let child: ChildProcess;
  const onLine = options.onLine;
  try {
    child = spawn(command, [...options.args], {
      stdio: onLine ? ['ignore', 'pipe', 'pipe'] : ['ignore', log, log],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
  } catch (error) {
    closeSync(log);
    throw error;
  }
  if (onLine) {
    const file = createWriteStream('', { fd: log });
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        file.write(text);
        const lines = (partial + text).split('\n');
        partial = lines.pop()!;
        for (const line of lines) onLine(line);
      });
    }
    child.once('exit', () => file.end());
  } else {
    // The child holds its own descriptor for the file; ours is no longer needed.
    closeSync(log);
  }
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error: NodeJS.ErrnoException) => {
      live.delete(child);
      reject(new Error(error.code === 'ENOENT' ? `${command} not found (is it installed?)` : `cannot start ${command}: ${error.message}`));
    });
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const pid = child.pid!;
  return {
    pid,
    logFile: options.logFile,
    exited,
    isRunning: () => running,
    async kill() {
      if (!running) return;
      try {
        child.kill('SIGKILL');
      } catch {
        // raced with its exit
      }
      await exited;
    },
    signal(signal) {
      if (!running) return;
      try {
        child.kill(signal);
      } catch {
        // raced with its exit
      }
    },
    logTail(lines = 5) {
      try {
        const text = readFileSync(options.logFile, 'utf8').trimEnd();
        return text.split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

/** Resolves true when 127.0.0.1:port can be bound right now (nothing else listens there). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** Rejects, naming the first busy port, unless every port is free. */
export async function requireFreePorts(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use (choose another --base-port)`);
  }
}
