/**
 * `ballot ui`: its options and its mistakes (the server itself is tested in src/ui).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { mainJs } from '../runtime/local-cluster.js';
import { UsageError } from './args.js';
import { main } from './main.js';
import { parseUiArgs } from './ui.js';

test('defaults bind 127.0.0.1:8080', () => {
  assert.deepEqual(parseUiArgs([]), { port: 8080, host: '127.0.0.1' });
  assert.deepEqual(parseUiArgs(['--port', '0', '--host', '::1']), { port: 0, host: '::1' });
  assert.equal(parseUiArgs(['--help']), 'help');
});

test('bad input is a usage error', () => {
  for (const argv of [['--port', 'x'], ['--port', '70000'], ['--host', 'example.com'], ['--nodes', '3']]) {
    assert.throws(() => parseUiArgs(argv), UsageError, argv.join(' '));
  }
});

test('ballot ui --help prints the options; a mistake exits 2 with one line', async () => {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  assert.equal(await main(['ui', '--help'], io), 0);
  assert.match(out, /--port PORT/);
  assert.match(out, /--host ADDR/);
  assert.equal(await main(['ui', '--port', 'abc'], io), 2);
  assert.match(err, /^ballot ui: --port must be an integer/);
  assert.equal(err.trim().split('\n').length, 1);
});

test('ballot ui prints its URL, serves the page, and stops on SIGINT with exit 0', { timeout: 15_000 }, async () => {
  const child = spawn(process.execPath, [mainJs, 'ui', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 10_000);
      child.stdout.on('data', () => {
        const match = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ballot/);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /stopped/);
  } finally {
    child.kill('SIGKILL');
  }
});
