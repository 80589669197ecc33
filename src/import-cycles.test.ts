/**
 * No module of ballot imports itself back, directly or through others (issue 10, item 7): a cycle makes
 * load order matter and layers blur. Reads the TypeScript sources, not dist/, because `import type`
 * is erased by the compiler yet ties the modules together all the same (core/types ⇄ core/shapes was one).
 * Tests are leaves and are left out; dynamic `import()` counts (main.ts loads its subcommands that way).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const srcDir = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const importPattern = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The relative modules a source file imports, as absolute .ts paths. */
export function importsOf(file: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(importPattern)].map((match) => resolve(dirname(file), (match[1] ?? match[2]!).replace(/\.js$/, '.ts')));
}

/** Every cycle's modules (a strongly connected component of more than one module, or a self-import). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the import finder sees static, type-only, re-export and dynamic imports, and skips comments', () => {
  const text = [
    "import { a } from './a.js';",
    "import type {\n  B,\n  C,\n} from '../b.js';",
    "export { d } from './d.js';",
    "export * from './e.js';",
    "const f = await import('./f.js');",
    "// import { g } from './g.js';",
    "/* import { h } from './h.js'; */",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf('/x/src/m.ts', text), ['/x/src/a.ts', '/x/b.ts', '/x/src/d.ts', '/x/src/e.ts', '/x/src/f.ts']);
});

test('cycles are found, however long, and only cycles', () => {
  const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]);
  assert.deepEqual(cycles(graph), [['a', 'b', 'c'], ['e']]);
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('no import cycles in src/', () => {
  const files = sourceFiles(srcDir);
  assert.ok(files.length > 30, `found only ${files.length} source files under ${srcDir}`);
  const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]));
  const found = cycles(graph).map((component) => component.map((file) => relative(srcDir, file)).join(' ⇄ '));
  assert.deepEqual(found, []);
});
