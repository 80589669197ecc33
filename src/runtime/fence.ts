/**
 * Fencing (Kleppmann, "How to do distributed locking", 2016; Chubby's sequencers): a leader can be
 * deposed without knowing it — paused by a GC or SIGSTOP, cut off by a partition — and go on writing.
 * Leases shrink that window; only the resource can close it. Every write carries a token naming the
 * reign it comes from, and the resource refuses any token lower than the highest it has seen.
 *
 * The token of a ballot reign is `{ term, node }`, ordered by term, then node id:
 * - Raft: `term` is the Raft term. At most one leader per term (§5.2), so `node` never decides.
 * - ZAB: `term` is the established epoch. At most one leader per epoch, likewise.
 * - Bully: `term` is the coordinator's generation (max seen + 1). Two sides of a partition can each
 *   crown a coordinator of the SAME generation (Bully's known split brain): `node` orders them, so a
 *   fence that has seen both refuses the lower id. The order of reigns is then total, and a resource
 *   never interleaves the writes of two reigns it has told apart.
 * A leader that declares itself again under a newer term (a new reign of the same node) gets a higher
 * token, and its older reign is fenced out like anyone else's.
 *
 * `lead()` hands every run of a job its token (`reign.token`); `createFence()` is the resource side
 * for a resource you write yourself (an in-process state, a file, a service); docs/embedding.md has the
 * same rule for PostgreSQL as one conditional statement.
 */
import type { NodeId } from '../core/types.js';

/** Names one reign: the leader's term (Raft term, ZAB epoch, Bully generation) and its id. */
export interface FenceToken {
  readonly term: number;
  readonly node: NodeId;
}

/** Negative when `a` is an older reign than `b`, 0 for the same reign, positive when newer. */
export function compareTokens(a: FenceToken, b: FenceToken): number {
  return a.term !== b.term ? a.term - b.term : a.node - b.node;
}

/** Thrown by `Fence.check` for a token lower than the highest seen: the writer has been deposed. */
export class FencedOut extends Error {
  constructor(
    readonly token: FenceToken,
    readonly highest: FenceToken,
  ) {
    super(`fenced out: token term ${token.term} node ${token.node} is older than term ${highest.term} node ${highest.node}`);
    this.name = 'FencedOut';
  }
}

export interface Fence {
  /** The highest token admitted so far (null before the first). */
  readonly highest: FenceToken | null;
  /**
   * Admits `token` unless it is lower than the highest seen (and then remembers it as the highest if
   * it is higher). Equal tokens are admitted: one reign writes many times.
   */
  admit(token: FenceToken): boolean;
  /** `admit`, throwing FencedOut on refusal. */
  check(token: FenceToken): void;
}

/** A fence for a resource held in this process; start it from the highest token already persisted, if any. */
export function createFence(highest: FenceToken | null = null): Fence {
  let top: FenceToken | null = highest === null ? null : checkToken(highest);
  const admit = (token: FenceToken): boolean => {
    checkToken(token);
    if (top !== null && compareTokens(token, top) < 0) return false;
    top = { term: token.term, node: token.node };
    return true;
  };
  return {
    get highest() {
      return top;
    },
    admit,
    check(token) {
      if (!admit(token)) throw new FencedOut(token, top!);
    },
  };
}

/** A token from outside (a request) must be two safe integers, or it orders nothing. */
function checkToken(token: FenceToken): FenceToken {
  if (!Number.isSafeInteger(token.term) || token.term < 0 || !Number.isSafeInteger(token.node) || token.node < 1) {
    throw new TypeError(`not a fence token: ${JSON.stringify(token)} (expected { term: integer >= 0, node: integer >= 1 })`);
  }
  return token;
}
