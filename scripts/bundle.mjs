#!/usr/bin/env node
// Bundles the compiled program (dist/, from tsc) into dist/bundle/: one file
// per stage plus shared chunks. Node's ES module loader costs about 0.5 ms per
// file, and stage 2 alone loads some 45 of them: bundled, a start-up that
// Podman waits for is about 20 ms shorter. ffi-rs and pino stay outside (a
// native addon; a logger that is loaded only when something is logged).
// The bundle keeps dist/'s depth, so paths made from import.meta.url
// (../../native-shims/build) still resolve. Built by `npm run build`, `npm test`
// and `npm ci` (prepare).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(repo, 'dist/main.js')],
  outdir: join(repo, 'dist/bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ffi-rs', 'pino'],
  logLevel: 'warning',
  // commander is CommonJS and requires Node's built-ins
  banner: { js: "import { createRequire as __ptsRequire } from 'node:module'; const require = __ptsRequire(import.meta.url);" },
});
