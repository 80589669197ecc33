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
import { prepareProcessCluster, startAll, startProcess, type ProcessClusterParts } from './processes.js';
import type { ClusterOptions, MemberView, SystemUnderTest } from './system.js';

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

/** What `srvr` said: the mode (null while not serving) and the epoch of the last zxid it saw (null: unknown). */
export interface SrvrReply {
  readonly mode: ZookeeperMode | null;
  readonly epoch: number | null;
}

/** A `srvr` reply, or null when the text is no reply at all (a refused or cut connection). */
export function parseSrvr(text: string): SrvrReply | null {
  const mode = parseSrvrMode(text);
  if (mode === null) return /not currently serving/.test(text) ? { mode: null, epoch: null } : null;
  // A zxid is the epoch in its high 32 bits and a counter in its low 32 (ZooKeeper's ZxidUtils).
  const zxid = /^Zxid:\s*0x([0-9a-f]+)\s*$/im.exec(text);
  return { mode, epoch: zxid ? Number(BigInt(`0x${zxid[1]!}`) >> 32n) : null };
}

/**
 * One poll's replies → each member's view of the leader (see the file comment). A follower names the
 * one leader in the poll. Two servers may say leader at once: an old leader resumed after a pause
 * believes it leads until it misses its quorum (syncLimit ticks). Then a follower names the leader of
 * the newest epoch (the epoch of a leader's zxid is its own; a follower's last zxid may still carry the
 * epoch before, until it commits a transaction in the new one, so it cannot tell whom it follows).
 */
export function viewsFromReplies(replies: ReadonlyMap<number, SrvrReply | null>): Map<number, MemberView | null> {
  const leaders = [...replies].flatMap(([member, reply]) => (reply?.mode === 'leader' ? [{ member, epoch: reply.epoch }] : []));
  let current: number | null = leaders.length === 1 ? leaders[0]!.member : null;
  if (leaders.length > 1 && leaders.every((leader) => leader.epoch !== null)) {
    const newest = Math.max(...leaders.map((leader) => leader.epoch!));
    const atNewest = leaders.filter((leader) => leader.epoch === newest);
    if (atNewest.length === 1) current = atNewest[0]!.member;
  }
  const views = new Map<number, MemberView | null>();
  for (const [member, reply] of replies) {
    if (reply === null) views.set(member, null);
    else if (reply.mode === 'leader') views.set(member, { leader: member });
    else if (reply.mode === 'follower' || reply.mode === 'observer') views.set(member, { leader: current });
    else views.set(member, { leader: null });
  }
  return views;
}

/** `srvr` on one server: a fresh TCP connection, the reply read to its end. Null when it does not answer. */
export function srvr(port: number, timeoutMs: number): Promise<SrvrReply | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (reply: SrvrReply | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const read = (): void => finish(parseSrvr(Buffer.concat(chunks).toString('utf8')));
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end('srvr'));
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', read);
    socket.on('error', () => finish(null));
    socket.on('close', read);
  });
}

const POLL_TIMEOUT_MS = 500;

/** Launch and poll of one ZooKeeper ensemble: a zoo.cfg and myid per server, `srvr` per poll. */
function zookeeperParts(options: ClusterOptions): ProcessClusterParts {
  return {
    async prepare() {
      for (let member = 1; member <= options.nodes; member++) {
        const dir = join(options.dataDir, `n${member}`);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'myid'), `${member}\n`);
        await writeFile(join(options.dataDir, `zoo${member}.cfg`), zooCfg(options, member));
      }
    },
    async launch(group) {
      const java = javaBinary();
      const classpath = zookeeperClasspath();
      await startAll(group, options.nodes, (member) => {
        const args = [
          `-Dzookeeper.log.dir=${options.dataDir}`,
          '-Dorg.slf4j.simpleLogger.showDateTime=true',
          '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
          // As the package's zkServer.sh does.
          '-XX:+HeapDumpOnOutOfMemoryError',
          '-XX:OnOutOfMemoryError=kill -9 %p',
          '-cp',
          classpath,
          MAIN_CLASS,
          join(options.dataDir, `zoo${member}.cfg`),
        ];
        return startProcess(java, { args, logFile: join(options.dataDir, `n${member}.log`) });
      });
    },
    async poll(members) {
      const replies = await Promise.all(members.map((m) => srvr(zookeeperPorts(options.basePort, m).client, POLL_TIMEOUT_MS)));
      return viewsFromReplies(new Map(members.map((member, i) => [member, replies[i]!])));
    },
  };
}

export const zookeeperSystem: SystemUnderTest = {
  name: 'zookeeper',
  describe(options) {
    const t = zookeeperTiming(options);
    return `tickTime ${t.tickTime}, initLimit ${t.initLimit}, syncLimit ${t.syncLimit}`;
  },
  async prepare(options) {
    const classpath = zookeeperClasspath();
    const missing = classpath.split(':').find((entry) => entry.endsWith('.jar') && !existsSync(entry));
    if (missing !== undefined) throw new Error(`ZooKeeper is not installed (${missing} not found; see scripts/install-comparison-systems.sh)`);
    const ports = Array.from({ length: options.nodes }, (_, i) => zookeeperPorts(options.basePort, i + 1)).flatMap((p) => [p.client, p.quorum, p.election]);
    return prepareProcessCluster('ZooKeeper server', options.nodes, ports, zookeeperParts(options));
  },
  async start(options) {
    return (await zookeeperSystem.prepare!(options))();
  },
};
