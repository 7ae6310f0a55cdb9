// Every fuzz target, in the order `npm run fuzz` runs them.
import type { FuzzTarget } from '../check.js';
import { dhcp } from './dhcp.js';
import { dhcpv6 } from './dhcpv6.js';
import { dispatch } from './dispatch.js';
import { ipv4, ipv6 } from './ip.js';
import { arp, csum, tcp, udp } from './l4.js';
import { ndp } from './ndp.js';

export const TARGETS: readonly FuzzTarget[] = [ipv4, ipv6, tcp, udp, arp, csum, dhcp, dhcpv6, ndp, dispatch];

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name} (have ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
