import type { Algorithm } from '../types.js';
import {
  MAX_APPEND_ENTRIES,
  MAX_CHUNK_CHARS,
  MAX_COMMAND_CHARS,
  MAX_SNAPSHOT_CHARS,
  raftMessageTypes,
  type RaftDurable,
  type RaftMessage,
} from './messages.js';
import type { FieldShape } from '../shapes.js';
import { RaftNode } from './raft.js';
import { defaultRaftOptions, type RaftOptions } from './options.js';
import { majority } from '../quorum.js';
import { historyRuns, lastHistoryTerm } from '../history.js';
import { membershipShape } from './membership.js';
import { coalesceRaftMessages } from './coalesce.js';

export * from './messages.js';
export { addressProblem, changedMembership, forceNewCluster, MAX_ADDRESS_CHARS, MAX_MEMBERS, membershipShape } from './membership.js';
export { RaftNode } from './raft.js';
export { defaultRaftOptions, type RaftOptions, type RaftRole } from './options.js';
export { leaseDurationMs } from './lease.js';

/**
 * What a real node runs unless told otherwise (`ballot node`, `ballot cluster`, startNode with
 * `algorithm: 'raft'`): the core's defaults plus fast start, which the simulator leaves off
 * (docs/algorithms/raft.md, "Fast start").
 */
export const realNodeRaftOptions: RaftOptions = { ...defaultRaftOptions, fastStart: true };

/** The words naming options that differ from the defaults ('pre-vote off', 'max-clock-drift 0.1'), or none. */
function variantOf(options: RaftOptions): string | undefined {
  const words: string[] = [];
  if (options.preVote !== defaultRaftOptions.preVote) words.push(`pre-vote ${options.preVote ? 'on' : 'off'}`);
  if (options.checkQuorum !== defaultRaftOptions.checkQuorum) words.push(`check-quorum ${options.checkQuorum ? 'on' : 'off'}`);
  if (options.maxClockDrift !== defaultRaftOptions.maxClockDrift) words.push(`max-clock-drift ${options.maxClockDrift}`);
  if ((options.fastStart === true) !== (defaultRaftOptions.fastStart === true)) words.push(`fast-start ${options.fastStart === true ? 'on' : 'off'}`);
  return words.length > 0 ? words.join(', ') : undefined;
}

/**
 * The options a variant's words name (the inverse of `variantOf`), or undefined for words that are not
 * one: a record written by a node run with `--pre-vote off` replays with the same options.
 */
export function raftOptionsOfVariant(variant: string): RaftOptions | undefined {
  let options: RaftOptions = defaultRaftOptions;
  for (const word of variant.split(', ')) {
    const [name, value, ...rest] = word.split(' ');
    if (value === undefined || rest.length > 0) return undefined;
    if ((name === 'pre-vote' || name === 'check-quorum' || name === 'fast-start') && (value === 'on' || value === 'off')) {
      options = { ...options, [name === 'pre-vote' ? 'preVote' : name === 'check-quorum' ? 'checkQuorum' : 'fastStart']: value === 'on' };
    } else if (name === 'max-clock-drift' && /^\d+(\.\d+)?(e-?\d+)?$/.test(value) && Number(value) < 1) {
      options = { ...options, maxClockDrift: Number(value) };
    } else {
      return undefined;
    }
  }
  return variantOf(options) === variant ? options : undefined;
}

/**
 * A log entry on the wire and on disk: files written before replication hold entries without a command,
 * and only configuration entries carry a configuration (thesis §4.1).
 */
const entryShape: FieldShape = { object: { term: 'term', command: { optional: { text: MAX_COMMAND_CHARS } }, membership: { optional: membershipShape } } };

