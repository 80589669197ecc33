/** The runtime: real networked nodes (DESIGN.md, "Real nodes"). */
export { startNode, type NodeHandle, type NodeEvents, type NodeEventName, type StartOptions } from './node.js';
export { ConfigError, type NodeOptions, type Members, type TlsOptions } from './config.js';
export { StorageError } from './storage.js';
export { jsonLogger, silentLogger, logLevels, adaptLogger, type Logger, type LogLevel, type PinoLikeLogger } from './log.js';
export { LeadershipEnded, holdsLeadership, type LeaderInfo, type LeaderJob, type LeadOptions, type LeadershipJob, type Reign } from './leadership.js';
export { createFence, compareTokens, FencedOut, type Fence, type FenceToken } from './fence.js';
export { MAX_META_BYTES, type Meta, type MetaValue } from './meta.js';
export { MAX_FRAME_BYTES } from './frames.js';
