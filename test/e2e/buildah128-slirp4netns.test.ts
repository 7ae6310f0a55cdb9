// Buildah 1.28 (Debian 12) with slirp4netns found through PATH. See harness.ts.
import { buildahSuite } from './buildah-suite.js';
import { slirpCommand } from './harness.js';

buildahSuite({
  title: `Buildah 1.28 run with slirp4netns (slirp4netns: ${slirpCommand()})`,
  where: 'host',
  helper: 'slirp4netns',
  dnsAddr: '10.0.2.3',
});
