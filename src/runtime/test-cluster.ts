/**
 * The tests' one way to make a cluster of real `ballot node` processes: free ports on 127.0.0.1, a
 * fresh temporary data directory, the built entry point; and one way to be rid of it (every member
 * stopped, the directory removed). Everything else is LocalCluster's (src/runtime/local-cluster.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster, type LocalClusterOptions } from './local-cluster.js';
import { freePorts } from './testing.js';

/** dist/cli/main.js, the entry point every test process runs. */
export const mainJs = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface TestClusterOptions extends Omit<LocalClusterOptions, 'command' | 'peerPorts' | 'httpPorts' | 'dataDir' | 'logDir'> {
  /** Names the temporary data directory (ballot-NAME-XXXXXX). */
  readonly name: string;
  /** Keep each member's log in the data directory (node-<id>.log). */
  readonly logs?: boolean;
}

export interface TestCluster {
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  /** Each member's peer port, in id order. */
  readonly peerPorts: readonly number[];
  /** Stops every member and removes the data directory; safe to call twice. */
  close(graceMs?: number): Promise<void>;
}

export async function testCluster(options: TestClusterOptions): Promise<TestCluster> {
  const { name, logs, ...rest } = options;
  const total = options.voters + (options.observers ?? 0) + (options.joiners ?? 0);
  const ports = await freePorts(2 * total);
  const dataDir = mkdtempSync(join(tmpdir(), `ballot-${name}-`));
  const peerPorts = ports.slice(0, total);
  const cluster = new LocalCluster({
    ...rest,
    command: [process.execPath, mainJs, 'node'],
    peerPorts,
    httpPorts: ports.slice(total),
    dataDir,
    ...(logs ? { logDir: dataDir } : {}),
  });
  return {
    cluster,
    dataDir,
    peerPorts,
    async close(graceMs = 5000) {
      await cluster.stop(graceMs);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
