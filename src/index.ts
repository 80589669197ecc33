/**
 * `import … from 'ballot'`: the public API in one place (issue 10, item 7). Each layer is also its own
 * entry point — 'ballot/core' (pure election algorithms, stats, agreement), 'ballot/sim' (the
 * deterministic simulator), 'ballot/runtime' (real networked nodes) — and this module re-exports all three.
 * Importing it loads the runtime (node:net, node:fs); a browser or a pure host imports 'ballot/core' or
 * 'ballot/sim' instead.
 */
export * from './core/index.js';
export * from './sim/index.js';
export * from './runtime/index.js';
export * from './check/index.js';
