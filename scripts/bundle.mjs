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
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
// chunk names carry a hash: without this, every build would leave its old ones
rmSync(join(repo, 'dist/bundle'), { recursive: true, force: true });
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

// Podman 4 runs `slirp4netns --help` before every container start and reads
// the text to choose options: the front (native-shims/front.c) prints this
// copy instead of starting Node for it.
const { parseSlirpCli } = await import(join(repo, 'dist/cli/slirp4netns.js'));
const help = parseSlirpCli(['--help'], {}, 'slirp4netns');
if (help.kind !== 'exit' || help.code !== 0 || !help.stdout) throw new Error('slirp4netns --help: no help text');
writeFileSync(join(repo, 'dist/bundle/slirp4netns-help.txt'), help.stdout);
