/**
 * Structured logs: one JSON object per line. Quiet by default: at `info`, a node logs one line per
 * leadership change and per connection change (and fatal errors), nothing per message or heartbeat;
 * `debug` adds rejected frames and failed connection attempts.
 */
export type LogLevel = 'silent' | 'info' | 'debug';
export const logLevels: readonly LogLevel[] = ['silent', 'info', 'debug'];

export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { info: () => {}, debug: () => {} };

/** A logger writing JSON lines through `write` (e.g. to stderr), with `base` fields on every line. */
export function jsonLogger(level: LogLevel, write: (line: string) => void, base: LogFields = {}): Logger {
  const rank = { silent: 0, info: 1, debug: 2 } as const;
  const emit = (at: 'info' | 'debug', event: string, fields: LogFields = {}): void => {
    if (rank[at] > rank[level]) return;
    // Wall time only for humans reading the log; the core never sees it.
    write(JSON.stringify({ time: new Date().toISOString(), level: at, ...base, event, ...fields }) + '\n');
  };
  return {
    info: (event, fields) => emit('info', event, fields),
    debug: (event, fields) => emit('debug', event, fields),
  };
}
