import type { Algorithm } from '../types.js';
import { raftMessageTypes, type RaftDurable, type RaftMessage } from './messages.js';
import { RaftNode } from './raft.js';
import { majority } from '../quorum.js';
import { historyRuns, lastHistoryTerm } from '../history.js';

export * from './messages.js';
export { RaftNode, type RaftRole } from './raft.js';

export const raft: Algorithm<RaftMessage, RaftDurable> = {
  name: 'raft',
  // §5.2 / §9.3 of the paper: 150–300 ms timeouts; heartbeats well inside the smallest timeout.
  defaultTiming: { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 },
  messageTypes: raftMessageTypes,
  heartbeatTypes: ['AppendEntries', 'AppendEntriesResponse'],
  boundedCounters: ['term'],
  messageShapes: {
    RequestVote: { term: 'term', lastLogIndex: 'nat', lastLogTerm: 'term' },
    RequestVoteResponse: { term: 'term', voteGranted: 'bool' },
    AppendEntries: { term: 'term', leaderCommit: 'nat' },
    AppendEntriesResponse: { term: 'term', success: 'bool' },
  },
  durableShape: {
    currentTerm: 'term',
    votedFor: 'id-or-null',
    log: { list: { object: { term: 'term' } }, max: 10_000_000 },
  },
  roles: ['follower', 'candidate', 'leader', 'learner'],
  supportsObservers: true,
  // One RequestVote and one answer per other voter (§5.2).
  textbookMessages: (n) => ({ text: `2(n−1) = ${2 * (n - 1)} per round`, value: 2 * (n - 1) }),
  initialDurable(history) {
    // `--history 1:3+2:2`: the log, run by run; the current term is the newest entry's (a node cannot
    // hold entries of a term it has never seen).
    return {
      currentTerm: lastHistoryTerm(history),
      votedFor: null,
      log: historyRuns(history).flatMap(({ term, entries }) => Array.from({ length: entries }, () => ({ term }))),
    };
  },
  create: (config, durable, random, now) => new RaftNode(config, durable, random, now),
  canElect: (live, total) => live >= majority(total),
};
