/**
 * A private network of Linux network namespaces for real nodes, and the faults it can inject: what
 * `ballot torture` and the runtime's partition test share.
 *
 * Layout: one namespace holds a bridge (br0); each member has its own namespace with one veth (eth0,
 * an address in a private /24) whose other end is a port of that bridge (p<id>). Optionally the host
 * namespace gets one more veth onto the bridge (the harness's own address, .254), so the harness can
 * talk HTTP to every member directly; the faults below name member addresses only, so that link is
 * never cut by a partition (as in Jepsen, the nemesis partitions the nodes, not the clients).
 *
 * Faults: partitions and one-way cuts with iptables DROP rules inside the members' namespaces, loss
 * and delay with tc netem on a member's eth0, and, where iptables or netem are missing, the
 * fallbacks: loss by iptables' `statistic` match, partitions by moving bridge ports onto other bridges.
 *
 * Cleanup guarantee: every name this module creates carries the run's tag (`bt-<pid>-<random>`), and
 * every interface, rule and qdisc it creates lives inside a namespace of that tag (the host veth's
 * other end is in the bridge namespace, so it goes with it). Deleting the tag's namespaces therefore
 * removes everything. A Lab is registered before it creates anything; the registry removes every
 * registered Lab synchronously when the process exits (normally, by process.exit, or after an
 * uncaught exception); the caller handles SIGINT/SIGTERM by ending its run (see src/cli/torture.ts).
 * A harness killed with kill -9 leaves its namespaces: `removeLeftovers()` (run at the start of every
 * torture run, and by `ballot torture --cleanup`) removes those whose creating process is gone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { NodeId } from '../core/types.js';

/** Every name made here starts with this. */
export const TAG_PREFIX = 'bt-';
const TAG_PATTERN = /^bt-([0-9a-z]+)-([0-9a-z]{3})(?:-|h?$)/;

function toolPresent(name: string): boolean {
  return ['/usr/sbin/', '/sbin/', '/usr/bin/', '/bin/'].some((dir) => existsSync(dir + name));
}

/** Root and the tools, as present on this machine (iptables and tc are optional: see Capabilities). */
export interface Tools {
  readonly root: boolean;
  readonly ip: boolean;
  readonly iptables: boolean;
  readonly tc: boolean;
}

export function toolsPresent(): Tools {
  return {
    root: typeof process.getuid === 'function' && process.getuid() === 0,
    ip: toolPresent('ip'),
    iptables: toolPresent('iptables'),
    tc: toolPresent('tc'),
  };
}

/** Runs a command; throws with its stderr on failure. */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.status}`}`);
  return result.stdout;
}

function ip(...args: string[]): string {
  return run('ip', args);
}

function tryQuietly(action: () => void): void {
  try {
    action();
  } catch {
    // already gone
  }
}

/** A fresh tag for one run: the pid (so leftovers of a dead run can be told from a live one's) and a random part. */
export function newRunTag(): string {
  return `${TAG_PREFIX}${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 5).padEnd(3, '0')}`;
}

/** The pid in a name made here, or null when the name is not one of ours. */
export function tagPid(name: string): number | null {
  const match = TAG_PATTERN.exec(name);
  return match ? parseInt(match[1]!, 36) : null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function namespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function hostLinks(): string[] {
  return ip('-o', 'link', 'show')
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name !== '');
}

/** Every namespace and host link whose name starts with `prefix` (a run's tag, or TAG_PREFIX for all runs). */
export function namesWithPrefix(prefix: string): string[] {
  return [...namespaces(), ...hostLinks()].filter((name) => name.startsWith(prefix));
}

/** Kills every process inside the namespace (kill -9: a SIGSTOPped one too), then deletes it. */
function removeNamespace(name: string): void {
  tryQuietly(() => {
    for (const pid of ip('netns', 'pids', name).split('\n').filter(Boolean)) tryQuietly(() => process.kill(Number(pid), 'SIGKILL'));
  });
  tryQuietly(() => ip('netns', 'del', name));
}

/**
 * Removes the namespaces and host links of runs whose process is gone (or, with `all`, of every run
 * but this process's own); returns their names and the live runs' names it left alone.
 */
export function removeLeftovers(all = false): { removed: string[]; inUse: string[] } {
  const removed: string[] = [];
  const inUse: string[] = [];
  for (const name of namesWithPrefix(TAG_PREFIX)) {
    const pid = tagPid(name);
    if (pid === null) continue;
    if (pid === process.pid || (!all && pidAlive(pid))) {
      inUse.push(name);
      continue;
    }
    if (namespaces().includes(name)) removeNamespace(name);
    else tryQuietly(() => ip('link', 'del', name));
    removed.push(name);
  }
  return { removed, inUse };
}

// ---- the cleanup registry ------------------------------------------------------------------------

const registered = new Set<Lab>();
let exitHookInstalled = false;

function register(lab: Lab): void {
  registered.add(lab);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: every removal here is (spawnSync).
  process.on('exit', () => {
    for (const each of [...registered]) each.tearDown();
  });
}

