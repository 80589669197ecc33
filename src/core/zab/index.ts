import { historyRuns } from '../history.js';
import { historyFields, ZabLog } from './log.js';
import { majority } from '../quorum.js';
import type { Algorithm, NodeId } from '../types.js';
import {
  MAX_COMMAND_LENGTH,
  MAX_HISTORY_ITEMS,
  MAX_SNAPSHOT_LENGTH,
  MAX_WHOLE_SNAPSHOT_LENGTH,
  SNAPSHOT_CHUNK_CHARS,
  serverStates,
  syncModes,
  zabMessageTypes,
  type ZabDurable,
  type ZabMessage,
} from './messages.js';
import { ZabNode } from './zab.js';

export * from './messages.js';
export { ZabLog, syncPoint, type HistorySlice, type ZabEntry } from './log.js';
export { CATCH_UP_BUDGET_BYTES, NEWLEADER_BUDGET_BYTES } from './establishment.js';
export { ZabNode, defaultZabOptions, leaderStepDownBoundMs, sessionTimeoutMs, type ZabOptions } from './zab.js';
export { FastLeaderElection, totalOrderPredicate, sameVote, type Proposal, type Vote, type Decision } from './election.js';

/**
 * "Observers never vote", as checked on every message the simulator carries: an observer's
 * notifications carry no vote (state 'observing', no leader), it never sends what a quorum is counted
 * from (FOLLOWERINFO, ACKEPOCH, ACK), never acts as a leader, and nobody ever votes for it.
 */
export function checkZabSend(
  from: NodeId,
  _to: NodeId,
  message: ZabMessage,
  config: { voters: readonly NodeId[]; observers: readonly NodeId[] },
): string | null {
  const fromVoter = config.voters.includes(from);
  switch (message.type) {
    case 'Notification':
      if (!fromVoter) {
        return message.state === 'observing' && message.leader === null ? null : `observer voted (state ${message.state}, leader ${message.leader})`;
      }
      if (message.state === 'observing') return 'a voter claimed to be observing';
      if (message.leader === null || !config.voters.includes(message.leader)) return `vote for non-voter ${message.leader}`;
      return null;
    case 'FollowerInfo':
    case 'AckEpoch':
    case 'Ack':
      return fromVoter ? null : `observer sent ${message.type}, which counts toward a quorum`;
    case 'ObserverInfo':
      return fromVoter ? 'a voter asked to observe' : null;
    case 'LeaderInfo':
    case 'NewLeader':
    case 'SnapChunk':
    case 'UpToDate':
    case 'Proposal':
    case 'Commit':
    case 'Inform':
    case 'Ping':
      return fromVoter ? null : `observer sent ${message.type}, acting as a leader`;
    case 'PingReply':
    case 'SnapRequest': // a learner's, observer or follower
      return null;
  }
}

const commandText = { text: MAX_COMMAND_LENGTH } as const;
const snapshotText = { text: MAX_SNAPSHOT_LENGTH } as const;
const wholeSnapshotText = { text: MAX_WHOLE_SNAPSHOT_LENGTH } as const;
const runShape = { epoch: 'epoch', first: 'nat', count: 'nat' } as const;

