/**
 * The bundled command, dist/cli/ballot.cjs (scripts/bundle.mjs, run by `npm run build`), is what `bin`
 * points to and what `ballot cluster` and the failover bench start their members from: it must be the
 * same command as tsc's dist/cli/main.js. Real processes; what each subcommand does is tested elsewhere
 * through main.js, so here: the bundle exists where `bin` says, answers like main.js (help, version,
 * a subcommand outside the bundle, a user's mistake), and runs a node that serves /health.
 * (lazy-modules.test.ts checks what the bundle loads.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mainJs, ballotJs } from '../runtime/local-cluster.js';
import { freePorts, waitFor } from '../runtime/testing.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ballot-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(entry: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("package.json's bin is the bundle, built, with its shebang", () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.equal(join(root, pkg.bin.ballot!), ballotJs);
  assert.match(readFileSync(ballotJs, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('the bundle answers as main.js does: --help, --version, a subcommand outside the bundle, a mistake', { timeout: 60_000 }, () => {
  const cases: string[][] = [
    ['--help'],
    ['--version'],
    ['sim', '--algorithm', 'raft', '--nodes', '5', '--seed', '7', '--json'],
    ['node', '--help'],
    ['node', '--id', '1', '--algorithm', 'paxos', '--peers', '1=127.0.0.1:1', '--data-dir', join(dir, 'x')],
  ];
  for (const args of cases) {
    const bundled = run(ballotJs, args);
    const plain = run(mainJs, args);
    assert.deepEqual(bundled, plain, `ballot ${args.join(' ')}`);
  }
  const mistake = run(ballotJs, cases.at(-1)!);
  assert.equal(mistake.status, 2);
  assert.equal(mistake.stderr.trim().split('\n').length, 1, `one line: ${mistake.stderr}`);
});

test("a mistake in a subcommand outside the bundle is one line and exit 2 (the bundle's copy of UsageError knows tsc's)", { timeout: 120_000 }, () => {
  const mistakes: string[][] = [
    ['sim', '--algorithm', 'paxos'],
    ['compare', '--no-such-option'],
    ['check'],
    ['replay'],
    ['cluster', '--nodes', '0'],
    ['member', 'list'],
    ['bench', 'kv', '--clients', 'x'],
    ['torture', '--nodes', '99'],
    ['ui', '--port', 'x'],
  ];
  for (const args of mistakes) {
    const { status, stderr } = run(ballotJs, args);
    assert.equal(status, 2, `ballot ${args.join(' ')}: ${stderr}`);
    assert.equal(stderr.trim().split('\n').length, 1, `ballot ${args.join(' ')}: one line, not ${JSON.stringify(stderr)}`);
    assert.match(stderr, new RegExp(`^ballot ${args[0]}: `));
  }
});

test('the bundle runs a node that serves /health and stops cleanly when its stdin closes', { timeout: 60_000 }, async () => {
  const [peerPort, httpPort] = await freePorts(2);
  const child = spawn(process.execPath, [ballotJs, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peerPort!}`, '--http', `127.0.0.1:${httpPort!}`, '--data-dir', join(dir, 'n1'), '--exit-on-stdin-close'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const health = (): Promise<number | null> =>
      new Promise((resolve) => {
        const request = get({ host: '127.0.0.1', port: httpPort!, path: '/health', agent: false, timeout: 2000 }, (response) => {
          response.resume();
          resolve(response.statusCode ?? null);
        });
        request.on('timeout', () => request.destroy());
        request.on('error', () => resolve(null));
      });
    await waitFor(`the bundled node to serve /health (stderr: ${stderr})`, 30_000, async () => ((await health()) === 200 ? true : undefined), 20);
    assert.match(stderr, /"event":"started"/);
    child.stdin.end();
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
    assert.equal(code, 0, `stopped cleanly (stderr: ${stderr})`);
  } finally {
    child.kill('SIGKILL');
  }
});
