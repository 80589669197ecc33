import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from './state-format.js';
import type { SnapshotText } from '../kv/store.js';
import { fieldWriterAvailable, streamText, writeFieldFile } from './field-writer.js';

const skip = fieldWriterAvailable ? false : 'this Node.js has no process.getBuiltinModule (20.16): nothing is written ahead';

test('a field file holds the value\'s JSON; with pieces, the worker joins them where the string was, batch after batch', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ballot-field-writer-'));
  try {
    const parts = Array.from({ length: 300 }, (_, i) => `["k${i}","${'"quoted"\\n'.padEnd(2_000, String.fromCharCode(97 + (i % 26)))}"]`);
    const text = parts.join(',');
    const value = { index: 7, data: text, term: 2 };
    const whole = await writeFieldFile(join(dir, 'whole.json'), dir, value, 1024);
    const joined = (pieces: readonly string[]): SnapshotText => ({ text, parts: pieces.flatMap((part, i) => (i === 0 ? [part] : [',', part])) });
    const sent = streamText(value, joined(parts))!;
    assert.deepEqual(sent.value, { index: 7, data: '', term: 2 }, 'the string is left out of what is posted whole');
    const pieces = await writeFieldFile(join(dir, 'pieces.json'), dir, sent.value, 1024, sent.streamed);
    const expected = Buffer.from(JSON.stringify(value));
    for (const [name, written] of [['whole.json', whole], ['pieces.json', pieces]] as const) {
      assert.deepEqual(readFileSync(join(dir, name)), expected, `${name}: the JSON, its keys in their order`);
      assert.deepEqual(written, { bytes: expected.length, crc32: crc32(expected) });
    }
    // The worker writes what the pieces say: these differ from the string in one word.
    const changed = [...parts.slice(0, -1), parts.at(-1)!.replace('quoted', 'QUOTED')];
    const changedSent = streamText(value, joined(changed))!;
    await writeFieldFile(join(dir, 'changed.json'), dir, changedSent.value, 1024, changedSent.streamed);
    assert.equal(readFileSync(join(dir, 'changed.json'), 'utf8'), JSON.stringify({ ...value, data: changed.join(',') }), 'sent as pieces, not as the string');
    assert.equal(streamText(value, { text: `${text} `, parts: ['x'] }), null, 'a string the value does not hold is not streamed');
    // Arrays, nested: the items arrive in batches, in order.
    const items = Array.from({ length: 500 }, (_, i) => ({ term: 1 + (i >> 7), command: `put ${i} `.padEnd(1_500, '~') }));
    const envelope = { generation: 3, state: { currentTerm: 4, log: [] as unknown[], votedFor: 2 } };
    await writeFieldFile(join(dir, 'items.json'), dir, envelope, -1, [{ at: ['state', 'log'], items }]);
    assert.equal(readFileSync(join(dir, 'items.json'), 'utf8'), JSON.stringify({ generation: 3, state: { currentTerm: 4, log: items, votedFor: 2 } }));
    assert.equal(await writeFieldFile(join(dir, 'small.json'), dir, { data: 'short' }, 1024), null, 'short enough to live inline: nothing written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
