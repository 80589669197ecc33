/**
 * SIGTERM and SIGINT for `ballot node`, caught from the first moment the command runs: a signal at
 * any time must stop the node cleanly (exit 0). Until a process listens for a signal, Node's own
 * handler re-raises it and the process dies by it (exit 143), and loading the runtime takes a good
 * quarter of a second; so main.ts installs these handlers before it loads the command, and the
 * command subscribes once its node has started. A signal that came in between is kept, and handed to
 * the subscriber at once.
 *
 * The handlers stay until the process exits: a late second signal (a terminal's Ctrl-C reaches the
 * children of `ballot cluster`, which then also sends SIGTERM) must not turn a clean exit into a death
 * by signal. They do not keep the process alive.
 */
export type StopSignal = 'SIGTERM' | 'SIGINT';

let installed = false;
let caught: StopSignal | null = null;
const listeners = new Set<(signal: StopSignal) => void>();

function onSignal(signal: StopSignal): void {
  caught ??= signal;
  for (const listener of [...listeners]) listener(signal);
}

/** Installs the handlers (once); from now on SIGTERM and SIGINT no longer end the process by themselves. */
export function catchStopSignals(): void {
  if (installed) return;
  installed = true;
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** The first stop signal caught so far, if any. */
export function stopSignalCaught(): StopSignal | null {
  return caught;
}

/** Calls `listener` on every stop signal from now on, and at once if one was caught already. */
export function onStopSignal(listener: (signal: StopSignal) => void): void {
  catchStopSignals();
  listeners.add(listener);
  if (caught !== null) listener(caught);
}
