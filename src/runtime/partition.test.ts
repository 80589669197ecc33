/**
 * A real partition and its heal, with real `ballot node` processes (Raft, default timing), each in its
 * own network namespace, linked by veth pairs to one bridge in a namespace of the test's own. The
 * leader is cut off by taking its port off the bridge (packets silently lost, as in a real cut, not
 * refused), for 10 s and then (the new leader) for 30 s. After each heal the old leader must stop
 * claiming leadership within 1 s, and the leader elected meanwhile must not be deposed (same id and
 * term). Before links had liveness deadlines, TCP's retransmission back-off kept links dead for 3–24 s
 * after such heals, and the old leader later deposed the healthy one.
 *
 * /status is polled from inside each node's namespace (a small poller started with `ip netns exec`),
 * over the namespace's own address, which the cut does not affect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeId, Status } from '../core/types.js';
import { requires } from '../testing/requires.js';
import { sleep, waitFor } from './testing.js';

const mainJs = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const PREFIX = 'ballotpt-';

function hasTool(path: string): boolean {
  return ['/usr/sbin/', '/sbin/', '/usr/bin/', '/bin/'].some((dir) => existsSync(dir + path));
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes the namespaces of this prefix whose creating process is gone (a crashed earlier run), and their processes. */
function removeLeftovers(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match || pidAlive(Number(match[1]))) continue;
    removeNamespace(name);
  }
}

function removeNamespace(name: string): void {
  try {
    for (const pid of ip('netns', 'pids', name).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    ip('netns', 'del', name);
  } catch {
    // already gone
  }
}

interface Sample {
  readonly at: number;
  readonly status: Status;
}

/** One node's namespace, process and /status poller. */
interface Member {
  readonly id: NodeId;
  readonly namespace: string;
  readonly address: string;
  node: ChildProcess | null;
  poller: ChildProcess | null;
  readonly samples: Sample[];
  readonly stderr: string[];
}

/** Polls http://ADDRESS/status every 20 ms over keep-alive and prints each answer as a line; stops when stdin closes. */
const POLLER = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const [host, port] = process.argv[1].split(':');
const again = (ms) => setTimeout(poll, ms);
function poll() {
  const req = http.get({ host, port: Number(port), path: '/status', agent, timeout: 500 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => { process.stdout.write(body.trim() + '\\n'); again(20); });
  });
  req.on('timeout', () => req.destroy());
  req.on('error', () => again(50));
}
poll();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

