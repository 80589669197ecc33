/**
 * `ballot member recover`: quorum-loss recovery, offline (docs/membership.md, "Recovery"). The stopped
 * node's durable state is rewritten by the core's forceNewCluster (src/core/raft/membership.ts) so that
 * it starts as the only voter of a new cluster. UNSAFE by design: it refuses without --yes-i-know.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { forceNewCluster } from '../core/raft/membership.js';
import { raft } from '../core/raft/index.js';
import type { RaftDurable } from '../core/raft/messages.js';
import { ConfigError, formatAddress, parseAddress, type Address } from '../runtime/config.js';
import { DurableStore, STATE_FILE, StorageError } from '../runtime/storage.js';
import { UsageError, helpText, integer, parseOptions, type CommandSpec } from './args.js';
import type { CommandIo } from './io.js';

export const recoverSpec: CommandSpec = {
  name: 'member recover',
  usage: 'ballot member recover --data-dir DIR --id N --address HOST:PORT --yes-i-know',
  summary:
    'UNSAFE quorum-loss recovery, for a Raft cluster that has lost its majority FOR GOOD. Rewrites the\n' +
    "stopped node's durable state in DIR so that, when started again, it is the only voter of a new\n" +
    'cluster, at HOST:PORT, with its whole log; then add members back with `ballot member add`.\n' +
    'What can be lost: every entry only the lost members held (acknowledged writes among them), and\n' +
    'entries this node held without knowing them committed become committed (a write whose client got\n' +
    'no answer may take effect). If a lost member ever comes back with its old data dir, it belongs to the\n' +
    'old cluster: never start one again; wipe it and add it back with --join. Run this on ONE node only,\n' +
    'with the node stopped (a running node would overwrite the change).',
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: "the stopped node's data dir (it must hold the node's state)" },
    id: { type: 'string', value: 'N', description: "the node's id (the one its data dir belongs to)" },
    address: { type: 'string', value: 'HOST:PORT', description: 'its peer address in the new configuration (where it will listen)' },
    'yes-i-know': { type: 'boolean', description: 'confirm that the majority is lost for good and the losses above are accepted' },
  },
  epilog: 'Exit status: 0 rewritten; 1 the node seems to run (its address is in use); 2 bad arguments, no\n--yes-i-know, no state in DIR, or a data dir of another algorithm or node.',
};

export async function runRecover(argv: readonly string[], io: CommandIo): Promise<number> {
  const values = parseOptions(recoverSpec, argv);
  if (values.help) {
    io.out(helpText(recoverSpec));
    return 0;
  }
  const dataDir = values['data-dir'];
  if (typeof dataDir !== 'string' || dataDir === '') throw new UsageError('recover: --data-dir DIR is required (the stopped node’s data dir)');
  if (values.id === undefined) throw new UsageError('recover: --id N is required');
  const id = integer(values.id, 'id', 0, 1);
  if (typeof values.address !== 'string') throw new UsageError('recover: --address HOST:PORT is required (where the node will listen for peers)');
  let address: Address;
  try {
    address = parseAddress(values.address, 'address');
  } catch (error) {
    throw error instanceof ConfigError ? new UsageError(error.message) : error;
  }
  if (values['yes-i-know'] !== true) {
    throw new UsageError(
      `refusing without --yes-i-know: this makes node ${id} the only voter of a new cluster; entries only the lost members held are lost (acknowledged writes among them), and a lost member that comes back must never run with its old data dir (see ballot member recover --help)`,
    );
  }
  if (!existsSync(join(dataDir, STATE_FILE))) throw new UsageError(`recover: ${dataDir} holds no node state (${STATE_FILE}); give the data dir of the surviving node`);
  // A running node would overwrite the rewritten state with its own at its next persist.
  if (await inUse(address)) {
    io.err(`ballot member recover: ${formatAddress(address)} is in use: stop node ${id} first (recover works on a stopped node's data dir)\n`);
    return 1;
  }
  let store: DurableStore;
  let durable: unknown;
  try {
    ({ store, durable } = DurableStore.open(dataDir, raft, id));
  } catch (error) {
    if (error instanceof StorageError) throw new UsageError(`recover: ${error.message}`);
    throw error;
  }
  try {
    if (durable === null) throw new UsageError(`recover: ${dataDir} holds no node state`);
    let next: RaftDurable;
    try {
      next = forceNewCluster(durable as RaftDurable, id, formatAddress(address));
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(`recover: ${error.message}`);
      throw error;
    }
    store.save(next);
    const index = (next.snapshot?.index ?? 0) + next.log.length;
    io.out(
      `node ${id} is now the only voter of a new cluster at ${formatAddress(address)} (term ${next.currentTerm}, configuration at log index ${index}).\n` +
        `Start it as before (its log's configuration overrides --peers), then add members back one at a time:\n` +
        `  ballot node --join --id M ... (an EMPTY data dir), then ballot member add M=HOST:PORT --to http://<its --http>\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}

/** Whether something listens on `address` (the node still runs), by trying to bind it. */
function inUse(address: Address): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
