import { historyRuns } from '../history.js';
import { majority } from '../quorum.js';
import type { Algorithm, NodeId } from '../types.js';
import { makeZxid, serverStates, zabMessageTypes, type ZabDurable, type ZabMessage } from './messages.js';
import { ZabNode } from './zab.js';

export * from './messages.js';
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
    case 'UpToDate':
    case 'Ping':
      return fromVoter ? null : `observer sent ${message.type}, acting as a leader`;
    case 'PingReply':
      return null;
  }
}

export const zab: Algorithm<ZabMessage, ZabDurable> = {
  name: 'zab',
  // Raft's defaults, so the algorithms compare at matched settings: pings every 50 ms; a learner that
  // hears nothing from its leader for 150 ms (three pings), or a leader that hears from no quorum for
  // 300 ms, goes back to LOOKING. FLE's finalizeWait is ZooKeeper's 200 ms. See docs/algorithms/zab.md.
  defaultTiming: { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 },
  messageTypes: zabMessageTypes,
  heartbeatTypes: ['Ping', 'PingReply'],
  boundedCounters: ['epoch', 'round'],
  messageShapes: {
    // electionEpoch is FLE's round, a term-like counter; the epochs proper are bounded by MAX_EPOCH.
    Notification: { leader: 'id-or-null', zxid: 'zxid', electionEpoch: 'term', peerEpoch: 'epoch', state: { oneOf: serverStates } },
    FollowerInfo: { acceptedEpoch: 'epoch' },
    ObserverInfo: {},
    LeaderInfo: { epoch: 'epoch' },
    AckEpoch: { epoch: 'epoch', currentEpoch: 'epoch', lastZxid: 'zxid', newlyAccepted: 'bool' },
    NewLeader: { epoch: 'epoch', zxid: 'zxid' },
    Ack: { epoch: 'epoch' },
    UpToDate: { epoch: 'epoch' },
    Ping: { epoch: 'epoch' },
    PingReply: { epoch: 'epoch' },
  },
  durableShape: { acceptedEpoch: 'epoch', currentEpoch: 'epoch', lastZxid: 'zxid' },
  roles: serverStates,
  supportsObservers: true,
  // Every voter notifies every other voter once (source document 003: "n*(n-1)").
  textbookMessages: (n) => ({ text: `≈ n(n−1) = ${n * (n - 1)}`, value: n * (n - 1) }),
  initialDurable(history) {
    // `--history 1:3+2:2`: a zxid's counter restarts in each epoch, so the last zxid is (the newest
    // epoch, the entries of that epoch) = 2:2, and the node has lived through that epoch. `N` is 1:N.
    const runs = historyRuns(history);
    const last = runs[runs.length - 1];
    if (last === undefined) return { acceptedEpoch: 0, currentEpoch: 0, lastZxid: 0 };
    return { acceptedEpoch: last.term, currentEpoch: last.term, lastZxid: makeZxid(last.term, last.entries) };
  },
  create: (config, durable, random, now) => new ZabNode(config, durable, random, now),
  canElect: (live, total) => live >= majority(total),
  checkSend: checkZabSend,
};
