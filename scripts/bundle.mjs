#!/usr/bin/env node
// Bundles the compiled program (dist/, from tsc) into one CommonJS file,
// dist/bundle/program.js (dist/bundle/package.json says "commonjs"), which
// dist/bundle/main.js (scripts/bundle/main.cjs) compiles with the V8 code
// cache made here, dist/bundle/program.cache: with it a daemon's start took
// 60.8 ms of CPU instead of 65.3 as Podman 4 starts it, 59.8 instead of 67.4
// as Podman 5 does (medians of 15-20 interleaved starts). Every Node
// start (each stage's, the daemon's Podman waits for) loads it, and loading
// is CPU the container's own start competes for: as ES module chunks the
// bundle cost 24 ms of CPU on top of Node's own start, as one ES module 20,
// as one CommonJS file 10 (medians of 30 interleaved starts; Node 20's ES
// module loader is the difference). Modules imported with import() are in it
// too, and their top level still runs only when first imported. ffi-rs and
// pino stay outside (a native addon; a logger that is loaded only when
// something is logged). The bundle keeps dist/'s depth, so paths made from
// import.meta.url (../../native-shims/build) still resolve: import.meta.url
// becomes the entry's file URL (main.js: the program runs as that file).
// Built by `npm run build`, `npm test` and `npm ci` (prepare).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

// commander requires node:child_process at its top (for executable
// subcommands, which pasta-ts has none of): 5.5 ms of every start. Its copy
// loads the module on first use instead.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (a) =>
      a.importer.includes('/node_modules/commander/') ? { path: 'child_process', namespace: 'lazy' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "module.exports = { spawn: (...a) => require('node:child_process').spawn(...a) };",
      loader: 'js',
    }));
  },
};
// a clean directory: nothing of an earlier build (such as the ES module bundle's chunks) stays behind
rmSync(join(repo, 'dist/bundle'), { recursive: true, force: true });
await build({
  entryPoints: [join(repo, 'dist/main.js')],
  outfile: join(repo, 'dist/bundle/program.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['ffi-rs', 'pino'],
  logLevel: 'warning',
  plugins: [lazyChildProcess],
  define: { 'import.meta.url': '__ptsUrl' },
  banner: { js: "const __ptsUrl = require('node:url').pathToFileURL(__filename).href;" },
});
writeFileSync(join(repo, 'dist/bundle/package.json'), '{ "type": "commonjs" }\n');
copyFileSync(join(repo, 'scripts/bundle/main.cjs'), join(repo, 'dist/bundle/main.js'));

// V8's code cache for program.js, written by the entry itself (the format
// is its own) in a Node of its own, with the flags a start has (none), once
// the program's primeCodeCache() has run what every start runs. No cache is
// there yet, so the entry compiles without one; argv[1] is not the entry,
// so the program does not take itself for the main module and start.
const primer = `
const entry = require(process.argv[2]);
entry.primeCodeCache().then(() => entry[Symbol.for('pasta-ts.codeCache')].write());`;
const env = { ...process.env };
delete env.NODE_OPTIONS;
const made = spawnSync(process.execPath, ['-e', primer, 'prime', join(repo, 'dist/bundle/main.js')], { env, encoding: 'utf8', timeout: 60_000 });
if (made.status !== 0) throw new Error(`code cache: ${made.error ?? `exit ${made.status} ${made.signal ?? ''}`}\n${made.stderr}`);

// Podman 4 runs `slirp4netns --help` before every container start and reads
// the text to choose options: the front (native-shims/front.c) prints this
// copy instead of starting Node for it.
const { parseSlirpCli } = await import(join(repo, 'dist/cli/slirp4netns.js'));
const help = parseSlirpCli(['--help'], {}, 'slirp4netns');
if (help.kind !== 'exit' || help.code !== 0 || !help.stdout) throw new Error('slirp4netns --help: no help text');
writeFileSync(join(repo, 'dist/bundle/slirp4netns-help.txt'), help.stdout);
