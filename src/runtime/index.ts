/** The runtime: real networked nodes (DESIGN.md, "Real nodes"). */
export { startNode, type NodeHandle, type NodeEvents, type NodeEventName, type StartOptions } from './node.js';
export { ConfigError, type NodeOptions, type Members, type TlsOptions } from './config.js';
export { StorageError } from './storage.js';
export { jsonLogger, silentLogger, logLevels, type Logger, type LogLevel } from './log.js';
export { MAX_FRAME_BYTES } from './frames.js';
