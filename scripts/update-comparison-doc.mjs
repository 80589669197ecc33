#!/usr/bin/env node
// Regenerates every measured block of docs/comparison.md: each block sits between
// `<!-- ballot ARGS: begin -->` and `<!-- ballot ARGS: end -->`, and is replaced by the output of
// `ballot ARGS`, run from the built tree (npm run build first). Usage: node scripts/update-comparison-doc.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const docPath = `${root}docs/comparison.md`;
const doc = readFileSync(docPath, 'utf8');
const block = /<!-- ballot (.+?): begin -->\n[\s\S]*?<!-- ballot \1: end -->/g;
let updated = doc;
for (const match of doc.matchAll(block)) {
  const args = match[1].split(/\s+/);
  process.stderr.write(`ballot ${args.join(' ')}\n`);
  const output = execFileSync(process.execPath, [`${root}dist/cli/main.js`, ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  updated = updated.replace(match[0], `<!-- ballot ${match[1]}: begin -->\n${output.trimEnd()}\n<!-- ballot ${match[1]}: end -->`);
}
writeFileSync(docPath, updated);
process.stderr.write(`updated ${docPath}\n`);
