/** The text summary of a torture run (`ballot torture` without --json). */
import { findAlgorithm } from '../core/algorithms.js';
import { quantile } from '../core/stats.js';
import type { TortureResult } from './run.js';

export function describeResult(result: TortureResult): string {
  const lines: string[] = [];
  const made = result.cycles.filter((cycle) => cycle.skipped === undefined);
  const verdict = result.violations.length === 0 ? (result.aborted ? 'interrupted, no violation so far' : 'pass') : `FAIL: ${result.violations.length} violation${result.violations.length === 1 ? '' : 's'}`;
  lines.push(`${verdict}`);
  lines.push(`${result.algorithm}, ${result.nodes} nodes, seed ${result.seed}: ${result.cycles.length} cycles (${made.length} faults made, ${result.cycles.length - made.length} skipped) in ${(result.durationMs / 1000).toFixed(1)} s`);
  const kinds = new Map<string, number>();
  for (const cycle of made) kinds.set(`${cycle.fault.kind} (${cycle.how})`, (kinds.get(`${cycle.fault.kind} (${cycle.how})`) ?? 0) + 1);
  if (kinds.size > 0) lines.push(`faults: ${[...kinds].map(([kind, count]) => `${count} × ${kind}`).join(', ')}`);
  for (const missing of result.capabilities.missing) lines.push(`not possible here: ${missing}`);
  const agreed = result.cycles.map((cycle) => cycle.agreedAfterMs).filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
  if (agreed.length > 0) {
    lines.push(`leader agreed after each fault: median ${quantile(agreed, 0.5)} ms, max ${agreed.at(-1)} ms (bound ${result.boundMs} ms)`);
  }
  lines.push(`${result.samples} status answers; ${result.leaders.length} terms with a leader`);
  if (result.kv !== null) {
    const kv = result.kv;
    const promise = kv.result === 'not-linearizable' && findAlgorithm(result.algorithm)?.replication === 'primary-backup' ? ' — not a violation: primary-backup with asynchronous copies promises no linearizability and loses acknowledged writes under split brain (docs/algorithms/bully.md)' : '';
    lines.push(`key-value: ${kv.ops} operations (${kv.ok} answered, ${kv.refused} refused, ${kv.unknown} without an answer): ${kv.result} (checked in ${kv.checkMs} ms)${promise}`);
  } else if (result.kvSkipped !== undefined) {
    lines.push(`key-value: not run: ${result.kvSkipped}`);
  }
  for (const violation of result.violations) lines.push(`violation (${violation.check}) at ${violation.atMs} ms: ${violation.message}`);
  lines.push(result.remaining.length === 0 ? `cleanup: every namespace, link and rule of ${result.tag} removed` : `cleanup FAILED: still present: ${result.remaining.join(' ')}`);
  return lines.join('\n') + '\n';
}
