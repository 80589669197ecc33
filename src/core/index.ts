export * from './types.js';
export * from './quorum.js';
export type { FieldShape, ShapeOf, MessageShapes } from './shapes.js';
export { OutputBuffer } from './output.js';
export { algorithms, algorithmNames, findAlgorithm } from './algorithms.js';
export { raft, RaftNode } from './raft/index.js';
export type { RaftMessage, RaftDurable } from './raft/index.js';
export { zab, ZabNode } from './zab/index.js';
export type { ZabMessage, ZabDurable } from './zab/index.js';
