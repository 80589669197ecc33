/**
 * Raft's cluster configurations (Ongaro's thesis, chapter 4): the rules of a single-server change as
 * pure functions of a Membership, the bounds that keep a configuration inside one peer frame, and the
 * deliberate, unsafe quorum-loss recovery (`forceNewCluster`). The node that uses them is raft.ts; the
 * rules and every departure are in docs/algorithms/raft.md, "Membership changes".
 */
import { increment, MAX_TERM } from '../bounds.js';
import type { FieldShape } from '../shapes.js';
import type { Membership, MembershipChange, MembershipRefusal, NodeConfig, NodeId } from '../types.js';
import type { RaftDurable } from './messages.js';

// ---- bounds ---------------------------------------------------------------------------------------
// A configuration travels in a log entry (AppendEntries) and with a snapshot's last chunk
// (InstallSnapshot), beside up to 8,192 characters of commands or snapshot data (48 KiB at most): so it
// must stay under about 14 KiB. 64 members whose ids take 16 digits each and whose addresses take 128
// printable ASCII characters (one byte each) take about 12 KiB (src/core-tests/raft/membership.test.ts
// checks the worst case against a frame).

/** The most members (voters and learners together) a configuration may name. */
export const MAX_MEMBERS = 64;
/** The longest peer address (HOST:PORT) a configuration may carry, in printable ASCII characters. */
export const MAX_ADDRESS_CHARS = 128;

/** A configuration on the wire and on disk (the runtime validates untrusted ones with it). */
export const membershipShape: FieldShape = {
  object: {
    voters: { list: 'id', max: MAX_MEMBERS },
    observers: { list: 'id', max: MAX_MEMBERS },
    addresses: { record: { text: MAX_ADDRESS_CHARS }, max: MAX_MEMBERS },
  },
};

/**
 * Why `address` cannot be carried in a configuration, or null: at most MAX_ADDRESS_CHARS printable
 * ASCII characters without spaces (one byte each in a frame); '' (no address: the simulator) is fine.
 */
export function addressProblem(address: string): string | null {
  if (address.length > MAX_ADDRESS_CHARS) return `an address has at most ${MAX_ADDRESS_CHARS} characters, got ${address.length}`;
  if (!/^[\x21-\x7e]*$/.test(address)) return 'an address is printable ASCII without spaces (HOST:PORT)';
  return null;
}

// ---- configurations -------------------------------------------------------------------------------

/**
 * The configuration a node was started with (NodeConfig): its voters and learners, ascending and
 * disjoint, each with its address ('' when the host gave none). Used until the log or the snapshot
 * holds a configuration (thesis §4.1). A joiner is started with no voters: it waits to be told.
 */
export function startingMembership(config: Pick<NodeConfig, 'voters' | 'observers' | 'addresses'>): Membership {
  const voters = [...new Set(config.voters)].sort((a, b) => a - b);
  const observers = [...new Set(config.observers)].filter((id) => !voters.includes(id)).sort((a, b) => a - b);
  const addresses: Record<string, string> = {};
  for (const id of [...voters, ...observers]) addresses[String(id)] = config.addresses?.[String(id)] ?? '';
  return { voters, observers, addresses };
}

/** Every member: the voters, then the learners. */
export function membersOf(membership: Membership): NodeId[] {
  return [...membership.voters, ...membership.observers];
}

/** Whether two configurations name the same voters, learners and addresses. */
export function sameMembership(a: Membership, b: Membership): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]) => x.length === y.length && x.every((id, k) => id === y[k]);
  if (!same(a.voters, b.voters) || !same(a.observers, b.observers)) return false;
  const keys = Object.keys(a.addresses);
  return keys.length === Object.keys(b.addresses).length && keys.every((key) => a.addresses[key] === b.addresses[key]);
}

/**
 * The characters a configuration takes in a log entry (its JSON, all ASCII): what a configuration entry
 * weighs against an AppendEntries' budget of command characters (RaftLog.batchFrom).
 */
