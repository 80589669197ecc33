#!/usr/bin/env node
// The second half of `npm run build`: bundles tsc's dist/cli/main.js into dist/cli/ballot.cjs, the file
// `bin` points to (docs/runtime.md, "Start-up"). A `ballot node` process then reads one file instead of
// about 40 (the ESM loader resolves, reads and compiles each in turn), and, the file being CommonJS, Node
// never starts its ESM loader at all: together about 70 ms less CPU per process, which five members
// starting together on one machine pay five times over.
//
// What is bundled: main.js and everything `ballot node` runs. What is not:
// - every other subcommand (sim, cluster, bench …): main.js loads them lazily with import(), and they
//   stay the tsc files beside the bundle (`./sim.js` from dist/cli/ballot.cjs is dist/cli/sim.js), so
//   `new URL(…, import.meta.url)` in them (workers, the visualizer's files) means what it meant;
// - npm packages (zod for --config, @peculiar/x509 …): required from node_modules, as before;
// - what the node loads only when asked (tls.js and node:tls for --tls-*) stays lazy: esbuild evaluates
//   a dynamically imported module, and requires what it imports, only when the import runs
//   (src/cli/lazy-modules.test.ts checks it).
// `import.meta.url` (node.ts's createRequire for zod) becomes the bundle's own file URL.
// Run after tsc: `npm run build` does both.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliDir = fileURLToPath(new URL('../dist/cli/', import.meta.url));
const mainJs = `${cliDir}main.js`;
// What an earlier build of the bundle left (chunks of the ESM bundle it once was).
rmSync(`${cliDir}ballot-chunks`, { recursive: true, force: true });
rmSync(`${cliDir}ballot.js`, { force: true });
rmSync(`${cliDir}ballot.js.map`, { force: true });

await build({
  entryPoints: [mainJs],
  outfile: `${cliDir}ballot.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta.url': '__ballotModuleUrl' },
  // 'use strict' first: tsc's output is ES modules, strict throughout; a directive after the banner's
  // statement would not count.
  banner: { js: "'use strict';\nconst __ballotModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
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
