import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from './storage.js';
import { fieldWriterAvailable, writeFieldFile } from './field-writer.js';

const skip = fieldWriterAvailable ? false : 'this Node.js has no process.getBuiltinModule (20.16): nothing is written ahead';

test('a field file holds the value\'s JSON; with pieces, the worker joins them where the string was, batch after batch', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-field-writer-'));
  try {
    const parts = Array.from({ length: 300 }, (_, i) => `["k${i}","${'"quoted"\\n'.padEnd(2_000, String.fromCharCode(97 + (i % 26)))}"]`);
    const text = parts.join(',');
    const value = { index: 7, data: text, term: 2 };
    const whole = await writeFieldFile(join(dir, 'whole.json'), dir, value, 1024);
    const pieces = await writeFieldFile(join(dir, 'pieces.json'), dir, value, 1024, { text, parts: parts.flatMap((part, i) => (i === 0 ? [part] : [',', part])) });
    const expected = Buffer.from(JSON.stringify(value));
    for (const [name, written] of [['whole.json', whole], ['pieces.json', pieces]] as const) {
      assert.deepEqual(readFileSync(join(dir, name)), expected, `${name}: the JSON, its keys in their order`);
      assert.deepEqual(written, { bytes: expected.length, crc32: crc32(expected) });
    }
    // The worker writes what the pieces say: these differ from the string in one word.
    const changed = [...parts.slice(0, -1), parts.at(-1)!.replace('quoted', 'QUOTED')];
    await writeFieldFile(join(dir, 'changed.json'), dir, value, 1024, { text, parts: changed.flatMap((part, i) => (i === 0 ? [part] : [',', part])) });
    assert.equal(readFileSync(join(dir, 'changed.json'), 'utf8'), JSON.stringify({ ...value, data: changed.join(',') }), 'sent as pieces, not as the string');
    // A string the value does not hold (by identity) is sent whole.
    const other = await writeFieldFile(join(dir, 'other.json'), dir, value, 1024, { text: `${text} `, parts: ['x'] });
    assert.deepEqual(other, { bytes: expected.length, crc32: crc32(expected) });
    assert.equal(await writeFieldFile(join(dir, 'small.json'), dir, { data: 'short' }, 1024), null, 'short enough to live inline: nothing written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
