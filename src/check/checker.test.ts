import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Prng } from '../core/prng.js';
import { checkLinearizability, type Excerpt } from './checker.js';
import { generateKvHistory } from './generate.js';
import { formatKvHistory, parseKvHistory, type KvOperation } from './kv-history.js';
import { kvModel, type KvOutput } from './kv.js';
import type { Model } from './model.js';
import { search } from './search.js';

/** A history from JSON Lines written in the test, one operation per line. */
function history(...lines: string[]): KvOperation[] {
  return parseKvHistory(lines.join('\n')).operations;
}

/** Checks with a bound on the work (about 4M search steps), so that no case can hang the suite. */
function check(operations: readonly KvOperation[]) {
  let asked = 0;
  return checkLinearizability(kvModel, operations, { shouldStop: () => ++asked > 1000, shrinkStepsPerTrial: 200_000 });
}

function excerptLines(operations: readonly KvOperation[]): number[] {
  const result = check(operations);
  assert.equal(result.kind, 'not-linearizable');
  return result.excerpt.operations.map((op) => op.id);
}

// ---- known histories ----------------------------------------------------------------------------------

test('an empty history and a sequential one are linearizable', () => {
  assert.equal(check([]).kind, 'linearizable');
  const result = check(
    history(
      '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1,"result":{"version":1}}',
      '{"client":1,"op":"get","key":"x","value":"1","invoke":2,"complete":3,"result":{"version":1}}',
      '{"client":1,"op":"delete","key":"x","invoke":4,"complete":5,"result":{"version":2}}',
      '{"client":1,"op":"get","key":"x","value":null,"invoke":6,"complete":7,"result":{"version":2}}',
      '{"client":1,"op":"cas","key":"x","expect":2,"value":"3","invoke":8,"complete":9,"result":{"ok":true,"version":3}}',
      '{"client":1,"op":"cas","key":"x","expect":2,"value":"4","invoke":10,"complete":11,"result":{"ok":false,"version":3}}',
      '{"client":1,"op":"get","key":"x","value":"3","invoke":12,"complete":13}',
    ),
  );
  assert.deepEqual({ kind: result.kind, operations: result.operations, partitions: result.partitions }, { kind: 'linearizable', operations: 7, partitions: 1 });
});

test('the classic stale read is not linearizable, and the excerpt keeps the writes it needs', () => {
  const operations = history(
    '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1}',
    '{"client":1,"op":"put","key":"x","value":"2","invoke":2,"complete":3}',
    '{"client":2,"op":"get","key":"x","value":"1","invoke":4,"complete":5}',
    '{"client":3,"op":"put","key":"y","value":"1","invoke":0,"complete":9}',
  );
  const result = check(operations);
  assert.equal(result.kind, 'not-linearizable');
  assert.deepEqual(result.failingPartitions, ['x']);
  assert.deepEqual(result.excerpt.operations.map((op) => op.id), [1, 2, 3]);
  assert.equal(result.excerpt.kind, 'order');
  assert.equal(result.excerpt.minimal, true);
  assert.deepEqual(result.excerpt.linearized.map((step) => step.operation.id), [1, 2]);
  assert.deepEqual(result.excerpt.unplaced.map((op) => op.id), [3]);
  assert.deepEqual({ value: result.excerpt.state.value, version: result.excerpt.state.version }, { value: '2', version: 2 });
});

test('a read concurrent with a write may see the old or the new value; intervals that touch are concurrent', () => {
  for (const seen of ['null', '"1"']) {
    const operations = history(
      '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":10}',
      `{"client":2,"op":"get","key":"x","value":${seen},"invoke":2,"complete":3}`,
    );
    assert.equal(check(operations).kind, 'linearizable', seen);
  }
  const touching = history(
    '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":5}',
    '{"client":2,"op":"get","key":"x","value":null,"invoke":5,"complete":6}',
  );
  assert.equal(check(touching).kind, 'linearizable');
});

