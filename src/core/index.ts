export * from './types.js';
export * from './quorum.js';
export type { FieldShape, ShapeOf, MessageShapes } from './shapes.js';
export { OutputBuffer } from './output.js';
export { algorithms, algorithmNames, findAlgorithm } from './algorithms.js';
export { raft, RaftNode } from './raft/index.js';
export type { RaftMessage, RaftDurable } from './raft/index.js';
export { bully, bullyStable, createBully, BullyNode, nextGeneration } from './bully/index.js';
export type { BullyMessage, BullyDurable, BullyMode, BullyOptions } from './bully/index.js';
