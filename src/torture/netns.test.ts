/**
 * The lab's network and its faults, for real: namespaces, veth pairs, a bridge, iptables rules, and
 * the cleanup guarantee — after tearDown, after an uncaught exception in the harness ('exit' hook), and
 * after a harness killed with kill -9 (removeLeftovers). Probes are real TCP connections from inside
 * the namespaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requires } from '../testing/requires.js';
import { Lab, namesWithPrefix, removeLeftovers, toolsPresent } from './netns.js';

const tools = toolsPresent();
const ready = tools.root && tools.ip && tools.iptables;
const netnsJs = fileURLToPath(new URL('./netns.js', import.meta.url));
const PORT = 9000;

/** Whether a TCP connection from inside `namespace` (or from the host, null) to address:PORT opens within 1 s. */
function reaches(namespace: string | null, address: string): Promise<boolean> {
  if (namespace === null) {
    return new Promise((resolve) => {
      const socket = connect({ host: address, port: PORT, timeout: 1000 });
      socket.on('connect', () => (socket.destroy(), resolve(true)));
      socket.on('timeout', () => (socket.destroy(), resolve(false)));
      socket.on('error', () => resolve(false));
    });
  }
  const script = `const s=require('node:net').connect({host:${JSON.stringify(address)},port:${PORT},timeout:1000});s.on('connect',()=>process.exit(0));s.on('timeout',()=>process.exit(1));s.on('error',()=>process.exit(1));`;
  const result = spawnSync('ip', ['netns', 'exec', namespace, process.execPath, '-e', script], { timeout: 10_000 });
  return Promise.resolve(result.status === 0);
}

/**
 * Whether `address` becomes reachable within a few seconds: right after a heal the first connection can
 * still fail (the sender's neighbour entry for a peer it could not reach is re-resolved on demand), so a
 * heal is judged by the link working again soon, not by the very first SYN.
 */
async function reachesSoon(namespace: string | null, address: string): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) if (await reaches(namespace, address)) return true;
  return false;
}

/** A TCP listener inside the member's namespace (it dies with the namespace at tearDown). */
function listen(lab: Lab, id: number): Promise<ChildProcess> {
  const script = `require('node:net').createServer((s)=>s.destroy()).listen(${PORT},${JSON.stringify(lab.member(id).address)},()=>console.log('up'))`;
  const child = spawn('ip', [...lab.exec(id).slice(1), process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`listener in node ${id} exited ${code}`)));
  });
}

test('partitions, one-way cuts, loss rules and bridge-port cuts act on real TCP, heal undoes them, and tearDown leaves nothing', { ...requires(ready, 'needs root, ip and iptables'), timeout: 120_000 }, async () => {
  const lab = new Lab({ members: 3, hostLink: true });
  try {
    lab.setUp();
    const capabilities = lab.capabilities();
    assert.equal(capabilities.iptables, true, capabilities.missing.join('; '));
    for (const id of [1, 2, 3]) await listen(lab, id);
    const ns = (id: number): string => lab.member(id).namespace;
    const address = (id: number): string => lab.member(id).address;

    assert.equal(await reaches(null, address(2)), true, 'the host reaches a member over its link to the bridge');
    assert.equal(await reaches(ns(1), address(2)), true, 'members reach each other');

    lab.partition([[2, 3], [1]]);
    assert.equal(await reaches(ns(1), address(2)), false, 'across the partition: cut');
    assert.equal(await reaches(ns(2), address(1)), false, 'both ways');
    assert.equal(await reaches(ns(3), address(2)), true, 'within the majority: open');
    assert.equal(await reaches(null, address(1)), true, 'the host still reaches the minority (faults name members only)');
    lab.heal(capabilities);
    assert.equal(await reachesSoon(ns(1), address(2)), true, 'healed');
    assert.deepEqual(lab.rules(2).iptables, [], 'heal flushed the rules');

    lab.block(1, 2);
    assert.deepEqual(lab.rules(2).iptables, [`-A INPUT -s ${address(1)}/32 -j DROP`], 'a one-way cut is one rule, at the receiver');
    assert.equal(await reaches(ns(1), address(2)), false, '1 → 2 cut');
    assert.equal(await reaches(ns(3), address(2)), true, '3 → 2 open');
    lab.heal(capabilities);

    lab.loss(3, 30, 'iptables');
    assert.match(lab.rules(3).iptables.join('\n'), /-A OUTPUT -o eth0 -m statistic --mode random --probability 0\.(3|29)\d* -j DROP/);
    lab.heal(capabilities);

    lab.detach(3);
    assert.equal(await reaches(ns(1), address(3)), false, 'a port off the bridge: cut');
    lab.separate([[1], [2, 3]]);
    assert.equal(await reaches(ns(2), address(3)), true, 'separated onto their own bridge, 2 and 3 reach each other');
    assert.equal(await reaches(ns(1), address(2)), false, 'and not 1');
    lab.heal(capabilities);
    assert.equal(await reachesSoon(ns(1), address(3)), true, 'healed: every port back on br0');
  } finally {
    lab.tearDown();
  }
  assert.deepEqual(lab.remains(), [], 'no namespace or link of the run is left');
});

/** Runs a harness in a child process that builds a lab, prints its tag, then does `then`. */
function harness(then: 'throw' | 'wait'): { child: ChildProcess; tag: Promise<string> } {
  const script = `
    import { Lab } from ${JSON.stringify(netnsJs)};
    const lab = new Lab({ members: 2, hostLink: true });
    lab.setUp();
    console.log(lab.tag);
    ${then === 'throw' ? "setTimeout(() => { throw new Error('the harness crashed'); }, 50);" : 'setInterval(() => {}, 1000);'}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tag = new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (text: Buffer) => resolve(text.toString().trim()));
    child.once('exit', (code) => reject(new Error(`harness exited ${code} before building its lab`)));
  });
  return { child, tag };
}

test('a harness that crashes with an uncaught exception removes its namespaces and links on the way out', { ...requires(ready, 'needs root, ip and iptables'), timeout: 60_000 }, async () => {
  const { child, tag } = harness('throw');
  const name = await tag;
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0, 'it crashed');
  assert.deepEqual(namesWithPrefix(name), []);
});

test('what a harness killed with kill -9 leaves is removed by the next run (removeLeftovers), and only that', { ...requires(ready, 'needs root, ip and iptables'), timeout: 60_000 }, async () => {
  const own = new Lab({ members: 1 });
  const { child, tag } = harness('wait');
  try {
    own.setUp();
    const name = await tag;
    assert.ok(namesWithPrefix(name).length >= 4, 'its namespaces and host link exist');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(namesWithPrefix(name).length >= 4, 'kill -9 leaves them');
    const { removed, inUse } = removeLeftovers();
    assert.ok(removed.includes(`${name}-br`), removed.join(' '));
    assert.deepEqual(namesWithPrefix(name), [], 'all of them removed');
    assert.ok(inUse.includes(`${own.tag}-n1`), 'a live run\'s namespaces are left alone');
    assert.equal(own.remains().length, 2);
  } finally {
    child.kill('SIGKILL');
    own.tearDown();
  }
});
