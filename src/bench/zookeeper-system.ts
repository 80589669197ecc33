/**
 * ZooKeeper as a system under test: one JVM per server running QuorumPeerMain with the jars of Debian's
 * `zookeeper` package (the classpath its own zkEnv.sh uses: /usr/share/java/zookeeper.jar, whose
 * manifest names its dependencies), a zoo.cfg and a myid per server, everything on 127.0.0.1.
 *
 * Status: the `srvr` four-letter word (4lw.commands.whitelist=*), one TCP connection per member per
 * poll. `srvr` says "Mode: leader" or "Mode: follower" but not WHICH leader a follower follows, and
 * "not currently serving requests" while a server is electing or synchronizing. So one poll maps to
 * views this way: when exactly one live server says leader, it and every server saying follower name
 * it; otherwise no follower names anyone. Agreement therefore means one leader, the rest followers, all
 * serving again — the end of FastLeaderElection AND of Zab's discovery and synchronization.
 *
 * Timing. ZooKeeper's knob is tickTime: the leader pings its followers every tickTime / 2
 * (Leader.lead), a follower gives its leader up after syncLimit ticks of silence (its socket read
 * timeout), initLimit ticks bound the initial synchronization. So a heartbeat of H ms is tickTime = 2H,
 * and an election timeout of [min, max] is syncLimit = round(mean / tickTime) (at least 1). initLimit is
 * kept at >= 10 s (10 ticks, more when ticks are short) because JVMs start slowly on 2 cores; it only
 * bounds a synchronization and never delays a healthy one. FastLeaderElection's finalizeWait (200 ms)
 * is a constant of the code, not configurable — ballot's ZAB uses the same 200 ms by default.
 * A kill -9 closes the leader's TCP connections, which its followers notice at once, so tickTime barely
 * matters for this benchmark (ANCHORS.md); it would for a hung (SIGSTOPped) leader.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ProcessGroup, requireFreePorts, startProcess } from './processes.js';
import type { ClusterOptions, ClusterUnderTest, SystemUnderTest } from './system.js';

/** ZooKeeper's own defaults (tickTime 2000, initLimit 10, syncLimit 5: its sample zoo.cfg), in ballot's terms. */
export const zookeeperDefaultTiming = { heartbeatMs: 1000, electionTimeoutMinMs: 10_000, electionTimeoutMaxMs: 10_000 } as const;

const DEBIAN_JAR = '/usr/share/java/zookeeper.jar';
/** slf4j's simple binding, so each server writes a log (the package's classpath has no binding: no log). */
const DEBIAN_SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

/** The classpath: $BALLOT_ZOOKEEPER_CLASSPATH, else the Debian package's jars. */
export function zookeeperClasspath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BALLOT_ZOOKEEPER_CLASSPATH) return env.BALLOT_ZOOKEEPER_CLASSPATH;
  return existsSync(DEBIAN_SLF4J_SIMPLE) ? `${DEBIAN_JAR}:${DEBIAN_SLF4J_SIMPLE}` : DEBIAN_JAR;
}

