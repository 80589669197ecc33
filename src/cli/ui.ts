/**
 * `ballot ui`: serves the browser visualizer — the same core algorithms and simulator engine as
 * `ballot sim`, stepped frame by frame in the page (docs/ui.md). Binds 127.0.0.1 unless told otherwise;
 * Ctrl-C or SIGTERM stops it.
 */
import { isIP } from 'node:net';
import { startUiServer } from '../ui/server.js';
import { UsageError, helpText, integer, parseOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';

export const uiSpec: CommandSpec = {
  name: 'ui',
  usage: 'ballot ui [--port 8080] [--host 127.0.0.1]',
  summary:
    'Serves the browser visualizer: pick an algorithm, cluster size, seed and scenario and watch the\n' +
    'simulated run — roles, terms, messages in flight, elections — and crash, restart or partition nodes.\n' +
    'The page is self-contained (no network needed).',
  options: {
    port: { type: 'string', value: 'PORT', description: 'TCP port to listen on; 0 picks a free one (default 8080)' },
    host: { type: 'string', value: 'ADDR', description: 'IP address to bind (default 127.0.0.1: only this machine can connect)' },
  },
  epilog: 'Exit status: 0 after Ctrl-C/SIGTERM, 2 for bad arguments or when the port is in use.',
};

export interface UiCommand {
  readonly port: number;
  readonly host: string;
}

export function parseUiArgs(argv: readonly string[]): UiCommand | 'help' {
  const values = parseOptions(uiSpec, argv);
  if (values.help) return 'help';
  const port = integer(values.port, 'port', 8080, 0, 65535);
  const host = values.host === undefined ? '127.0.0.1' : String(values.host);
  if (isIP(host) === 0) throw new UsageError(`--host must be an IP address, got ${JSON.stringify(host)}`);
  return { port, host };
}

export async function runUi(argv: readonly string[], io: CommandIo): Promise<number> {
  const command = parseUiArgs(argv);
  if (command === 'help') {
    io.out(helpText(uiSpec));
    return 0;
  }
  let server;
  try {
    server = await startUiServer(command);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${command.port} is in use on ${command.host} (try --port 0)`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new UsageError(`cannot listen on ${command.host}:${command.port} (${code})`);
    throw error;
  }
  if (command.host !== '127.0.0.1' && command.host !== '::1') io.err(`note: listening on ${command.host}, reachable from other machines\n`);
  io.out(`ballot ui: open ${server.url} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  io.out('ballot ui: stopped\n');
  return 0;
}
