/**
 * Figure 8 of the Raft paper (Ongaro & Ousterhout 2014, §5.4.2) as a deterministic run of five real
 * RaftNodes on the test network (src/core/testnet.ts), checked by the simulator's own log checker
 * (log-agreement, src/sim/checkers/replication.ts). Shared by the core's tests and the mutation catalog
 * (src/testing/mutants.ts: `raft-commit-previous-term`), because the random sweep hardly ever reaches
 * it: a new leader appends its blank entry at once, so an entry of an earlier term is counted alone
 * only when a follower lags by more than one AppendEntries' worth (MAX_APPEND_ENTRIES).
 *
 * The start is the paper's (c), scaled up: S1 and S2 hold 64 entries of term 2 (S1 led term 2 and
 * reached only S2), S5 holds one entry of term 3 (it led term 3 with the votes of S3 and S4 and reached
 * nobody), S3 and S4 hold only the first entry. Then:
 *   (c) S1 is elected for term 4 (S2, S3, S4 vote) and appends its blank entry; S3's first answer
 *       acknowledges the 64 term-2 entries — a majority (S1, S2, S3) now holds them — and S1 crashes
 *       before S3 learns more;
 *   (d) S5 is elected for term 5 by S3 and S4 (its last term, 3, is newer than theirs) and overwrites
 *       the term-2 entries on S3.
 * A leader that committed the term-2 entries by counting them in (c) has committed what (d) erases.
 */
import { MAX_APPEND_ENTRIES, type LogEntry, type RaftDurable, type RaftMessage } from '../core/raft/messages.js';
import { raft } from '../core/raft/index.js';
import type { NodeId } from '../core/types.js';
import { LogAgreement } from '../sim/checkers/replication.js';
import { TestNet } from '../core/testnet.js';

export interface Figure8Outcome {
  /** Whether S1 reported the term-2 entries committed in (c). */
  readonly oldTermCommittedByCounting: boolean;
  /** The leader elected in (d). */
  readonly secondLeader: NodeId | null;
  /** Each node's durable state at the end. */
  readonly durable: ReadonlyMap<NodeId, RaftDurable>;
  /** What log-agreement found, over every node's `committed` events. */
  readonly violations: readonly string[];
}

export function figure8(): Figure8Outcome {
  // S1 times out first (the shortest timeout), so it campaigns first in (c).
  const net = new TestNet<RaftMessage, RaftDurable>({ algorithm: raft, voters: 5, latencyMs: 1, random: (id) => ({ next: () => (id === 1 ? 0 : 0.5 + id / 10) }) });
  const entries = (term: number, count: number): LogEntry[] => Array.from({ length: count }, () => ({ term, command: `t${term}` }));
  const states: Record<NodeId, RaftDurable> = {
    1: { currentTerm: 2, votedFor: 1, log: [...entries(1, 1), ...entries(2, MAX_APPEND_ENTRIES)] },
    2: { currentTerm: 2, votedFor: 1, log: [...entries(1, 1), ...entries(2, MAX_APPEND_ENTRIES)] },
    3: { currentTerm: 3, votedFor: 5, log: entries(1, 1) },
    4: { currentTerm: 3, votedFor: 5, log: entries(1, 1) },
    5: { currentTerm: 3, votedFor: 5, log: [...entries(1, 1), ...entries(3, 1)] },
  };
  for (const id of net.members) {
    net.crash(id);
    net.durable.set(id, states[id]!);
    net.start(id);
  }
  // (c) Only S1 campaigns: S5 is cut off until S1 leads (it would refuse S1 anyway: its last term is newer).
  net.isolate(5);
  net.runUntilTrue(() => net.status(1).role === 'leader' && net.status(1).term === 4);
  // S1's first AppendEntries carry only its blank entry (nextIndex starts past its log); S3 refuses
  // (it lacks index 65), and S1 sends it entries 2..65, the most one message holds. Deliver S3's
  // acknowledgement of those, then crash S1 before anything else reaches S3.
  net.cut(1, 4);
  net.runUntilTrue(() => net.pending((m) => m.from === 3 && m.to === 1 && m.message.type === 'AppendEntriesResponse' && m.message.success).length > 0);
  net.runUntilTrue(() => net.pending((m) => m.from === 3 && m.to === 1 && m.message.type === 'AppendEntriesResponse' && m.message.success).length === 0);
  const oldTermCommittedByCounting = net.events.some((e) => e.node === 1 && e.event.type === 'core' && e.event.event.type === 'committed' && e.event.event.term === 2);
  net.crash(1);
  net.drop((m) => m.from === 1); // what it sent last dies with it
  // (d) S2 is cut off too (with S3 and S4 it could win and keep the entries); S5 returns.
  net.heal();
  net.isolate(2);
  net.runUntilTrue(() => net.status(5).role === 'leader' && net.isUp(3) && net.status(3).leader === 5, 20_000);
  net.run(500); // S5 commits its blank entry, and with it index 2 of term 3, on S3 and S4
  const checker = new LogAgreement();
  const violations: string[] = [];
  for (const { node, event } of net.events) violations.push(...checker.observe({ type: 'driver', node, event }));
  return { oldTermCommittedByCounting, secondLeader: net.status(3).leader, durable: net.durable, violations };
}