test('a lost write: an acknowledged put that a later read does not see', () => {
  const operations = history(
    '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1}',
    '{"client":2,"op":"get","key":"x","value":null,"invoke":2,"complete":3}',
  );
  assert.deepEqual(excerptLines(operations), [1, 2]);
  // Reads that flip back: new, then old again.
  const flip = history(
    '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":10}',
    '{"client":2,"op":"get","key":"x","value":"1","invoke":1,"complete":2}',
    '{"client":3,"op":"get","key":"x","value":null,"invoke":3,"complete":4}',
  );
  assert.deepEqual(excerptLines(flip), [1, 2, 3]);
});

test('concurrent compare-and-set: one may win a version, never two', () => {
  const bothWin = history(
    '{"client":1,"op":"cas","key":"x","expect":0,"value":"a","invoke":0,"complete":10,"result":{"ok":true}}',
    '{"client":2,"op":"cas","key":"x","expect":0,"value":"b","invoke":1,"complete":11,"result":{"ok":true}}',
  );
  const result = check(bothWin);
  assert.equal(result.kind, 'not-linearizable');
  assert.equal(result.excerpt.kind, 'no-order');
  assert.deepEqual(result.excerpt.operations.map((op) => op.id), [1, 2]);
  const oneWins = history(
    '{"client":1,"op":"cas","key":"x","expect":0,"value":"a","invoke":0,"complete":10,"result":{"ok":false}}',
    '{"client":2,"op":"cas","key":"x","expect":0,"value":"b","invoke":1,"complete":11,"result":{"ok":true}}',
    '{"client":3,"op":"get","key":"x","value":"b","invoke":12,"complete":13,"result":{"version":1}}',
  );
  assert.equal(check(oneWins).kind, 'linearizable');
  // A cas that fails although nothing else could have moved the version.
  const wrongFailure = history(
    '{"client":1,"op":"put","key":"x","value":"a","invoke":0,"complete":1}',
    '{"client":2,"op":"cas","key":"x","expect":1,"value":"b","invoke":2,"complete":3,"result":{"ok":false}}',
  );
  assert.deepEqual(excerptLines(wrongFailure), [1, 2]);
});

test('versions: a delete is a write, and a reported version must match', () => {
  const deleteCounts = history(
    '{"client":1,"op":"delete","key":"x","invoke":0,"complete":1,"result":{"version":1}}',
    '{"client":1,"op":"cas","key":"x","expect":1,"value":"a","invoke":2,"complete":3,"result":{"ok":true,"version":2}}',
  );
  assert.equal(check(deleteCounts).kind, 'linearizable');
  const wrongVersion = history(
    '{"client":1,"op":"put","key":"x","value":"a","invoke":0,"complete":1,"result":{"version":1}}',
    '{"client":1,"op":"get","key":"x","value":"a","invoke":2,"complete":3,"result":{"version":2}}',
  );
  assert.equal(check(wrongVersion).kind, 'not-linearizable');
});

test('an operation without an answer may take effect at any time after its call, or never', () => {
  const put = '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":null}';
  assert.equal(check(history(put, '{"client":2,"op":"get","key":"x","value":"1","invoke":50,"complete":51}')).kind, 'linearizable');
  assert.equal(check(history(put, '{"client":2,"op":"get","key":"x","value":null,"invoke":50,"complete":51}')).kind, 'linearizable');
  // ...but once seen it stays: absent after "1" is not linearizable.
  const seenThenGone = history(put, '{"client":2,"op":"get","key":"x","value":"1","invoke":5,"complete":6}', '{"client":2,"op":"get","key":"x","value":null,"invoke":7,"complete":8}');
  assert.equal(check(seenThenGone).kind, 'not-linearizable');
  // ...and not before it was called.
  const before = history('{"client":2,"op":"get","key":"x","value":"1","invoke":0,"complete":1}', '{"client":1,"op":"put","key":"x","value":"1","invoke":2,"complete":null}');
  assert.equal(check(before).kind, 'not-linearizable');
  // An unanswered read constrains nothing and is left out; a refused operation is left out when parsed.
  const parsed = parseKvHistory(
    [
      '{"client":1,"op":"get","key":"x","invoke":0,"complete":null}',
      '{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1,"result":{"error":"503: no leader"}}',
      '{"client":2,"op":"get","key":"x","value":null,"invoke":2,"complete":3}',
    ].join('\n'),
  );
  assert.equal(parsed.refused, 1);
  const result = check(parsed.operations);
  assert.deepEqual({ kind: result.kind, leftOut: result.leftOut, operations: result.operations }, { kind: 'linearizable', leftOut: 1, operations: 2 });
});