// ---- the lab -------------------------------------------------------------------------------------

export interface LabMember {
  readonly id: NodeId;
  readonly namespace: string;
  readonly address: string;
}

export interface LabOptions {
  readonly members: number;
  /** Default: a fresh tag. */
  readonly tag?: string;
  /** Also link the host namespace onto the bridge, at .254 (the harness then reaches every member). */
  readonly hostLink?: boolean;
}

/** What this kernel and these tools can do, probed in a namespace of the lab's own. */
export interface Capabilities {
  /** iptables works inside a namespace: partitions, one-way cuts, loss by the statistic match. */
  readonly iptables: boolean;
  /** tc netem works: loss and delay on a link. */
  readonly netem: boolean;
  /** Why each missing one is missing (one line each). */
  readonly missing: readonly string[];
}

export class Lab {
  readonly tag: string;
  readonly bridgeNamespace: string;
  readonly members: readonly LabMember[];
  /** The host's address on the bridge (hostLink only), and the link's name in the host namespace. */
  readonly hostAddress: string | null;
  readonly hostLinkName: string | null;
  /** The /24 every address is in, e.g. '10.213.7'. */
  readonly subnet: string;
  private created = false;
  /** Bridges made by separate(), beyond br0. */
  private extraBridges = 0;

  constructor(options: LabOptions) {
    this.tag = options.tag ?? newRunTag();
    this.bridgeNamespace = `${this.tag}-br`;
    this.subnet = options.hostLink === true ? freeSubnet() : '10.213.0';
    this.members = Array.from({ length: options.members }, (_, i) => ({ id: i + 1, namespace: `${this.tag}-n${i + 1}`, address: `${this.subnet}.${i + 1}` }));
    this.hostAddress = options.hostLink === true ? `${this.subnet}.254` : null;
    // Interface names are at most 15 characters; the tag is at most 12.
    this.hostLinkName = options.hostLink === true ? `${this.tag}h` : null;
  }

  member(id: NodeId): LabMember {
    const member = this.members.find((each) => each.id === id);
    if (!member) throw new Error(`lab: no member ${id}`);
    return member;
  }

  /** The command prefix that runs a program inside the member's namespace. */
  exec(id: NodeId): string[] {
    return ['ip', 'netns', 'exec', this.member(id).namespace];
  }

  /** Creates the namespaces, the bridge and the links. Registered for cleanup before anything exists. */
  setUp(): void {
    register(this);
    this.created = true;
    const bridge = this.bridgeNamespace;
    ip('netns', 'add', bridge);
    ip('-n', bridge, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', bridge, 'link', 'set', 'br0', 'up');
    for (const member of this.members) {
      ip('netns', 'add', member.namespace);
      ip('link', 'add', 'eth0', 'netns', member.namespace, 'type', 'veth', 'peer', 'name', `p${member.id}`, 'netns', bridge);
      ip('-n', member.namespace, 'link', 'set', 'lo', 'up');
      ip('-n', member.namespace, 'addr', 'add', `${member.address}/24`, 'dev', 'eth0');
      ip('-n', member.namespace, 'link', 'set', 'eth0', 'up');
      this.attach(member.id);
    }
    if (this.hostLinkName !== null && this.hostAddress !== null) {
      ip('link', 'add', this.hostLinkName, 'type', 'veth', 'peer', 'name', 'host', 'netns', bridge);
      ip('-n', bridge, 'link', 'set', 'host', 'master', 'br0');
      ip('-n', bridge, 'link', 'set', 'host', 'up');
      ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostLinkName);
      ip('link', 'set', this.hostLinkName, 'up');
    }
  }

