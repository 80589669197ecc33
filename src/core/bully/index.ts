import type { Algorithm, NodeId } from '../types.js';
import { BullyNode, type BullyOptions } from './bully.js';
import {
  bullyMessageTypes,
  MAX_BULLY_COMMAND_LENGTH,
  MAX_BULLY_CHUNK_CHARS,
  MAX_BULLY_LOG_ENTRIES,
  MAX_BULLY_SNAPSHOT_CHARS,
  MAX_BULLY_SNAPSHOT_LENGTH,
  MAX_SYNC_ENTRIES,
  type BullyDurable,
  type BullyMessage,
} from './messages.js';
import type { FieldShape } from '../shapes.js';

/** A log entry on the wire and on disk. */
const entryShape: FieldShape = { object: { term: 'term', command: { text: MAX_BULLY_COMMAND_LENGTH } } };

export * from './messages.js';
export { BullyNode, nextGeneration, type BullyMode, type BullyOptions, type BullyRole } from './bully.js';

/**
 * Bully as the hosts see it, in either mode. 'preempt' (Garcia-Molina's, the default `bully`) promises
 * the highest live id as leader once faults stop; 'stable' promises only one leader (a recovered higher
 * id follows the live coordinator), so it declares no expected leader.
 */
export function createBully(options: BullyOptions): Algorithm<BullyMessage, BullyDurable> {
  const highest = (live: readonly NodeId[]): NodeId | undefined => (live.length === 0 ? undefined : Math.max(...live));
  return {
    name: 'bully',
    ...(options.mode === 'stable' ? { variant: 'stable' } : {}),
    // Detection timeout 150–300 ms, heartbeat 50 ms: the same knobs and values as Raft, so that the two
    // compare like for like. T defaults to the heartbeat interval (a round trip fits well inside it, or
    // heartbeats could not keep a follower's 150 ms timer alive), T' to 2 T (the answering node's own T,
    // plus the Victory's trip). Failover: detection, plus T when a lower id notices first.
    defaultTiming: { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 },
    messageTypes: bullyMessageTypes,
    // A settled cluster with clients keeps copying too: replication's messages are no election's cost.
    heartbeatTypes: ['Heartbeat', 'Copy', 'SyncRequest', 'Sync', 'SnapshotChunk'],
    boundedCounters: ['generation'],
    messageShapes: {
      Election: { generation: 'term' },
      Alive: { generation: 'term' },
      Victory: { generation: 'term' },
      Heartbeat: { generation: 'term', lastIndex: 'nat', lastTerm: 'term' },
      Copy: { generation: 'term', index: 'nat', prevTerm: 'term', entry: entryShape },
      SyncRequest: { generation: 'term', index: 'nat', term: 'term', snapshotOffset: { optional: 'nat' } },
      Sync: { generation: 'term', index: 'nat', term: 'term', snapshot: { list: { text: MAX_BULLY_SNAPSHOT_LENGTH }, max: 1 }, entries: { list: entryShape, max: MAX_SYNC_ENTRIES } },
      // The core checks the rest: length at most MAX_BULLY_SNAPSHOT_CHARS, offset a multiple of the piece size, data's length.
      SnapshotChunk: { generation: 'term', index: 'nat', term: 'term', length: 'nat', offset: 'nat', data: { text: MAX_BULLY_CHUNK_CHARS } },
    },
    durableShape: {
      generation: 'term',
      snapshot: { optional: { object: { index: 'nat', term: 'term', data: { text: MAX_BULLY_SNAPSHOT_CHARS } } } },
      log: { optional: { list: entryShape, max: MAX_BULLY_LOG_ENTRIES } },
    },
    // The coordinator acknowledges a write before any copy exists (docs/algorithms/bully.md,
    // "Replication"): a failover or a split brain loses acknowledged writes, measured, not flagged.
    replication: 'primary-backup',
    roles: ['leader', 'follower', 'electing'],
    supportsObservers: false,
    membershipChange: false,
    // n−2 Victory messages when the second-highest id notices first, O(n²) when the lowest does (Garcia-Molina 1982).
    textbookMessages: (n) => ({ text: `n−2 = ${Math.max(0, n - 2)} best, O(n²) worst`, value: Math.max(0, n - 2) }),
    initialDurable: () => ({ generation: 0 }), // `--history` means nothing to Bully: ids decide, not logs
    create: (config, durable, random, now) => new BullyNode(config, durable, random, now, options),
    // No quorum: any live node can be (and, alone, is) the coordinator.
    canElect: (live) => live >= 1,
    ...(options.mode === 'preempt' ? { expectedLeader: highest } : {}),
  };
}

/** Garcia-Molina's Bully: a higher id always takes over (the source documents' "frequent leader switches"). */
export const bully = createBully({ mode: 'preempt' });

/** The non-preempting variant: a recovered higher id follows a live coordinator (`--bully-mode stable`). */
export const bullyStable = createBully({ mode: 'stable' });
