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

function codeCache() {
  try {
    const cache = fs.readFileSync(path.join(__dirname, 'program.cache'));
    const st = fs.statSync(program);
    return cache.length > 16 && cache.readDoubleLE(0) === st.size && cache.readDoubleLE(8) === Math.round(st.mtimeMs) ? cache.subarray(16) : undefined;
  } catch {
    return undefined;
  }
}

const cachedData = codeCache();
const script = new vm.Script(wrap(fs.readFileSync(program, 'utf8')), { filename: program, cachedData });
script.runInThisContext().call(exports, exports, require, module, __filename, __dirname);
// what became of the cache, for test/unit/build/codecache.test.ts
Object.defineProperty(module.exports, Symbol.for('pasta-ts.codeCache'), {
  value: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
});
