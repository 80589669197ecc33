/**
 * LocalCluster's members start without NODE_EXTRA_CA_CERTS (memberEnvironment: Node.js parses that file
 * at every process start, ~40 ms of CPU here, and a member never uses it), with everything else of the
 * parent's environment. Checked on a real member process, in its /proc/PID/environ (Linux).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { requires } from '../testing/requires.js';
import { memberEnvironment } from './local-cluster.js';
import { testCluster } from './test-cluster.js';
import { waitFor } from './testing.js';

test('memberEnvironment drops NODE_EXTRA_CA_CERTS, keeps the rest, and leaves its argument alone', () => {
  const parent = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', PATH: '/usr/bin', BALLOT_LOG: 'debug' };
  assert.deepEqual(memberEnvironment(parent), { PATH: '/usr/bin', BALLOT_LOG: 'debug' });
  assert.equal(parent.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt');
});

test("a member process's environment has no NODE_EXTRA_CA_CERTS and keeps the parent's other variables", { timeout: 60_000, ...requires(existsSync('/proc/self/environ'), 'needs /proc (Linux)') }, async () => {
  const saved = { ca: process.env.NODE_EXTRA_CA_CERTS, marker: process.env.BALLOT_TEST_MARKER };
  process.env.NODE_EXTRA_CA_CERTS = '/nonexistent/extra-ca.pem';
  process.env.BALLOT_TEST_MARKER = 'kept';
  const { cluster, close } = await testCluster({ name: 'member-env', algorithm: 'raft', voters: 1 });
  try {
    cluster.startAll();
    const pid = cluster.pid(1)!;
    // Read once the process runs the node (its environment is fixed at exec, so any moment after works).
    await waitFor('the member to serve /status', 30_000, async () => ((await cluster.statuses(500)).get(1) ? true : undefined));
    const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environment.includes('BALLOT_TEST_MARKER=kept'), 'the parent environment is passed on');
    assert.deepEqual(environment.filter((entry) => entry.startsWith('NODE_EXTRA_CA_CERTS=')), []);
  } finally {
    await close();
    for (const [name, value] of [['NODE_EXTRA_CA_CERTS', saved.ca], ['BALLOT_TEST_MARKER', saved.marker]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});
