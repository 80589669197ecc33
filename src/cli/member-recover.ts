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
import { UsageError, helpText, integer, parseOptions } from './args.js';
import type { CommandIo } from './io.js';
import { recoverSpec } from './member.js';

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