/** Raft as the hosts see it, with its production extensions switched as `options` says. */
export function createRaft(options: RaftOptions = defaultRaftOptions): Algorithm<RaftMessage, RaftDurable> {
  if (!(options.maxClockDrift >= 0 && options.maxClockDrift < 1)) throw new RangeError(`raft: max clock drift must be in [0, 1), got ${options.maxClockDrift}`);
  const variant = variantOf(options);
  return {
  name: 'raft',
  ...(variant !== undefined ? { variant } : {}),
  // §5.2 / §9.3 of the paper: 150–300 ms timeouts; heartbeats well inside the smallest timeout.
  defaultTiming: { electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, heartbeatMs: 50 },
  messageTypes: raftMessageTypes,
  // Replication too: a settled cluster that compacts sends snapshots; none of it is the cost of electing.
  heartbeatTypes: ['AppendEntries', 'AppendEntriesResponse', 'InstallSnapshot', 'InstallSnapshotResponse'],
  // Thesis §10.2.1: the leader writes its new entries in parallel with replicating them (NodeDriver.pipeline).
  replicatesBeforePersist: ['AppendEntries'],
  // A candidate asks for votes while it writes its new term and self-vote, counting its own vote only
  // once they are durable (etcd's raft with asynchronous writes; NodeDriver.pipeline has the proof).
  campaignsBeforePersist: ['RequestVote'],
  coalesce: coalesceRaftMessages,
  boundedCounters: ['term'],
  messageShapes: {
    RequestVote: { term: 'term', lastLogIndex: 'nat', lastLogTerm: 'term', transfer: 'nat' },
    RequestVoteResponse: { term: 'term', voteGranted: 'bool', promiseMs: 'nat' },
    PreVote: { term: 'term', lastLogIndex: 'nat', lastLogTerm: 'term' },
    PreVoteResponse: { term: 'term', voteGranted: 'bool' },
    AppendEntries: {
      term: 'term',
      prevLogIndex: 'nat',
      prevLogTerm: 'term',
      entries: { list: entryShape, max: MAX_APPEND_ENTRIES },
      leaderCommit: 'nat',
      round: 'nat',
    },
    AppendEntriesResponse: { term: 'term', success: 'bool', round: 'nat', matchIndex: 'nat' },
    InstallSnapshot: {
      term: 'term',
      lastIncludedIndex: 'nat',
      lastIncludedTerm: 'term',
      offset: 'nat',
      data: { text: MAX_CHUNK_CHARS },
      done: 'bool',
      round: 'nat',
      membership: { optional: membershipShape },
    },
    InstallSnapshotResponse: { term: 'term', lastIncludedIndex: 'nat', offset: 'nat', done: 'bool', round: 'nat' },
    TimeoutNow: { term: 'term', round: 'nat' },
  },
  durableShape: {
    currentTerm: 'term',
    votedFor: 'id-or-null',
    log: { list: entryShape, max: 10_000_000 },
    // §7: absent until the first compaction, and in files written before it existed.
    snapshot: { optional: { object: { index: 'nat', term: 'term', data: { text: MAX_SNAPSHOT_CHARS }, membership: { optional: membershipShape } } } },
  },
  // An entry committed on one node is that entry on every node, and an acknowledged proposal is never lost.
  replication: 'consensus',
  roles: ['follower', 'precandidate', 'candidate', 'leader', 'learner'],
  supportsObservers: true,
  membershipChange: true,
  // One RequestVote and one answer per other voter (§5.2); PreVote (thesis §9.6) adds as many before it.
  textbookMessages: options.preVote
    ? (n) => ({ text: `4(n−1) = ${4 * (n - 1)} per round (PreVote, then the vote)`, value: 4 * (n - 1) })
    : (n) => ({ text: `2(n−1) = ${2 * (n - 1)} per round`, value: 2 * (n - 1) }),
  initialDurable(history) {
    // `--history 1:3+2:2`: the log, run by run; the current term is the newest entry's (a node cannot
    // hold entries of a term it has never seen).
    return {
      currentTerm: lastHistoryTerm(history),
      votedFor: null,
      log: historyRuns(history).flatMap(({ term, entries }) => Array.from({ length: entries }, () => ({ term }))),
    };
  },
  create: (config, durable, random, now) => new RaftNode(config, durable, random, now, options),
  canElect: (live, total) => live >= majority(total),
  };
}

/** Raft with PreVote, CheckQuorum and leases on (ρ = 0.05): the registry's `raft`. */
export const raft = createRaft();
