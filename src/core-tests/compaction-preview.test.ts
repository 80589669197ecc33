import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../core/algorithms.js';
import { TestNet } from '../core/testnet.js';
import type { AnyAlgorithm, ElectionNode, Message } from '../core/types.js';

/**
 * compactionPreview says what a compaction will hold, so that a host can write its file ahead
 * (src/runtime/storage.ts prepareField): it must be exactly the snapshot the compaction then persists,
 * and null wherever the compaction would change nothing.
 */
for (const [name, algorithm] of Object.entries(algorithms) as [string, AnyAlgorithm][]) {
  test(`${name}: compactionPreview is the snapshot compact then holds; null where compact does nothing`, () => {
    const net = new TestNet({ algorithm, voters: 3, latencyMs: 1 });
    const leader = net.runUntilAgreed();
    for (let id = 1; id <= 4; id++) net.driver(leader).step(net.now, { type: 'propose', id, command: `c${id}` });
    net.run(10 * algorithm.defaultTiming.heartbeatMs);
    const core = net.node(leader) as ElectionNode<Message, unknown>;
    assert.ok(core.compactionPreview, `${name} has a preview`);
    assert.equal(core.compactionPreview(99, 'too far'), null, 'not past what it holds');
    const preview = core.compactionPreview(3, 'state up to 3');
    assert.ok(preview !== null);
    net.driver(leader).step(net.now, { type: 'compact', index: 3, snapshot: 'state up to 3' });
    const durable = net.durable.get(leader) as Record<string, unknown>;
    assert.deepEqual(preview, { field: 'snapshot', value: durable.snapshot });
    assert.equal(core.compactionPreview(3, 'state up to 3'), null, 'not past the snapshot it holds now');
    assert.equal(core.compactionPreview(2, 'older'), null);
  });
}