test('a time limit ends the check as unknown', () => {
  const operations = generateKvHistory({ operations: 4000, keys: 1, clients: 8 }, new Prng(3));
  const result = checkLinearizability(kvModel, operations, { shouldStop: () => true });
  assert.equal(result.kind, 'unknown');
  assert.equal(result.uncheckedPartitions, 1);
});

// ---- the history file -----------------------------------------------------------------------------------

test('a bad line names its number and field', () => {
  const cases: [string, RegExp][] = [
    ['not json', /line 2: not JSON/],
    ['[1]', /line 2: must be a JSON object/],
    ['{"op":"put","key":"x","value":"1","invoke":0,"complete":1}', /line 2, field "client"/],
    ['{"client":1,"op":"append","key":"x","invoke":0,"complete":1}', /line 2, field "op": must be one of put, get, delete, cas/],
    ['{"client":1,"op":"put","key":"","value":"1","invoke":0,"complete":1}', /line 2, field "key"/],
    ['{"client":1,"op":"put","key":"x","value":1,"invoke":0,"complete":1}', /line 2, field "value": must be a string/],
    ['{"client":1,"op":"put","key":"x","value":"1","invoke":"0","complete":1}', /line 2, field "invoke"/],
    ['{"client":1,"op":"put","key":"x","value":"1","invoke":0}', /line 2, field "complete": is required/],
    ['{"client":1,"op":"put","key":"x","value":"1","invoke":5,"complete":1}', /line 2, field "complete": must not be before invoke/],
    ['{"client":1,"op":"cas","key":"x","value":"1","invoke":0,"complete":1,"result":{"ok":true}}', /line 2, field "expect"/],
    ['{"client":1,"op":"cas","key":"x","expect":0,"value":"1","invoke":0,"complete":1}', /line 2, field "result.ok": is required/],
    ['{"client":1,"op":"get","key":"x","expect":0,"invoke":0,"complete":1,"value":null}', /line 2, field "expect": is only for cas/],
    ['{"client":1,"op":"get","key":"x","invoke":0,"complete":1}', /line 2, field "value": must be the value read/],
    ['{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":1,"result":{"version":-1}}', /line 2, field "result.version"/],
    ['{"client":1,"op":"put","key":"x","value":"1","invoke":0,"complete":null,"result":{"version":1}}', /line 2, field "result": must be absent or null when complete is null/],
  ];
  for (const [line, expected] of cases) {
    assert.throws(() => parseKvHistory(`{"client":1,"op":"get","key":"x","value":null,"invoke":0,"complete":1}\n${line}\n`), expected, line);
  }
  // Blank lines are skipped, unknown fields ignored, and a file written by formatKvHistory reads back the same.
  const operations = generateKvHistory({ operations: 300, keys: 3, clients: 5, unknownRate: 0.1 }, new Prng(1));
  const readBack = parseKvHistory('\n' + formatKvHistory(operations).replace(/"invoke"/g, '"node":3,"invoke"') + '\n\n').operations;
  assert.deepEqual(
    readBack.map(({ client, input, invoke, complete, output }) => ({ client, input, invoke, complete, output })),
    operations.map(({ client, input, invoke, complete, output }) => ({ client, input, invoke, complete: output === null ? null : complete, output })),
  );
});

// ---- properties -----------------------------------------------------------------------------------------

