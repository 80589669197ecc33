/**
 * `ballot node` loads only what a node needs before its first election (docs/runtime.md, Start-up):
 * no npm package at all, no other subcommand, no TLS without --tls-*. A child process runs the real
 * command under a module hook that writes down every module it loads (ESM through a resolve hook,
 * CommonJS from require.cache and Node's own modules from process.moduleLoadList at exit); this test fails
 * if someone adds an eager import back. It runs both builds: tsc's dist/cli/main.js and the bundle `bin`
 * points to, dist/cli/ballot.cjs (scripts/bundle.mjs), which must keep TLS and the npm packages as lazy
 * as tsc's files do.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ballotJs, mainJs } from '../runtime/local-cluster.js';
import { freePorts, waitFor } from '../runtime/testing.js';

const dir = mkdtempSync(join(tmpdir(), 'ballot-lazy-modules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The hook runs on the loader's own thread; it appends each module's URL to the file named in the environment.
const hookJs = join(dir, 'hook.mjs');
writeFileSync(
  hookJs,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.MODULE_LOG, result.url + '\\n');
  return result;
}
`,
);
const registerJs = join(dir, 'register.mjs');
writeFileSync(
  registerJs,
  `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hookJs).href)});
const cache = createRequire(import.meta.url).cache;
// Node's own modules, however loaded (a CommonJS bundle requires them, which the resolve hook never sees).
const builtins = () => process.moduleLoadList.filter((entry) => /^NativeModule (?!internal\\/)/.test(entry)).map((entry) => 'node:' + entry.slice(13));
process.on('exit', () => appendFileSync(process.env.MODULE_LOG, [...Object.keys(cache).map((path) => 'cjs:' + path), ...builtins()].map((line) => line + '\\n').join('')));
`,
);

/** What must not load before a node's first election, and why. */
const lazy: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /\/node_modules\//, what: 'an npm package (prom-client, zod, @peculiar/x509: each costs a node tens of ms of CPU at start)' },
  { pattern: /\/dist\/cli\/(sim|bench|cluster|compare|replay|ui)\.js$/, what: 'another subcommand' },
  { pattern: /\/dist\/(sim|bench|compare|ui)\//, what: 'the simulator, the benchmarks, the comparison or the visualizer' },
  { pattern: /\/dist\/runtime\/(tls|certificates)\.js$|^node:tls$/, what: 'TLS without --tls-*' },
];

function httpGet(port: number, path: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(null));
  });
}

/** Runs `ballot node` until /health answers and /metrics was scraped, stops it, and returns every module it loaded. */
async function modulesLoadedBy(name: string, extraArgs: readonly string[] = [], entry = mainJs): Promise<{ modules: string[]; metrics: string }> {
  const [peerPort, httpPort] = await freePorts(2);
  const log = join(dir, `${name}.modules`);
  writeFileSync(log, '');
  const args = ['--import', pathToFileURL(registerJs).href, entry, 'node', '--id', '1', '--algorithm', 'raft', '--peers', `1=127.0.0.1:${peerPort!}`];
  args.push('--http', `127.0.0.1:${httpPort!}`, '--data-dir', join(dir, name), '--exit-on-stdin-close', ...extraArgs);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, MODULE_LOG: log } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(`ballot node to serve /health (stderr: ${stderr})`, 30_000, async () => ((await httpGet(httpPort!, '/health'))?.status === 200 ? true : undefined), 20);
    // A node that is scraped must still need no npm package for it.
    const metrics = await httpGet(httpPort!, '/metrics');
    child.stdin.end();
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
    assert.equal(code, 0, `ballot node stopped cleanly (stderr: ${stderr})`);
    return { modules: readFileSync(log, 'utf8').split('\n').filter((line) => line !== ''), metrics: metrics?.body ?? '' };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Fails if `modules` include anything of `lazy`, or if /metrics was not served. */
function assertNothingLazyLoaded(modules: readonly string[], metrics: string): void {
  for (const { pattern, what } of lazy) {
    const loaded = modules.filter((url) => pattern.test(url.replace(/^(file:\/\/|cjs:)/, '')));
    assert.deepEqual(loaded, [], `loaded ${what}`);
  }
  assert.match(metrics, /^ballot_info\{node="1",algorithm="raft",cluster="ballot"\} 1$/m, '/metrics is served');
}

test('ballot node loads no npm package, no other subcommand and no TLS before its first election, nor to serve /metrics', { timeout: 60_000 }, async () => {
  const { modules, metrics } = await modulesLoadedBy('plain');
  assert.ok(modules.some((url) => url.endsWith('/dist/runtime/node.js')), `the hook saw the runtime load (a broken hook would pass anything): ${modules.join(', ')}`);
  assertNothingLazyLoaded(modules, metrics);
});

test('the bundle (dist/cli/ballot.cjs, bin) runs a node from its one file, with no npm package, other subcommand or TLS', { timeout: 60_000 }, async () => {
  const { modules, metrics } = await modulesLoadedBy('bundle', [], ballotJs);
  // The hook sees every resolution, so a file imported by two chunks appears twice.
  const ours = [...new Set(modules.filter((url) => /\/dist\//.test(url)).map((url) => url.replace(/^(file:\/\/|cjs:)/, '')))];
  // The one file of ballot's the node reads is the bundle (require.cache lists it; no ESM module at all).
  assert.deepEqual(ours, [ballotJs], `ballot's files the node read: ${modules.join(', ')}`);
  assert.ok(modules.includes('node:http'), `Node's own modules are listed (a broken exit hook would pass anything): ${modules.join(', ')}`);
  assertNothingLazyLoaded(modules, metrics);
});

for (const [build, entry] of [['tsc', mainJs], ['bundle', ballotJs]] as const) {
  test(`the hook sees a CommonJS package when one loads: zod, for a --config file (${build} build)`, { timeout: 60_000 }, async () => {
    const config = join(dir, `node-${build}.json`);
    writeFileSync(config, JSON.stringify({ 'cluster-id': 'lazy' }));
    const { modules } = await modulesLoadedBy(`config-${build}`, ['--config', config], entry);
    assert.ok(
      modules.some((line) => /^cjs:.*\/node_modules\/zod\//.test(line)),
      `zod was loaded for --config and the exit hook listed it: ${modules.filter((line) => line.startsWith('cjs:')).join(', ')}`,
    );
  });
}
