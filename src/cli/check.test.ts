import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatKvHistory } from '../check/kv-history.js';
import { generateKvHistory } from '../check/generate.js';
import { Prng } from '../core/prng.js';
import { main } from './main.js';

/** Runs `ballot check` on files written into a fresh directory, capturing what it prints. */
async function ballotCheck(files: Record<string, string>, args: (dir: string) => string[]): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-check-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    let out = '';
    let err = '';
    const code = await main(['check', ...args(dir)], { out: (text) => void (out += text), err: (text) => void (err += text) });
    return { code, out, err };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const stale = [
  '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1}',
  '{"client":1,"op":"put","key":"x","value":"2","invoke":2,"complete":3}',
  '{"client":2,"op":"get","key":"x","value":"1","invoke":4,"complete":5}',
].join('\n');

test('ballot check: linearizable is exit 0, and the first line says so', async () => {
  const history = formatKvHistory(generateKvHistory({ operations: 500, keys: 3, clients: 6, unknownRate: 0.05 }, new Prng(2)));
  const { code, out } = await ballotCheck({ 'h.jsonl': history }, (dir) => [join(dir, 'h.jsonl')]);
  assert.equal(code, 0);
  assert.equal(out.split('\n')[0], 'linearizable');
  assert.match(out, /500 operations on 3 keys/);
});

test('ballot check: not linearizable is exit 1 with the excerpt, in text and in --json', async () => {
  const text = await ballotCheck({ 'h.jsonl': stale }, (dir) => [join(dir, 'h.jsonl')]);
  assert.equal(text.code, 1);
  assert.equal(text.out.split('\n')[0], 'not linearizable');
  assert.match(text.out, /key "x": these 3 operations could take effect in some order, but in none that respects their times/);
  assert.match(text.out, /none of these can come next, with the key at "2" \(v2\):\n {2}line 3: get x → "1"/);
  const json = await ballotCheck({ 'h.jsonl': stale }, (dir) => ['--json', join(dir, 'h.jsonl')]);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.out) as { result: string; failingKeys: string[]; excerpt: { key: string; kind: string; minimal: boolean; operations: { line: number }[]; unplaced: number[] } };
  assert.equal(parsed.result, 'not-linearizable');
  assert.deepEqual(parsed.failingKeys, ['x']);
  assert.deepEqual(parsed.excerpt.operations.map((op) => op.line), [1, 2, 3]);
  assert.deepEqual(parsed.excerpt.unplaced, [3]);
  assert.equal(parsed.excerpt.kind, 'order');
});

test('ballot check: a bad line or bad arguments are one line on stderr and exit 2', async () => {
  const bad = await ballotCheck({ 'h.jsonl': `${stale}\n{"client":1,"op":"cas","key":"x","value":"3","invoke":6,"complete":7,"result":{"ok":true}}\n` }, (dir) => [join(dir, 'h.jsonl')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^ballot check: .*h\.jsonl: line 4, field "expect": must be a non-negative integer/);
  assert.equal(bad.err.trim().split('\n').length, 1);
  assert.equal((await ballotCheck({}, (dir) => [join(dir, 'missing.jsonl')])).code, 2);
  assert.equal((await ballotCheck({}, () => [])).code, 2);
  assert.equal((await ballotCheck({ 'h.jsonl': stale }, (dir) => [join(dir, 'h.jsonl'), '--timeout', 'soon'])).code, 2);
});

test('ballot check --timeout: exit 3, unknown, when the limit runs out first', async () => {
  const history = formatKvHistory(generateKvHistory({ operations: 20_000, keys: 1, clients: 10 }, new Prng(4)));
  const { code, out } = await ballotCheck({ 'h.jsonl': history }, (dir) => [join(dir, 'h.jsonl'), '--timeout', '1', '--json']);
  assert.equal(code, 3);
  assert.equal((JSON.parse(out) as { result: string }).result, 'unknown');
});
