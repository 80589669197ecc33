/**
 * The Raft extensions' flags (`--pre-vote`, `--check-quorum`, `--max-clock-drift`, `--fast-start`), shared
 * by ballot sim, node, cluster and compare: one spec and one parser, so that the four commands say the
 * same thing.
 */
import { defaultRaftOptions, leaseDurationMs, raft, type RaftOptions } from '../core/raft/index.js';
import type { Timing } from '../core/types.js';
import { UsageError, number, oneOf, type OptionSpec, type ParsedOptions } from './args.js';

export const raftOptions = {
  'pre-vote': { type: 'string', value: 'on|off', description: 'raft only: PreVote before each election, so a rejoining node cannot depose the leader (default on)' },
  'check-quorum': { type: 'string', value: 'on|off', description: 'raft only: CheckQuorum and a leader lease; followers hearing a leader grant no vote (default on)' },
  'fast-start': {
    type: 'string',
    value: 'on|off',
    description: 'raft only: a node of term 0 keeps no quiet period and, once connected to a quorum, campaigns within T_max - T_min instead of a full timeout, asking for votes without a pre-vote round (default: on for ballot node and cluster, off for ballot sim and compare)',
  },
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
  /** The options when no flag says otherwise: the core's (sim, compare) or a real node's (realNodeRaftOptions). */
  defaults: RaftOptions = defaultRaftOptions,
): RaftOptions {
  const runsRaft = algorithmNames.includes('raft');
  const given = Object.keys(raftOptions).find((name) => values[name] !== undefined && !(driftForAll && name === 'max-clock-drift'));
  if (given !== undefined && !runsRaft) throw new UsageError(`--${given} applies to --algorithm raft only`);
  const onOff = (name: 'pre-vote' | 'check-quorum' | 'fast-start', fallback: boolean) => oneOf(values[name], name, ['on', 'off'], fallback ? 'on' : 'off') === 'on';
  const fastStart = onOff('fast-start', defaults.fastStart === true);
  const options: RaftOptions = {
    preVote: onOff('pre-vote', defaults.preVote),
    checkQuorum: onOff('check-quorum', defaults.checkQuorum),
    maxClockDrift: number(values['max-clock-drift'], 'max-clock-drift', defaults.maxClockDrift, 0, 0.9),
    // Absent when off, so that the core's default options stay the same object shape as before.
    ...(fastStart ? { fastStart } : {}),
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
