/**
 * Quorum arithmetic, kept in one place: Raft elections, ZAB's vote tally and epoch agreement, and the
 * odd/even comparison all depend on it. Only voters count; observers and learners never do.
 */
import type { NodeId } from './types.js';

/** The smallest number of voters that forms a strict majority of `voterCount`. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** How many voters may fail while a majority remains (3 → 1, 4 → 1, 5 → 2). */
export function faultsTolerated(voterCount: number): number {
  return voterCount - majority(voterCount);
}

export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The outcome of a vote among `voters`, given the answers received so far (true = yes, false = no).
 * Answers from non-voters are ignored. 'lost' means a majority can no longer be reached.
 */
export function tallyVotes(voters: readonly NodeId[], answers: ReadonlyMap<NodeId, boolean>): VoteResult {
  let yes = 0;
  let no = 0;
  for (const voter of voters) {
    const answer = answers.get(voter);
    if (answer === true) yes++;
    else if (answer === false) no++;
  }
  const needed = majority(voters.length);
  if (yes >= needed) return 'won';
  if (voters.length - no < needed) return 'lost';
  return 'pending';
}

/** Whether the voters in `members` form a strict majority of `voters`. */
export function isQuorum(voters: readonly NodeId[], members: Iterable<NodeId>): boolean {
  const voterSet = new Set(voters);
  let count = 0;
  for (const member of new Set(members)) if (voterSet.has(member)) count++;
  return count >= majority(voters.length);
}
