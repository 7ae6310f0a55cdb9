// Podman 5 (Debian 13 root) with --network=pasta, the pasta under test
// selected by containers.conf [engine] helper_binaries_dir. See harness.ts.
import { podmanSuite } from './podman-suite.js';
import { pastaCommand } from './harness.js';

podmanSuite({
  title: `Podman 5 --network=pasta (pasta: ${pastaCommand()})`,
  where: 'trixie',
  helper: 'pasta',
  net: 'pasta',
  iface: 'eth0',
  addr: '192.0.2.2/24', // the fake host's own address
  dnsAddr: '169.254.1.1', // pasta --dns-forward, as Podman 5 passes it
});
