#!/usr/bin/env node
// pasta-ts: user-mode networking for containers and VMs. See man/pasta-ts.1.
require('../dist/bundle/main.js').main(process.argv.slice(2), process.argv[1]);
