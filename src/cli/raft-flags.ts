/**
 * The Raft extensions' flags (`--pre-vote`, `--check-quorum`, `--max-clock-drift`), shared by ballot sim,
 * node, cluster and compare: one spec and one parser, so that the four commands say the same thing.
 */
import { defaultRaftOptions, leaseDurationMs, raft, type RaftOptions } from '../core/raft/index.js';
import type { Timing } from '../core/types.js';
import { UsageError, number, oneOf, type OptionSpec, type ParsedOptions } from './args.js';

export const raftOptions = {
  'pre-vote': { type: 'string', value: 'on|off', description: 'raft only: PreVote before each election, so a rejoining node cannot depose the leader (default on)' },
  'check-quorum': { type: 'string', value: 'on|off', description: 'raft only: CheckQuorum and a leader lease; followers hearing a leader grant no vote (default on)' },
  'max-clock-drift': {
    type: 'string',
    value: 'RHO',
    description: `bound on clock rate error, 0 <= RHO < 0.9: raft's lease allows for it (raft only; on ballot sim it also bounds the random nemesis's drift) (default ${defaultRaftOptions.maxClockDrift})`,
  },
} as const satisfies Record<string, OptionSpec>;

/**
 * The Raft options the command line asks for (the defaults where it asks for none). A flag given when
 * raft is not among the algorithms run is a usage error (but `driftForAll`), as is (for raft with CheckQuorum) a heartbeat
 * too slow for the leader ever to renew its lease.
 */
export function parseRaftOptions(
  values: ParsedOptions,
  algorithmNames: readonly string[],
  timing: Partial<Timing>,
  /** ballot sim: ρ also bounds the nemesis's clock rates, for every algorithm. */
  driftForAll = false,
): RaftOptions {
  const runsRaft = algorithmNames.includes('raft');
  const given = Object.keys(raftOptions).find((name) => values[name] !== undefined && !(driftForAll && name === 'max-clock-drift'));
  if (given !== undefined && !runsRaft) throw new UsageError(`--${given} applies to --algorithm raft only`);
  const onOff = (name: 'pre-vote' | 'check-quorum', fallback: boolean) => oneOf(values[name], name, ['on', 'off'], fallback ? 'on' : 'off') === 'on';
  const options: RaftOptions = {
    preVote: onOff('pre-vote', defaultRaftOptions.preVote),
    checkQuorum: onOff('check-quorum', defaultRaftOptions.checkQuorum),
    maxClockDrift: number(values['max-clock-drift'], 'max-clock-drift', defaultRaftOptions.maxClockDrift, 0, 0.9),
  };
  const { electionTimeoutMinMs, heartbeatMs } = { ...raft.defaultTiming, ...timing };
  const leaseMs = leaseDurationMs(electionTimeoutMinMs, options.maxClockDrift);
  if (runsRaft && options.checkQuorum && heartbeatMs >= leaseMs) {
    throw new UsageError(
      `raft with --check-quorum on needs --heartbeat below the lease, min election timeout × (1 − ρ)/(1 + ρ) = ${leaseMs.toFixed(1)} ms; got ${heartbeatMs}`,
    );
  }
  return options;
}
