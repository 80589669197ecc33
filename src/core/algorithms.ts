/** The registry of algorithms, by the name the command line uses. */
import { bully } from './bully/index.js';
import { raft } from './raft/index.js';
import { zab } from './zab/index.js';
import type { AlgorithmName, AnyAlgorithm } from './types.js';

export const algorithms: Readonly<Record<AlgorithmName, AnyAlgorithm>> = {
  bully,
  raft,
  zab,
};

export const algorithmNames = Object.keys(algorithms) as readonly AlgorithmName[];

export function findAlgorithm(name: string): AnyAlgorithm | undefined {
  return Object.hasOwn(algorithms, name) ? algorithms[name as AlgorithmName] : undefined;
}