class Lab {
  readonly run = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  readonly bridge = `${this.run}-br`;
  readonly members: Member[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'ballot-partition-'));

  constructor(size: number) {
    // Addresses from a private range, which exist only inside these namespaces.
    for (let id = 1; id <= size; id++) this.members.push({ id, namespace: `${this.run}-n${id}`, address: `10.213.0.${id}`, node: null, poller: null, samples: [], stderr: [] });
  }

  setUp(): void {
    ip('netns', 'add', this.bridge);
    ip('-n', this.bridge, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.bridge, 'link', 'set', 'br0', 'up');
    for (const member of this.members) {
      ip('netns', 'add', member.namespace);
      ip('link', 'add', 'eth0', 'netns', member.namespace, 'type', 'veth', 'peer', 'name', `p${member.id}`, 'netns', this.bridge);
      ip('-n', member.namespace, 'link', 'set', 'lo', 'up');
      ip('-n', member.namespace, 'addr', 'add', `${member.address}/24`, 'dev', 'eth0');
      ip('-n', member.namespace, 'link', 'set', 'eth0', 'up');
      ip('-n', this.bridge, 'link', 'set', `p${member.id}`, 'master', 'br0');
      ip('-n', this.bridge, 'link', 'set', `p${member.id}`, 'up');
    }
  }

  start(): void {
    const peers = this.members.map((member) => `${member.id}=${member.address}:7000`).join(',');
    for (const member of this.members) {
      const node = spawn(
        'ip',
        ['netns', 'exec', member.namespace, process.execPath, mainJs, 'node', '--id', String(member.id), '--algorithm', 'raft', '--peers', peers, '--insecure',
          '--http', `${member.address}:8000`, '--data-dir', join(this.dir, `n${member.id}`), '--log', 'info', '--exit-on-stdin-close'],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      createInterface({ input: node.stderr! }).on('line', (line) => member.stderr.push(line));
      member.node = node;
      const poller = spawn('ip', ['netns', 'exec', member.namespace, process.execPath, '-e', POLLER, `${member.address}:8000`], { stdio: ['pipe', 'pipe', 'ignore'] });
      createInterface({ input: poller.stdout! }).on('line', (line) => {
        try {
          member.samples.push({ at: performance.now(), status: JSON.parse(line) as Status });
        } catch {
          // not a status
        }
      });
      member.poller = poller;
    }
  }

  member(id: NodeId): Member {
    return this.members.find((member) => member.id === id)!;
  }

  latest(id: NodeId): Status | null {
    return this.member(id).samples.at(-1)?.status ?? null;
  }

  /** Takes the member's port off the bridge: its packets go nowhere, silently. */
  cut(id: NodeId): void {
    ip('-n', this.bridge, 'link', 'set', `p${id}`, 'nomaster');
  }

  heal(id: NodeId): void {
    ip('-n', this.bridge, 'link', 'set', `p${id}`, 'master', 'br0');
  }

  /** The leader every one of `ids` names (and which names itself), once they agree. */
  agreedLeader(ids: readonly NodeId[]): { leader: NodeId; term: number } | undefined {
    const views = ids.map((id) => this.latest(id));
    const leader = views[0]?.leader;
    if (leader === null || leader === undefined || !ids.includes(leader) || !views.every((view) => view?.leader === leader)) return undefined;
    const own = this.latest(leader)!;
    return own.leader === leader ? { leader, term: own.term } : undefined;
  }

  describe(): string {
    return JSON.stringify(this.members.map((member) => this.latest(member.id)));
  }

  tearDown(): void {
    for (const member of this.members) {
      for (const child of [member.poller, member.node]) {
        child?.stdin?.destroy();
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    for (const member of this.members) removeNamespace(member.namespace);
    removeNamespace(this.bridge);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const ready = isRoot && hasTool('ip');

test(
  'raft, a leader cut off for 10 s and then one for 30 s: after each heal the old leader steps down within 1 s, and the new leader keeps its term',
  { ...requires(ready, 'needs root and ip (network namespaces)'), timeout: 90_000 },
  async (t) => {
    removeLeftovers();
    const lab = new Lab(3);
    const all = lab.members.map((member) => member.id);
    try {
      lab.setUp();
      lab.start();
      let { leader } = await waitFor('an agreed leader', 15_000, () => lab.agreedLeader(all), 50, () => lab.describe());
      for (const cutMs of [10_000, 30_000]) {
        const others = all.filter((id) => id !== leader);
        lab.cut(leader);
        const cutAt = performance.now();
        let successor = await waitFor(`a new leader among ${others.join(',')} during the cut`, cutMs, () => {
          const agreed = lab.agreedLeader(others);
          return agreed && agreed.leader !== leader ? agreed : undefined;
        }, 50, () => lab.describe());
        await sleep(cutMs - (performance.now() - cutAt));
        // The leader of the majority as the heal comes (two nodes on a loaded machine may re-elect
        // during a long cut; that is the algorithm under load, not this test's subject).
        successor = await waitFor('the majority\'s leader before the heal', 5000, () => {
          const agreed = lab.agreedLeader(others);
          return agreed && agreed.leader !== leader ? agreed : undefined;
        }, 20, () => lab.describe());

        lab.heal(leader);
        const healedAt = performance.now();
        const oldSamples = lab.member(leader).samples;
        const fromHeal = oldSamples.length;
        const stepDown = await waitFor(`node ${leader} to stop claiming leadership after the heal`, 5000, () =>
          oldSamples.slice(fromHeal).find((sample) => sample.status.leader !== leader || sample.status.term > successor.term),
        );
        const stepDownMs = stepDown.at - healedAt;
        // Settle, then check that nobody was deposed.
        await sleep(3000);
        const after = lab.agreedLeader(all);
        const newSamples = lab.member(successor.leader).samples.filter((sample) => sample.at >= healedAt);
        const deposed = newSamples.filter((sample) => sample.status.leader !== successor.leader || sample.status.term !== successor.term);
        t.diagnostic(`cut ${leader} for ${cutMs / 1000} s: ${successor.leader} led in term ${successor.term}; ${leader} stepped down ${Math.round(stepDownMs)} ms after the heal`);
        assert.ok(stepDownMs <= 1000, `node ${leader} claimed leadership ${Math.round(stepDownMs)} ms after the heal`);
        assert.deepEqual(deposed, [], 'the healthy leader kept its leadership and term across the heal');
        assert.ok(newSamples.length > 50, 'the new leader was polled throughout');
        assert.deepEqual(after, successor, `every node names ${successor.leader} in term ${successor.term}: ${lab.describe()}`);
        leader = successor.leader;
      }
    } catch (error) {
      for (const member of lab.members) t.diagnostic(`node ${member.id} log tail:\n${member.stderr.slice(-15).join('\n')}`);
      throw error;
    } finally {
      lab.tearDown();
    }
  },
);