export function membershipChars(membership: Membership): number {
  return JSON.stringify(membership).length;
}

/**
 * The configuration after `change`, or why the change names the wrong peer (thesis §4.1: one server at
 * a time; §4.2.1: a new server joins as a learner, and becomes a voter by a second change):
 * 'already-a-member' to add a member, 'not-a-member' to promote a non-learner (a voter is
 * 'already-a-member') or remove a stranger, 'last-voter' to remove the only voter. 'invalid': the
 * configuration would break the bounds (MAX_MEMBERS, addressProblem); hosts check first, to say why.
 */
export function changedMembership(membership: Membership, change: MembershipChange): Membership | MembershipRefusal | 'invalid' {
  const { voters, observers, addresses } = membership;
  const peer = change.peer;
  if (!Number.isSafeInteger(peer) || peer < 1) return 'invalid';
  const isVoter = voters.includes(peer);
  const isObserver = observers.includes(peer);
  let next: Membership;
  switch (change.type) {
    case 'add-learner': {
      if (isVoter || isObserver) return 'already-a-member';
      if (voters.length + observers.length >= MAX_MEMBERS || addressProblem(change.address) !== null) return 'invalid';
      next = { voters, observers: [...observers, peer].sort((a, b) => a - b), addresses: { ...addresses, [String(peer)]: change.address } };
      break;
    }
    case 'promote': {
      if (isVoter) return 'already-a-member';
      if (!isObserver) return 'not-a-member';
      next = { voters: [...voters, peer].sort((a, b) => a - b), observers: observers.filter((id) => id !== peer), addresses };
      break;
    }
    case 'remove': {
      if (!isVoter && !isObserver) return 'not-a-member';
      if (isVoter && voters.length === 1) return 'last-voter';
      const rest = { ...addresses };
      delete rest[String(peer)];
      next = { voters: voters.filter((id) => id !== peer), observers: observers.filter((id) => id !== peer), addresses: rest };
      break;
    }
  }
  // The starting configuration's addresses come from the host: the entry that would carry them must fit.
  return Object.values(next.addresses).every((address) => addressProblem(address) === null) ? next : 'invalid';
}

// ---- quorum-loss recovery -------------------------------------------------------------------------

/**
 * Quorum-loss recovery (etcd's --force-new-cluster): the durable state of node `id` rewritten so that,
 * when it starts, it is the only voter of a new cluster, at `address`, with its whole log.
 *
 * UNSAFE, and deliberate: only for a cluster that has lost its majority for good. The entries that
 * only the lost majority held are gone (an acknowledged write among them is lost); the entries this
 * node holds but never knew committed become committed (a proposal whose outcome was unknown takes
 * effect). If the old majority ever comes back it may hold, at the same indexes, entries that it
 * committed and this node does not have: two clusters that each believe in their own log. Run it on one
 * node, with every other member stopped for good, then add members back one at a time.
 *
 * How: a configuration entry naming this node alone is appended in a term of its own (current term + 1,
 * voted for itself, so that no entry of that term can come from anyone else here), after every entry
 * it holds — uncommitted ones included, since the durable state does not record the commit index and an
 * entry the lost majority committed may be among them. When the node starts it uses that configuration
 * (the latest in its log, thesis §4.1): it is a majority of one, elects itself in the next term, and
 * its blank entry of that term commits the whole log by counting (§5.4.2).
 */
export function forceNewCluster(durable: RaftDurable, id: NodeId, address: string): RaftDurable {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`raft: a node id is a positive integer, got ${id}`);
  const problem = addressProblem(address);
  if (problem !== null) throw new RangeError(`raft: ${problem}`);
  const term = increment(durable.currentTerm, MAX_TERM);
  if (term === null) throw new RangeError(`raft: the term is at its ceiling (${durable.currentTerm}); no new term is left for the new cluster`);
  const membership: Membership = { voters: [id], observers: [], addresses: { [String(id)]: address } };
  return { ...durable, currentTerm: term, votedFor: id, log: [...durable.log, { term, command: '', membership }] };
}