// Results report versions, as the store's do; without them the search is much slower (docs/check.md),
// so those histories are kept small.
const workloads = fc.oneof(
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
    operations: fc.integer({ min: 1, max: 400 }),
    keys: fc.integer({ min: 1, max: 4 }),
    clients: fc.integer({ min: 1, max: 12 }),
    unknownRate: fc.constantFrom(0, 0.02, 0.05),
    reportVersions: fc.constant(true),
  }),
  fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
    operations: fc.integer({ min: 1, max: 40 }),
    keys: fc.integer({ min: 1, max: 2 }),
    clients: fc.integer({ min: 1, max: 4 }),
    unknownRate: fc.constantFrom(0, 0.1),
    reportVersions: fc.constant(false),
  }),
);

test('property: a history of a real sequential store with random concurrency windows is linearizable', () => {
  fc.assert(
    fc.property(workloads, ({ seed, ...workload }) => {
      const result = check(generateKvHistory(workload, new Prng(seed)));
      assert.equal(result.kind, 'linearizable');
    }),
    { numRuns: 150 },
  );
});

/** The same history with one answered get reading `value` instead. */
function withRead(operations: readonly KvOperation[], index: number, output: KvOutput): KvOperation[] {
  return operations.map((op, i) => (i === index ? { ...op, output } : op));
}

test('property: one read of a value nobody wrote, or of a version no write reached, is never linearizable', () => {
  fc.assert(
    fc.property(workloads, fc.nat(), fc.boolean(), ({ seed, ...workload }, pick, byVersion) => {
      // Without unanswered operations: proving a failure explores every placement of those.
      const operations = generateKvHistory({ ...workload, unknownRate: 0 }, new Prng(seed));
      const reads = operations.flatMap((op, i) => (op.input.op === 'get' && op.output !== null ? [i] : []));
      fc.pre(reads.length > 0);
      const index = reads[pick % reads.length]!;
      const key = operations[index]!.input.key;
      const writes = operations.filter((op) => op.input.key === key && op.input.op !== 'get').length;
      const output: KvOutput = byVersion ? { op: 'get', value: null, version: writes + 1 } : { op: 'get', value: 'never written' };
      const result = check(withRead(operations, index, output));
      assert.equal(result.kind, 'not-linearizable');
      assert.equal(result.excerpt.kind, 'no-order');
      assert.ok(result.excerpt.operations.some((op) => op.id === operations[index]!.id), 'the corrupted read is in the excerpt');
    }),
    { numRuns: 60 },
  );
});

test('property: in a sequential history, a read of any other value is not linearizable, and its excerpt is 1-minimal', () => {
  fc.assert(
    fc.property(workloads, fc.nat(), fc.nat(), ({ seed, ...workload }, pickRead, pickValue) => {
      // Shrinking checks every candidate twice, once with all operations made concurrent: kept small.
      const small = { ...workload, operations: Math.min(workload.operations, 60), reportVersions: true };
      // One client, spread out so that no two operations overlap.
      const generated = generateKvHistory({ ...small, clients: 1, unknownRate: 0 }, new Prng(seed));
      const operations = generated.map((op, i) => ({ ...op, invoke: 10 * i, complete: 10 * i + 5 }));
      const reads = operations.flatMap((op, i) => (op.input.op === 'get' ? [i] : []));
      fc.pre(reads.length > 0);
      const index = reads[pickRead % reads.length]!;
      const read = operations[index]!;
      const written = operations.flatMap((op) => (op.input.key === read.input.key && (op.input.op === 'put' || op.input.op === 'cas') ? [op.input.value] : []));
      const values = [null, ...written].filter((value) => read.output?.op === 'get' && value !== read.output.value);
      fc.pre(values.length > 0);
      const corrupted = withRead(operations, index, { op: 'get', value: values[pickValue % values.length]! });
      const result = check(corrupted);
      assert.equal(result.kind, 'not-linearizable');
      assertExcerpt(kvModel, result.excerpt);
    }),
    { numRuns: 100 },
  );
});