export function javaBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BALLOT_JAVA) return env.BALLOT_JAVA;
  if (env.JAVA_HOME && existsSync(join(env.JAVA_HOME, 'bin', 'java'))) return join(env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

export interface ZookeeperTiming {
  readonly tickTime: number;
  readonly initLimit: number;
  readonly syncLimit: number;
}

/** ballot's timing mapped to zoo.cfg (see the file comment). */
export function zookeeperTiming(options: Pick<ClusterOptions, 'heartbeatMs' | 'electionTimeoutMinMs' | 'electionTimeoutMaxMs'>): ZookeeperTiming {
  const tickTime = Math.max(2, Math.round(2 * options.heartbeatMs));
  const mean = (options.electionTimeoutMinMs + options.electionTimeoutMaxMs) / 2;
  const syncLimit = Math.max(1, Math.round(mean / tickTime));
  const initLimit = Math.max(10, Math.ceil(10_000 / tickTime));
  return { tickTime, initLimit, syncLimit };
}

/** Server i (1-based): client port base + 3(i-1), quorum port +1, election port +2. */
export function zookeeperPorts(basePort: number, member: number): { client: number; quorum: number; election: number } {
  const first = basePort + 3 * (member - 1);
  return { client: first, quorum: first + 1, election: first + 2 };
}

/** The zoo.cfg of server `member`. */
export function zooCfg(options: ClusterOptions, member: number): string {
  const timing = zookeeperTiming(options);
  const lines = [
    `tickTime=${timing.tickTime}`,
    `initLimit=${timing.initLimit}`,
    `syncLimit=${timing.syncLimit}`,
    `dataDir=${join(options.dataDir, `n${member}`)}`,
    `clientPort=${zookeeperPorts(options.basePort, member).client}`,
    'clientPortAddress=127.0.0.1',
    '4lw.commands.whitelist=*',
    // The AdminServer would listen on 0.0.0.0:8080; everything here stays on 127.0.0.1.
    'admin.enableServer=false',
  ];
  for (let i = 1; i <= options.nodes; i++) {
    const ports = zookeeperPorts(options.basePort, i);
    lines.push(`server.${i}=127.0.0.1:${ports.quorum}:${ports.election}`);
  }
  return lines.join('\n') + '\n';
}

export type ZookeeperMode = 'leader' | 'follower' | 'observer' | 'standalone';

/** The mode in a `srvr` reply, or null when the server is not serving (electing, synchronizing). */
export function parseSrvrMode(text: string): ZookeeperMode | null {
  const match = /^Mode:\s*(leader|follower|observer|standalone)\s*$/m.exec(text);
  return match ? (match[1] as ZookeeperMode) : null;
}

/** One poll's modes → each member's view of the leader (see the file comment). */
export function viewsFromModes(modes: ReadonlyMap<number, ZookeeperMode | null>): Map<number, number | null> {
  const leaders = [...modes].filter(([, mode]) => mode === 'leader').map(([member]) => member);
  const views = new Map<number, number | null>();
  for (const [member, mode] of modes) {
    if (mode === 'leader') views.set(member, member);
    else if ((mode === 'follower' || mode === 'observer') && leaders.length === 1) views.set(member, leaders[0]!);
    else views.set(member, null);
  }
  return views;
}

/** `srvr` on one server: a fresh TCP connection, the reply read to its end. Null on any failure. */
export function srvr(port: number, timeoutMs: number): Promise<ZookeeperMode | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (mode: ZookeeperMode | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(mode);
    };
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end('srvr'));
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(parseSrvrMode(Buffer.concat(chunks).toString('utf8'))));
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(parseSrvrMode(Buffer.concat(chunks).toString('utf8'))));
  });
}

const POLL_TIMEOUT_MS = 500;

class ZookeeperCluster implements ClusterUnderTest {
  readonly members: readonly number[];
  private readonly processes = new ProcessGroup('ZooKeeper server');

  constructor(private readonly options: ClusterOptions) {
    this.members = Array.from({ length: options.nodes }, (_, i) => i + 1);
  }

  async launch(): Promise<void> {
    const java = javaBinary();
    const classpath = zookeeperClasspath();
    for (const member of this.members) {
      const dir = join(this.options.dataDir, `n${member}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'myid'), `${member}\n`);
      await writeFile(join(this.options.dataDir, `zoo${member}.cfg`), zooCfg(this.options, member));
    }
    for (const member of this.members) {
      const args = [
        `-Dzookeeper.log.dir=${this.options.dataDir}`,
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
        // As the package's zkServer.sh does.
        '-XX:+HeapDumpOnOutOfMemoryError',
        '-XX:OnOutOfMemoryError=kill -9 %p',
        '-cp',
        classpath,
        MAIN_CLASS,
        join(this.options.dataDir, `zoo${member}.cfg`),
      ];
      this.processes.add(member, await startProcess(java, { args, logFile: join(this.options.dataDir, `n${member}.log`) }));
    }
  }

  async leaderViews(): Promise<Map<number, number | null>> {
    const live = this.processes.live(this.members);
    const modes = await Promise.all(live.map((m) => srvr(zookeeperPorts(this.options.basePort, m).client, POLL_TIMEOUT_MS)));
    return viewsFromModes(new Map(live.map((member, i) => [member, modes[i]!])));
  }

  kill(member: number): Promise<void> {
    return this.processes.kill(member);
  }

  stop(): Promise<void> {
    return this.processes.stop();
  }
}

export const zookeeperSystem: SystemUnderTest = {
  name: 'zookeeper',
  describe(options) {
    const t = zookeeperTiming(options);
    return `tickTime ${t.tickTime}, initLimit ${t.initLimit}, syncLimit ${t.syncLimit}`;
  },
  async start(options) {
    const classpath = zookeeperClasspath();
    const missing = classpath.split(':').find((entry) => entry.endsWith('.jar') && !existsSync(entry));
    if (missing !== undefined) throw new Error(`ZooKeeper is not installed (${missing} not found; see scripts/install-comparison-systems.sh)`);
    const ports = Array.from({ length: options.nodes }, (_, i) => zookeeperPorts(options.basePort, i + 1)).flatMap((p) => [p.client, p.quorum, p.election]);
    await requireFreePorts(ports);
    const cluster = new ZookeeperCluster(options);
    try {
      await cluster.launch();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  },
};
