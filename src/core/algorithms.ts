/** The registry of algorithms, by the name the command line uses. */
import { bully } from './bully/index.js';
import { raft } from './raft/index.js';
import { zab } from './zab/index.js';
import type { AnyAlgorithm } from './types.js';

/** Every algorithm, by name. Adding one is a folder in src/core and one line here. */
export const algorithms = {
  bully,
  raft,
  zab,
} as const satisfies Readonly<Record<string, AnyAlgorithm>>;

/** The name of a registered algorithm (`--algorithm NAME`). */
export type AlgorithmName = keyof typeof algorithms;

export const algorithmNames = Object.keys(algorithms) as readonly AlgorithmName[];

export function findAlgorithm(name: string): AnyAlgorithm | undefined {
  return Object.hasOwn(algorithms, name) ? algorithms[name as AlgorithmName] : undefined;
}
