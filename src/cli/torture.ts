/**
 * `ballot torture`: real faults on real processes (docs/torture.md). The run itself is
 * src/torture/run.ts; this file reads the command line, checks for root and `ip`, turns Ctrl-C and
 * SIGTERM into an orderly end of the run (a second one exits at once; the namespaces still go, from
 * the 'exit' hook of src/torture/netns.ts), and prints the result.
 */
import { UsageError, helpText, integer, oneOf, parseOptions, range, timing, timingOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';
import { algorithmNames } from '../core/algorithms.js';
import { FAULT_KINDS } from '../torture/schedule.js';

export const tortureSpec: CommandSpec = {
  name: 'torture',
  usage: 'ballot torture [--algorithm NAME] [--nodes N] [--cycles N | --duration SEC] [--seed N] [--json]\n       ballot torture --cleanup',
  summary:
    'Runs real `ballot node` processes, each in a Linux network namespace of its own on a private bridge,\n' +
    'and injects one fault per cycle: partitions and one-way cuts (iptables), loss and delay (tc netem),\n' +
    'kill -9, SIGSTOP/SIGCONT, restarts. Polls every node\'s /status throughout and checks: at most one\n' +
    'leader per term, terms never go back, no two leases overlap, and one leader agreed within the bound\n' +
    'after each fault ends. When the nodes serve /kv, clients write and read keys and their history is\n' +
    'checked for linearizability (as ballot check does). Removes every namespace, link and rule it made,\n' +
    'also on Ctrl-C. Needs root and ip; iptables and tc are used when present (what could not be made is\n' +
    'said on stderr and in the result).',
  options: {
    algorithm: { type: 'string', value: 'NAME', description: `the algorithm: ${algorithmNames.join(', ')} (default raft)` },
    nodes: { type: 'string', value: 'N', description: 'cluster size, 3 to 9 (default 3)' },
    cycles: { type: 'string', value: 'N', description: 'fault cycles to run (default 10; with --duration: no limit)' },
    duration: { type: 'string', value: 'SEC', description: 'stop starting new cycles after SEC seconds' },
    seed: { type: 'string', value: 'N', description: 'the fault schedule\'s seed: the same seed, the same faults (default: random, printed)' },
    faults: { type: 'string', value: 'LIST', description: `fault kinds to draw from, comma-separated (default all): ${FAULT_KINDS.join(', ')}` },
    'fault-ms': { type: 'string', value: 'MIN-MAX', description: 'how long each fault holds, in ms (default 1000-4000)' },
    workload: { type: 'string', value: 'auto|kv|none', description: 'key-value clients: auto runs them when the nodes serve /kv (default auto)' },
    clients: { type: 'string', value: 'N', description: 'concurrent key-value clients, each one operation at a time (default 4)' },
    keys: { type: 'string', value: 'N', description: 'keys the clients use (default 5)' },
    history: { type: 'string', value: 'FILE', description: 'write the key-value history here (JSON Lines; ballot check FILE reads it)' },
    ...timingOptions,
    json: { type: 'boolean', description: 'print one JSON object (see docs/torture.md) instead of the summary' },
    cleanup: { type: 'boolean', description: 'remove what earlier runs left (namespaces and links of runs whose process is gone) and exit' },
  },
  epilog:
    'Exit status: 0 every check passed, 1 a violation, 2 bad arguments (or not root, or no ip),\n' +
    '3 the run could not be completed (a node did not start or come back), 130 interrupted.\n' +
    'Progress goes to stderr. Example: sudo ballot torture --algorithm raft --cycles 20 --seed 7',
};

export async function runTorture(argv: readonly string[], io: CommandIo): Promise<number> {
  const values = parseOptions(tortureSpec, argv);
  if (values.help) {
    io.out(helpText(tortureSpec));
    return 0;
  }
  const { toolsPresent, removeLeftovers } = await import('../torture/netns.js');
  const tools = toolsPresent();
  if (!tools.root) throw new UsageError('needs root (it creates network namespaces, links and firewall rules)');
  if (!tools.ip) throw new UsageError('needs the ip command (Debian: iproute2)');
  if (values.cleanup === true) {
    const { removed, inUse } = removeLeftovers();
    io.out(removed.length === 0 ? 'nothing to remove\n' : `removed ${removed.join(' ')}\n`);
    if (inUse.length > 0) io.err(`ballot torture: left alone, in use by a running torture: ${inUse.join(' ')}\n`);
    return 0;
  }

  const algorithm = oneOf(values.algorithm, 'algorithm', algorithmNames, 'raft');
  const nodes = integer(values.nodes, 'nodes', 3, 3, 9);
  const durationSec = values.duration === undefined ? undefined : integer(values.duration, 'duration', 0, 1);
  const cycles = integer(values.cycles, 'cycles', durationSec === undefined ? 10 : Number.MAX_SAFE_INTEGER, 1);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer(values.seed, 'seed', 0, 0);
  const kinds = values.faults === undefined ? undefined : String(values.faults).split(',').map((kind) => oneOf(kind.trim(), 'faults', FAULT_KINDS));
  const faultMs = range(values['fault-ms'], 'fault-ms');
  if (faultMs && faultMs.min < 100) throw new UsageError('--fault-ms must be at least 100');
  const workload = oneOf(values.workload, 'workload', ['auto', 'kv', 'none'] as const, 'auto');
  const clients = integer(values.clients, 'clients', 4, 1, 64);
  const keys = integer(values.keys, 'keys', 5, 1, 1000);
  const history = typeof values.history === 'string' ? values.history : undefined;
  const nodeTiming = timing(values);

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      io.err(`ballot torture: ${signal}: ending the run (healing, stopping the nodes, removing the namespaces); again to exit at once\n`);
      controller.abort();
    } else {
      process.exit(130); // the namespaces go in netns.ts's 'exit' hook
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { runTorture: run } = await import('../torture/run.js');
    let result;
    try {
      result = await run({
        algorithm,
        nodes,
        cycles,
        durationMs: durationSec === undefined ? Infinity : durationSec * 1000,
        seed,
        timing: nodeTiming,
        workload,
        clients,
        keys,
        ...(history !== undefined ? { historyFile: history } : {}),
        ...(kinds !== undefined ? { kinds } : {}),
        ...(faultMs ? { minFaultMs: faultMs.min, maxFaultMs: faultMs.max } : {}),
        progress: (line) => io.err(`${line}\n`),
        signal: controller.signal,
      });
    } catch (error) {
      io.err(`ballot torture: the run could not be completed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 3;
    }
    const { describeResult } = await import('../torture/report.js');
    io.out(values.json === true ? JSON.stringify(result) + '\n' : describeResult(result));
    if (result.violations.length > 0) return 1;
    return result.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
