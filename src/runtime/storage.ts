/**
 * Durable state on disk: one JSON file per node, `state.json` in the node's data directory.
 *
 * Writes are atomic: write a temporary file, fsync it, rename it over the old file, fsync the
 * directory (so the rename itself survives a power loss). A crash at any point leaves either the old
 * state or the new one, never a mix. Writes are synchronous on purpose: the host persists an output
 * batch's state before it sends that batch's messages (a Raft vote is on disk before the grant leaves,
 * §5.2 / Figure 2), and a synchronous write makes that ordering hold without a queue. It costs well
 * under a millisecond on a local disk, and the algorithms persist only when a term, vote or epoch
 * changes, never per heartbeat.
 *
 * Reads are strict: a file that is not valid JSON, or does not match the algorithm's durable shape,
 * or belongs to another algorithm or node, is an error, never a silent reset: forgetting a vote would
 * let the node vote twice in one term.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { durableSchema, envelopeSchema, type Issue, type Validator } from './schema.js';

export const STATE_FILE = 'state.json';
const FORMAT = 1;

/** The data directory cannot be used, or holds state this node must not run from. */
export class StorageError extends Error {}

/** The file-system calls a write is made of, injectable so tests can check their order. */
export interface FileOps {
  writeFile(path: string, data: string): void;
  rename(from: string, to: string): void;
  fsyncDir(path: string): void;
}

export const realFileOps: FileOps = {
  writeFile(path, data) {
    const fd = openSync(path, 'w', 0o600);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  rename: renameSync,
  fsyncDir(path) {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * `mkdir -p`, bounded. node's own `mkdirSync(dir, { recursive: true })` retries forever where a
 * parent exists but refuses children with ENOENT (any path under /proc): 100% CPU, never an error.
 * Here each level is tried at most twice, so such a path fails with its errno.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return; // accessSync (or the first write) then says whether it is usable
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    makeDirectory(parent);
  }
  mkdirSync(dir);
}

export class DurableStore {
  readonly path: string;
  private readonly envelope = envelopeSchema(FORMAT);
  private readonly state: Validator;

  private constructor(
    readonly dir: string,
    private readonly algorithm: AnyAlgorithm,
    private readonly node: NodeId,
    private readonly ops: FileOps,
  ) {
    this.path = join(dir, STATE_FILE);
    this.state = durableSchema(algorithm);
  }

  /**
   * Opens (creating it if needed) a node's data directory and reads back its durable state: null for a
   * node that has never run. Throws StorageError with a one-line explanation.
   */
  static open(dir: string, algorithm: AnyAlgorithm, node: NodeId, ops: FileOps = realFileOps): { store: DurableStore; durable: unknown } {
    try {
      makeDirectory(dir);
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new StorageError(`cannot use data dir ${dir} (${errnoCode(error)})`);
    }
    const store = new DurableStore(dir, algorithm, node, ops);
    return { store, durable: store.load() };
  }

  /** The stored durable state, or null when there is none. */
  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw new StorageError(`cannot read ${this.path} (${errnoCode(error)})`);
    }
    const refuse = (why: string): StorageError =>
      new StorageError(`${this.path} is ${why}; refusing to start from it (a reset could let this node vote twice)`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw refuse('corrupt (not JSON)');
    }
    const corrupt = (error: { readonly issues: readonly Issue[] }, under: string): StorageError => {
      const issue = error.issues[0];
      const path = [under, ...(issue?.path ?? [])].filter((part) => part !== '').join('.');
      return refuse(`corrupt (${issue ? `${path || 'top level'}: ${issue.message}` : 'invalid'})`);
    };
    // The envelope first: a data dir of another algorithm or node is named as such, not as a state
    // that fails this algorithm's schema.
    const envelope = this.envelope.safeParse(json);
    if (!envelope.success) throw corrupt(envelope.error, '');
    const { algorithm, node } = envelope.data;
    if (algorithm !== this.algorithm.name) throw refuse(`the state of a ${algorithm} node, not ${this.algorithm.name}`);
    if (node !== this.node) throw refuse(`the state of node ${node}, not node ${this.node}`);
    const state = this.state.safeParse(envelope.data.state);
    if (!state.success) throw corrupt(state.error, 'state');
    return state.data;
  }

  /** Replaces the durable state atomically; returns once it is on disk. Throws on any I/O error. */
  save(state: unknown): void {
    const data = JSON.stringify({ format: FORMAT, algorithm: this.algorithm.name, node: this.node, state });
    const temp = `${this.path}.tmp`;
    this.ops.writeFile(temp, data);
    this.ops.rename(temp, this.path);
    this.ops.fsyncDir(this.dir);
  }
}
