// Buildah 1.39 (Debian 13 root) with pasta from helper_binaries_dir. See harness.ts.
import { buildahSuite } from './buildah-suite.js';
import { pastaCommand } from './harness.js';

buildahSuite({
  title: `Buildah 1.39 run with pasta (pasta: ${pastaCommand()})`,
  where: 'trixie',
  helper: 'pasta',
  dnsAddr: '169.254.1.1',
});