  /** Probes iptables and netem inside the bridge namespace (which has no traffic of its own). */
  capabilities(tools: Tools = toolsPresent()): Capabilities {
    const missing: string[] = [];
    let iptables = tools.iptables;
    if (!iptables) missing.push('iptables is not installed (Debian: iptables): no partitions by rule, no one-way cuts');
    else {
      try {
        this.inside(this.bridgeNamespace, 'iptables', ['-w', '-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP']);
        this.inside(this.bridgeNamespace, 'iptables', ['-w', '-F', 'INPUT']);
      } catch (error) {
        iptables = false;
        missing.push(`iptables does not work here (${firstLine(error)}): no partitions by rule, no one-way cuts`);
      }
    }
    let netem = tools.tc;
    if (!netem) missing.push('tc is not installed (Debian: iproute2): no delay; loss by iptables');
    else {
      try {
        ip('-n', this.bridgeNamespace, 'link', 'set', 'lo', 'up');
        this.inside(this.bridgeNamespace, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
        this.inside(this.bridgeNamespace, 'tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
      } catch (error) {
        netem = false;
        missing.push(`tc netem does not work here (${firstLine(error)}; the kernel lacks sch_netem?): no delay${iptables ? '; loss by iptables' : ''}`);
      }
    }
    return { iptables, netem, missing };
  }

  // ---- faults ----------------------------------------------------------------------------------

  /** One-way: packets from `from` to `to` are dropped (silently, as on a dead link), the other way flows. */
  block(from: NodeId, to: NodeId): void {
    this.inside(this.member(to).namespace, 'iptables', ['-w', '-A', 'INPUT', '-s', this.member(from).address, '-j', 'DROP']);
  }

  /** Both ways between every pair of members in different groups (members in no group keep every link). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const [i, group] of groups.entries()) {
      for (const [j, other] of groups.entries()) {
        if (i === j) continue;
        for (const to of group) for (const from of other) this.block(from, to);
      }
    }
  }

  /** Loses `percent` of the packets leaving the member (on its eth0): tc netem, or iptables' statistic match. */
  loss(id: NodeId, percent: number, how: 'netem' | 'iptables'): void {
    const member = this.member(id);
    if (how === 'netem') {
      this.inside(member.namespace, 'tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'loss', `${percent}%`]);
      return;
    }
    const probability = (percent / 100).toFixed(4);
    this.inside(member.namespace, 'iptables', ['-w', '-A', 'OUTPUT', '-o', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', probability, '-j', 'DROP']);
  }

  /** Delays every packet leaving the member by `ms` ± `jitterMs` (tc netem only). */
  delay(id: NodeId, ms: number, jitterMs: number): void {
    this.inside(this.member(id).namespace, 'tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', 'delay', `${ms}ms`, `${jitterMs}ms`]);
  }

  /** Takes the member's port off the bridge: its packets go nowhere (the cut that needs neither iptables nor tc). */
  detach(id: NodeId): void {
    ip('-n', this.bridgeNamespace, 'link', 'set', `p${id}`, 'nomaster');
  }

  attach(id: NodeId): void {
    ip('-n', this.bridgeNamespace, 'link', 'set', `p${id}`, 'master', 'br0');
    ip('-n', this.bridgeNamespace, 'link', 'set', `p${id}`, 'up');
  }

  /**
   * A partition without iptables: every group after the first moves onto a bridge of its own, so the
   * members of a group still reach each other and nobody else (the host link stays on br0, with the first group).
   */
  separate(groups: readonly (readonly NodeId[])[]): void {
    for (const group of groups.slice(1)) {
      const bridge = `br${++this.extraBridges}`;
      ip('-n', this.bridgeNamespace, 'link', 'add', bridge, 'type', 'bridge');
      ip('-n', this.bridgeNamespace, 'link', 'set', bridge, 'up');
      for (const id of group) ip('-n', this.bridgeNamespace, 'link', 'set', `p${id}`, 'master', bridge);
    }
  }

  /** Ends every fault: rules flushed, qdiscs removed, every port back on br0, the extra bridges gone. */
  heal(capabilities: Capabilities): void {
    for (const member of this.members) {
      if (capabilities.iptables) for (const chain of ['INPUT', 'OUTPUT']) this.inside(member.namespace, 'iptables', ['-w', '-F', chain]);
      if (capabilities.netem) tryQuietly(() => this.inside(member.namespace, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']));
      this.attach(member.id);
    }
    for (; this.extraBridges > 0; this.extraBridges--) ip('-n', this.bridgeNamespace, 'link', 'del', `br${this.extraBridges}`);
  }

  /** The iptables rules and qdiscs now in place, per member (what a test asserts on). */
  rules(id: NodeId): { iptables: string[]; qdisc: string } {
    const namespace = this.member(id).namespace;
    const iptables = this.inside(namespace, 'iptables', ['-w', '-S']).split('\n').filter((line) => line.startsWith('-A'));
    const qdisc = this.inside(namespace, 'tc', ['qdisc', 'show', 'dev', 'eth0']).trim();
    return { iptables, qdisc };
  }

  /** Removes everything the lab made (every process inside its namespaces too). Synchronous; safe to call twice. */
  tearDown(): void {
    if (this.created) {
      for (const member of this.members) removeNamespace(member.namespace);
      removeNamespace(this.bridgeNamespace);
      if (this.hostLinkName !== null) tryQuietly(() => ip('link', 'del', this.hostLinkName!));
    }
    this.created = false;
    registered.delete(this);
  }

  /** Every namespace and host link of this lab that still exists (empty after tearDown). */
  remains(): string[] {
    return namesWithPrefix(this.tag);
  }

  private inside(namespace: string, command: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', namespace, command, ...args]);
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/^.*?: /, '').replace(/^Error: /, '');
}

/** A /24 in 10.213.0.0/16 that no host route or address uses (the host link puts one on the host). */
function freeSubnet(): string {
  const used = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const start = Math.floor(Math.random() * 250);
  for (let i = 0; i < 250; i++) {
    const third = 1 + ((start + i) % 250);
    if (!used.includes(`10.213.${third}.`) && !used.includes('10.213.0.0/16')) return `10.213.${third}`;
  }
  throw new Error('no free /24 in 10.213.0.0/16 for the lab (remove leftovers: ballot torture --cleanup)');
}
