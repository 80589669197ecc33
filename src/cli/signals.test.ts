/**
 * SIGTERM at any time (issue 9, item 6): a real `ballot node` process that gets SIGTERM at any moment
 * of its start-up exits 0 and leaves nothing behind. The one exception is a signal that lands before
 * the process has run any JavaScript (Node's own bootstrap, tens of ms; longer on a loaded machine):
 * Node then dies by the signal, and no program can change that. The test tells the two apart without
 * guessing at timings: a preloaded module writes a line to stdout the moment `ballot node` installs
 * its SIGTERM handler, so a death by SIGTERM is accepted only from a process that never got that far.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, sleep } from '../runtime/testing.js';
import { mainJs } from '../runtime/local-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-signals-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MARKER = 'sigterm-handler-installed';
const preload = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from 'node:fs'; process.on('newListener', (event) => { if (event === 'SIGTERM') writeSync(1, '${MARKER}\\n'); });`,
)}`;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly handlersBeforeKill: boolean;
  readonly handlersAtAll: boolean;
  readonly events: string[];
}

let runs = 0;

/** Spawns `ballot node`, sends SIGTERM `delayMs` after the spawn (or after its handler is installed), and reports how it ended. */
async function terminate(delayMs: number, from: 'spawn' | 'handlers'): Promise<Run> {
  const [peer, http] = await freePorts(2);
  const child = spawn(
    process.execPath,
    ['--import', preload, mainJs, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peer}`, '--http', `127.0.0.1:${http}`, '--data-dir', join(dir, `n${runs++}`)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let onMarker = (): void => {};
  const marked = new Promise<void>((resolve) => (onMarker = resolve));
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (stdout.includes(MARKER)) onMarker();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  try {
    if (from === 'handlers') await Promise.race([marked, sleep(20_000)]);
    await sleep(delayMs);
    const handlersBeforeKill = stdout.includes(MARKER);
    child.kill('SIGTERM');
    const [code, signal] = await Promise.race([exited, sleep(10_000).then(() => [null, null] as [null, null])]);
    await closed;
    const events = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { event: string }).event);
    // Nothing left behind: the process is gone and so are its ports.
    assert.throws(() => process.kill(child.pid!, 0), /ESRCH/, 'the process is gone');
    for (const port of [peer!, http!]) await bindable(port);
    return { code, signal, handlersBeforeKill, handlersAtAll: stdout.includes(MARKER), events };
  } finally {
    child.kill('SIGKILL');
  }
}

function bindable(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(new Error(`port ${port} still held: ${error.message}`)));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve()));
  });
}

function check(run: Run, what: string): void {
  if (run.signal === 'SIGTERM') {
    // Only a process that never ran our JavaScript may die by the signal (Node's bootstrap).
    assert.equal(run.handlersAtAll, false, `${what}: died by SIGTERM after its handler was installed`);
    return;
  }
  assert.deepEqual([run.code, run.signal], [0, null], `${what}: exit 0 (stderr events: ${run.events.join(', ')})`);
  // Either it stopped before starting (no log at all), or it started and then stopped cleanly.
  if (run.events.length > 0) assert.deepEqual([run.events[0], run.events.at(-1)], ['started', 'stopped'], what);
}

test('SIGTERM from 0 to 600 ms after spawning ballot node: exit 0, nothing left behind', { timeout: 120_000 }, async (t) => {
  const outcomes: string[] = [];
  for (const delayMs of [0, 25, 50, 100, 150, 200, 300, 400, 500, 600]) {
    const run = await terminate(delayMs, 'spawn');
    check(run, `SIGTERM ${delayMs} ms after spawn`);
    outcomes.push(`${delayMs} ms: ${run.signal ?? `exit ${run.code}`}${run.handlersBeforeKill ? '' : ' (before its handler)'}${run.events.includes('started') ? ', had started' : ''}`);
  }
  t.diagnostic(outcomes.join('; '));
});

test('SIGTERM from 0 to 600 ms after ballot node installed its handler (while it loads and starts): always exit 0', { timeout: 120_000 }, async (t) => {
  const outcomes: string[] = [];
  for (const delayMs of [0, 10, 50, 100, 200, 300, 400, 600]) {
    const run = await terminate(delayMs, 'handlers');
    assert.ok(run.handlersBeforeKill, 'the handler was installed before the signal');
    check(run, `SIGTERM ${delayMs} ms after the handler`);
    outcomes.push(`${delayMs} ms: exit ${run.code}${run.events.includes('started') ? ', had started' : ''}`);
  }
  t.diagnostic(outcomes.join('; '));
});
