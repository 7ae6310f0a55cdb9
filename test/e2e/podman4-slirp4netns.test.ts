// Podman 4.3.1 (Debian 12) with slirp4netns, the slirp4netns under test
// selected by containers.conf [engine] network_cmd_path. See harness.ts.
import { podmanSuite } from './podman-suite.js';
import { slirpCommand } from './harness.js';

podmanSuite({
  title: `Podman 4.3.1 --network=slirp4netns (slirp4netns: ${slirpCommand()})`,
  where: 'host',
  helper: 'slirp4netns',
  net: 'slirp4netns',
  iface: 'tap0',
  addr: '10.0.2.100/24', // slirp4netns's guest address
  dnsAddr: '10.0.2.3', // slirp4netns's DNS forwarder
  slirpApi: true,
});
