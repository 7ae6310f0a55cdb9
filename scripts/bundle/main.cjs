'use strict';
// dist/bundle/main.js, pasta-ts's entry (copied there by scripts/bundle.mjs).
// It compiles program.js, the bundle, with V8's code cache in program.cache
// when the build made that from this very program.js (its size and mtime in
// ms are the cache's first 16 bytes; V8 itself checks only the source's
// length): the parser and compiler then skip what the cache holds, 5 to 8 ms
// of the CPU of each daemon start that a container start competes with.
// Without a usable cache (another Node, V8 flags such as
// --max-old-space-size, a copied file) V8 compiles as usual. The program runs
// as this file: its __filename, module and require are this file's, so that
// its paths, its main-module check and the Node processes it starts again are
// the same as without the cache.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { wrap } = require('node:module');

const program = path.join(__dirname, 'program.js');

/** The cache's first 16 bytes: which program.js it was made from. */
function header() {
  const st = fs.statSync(program);
  const h = Buffer.alloc(16);
  h.writeDoubleLE(st.size, 0);
  h.writeDoubleLE(Math.round(st.mtimeMs), 8);
  return h;
}

function codeCache() {
  try {
    const cache = fs.readFileSync(path.join(__dirname, 'program.cache'));
    return cache.length > 16 && cache.subarray(0, 16).equals(header()) ? cache.subarray(16) : undefined;
  } catch {
    return undefined;
  }
}

const cachedData = codeCache();
const script = new vm.Script(wrap(fs.readFileSync(program, 'utf8')), { filename: program, cachedData });
script.runInThisContext().call(exports, exports, require, module, __filename, __dirname);
// what became of the cache (test/unit/build/codecache.test.ts), and how the
// build writes it (scripts/bundle.mjs), after the program has run as it does
Object.defineProperty(module.exports, Symbol.for('pasta-ts.codeCache'), {
  value: {
    state: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
    write: () => fs.writeFileSync(path.join(__dirname, 'program.cache'), Buffer.concat([header(), script.createCachedData()])),
  },
});
