#!/usr/bin/env node
// slirp4netns-ts: pasta-ts speaking slirp4netns 1.2.0's command line (Podman 4, Buildah 1.28).
require('../dist/bundle/main.js').main(process.argv.slice(2), process.argv[1]);