export const zab: Algorithm<ZabMessage, ZabDurable> = {
  name: 'zab',
  // Raft's defaults, so the algorithms compare at matched settings: pings every 50 ms; a learner that
  // hears nothing from its leader for 150 ms (three pings), or a leader that hears from no quorum for
  // 300 ms, goes back to LOOKING. FLE's finalizeWait is ZooKeeper's 200 ms. See docs/algorithms/zab.md.
  defaultTiming: { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 },
  messageTypes: zabMessageTypes,
  // Broadcast (Proposal, Ack, Commit, Inform) is what a settled cluster sends while clients write, not
  // the cost of electing. Ack is also the answer to NEWLEADER (ZooKeeper's one ACK type), so `ballot
  // compare` counts those n − 1 Acks of each establishment as steady traffic too. SnapChunk and
  // SnapRequest are synchronization, like the NewLeader they follow: not steady traffic.
  heartbeatTypes: ['Ping', 'PingReply', 'Proposal', 'Ack', 'Commit', 'Inform'],
  boundedCounters: ['epoch', 'round'],
  messageShapes: {
    // electionEpoch is FLE's round, a term-like counter; the epochs proper are bounded by MAX_EPOCH.
    Notification: { leader: 'id-or-null', zxid: 'zxid', electionEpoch: 'term', peerEpoch: 'epoch', state: { oneOf: serverStates } },
    FollowerInfo: { acceptedEpoch: 'epoch' },
    ObserverInfo: { lastZxid: 'zxid' },
    LeaderInfo: { epoch: 'epoch' },
    AckEpoch: { epoch: 'epoch', currentEpoch: 'epoch', lastZxid: 'zxid', newlyAccepted: 'bool' },
    NewLeader: {
      epoch: 'epoch',
      zxid: 'zxid',
      sync: { oneOf: syncModes },
      base: 'zxid',
      baseIndex: 'nat',
      snapshot: wholeSnapshotText,
      snapshotLength: { optional: 'nat' },
      runs: { list: { object: runShape }, max: MAX_HISTORY_ITEMS },
      commands: { list: commandText, max: MAX_HISTORY_ITEMS },
    },
    // The learner checks offset and total against SNAPSHOT_CHUNK_CHARS and MAX_SNAPSHOT_LENGTH (learner.ts).
    SnapChunk: { epoch: 'epoch', index: 'nat', total: 'nat', offset: 'nat', data: { text: SNAPSHOT_CHUNK_CHARS } },
    // The leader answers only for the snapshot it is sending that learner, from an offset that starts a piece of it.
    SnapRequest: { epoch: 'epoch', index: 'nat', offset: 'nat' },
    Ack: { epoch: 'epoch', zxid: 'zxid' },
    UpToDate: { epoch: 'epoch', zxid: 'zxid' },
    Proposal: { epoch: 'epoch', zxid: 'zxid', prevZxid: 'zxid', command: commandText },
    Commit: { epoch: 'epoch', zxid: 'zxid' },
    Inform: { epoch: 'epoch', zxid: 'zxid', prevZxid: 'zxid', command: commandText },
    Ping: { epoch: 'epoch', zxid: 'zxid', round: 'nat' },
    PingReply: { epoch: 'epoch', zxid: 'zxid', round: 'nat' },
  },
  // Fields added with replication are optional, so that a state file written before still reads.
  durableShape: {
    acceptedEpoch: 'epoch',
    currentEpoch: 'epoch',
    lastZxid: 'zxid',
    runs: { optional: { list: { object: runShape }, max: MAX_HISTORY_ITEMS } },
    commands: { optional: { list: commandText, max: MAX_HISTORY_ITEMS } },
    snapshot: { optional: { object: { index: 'nat', zxid: 'zxid', data: snapshotText } } },
  },
  roles: serverStates,
  // Atomic broadcast: a transaction committed anywhere is committed everywhere, in the same order.
  replication: 'consensus',
  supportsObservers: true,
  membershipChange: false,
  // Every voter notifies every other voter once (source document 003: "n*(n-1)").
  textbookMessages: (n) => ({ text: `≈ n(n−1) = ${n * (n - 1)}`, value: n * (n - 1) }),
  initialDurable(history) {
    // `--history 1:3+2:2`: a zxid's counter restarts in each epoch, so the last zxid is (the newest
    // epoch, the entries of that epoch) = 2:2, and the node has lived through that epoch. `N` is 1:N.
    // The entries carry the empty command, and are stored as runs (src/core/zab/log.ts).
    const runs = historyRuns(history).map((run) => ({ epoch: run.term, first: 1, count: run.entries }));
    const epoch = runs[runs.length - 1]?.epoch ?? 0;
    return { acceptedEpoch: epoch, currentEpoch: epoch, ...historyFields(new ZabLog({ index: 0, zxid: 0, data: '' }, { runs, commands: [] })) };
  },
  create: (config, durable, random, now) => new ZabNode(config, durable, random, now),
  canElect: (live, total) => live >= majority(total),
  checkSend: checkZabSend,
};
