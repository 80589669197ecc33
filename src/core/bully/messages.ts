/**
 * The Bully algorithm's messages (Garcia-Molina 1982; source documents 003 and 004), in the source documents' words:
 * Election (start an election), Alive (the answer to an Election), Victory (the coordinator's claim).
 * Heartbeat is the coordinator's periodic proof of life, from which followers detect its loss.
 *
 * Every message carries the sender's generation (the highest it has seen). Garcia-Molina's messages
 * carry none; ours do so that a new coordinator can pick a generation above every one in use, and so
 * that a coordinator whose generation is behind learns it must declare again (see bully.ts).
 */

/** "Are you alive? I am starting an election": sent to every higher id. */
export interface Election {
  readonly type: 'Election';
  readonly generation: number;
}

/** "I am alive and higher than you: I take over from here": the answer to an Election from a lower id. */
export interface Alive {
  readonly type: 'Alive';
  readonly generation: number;
}

/** "I am the coordinator of this generation": sent by the new coordinator to every lower id. */
export interface Victory {
  readonly type: 'Victory';
  readonly generation: number;
}

/** The coordinator's heartbeat to every other member. No answer is needed: only followers detect loss. */
export interface Heartbeat {
  readonly type: 'Heartbeat';
  readonly generation: number;
}

export type BullyMessage = Election | Alive | Victory | Heartbeat;

export const bullyMessageTypes = ['Election', 'Alive', 'Victory', 'Heartbeat'] as const satisfies readonly BullyMessage['type'][];

/** What Bully keeps on stable storage: the highest generation it has seen (or led). */
export interface BullyDurable {
  readonly generation: number;
}
