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

/**
 * A logger of the pino family (pino, bunyan's shape, or anything with `info(object, message)`,
 * `debug(object, message)` and `child(bindings)`), so a service hands its own logger to startNode and
 * gets ballot's lines in its own format and destination. Only these three methods are used.
 */
export interface PinoLikeLogger {
  info(fields: object, message?: string): void;
  debug(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): PinoLikeLogger;
}

/** Whether `logger` is a pino-like one (it has `child`) rather than ballot's own Logger. */
export function isPinoLike(logger: Logger | PinoLikeLogger): logger is PinoLikeLogger {
  return typeof (logger as Partial<PinoLikeLogger>).child === 'function';
}

/**
 * Either kind of logger as ballot's Logger. A pino-like one gets a child bound to `bindings` (e.g. the
 * node id), and every line as `info({ event, ...fields }, event)`: the event name is both a field (to
 * filter on) and the message (to read).
 */
export function adaptLogger(logger: Logger | PinoLikeLogger, bindings: LogFields = {}): Logger {
  if (!isPinoLike(logger)) return logger;
  const child = logger.child({ ...bindings });
  return {
    info: (event, fields) => child.info({ event, ...fields }, event),
    debug: (event, fields) => child.debug({ event, ...fields }, event),
  };
}
