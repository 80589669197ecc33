#!/usr/bin/env node
/**
 * The `ballot` command. Each subcommand is loaded only when it runs, so `--help` stays instant.
 * A user's mistake is one line on stderr and exit status 2; never a stack trace.
 */
import { UsageError } from './args.js';
import type { CommandIo } from './io.js';
import { catchStopSignals } from './signals.js';

export type { CommandIo } from './io.js';

type CommandRunner = (argv: readonly string[], io: CommandIo) => number | Promise<number>;

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandRunner>;
}

export const commands: Record<string, CommandEntry> = {
  sim: {
    summary: 'run one election scenario in the deterministic simulator',
    load: async () => {
      const { runSim } = await import('./sim.js');
      return (argv, io) => runSim(argv, io.out);
    },
  },
  node: {
    summary: 'run one real node (TCP between peers, state on disk, HTTP status)',
    load: async () => (await import('./node.js')).runNode,
  },
  member: {
    summary: 'add, remove or list the members of a running Raft cluster; recover one that lost its majority',
    load: async () => (await import('./member.js')).runMember,
  },
  cluster: {
    summary: 'run a local cluster of real nodes and show who leads',
    load: async () => (await import('./cluster.js')).runCluster,
  },
  compare: {
    summary: 'run the same seeded scenarios for every algorithm and print the measured comparison',
    load: async () => (await import('./compare.js')).compareCommand,
  },
  bench: {
    summary: 'real processes side by side with etcd and ZooKeeper: failover, cold start (bench failover), writes (bench kv)',
    load: async () => {
      const { runBench } = await import('./bench.js');
      return (argv, io) => runBench(argv, { ...io, tty: process.stderr.isTTY === true });
    },
  },
  replay: {
    summary: "replay a node's --record file in a fresh core and print its transitions",
    load: async () => (await import('./replay.js')).runReplay,
  },
  check: { summary: 'check that a key-value history (JSON Lines) is linearizable', load: async () => (await import('./check.js')).runCheck },
  torture: {
    summary: 'real faults on real nodes in network namespaces (needs root): partitions, loss, kill -9, pauses; checks the result',
    load: async () => (await import('./torture.js')).runTorture,
  },
  ui: {
    summary: 'serve the browser visualizer: watch and disturb simulated elections',
    load: async () => (await import('./ui.js')).runUi,
  },
};

function version(): string {
  return '0.1.0';
}

function usage(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'Usage: ballot <command> [options]',
    '',
    'Leader election — Bully, Raft and ZAB — simulated, run for real, and measured.',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}${commands[name]!.summary}`),
    '',
    "Run 'ballot <command> --help' for a command's options.",
  ].join('\n') + '\n';
}

export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a mistake, not a request for help: usage on stderr, exit 2 (a script that forgot
    // its arguments must not pass).
    io.err(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(`ballot ${version()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    io.err(`ballot: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(commands).join(', ')}; see ballot --help)\n`);
    return 2;
  }
  try {
    const run = await entry.load();
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`ballot ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

const io: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

// Run only when executed as the command, not when imported by tests.
const invokedAs = process.argv[1] ?? '';
if (/[\\/](main\.js|ballot\.cjs|ballot)$/.test(invokedAs)) {
  // `ballot node` exits 0 on SIGTERM at any time, also while it loads the runtime (signals.ts).
  if (process.argv[2] === 'node') catchStopSignals();
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`ballot: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
