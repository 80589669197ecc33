/**
 * The README's embedding example, run from the README itself: the ```ts block of its "Real nodes"
 * section is extracted, compiled with TypeScript's transpiler, its peer ports swapped for free ones,
 * and started as three processes (NODE_ID=1, 2, 3) that import 'ballot/runtime' as a user would (the
 * package resolves itself by name). The job runs on the leader (never on two nodes in one term); each
 * process names a leader that ran it, and the URL that leader advertised; SIGTERM stops each cleanly (exit 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { freePorts, waitFor } from './testing.js';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
const distDir = fileURLToPath(new URL('..', import.meta.url));

/** The first ```ts block after `heading` in README.md. */
function readmeBlock(heading: string): string {
  const text = readFileSync(readme, 'utf8');
  const section = text.indexOf(`\n${heading}\n`);
  assert.ok(section >= 0, `README.md has a "${heading}" section`);
  const match = /^```ts\n([\s\S]*?)^```$/m.exec(text.slice(section));
  assert.ok(match, `a \`\`\`ts block in "${heading}"`);
  return match[1]!;
}

test('the README\'s embedding example runs: three processes, the leader runs the job, all name a leader and its URL, SIGTERM stops each with exit 0', { timeout: 60_000 }, async () => {
  const source = readmeBlock('## Real nodes');
  const ports = await freePorts(3);
  let program = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  for (const [i, port] of ports.entries()) {
    const address = `127.0.0.1:700${i + 1}`;
    assert.ok(program.includes(address), `the example's peers include ${address}`);
    program = program.replaceAll(address, `127.0.0.1:${port}`);
  }
  // Inside dist/, so that `import … from 'ballot/runtime'` resolves to this build (package self-reference).
  const script = join(distDir, `.readme-example-${process.pid}.mjs`);
  writeFileSync(script, program);
  const dir = mkdtempSync(join(tmpdir(), 'ballot-readme-'));
  const outputs = new Map<number, string>();
  const children = new Map<number, ChildProcess>();
  try {
    for (const id of [1, 2, 3]) {
      outputs.set(id, '');
      const child = spawn(process.execPath, [script], { cwd: dir, env: { ...process.env, NODE_ID: String(id) }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => outputs.set(id, outputs.get(id)! + chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => outputs.set(id, outputs.get(id)! + chunk));
      children.set(id, child);
    }
    const leaders = await waitFor('every process to print its leader', 30_000, () => {
      const named = [1, 2, 3].map((id) => /leader: \{ id: (\d+), term: (\d+), meta: \{ url: '([^']+)' \} \}/.exec(outputs.get(id)!));
      return named.every((match) => match !== null) ? named.map((match) => ({ id: Number(match![1]), term: Number(match![2]), url: match![3] })) : undefined;
    }, 50, () => JSON.stringify(Object.fromEntries(outputs)));
    // The job runs on the leader: at least one process ran it, and never two in one term (a loaded
    // machine may re-elect meanwhile; each reign is one node's).
    const reigns = await waitFor('each leader named to have run the job in its term', 10_000, () => {
      const found = [1, 2, 3].flatMap((id) => [...outputs.get(id)!.matchAll(new RegExp(`node ${id} leads in term (\\d+); fencing token \\{ term: \\d+, node: ${id} \\}`, 'g'))].map((match) => ({ id, term: Number(match[1]) })));
      return leaders.every((named) => found.some((reign) => reign.id === named.id && reign.term === named.term)) ? found : undefined;
    }, 50, () => JSON.stringify(Object.fromEntries(outputs)));
    for (const { id, term } of reigns) {
      assert.ok(reigns.every((other) => other.term !== term || other.id === id), `one leader in term ${term}: ${JSON.stringify(reigns)}`);
    }
    // Each process named the URL its leader advertised.
    for (const named of leaders) assert.equal(named.url, `http://127.0.0.1:900${named.id}`);
    const exits = await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<number | null>((resolve) => {
            child.once('exit', (code) => resolve(code));
            child.kill('SIGTERM');
          }),
      ),
    );
    assert.deepEqual(exits, [0, 0, 0], JSON.stringify(Object.fromEntries(outputs)));
  } finally {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
