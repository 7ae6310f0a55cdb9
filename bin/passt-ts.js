#!/usr/bin/env node
// passt-ts: pasta-ts in passt mode, serving QEMU and libvirt. See man/pasta-ts.1.
require('../dist/bundle/main.js').main(process.argv.slice(2), process.argv[1]);
