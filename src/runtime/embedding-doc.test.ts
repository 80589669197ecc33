/**
 * docs/embedding.md keeps its word: every ```ts block (complete modules; `ts fragment` and `ts pg`
 * blocks excepted) type-checks against the package as a user imports it ('ballot/runtime', resolved by
 * package self-reference to this build), and pattern 2's redirect service, taken from the page, runs
 * as three processes: a follower redirects to the URL the leader advertises, the leader answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { freePortBlock, freePorts, waitFor } from './testing.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const distDir = join(repo, 'dist');

/** The ```ts blocks of docs/embedding.md (info string exactly "ts"). */
function completeBlocks(): string[] {
  const text = readFileSync(join(repo, 'docs', 'embedding.md'), 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

test('every complete TypeScript block of docs/embedding.md type-checks against the package (strict)', { timeout: 60_000 }, () => {
  const blocks = completeBlocks();
  assert.ok(blocks.length >= 4, `found ${blocks.length} blocks`);
  const dir = join(distDir, `.doc-check-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const files = blocks.map((block, i) => {
      const file = join(dir, `block-${i + 1}.ts`);
      writeFileSync(file, block);
      return file;
    });
    const program = ts.createProgram(files, {
      noEmit: true,
      strict: true,
      exactOptionalPropertyTypes: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [join(repo, 'node_modules', '@types')],
      skipLibCheck: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start) : null;
      const name = diagnostic.file ? diagnostic.file.fileName.slice(dir.length + 1) : '';
      return `${name}${where ? `:${where.line + 1}` : ''}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function get(port: number, path: string): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('pattern 2, run from the page: a follower redirects to the URL the leader advertises; the leader answers', { timeout: 60_000 }, async () => {
  const block = completeBlocks().find((source) => source.includes('createServer'));
  assert.ok(block, 'the redirect service is on the page');
  const peerPorts = await freePorts(3);
  const base = await freePortBlock(4);
  let program = ts.transpileModule(block, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  for (const [i, port] of peerPorts.entries()) program = program.replaceAll(`127.0.0.1:700${i + 1}`, `127.0.0.1:${port}`);
  assert.ok(program.includes('8080 + id'), 'the service port is 8080 + id');
  program = program.replace('8080 + id', `${base} + id`);
  const script = join(distDir, `.embedding-redirect-${process.pid}.mjs`);
  writeFileSync(script, program);
  const dir = mkdtempSync(join(tmpdir(), 'ballot-redirect-'));
  const children: ChildProcess[] = [];
  const output: string[] = ['', '', ''];
  try {
    for (const id of [1, 2, 3]) {
      const child = spawn(process.execPath, [script], { cwd: dir, env: { ...process.env, NODE_ID: String(id) }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output[id - 1] += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output[id - 1] += chunk));
      children.push(child);
    }
    await waitFor('every instance to know a leader', 30_000, () => (output.every((text) => /leader: node \d at http:\/\/127\.0\.0\.1:\d+/.test(text)) ? true : undefined), 50, () => JSON.stringify(output));
    const checked = await waitFor('a redirect from each follower to the leader, and the leader\'s answer', 20_000, async () => {
      const answers = await Promise.all([1, 2, 3].map((id) => get(base + id, '/report?day=1').catch(() => null)));
      const leaders = answers.flatMap((answer, i) => (answer?.status === 200 ? [i + 1] : []));
      if (leaders.length !== 1) return undefined;
      const leader = leaders[0]!;
      const followers = answers.filter((_, i) => i + 1 !== leader);
      if (!followers.every((answer) => answer?.status === 307 && answer.location === `http://127.0.0.1:${base + leader}/report?day=1`)) return undefined;
      return { leader, body: answers[leader - 1]!.body };
    }, 100);
    assert.match(checked.body, new RegExp(`^node ${checked.leader} leads in term \\d+\\n$`));
    const exits = await Promise.all(children.map((child) => new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    })));
    assert.deepEqual(exits, [0, 0, 0], JSON.stringify(output));
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
