/**
 * The PostgreSQL fencing recipe of docs/embedding.md, run as written (the SQL is read from the page)
 * against a real server started here (src/testing/postgres.ts): a deposed leader's write is refused
 * once a newer reign has written, also when it arrives while the newer reign's transaction is open;
 * an equal token writes again; a newer one waiting on an older one's transaction is admitted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PostgresServer, postgresAvailable } from '../testing/postgres.js';
import { requires } from '../testing/requires.js';
import { freePorts, waitFor } from './testing.js';

const embeddingMd = fileURLToPath(new URL('../../docs/embedding.md', import.meta.url));

/** The body of the code block opened by "```sql postgres-fence" in docs/embedding.md. */
export function fenceRecipe(): string {
  const text = readFileSync(embeddingMd, 'utf8');
  const match = /^```sql postgres-fence\n([\s\S]*?)^```$/m.exec(text);
  if (!match) throw new Error('docs/embedding.md has no ```sql postgres-fence block');
  return match[1]!;
}

/** One leader's write, as the page's job does it: the fence first, then the write, in one transaction. */
function fencedWrite(term: number, node: number, pauseSeconds = 0): string {
  return `BEGIN;
SELECT ballot_fence('report', ${term}, ${node});
${pauseSeconds > 0 ? `SELECT pg_sleep(${pauseSeconds}) AS holding_${term}_${node};\n` : ''}UPDATE report SET body = 'written by node ${node} in term ${term}', writes = writes + 1;
COMMIT;
`;
}

describe('the PostgreSQL fence recipe (docs/embedding.md)', requires(postgresAvailable(), 'needs PostgreSQL (apt-get install postgresql)'), () => {
  let server: PostgresServer | null = null;
  before(async () => {
    const [port] = await freePorts(1);
    server = await PostgresServer.start(port!);
    const setup = await server.psql(`${fenceRecipe()}\nCREATE TABLE report (body text, writes integer NOT NULL);\nINSERT INTO report VALUES ('nothing yet', 0);\n`);
    assert.equal(setup.code, 0, setup.stderr);
  });
  after(async () => {
    await server?.stop();
  });

  const report = async (): Promise<string> => (await server!.psql('SELECT body || \' / \' || writes FROM report;')).stdout;

  test('a deposed leader\'s write is refused once a newer reign has written; the same reign writes again', { timeout: 60_000 }, async () => {
    assert.equal((await server!.psql(fencedWrite(3, 1))).code, 0);
    assert.equal((await server!.psql(fencedWrite(3, 1))).code, 0, 'the same token again');
    assert.equal((await server!.psql(fencedWrite(4, 2))).code, 0, 'a newer reign');
    const deposed = await server!.psql(fencedWrite(3, 1));
    assert.notEqual(deposed.code, 0);
    assert.match(deposed.stderr, /fenced out: report belongs to a newer leader than term 3 node 1/);
    const sqlstate = await server!.psql(`DO $$ BEGIN PERFORM ballot_fence('report', 2, 9); EXCEPTION WHEN SQLSTATE 'BF001' THEN RAISE NOTICE 'refused with BF001'; END $$;`);
    assert.match(sqlstate.stderr, /refused with BF001/);
    // Bully's same-generation split brain: the lower id of the same term is refused too.
    assert.equal((await server!.psql(fencedWrite(5, 3))).code, 0);
    assert.notEqual((await server!.psql(fencedWrite(5, 2))).code, 0);
    assert.equal(await report(), 'written by node 3 in term 5 / 4');
  });

  test('a deposed leader\'s transaction that arrives while the newer reign\'s is open waits, then is refused; a newer one waiting is admitted', { timeout: 60_000 }, async () => {
    const holding = (term: number, node: number) => `holding_${term}_${node}`;
    const waitUntilHolding = (label: string) =>
      waitFor(`${label} to hold the fence row`, 20_000, async () => {
        const { stdout } = await server!.psql(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%AS ${label}%' AND pid <> pg_backend_pid();`);
        return stdout === '1' ? true : undefined;
      }, 50);

    const newer = server!.psql(fencedWrite(10, 2, 2));
    await waitUntilHolding(holding(10, 2));
    const started = performance.now();
    const older = await server!.psql(fencedWrite(9, 1));
    assert.ok(performance.now() - started > 200, 'the older transaction waited for the row lock');
    assert.notEqual(older.code, 0, 'refused after the newer reign committed');
    assert.match(older.stderr, /fenced out/);
    assert.equal((await newer).code, 0);

    const slow = server!.psql(fencedWrite(11, 1, 1));
    await waitUntilHolding(holding(11, 1));
    const newest = await server!.psql(fencedWrite(12, 3));
    assert.equal(newest.code, 0, newest.stderr);
    assert.equal((await slow).code, 0);
    assert.equal(await report(), 'written by node 3 in term 12 / 7');
  });
});
