import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHeap } from './heap.js';
import { Prng } from '../core/prng.js';

interface Item {
  readonly time: number;
  readonly seq: number;
  readonly label: string;
}

test('each pop takes the least queued item by time, then sequence: pushes and pops interleaved', () => {
  const prng = new Prng(3, 'heap');
  const heap = new EventHeap<Item>();
  /** What is queued, as a plain list: the least by (time, seq) is the one a pop must return. */
  const model: Item[] = [];
  const byKey = (a: Item, b: Item) => a.time - b.time || a.seq - b.seq;
  let seq = 0;
  let pops = 0;
  // Few distinct times, so ties are common; pops mixed into the pushes, as the engine does.
  for (let round = 0; round < 3000; round++) {
    for (let k = prng.nextUint32() % 4; k > 0; k--) {
      const item = { time: (prng.nextUint32() % 16) / 4, seq: seq++, label: `e${seq}` };
      heap.push(item);
      model.push(item);
    }
    if (prng.nextUint32() % 3 !== 0) continue;
    model.sort(byKey);
    assert.equal(heap.pop(), model.shift(), `pop ${pops++}`);
    assert.equal(heap.size, model.length);
  }
  assert.ok(pops > 500 && model.length > 100, `exercised: ${pops} pops, ${model.length} left`);
  model.sort(byKey);
  for (const expected of model) assert.equal(heap.pop(), expected);
  assert.equal(heap.pop(), undefined);
});

test('an empty heap pops and peeks undefined; a single item comes back', () => {
  const heap = new EventHeap<Item>();
  assert.equal(heap.pop(), undefined);
  assert.equal(heap.peek(), undefined);
  const item = { time: 1, seq: 0, label: 'only' };
  heap.push(item);
  assert.equal(heap.peek(), item);
  assert.deepEqual(heap.all(), [item]);
  assert.equal(heap.pop(), item);
  assert.equal(heap.size, 0);
});