/** The excerpt fails; an 'order' excerpt is 1-minimal; none holds an operation without an answer. */
function assertExcerpt<S, I, O>(model: Model<S, I, O>, { operations: excerpt, kind, minimal }: Excerpt<S, I, O>): void {
  assert.equal(search(model, excerpt).kind, 'not-linearizable');
  assert.ok(excerpt.every((op) => op.output !== null), 'an unanswered operation never belongs in an excerpt');
  assert.equal(minimal, kind === 'order');
  if (kind === 'no-order') return;
  for (const removed of excerpt) {
    const rest = excerpt.filter((op) => op !== removed);
    const concurrent = rest.map((op) => ({ ...op, invoke: 0, complete: op.complete === null ? null : 1 }));
    const otherKind = kind === 'order' && search(model, concurrent).kind === 'not-linearizable';
    assert.ok(search(model, rest).kind === 'linearizable' || otherKind, `operation ${removed.id} could be removed`);
  }
}

/** Linearizability by brute force: every order that respects real time, no memoization, no pruning. */
function bruteForce(operations: readonly KvOperation[]): boolean {
  const answered = (op: KvOperation): boolean => op.output !== null && op.complete !== null;
  const done = new Set<number>();
  const walk = (state: ReturnType<typeof kvModel.init>): boolean => {
    if (operations.every((op, i) => done.has(i) || !answered(op))) return true;
    for (let i = 0; i < operations.length; i++) {
      if (done.has(i)) continue;
      const op = operations[i]!;
      // op may go next only if no other remaining answered operation returned before op was called.
      const blocked = operations.some((other, j) => j !== i && !done.has(j) && answered(other) && other.complete! < op.invoke);
      if (blocked) continue;
      const after = kvModel.step(state, op.input, op.output);
      if (after === undefined) continue;
      done.add(i);
      const found = walk(after);
      done.delete(i);
      if (found) return true;
    }
    return false;
  };
  return walk(kvModel.init());
}

test('property: the search agrees with brute force on small histories with arbitrary results', () => {
  const operation = fc
    .record({
      op: fc.constantFrom('put', 'get', 'delete', 'cas'),
      value: fc.constantFrom('a', 'b'),
      read: fc.constantFrom<string | null>('a', 'b', null),
      expect: fc.integer({ min: 0, max: 3 }),
      ok: fc.boolean(),
      version: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      invoke: fc.integer({ min: 0, max: 20 }),
      length: fc.integer({ min: 0, max: 8 }),
      answered: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ op, value, read, expect, ok, version, invoke, length, answered }, ): KvOperation => {
      const v = version === undefined ? {} : { version };
      const id = 0;
      const complete = answered < 0.8 ? invoke + length : null;
      switch (op) {
        case 'put':
          return { id, client: 1, input: { op, key: 'x', value }, invoke, complete, output: complete === null ? null : { op, ...v } };
        case 'delete':
          return { id, client: 1, input: { op, key: 'x' }, invoke, complete, output: complete === null ? null : { op, ...v } };
        case 'get':
          return { id, client: 1, input: { op, key: 'x' }, invoke, complete, output: complete === null ? null : { op, value: read, ...v } };
        default:
          return { id, client: 1, input: { op: 'cas', key: 'x', expect, value }, invoke, complete, output: complete === null ? null : { op: 'cas', ok, ...v } };
      }
    });
  let nonLinearizable = 0;
  fc.assert(
    fc.property(fc.array(operation, { minLength: 1, maxLength: 6 }), (drawn) => {
      const operations = drawn.map((op, i) => ({ ...op, id: i + 1 }));
      const expected = bruteForce(operations);
      const result = check(operations);
      assert.equal(result.kind, expected ? 'linearizable' : 'not-linearizable', formatKvHistory(operations));
      if (result.kind === 'not-linearizable') {
        nonLinearizable++;
        assertExcerpt(kvModel, result.excerpt);
      }
    }),
    { numRuns: 1500 },
  );
  assert.ok(nonLinearizable > 100, `both answers were exercised (${nonLinearizable} not linearizable)`);
});
