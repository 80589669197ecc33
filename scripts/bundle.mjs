#!/usr/bin/env node
// The second half of `npm run build`: bundles tsc's dist/cli/main.js into dist/cli/ballot.js, the file
// `bin` points to (docs/runtime.md, "Start-up"). A `ballot node` process then reads one file instead of
// about 40 (the ESM loader resolves, reads and compiles each in turn): about 50 ms less CPU per process,
// which five members starting together on one machine pay five times over.
//
// What is bundled: main.js and everything `ballot node` runs. What is not:
// - every other subcommand (sim, cluster, bench …): main.js loads them lazily, and they stay the tsc
//   files beside the bundle (`./sim.js` from dist/cli/ballot.js is dist/cli/sim.js), so `new URL(…,
//   import.meta.url)` in them (workers, the visualizer's files) means what it meant;
// - npm packages (zod for --config, @peculiar/x509 …): resolved from node_modules as before;
// - what the node loads only when asked (tls.js for --tls-*): a chunk of its own under
//   dist/cli/ballot-chunks/, loaded as lazily as before (src/cli/bundle.test.ts checks both).
// Run after tsc: `npm run build` does both.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliDir = fileURLToPath(new URL('../dist/cli/', import.meta.url));
const mainJs = `${cliDir}main.js`;
// Chunks are named by their hash: those of an earlier build would pile up.
rmSync(`${cliDir}ballot-chunks`, { recursive: true, force: true });


await build({
  entryPoints: { ballot: mainJs },
  outdir: cliDir,
  chunkNames: 'ballot-chunks/chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    {
      name: 'unbundled-commands',
      setup(context) {
        // main.ts's lazily loaded subcommands, every one but `node`, stay outside (see above).
        context.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) =>
          args.importer === mainJs && args.kind === 'dynamic-import' && args.path !== './node.js' ? { path: args.path, external: true } : undefined,
        );
      },
    },
  ],
});
