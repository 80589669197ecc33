/**
 * The one rule between the timing knobs that the cores do not enforce themselves, shared by the
 * command line (src/cli/args.ts) and startNode (config.ts). Its own module so that `ballot --help`
 * does not load the algorithms to check a flag.
 */

/**
 * A heartbeat no shorter than the shortest election timeout lets healthy followers time out between two
 * heartbeats of a live leader (Raft §5.6: broadcastTime ≪ electionTimeout; ZAB and Bully detect a
 * failed leader the same way): refused up front rather than shown later as elections that never settle.
 */
export function heartbeatProblem(heartbeatMs: number, electionTimeoutMinMs: number): string | null {
  if (heartbeatMs < electionTimeoutMinMs) return null;
  return `heartbeat (${heartbeatMs} ms) must be shorter than the election timeout's minimum (${electionTimeoutMinMs} ms), or followers time out between heartbeats`;
}
