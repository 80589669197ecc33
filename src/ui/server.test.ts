/**
 * The visualizer's server: the page, the browser's modules and zod are served; nothing else is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolvePath, startUiServer } from './server.js';

test('only the browser-side modules of dist/ and zod are reachable', () => {
  const zod = '/x/node_modules/zod';
  assert.match(resolvePath('/dist/sim/simulation.js', zod) ?? '', /dist[\\/]sim[\\/]simulation\.js$/);
  assert.match(resolvePath('/dist/core/raft/raft.js', zod) ?? '', /dist[\\/]core[\\/]raft[\\/]raft\.js$/);
  // The simulator's workload hosts the key-value store and checks its history (issue 15).
  assert.match(resolvePath('/dist/kv/store.js', zod) ?? '', /dist[\\/]kv[\\/]store\.js$/);
  assert.match(resolvePath('/dist/check/checker.js', zod) ?? '', /dist[\\/]check[\\/]checker\.js$/);
  assert.equal(resolvePath('/vendor/zod/v4/classic/external.js', zod), '/x/node_modules/zod/v4/classic/external.js');
  for (const bad of [
    '/dist/runtime/node.js',
    '/dist/cli/main.js',
    '/dist/sim/simulation.test.js',
    '/dist/sim/../runtime/node.js',
    '/dist/sim/%2e%2e/runtime/node.js',
    '/vendor/zod/../../package.json',
    '/dist/sim/simulation.ts',
    '/etc/passwd',
    '/dist/sim/%E0%A4%A.js',
  ]) {
    assert.equal(resolvePath(bad, zod), null, bad);
  }
});

test('the server serves the page, the app and zod, and 404s the rest', async () => {
  const server = await startUiServer({ port: 0, host: '127.0.0.1' });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /"zod": "\/vendor\/zod\/index\.js"/);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no network resources');
    const app = await fetch(new URL('/dist/ui/app.js', server.url));
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await app.text(), /from '\.\/side-by-side\.js'/);
    const model = await fetch(new URL('/dist/ui/side-by-side.js', server.url));
    assert.equal(model.status, 200);
    assert.match(await model.text(), /createRun/);
    assert.equal((await fetch(new URL('/vendor/zod/index.js', server.url))).status, 200);
    assert.equal((await fetch(new URL('/dist/runtime/node.js', server.url))).status, 404);
    assert.equal((await fetch(new URL('/dist/sim/nope.js', server.url))).status, 404);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});
