/**
 * Two AppendEntries to one follower, the second continuing the first, as ONE message (Figure 2's "may
 * send more than one for efficiency"): the leader's core sends the new entry of each proposal at once
 * (raft.ts, propose), so a batch of proposals stepped together would otherwise cost one message and one
 * answer per proposal per follower. A host that sends a batch's messages together (NodeDriver.pipeline)
 * joins them here.
 *
 * The joined message is what the follower would have made of the two in order: the same consistency
 * check (the first's prevLogIndex/prevLogTerm), the entries of both, the later leaderCommit (a leader's
 * commitIndex only grows) and the later round (entries between two heartbeats carry the current round;
 * a round's send time is recorded by the leader before either left, so a lease or a read counted from it
 * stays as conservative as before). They are joined only when the second starts exactly where the first
 * ends, in the same term, and the result stays within the bounds of one message (MAX_APPEND_ENTRIES
 * entries, MAX_APPEND_CHARS characters of commands, as the core's own batches: one frame).
 */
import { MAX_APPEND_CHARS, MAX_APPEND_ENTRIES, type AppendEntries, type RaftMessage } from './messages.js';

export function coalesceRaftMessages(earlier: RaftMessage, later: RaftMessage): RaftMessage | null {
  if (earlier.type !== 'AppendEntries' || later.type !== 'AppendEntries') return null;
  return coalesceAppendEntries(earlier, later);
}

export function coalesceAppendEntries(earlier: AppendEntries, later: AppendEntries): AppendEntries | null {
  if (later.term !== earlier.term) return null;
  const lastIndex = earlier.prevLogIndex + earlier.entries.length;
  const lastTerm = earlier.entries.length > 0 ? earlier.entries[earlier.entries.length - 1]!.term : earlier.prevLogTerm;
  if (later.prevLogIndex !== lastIndex || later.prevLogTerm !== lastTerm) return null;
  if (later.entries.length === 0 && later.leaderCommit === earlier.leaderCommit && later.round === earlier.round) return earlier;
  const entries = earlier.entries.length === 0 ? later.entries : later.entries.length === 0 ? earlier.entries : [...earlier.entries, ...later.entries];
  if (entries.length > MAX_APPEND_ENTRIES) return null;
  let chars = 0;
  for (const entry of entries) chars += entry.command?.length ?? 0;
  if (entries.length > 1 && chars > MAX_APPEND_CHARS) return null;
  return { ...later, prevLogIndex: earlier.prevLogIndex, prevLogTerm: earlier.prevLogTerm, entries, leaderCommit: Math.max(earlier.leaderCommit, later.leaderCommit), round: Math.max(earlier.round, later.round) };
}
