/** The registry of algorithms, by the name the command line uses. */
import { bully } from './bully/index.js';
import { raft } from './raft/index.js';
import { zab } from './zab/index.js';
import type { AlgorithmName, AnyAlgorithm } from './types.js';

export const algorithms: Partial<Record<AlgorithmName, AnyAlgorithm>> = {
  bully,
  raft,
  zab,
};

export const algorithmNames: readonly AlgorithmName[] = ['bully', 'raft', 'zab'];

export function findAlgorithm(name: string): AnyAlgorithm | undefined {
  return Object.hasOwn(algorithms, name) ? algorithms[name as AlgorithmName] : undefined;
}
