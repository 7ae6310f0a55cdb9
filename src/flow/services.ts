// The services the guest configures itself with, as pasta offers them:
// DHCPv4, router advertisements (SLAAC) and DHCPv6. Returns the hooks the
// dispatcher calls. As in passt, UDP to port 67 and 547 never leaves: with
// the server disabled it is dropped; --no-ndp ignores all NDP messages
// (neighbour and router solicitations), --no-ra only router solicitations.
import type { FlowContext } from './context.js';
import type { ServiceHooks } from './dispatch.js';
import { DhcpServer } from './dhcp.js';
import { Dhcpv6Server } from './dhcpv6.js';
import { RouterAdvertiser, ourLinkLocal } from './ndp.js';
import { DHCP_SERVER_PORT } from '../wire/dhcp.js';
import { DHCPV6_SERVER_PORT } from '../wire/dhcpv6.js';

export interface ServiceOptions {
  dhcp: boolean;
  ndp: boolean;
  dhcpv6: boolean;
  ra: boolean;
  dhcpDns: boolean;
  dhcpSearch: boolean;
}

const dstPort = (buf: Buffer, l4Off: number, l4Len: number): number =>
  l4Len >= 8 ? (buf[l4Off + 2] << 8) | buf[l4Off + 3] : -1;

export function createServices(ctx: FlowContext, opts: ServiceOptions): ServiceHooks {
  const hooks: ServiceHooks = {};
  const plan = ctx.plan;
  const closers: Array<() => void> = [];
  if (plan.v4) {
    const dhcp = opts.dhcp ? new DhcpServer(ctx, { dns: opts.dhcpDns, search: opts.dhcpSearch }) : undefined;
    hooks.udp4 = (buf, src4, dst4, l4Off, l4Len) => {
      if (dhcp) return dhcp.onDatagram(buf, src4, dst4, l4Off, l4Len);
      if (dstPort(buf, l4Off, l4Len) !== DHCP_SERVER_PORT) return false;
      ctx.counters.drop('dhcp_disabled');
      return true;
    };
  }
  if (plan.v6) {
    const ll = ourLinkLocal(plan.v6.gateway, plan.ourMac);
    const dhcpv6 = opts.dhcpv6 ? new Dhcpv6Server(ctx, { dns: opts.dhcpDns, search: opts.dhcpSearch, ourLinkLocal: ll }) : undefined;
    hooks.udp6 = (buf, srcOff, dstOff, l4Off, l4Len) => {
      if (dhcpv6) return dhcpv6.onDatagram(buf, srcOff, dstOff, l4Off, l4Len);
      if (dstPort(buf, l4Off, l4Len) !== DHCPV6_SERVER_PORT) return false;
      ctx.counters.drop('dhcpv6_disabled');
      return true;
    };
    if (!opts.ndp) {
      hooks.noNdp = true;
    } else if (opts.ra) {
      const ra = new RouterAdvertiser(ctx, { ourLinkLocal: ll, managed: opts.dhcpv6, dns: opts.dhcpDns, search: opts.dhcpSearch });
      hooks.routerSolicit = (buf, srcOff, l4Off, l4Len) => ra.onRouterSolicit(buf, srcOff, l4Off, l4Len);
      ra.startUnsolicited();
      closers.push(() => ra.stop());
    }
  }
  hooks.close = () => {
    for (const c of closers) c();
  };
  return hooks;
}
