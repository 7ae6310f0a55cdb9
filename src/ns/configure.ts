// Configures the namespace's interfaces over its rtnetlink socket: loopback
// up always; with --config-net the tap gets the plan's MTU, addresses and
// routes and is brought up, as pasta does.
import type { NetPlan } from '../netplan.js';
import { bytes4, format4, format6, parse4, parse6 } from '../wire/ip.js';
import {
  AF_INET, AF_INET6, CREATE_FLAGS, IFA_ADDRESS, IFA_F_NODAD, IFA_FLAGS, IFA_LOCAL, IFF_UP, IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU,
  Netlink, NetlinkError, NlRequest, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTM_NEWADDR, RTM_NEWLINK,
  RTM_NEWROUTE, RTPROT_BOOT, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, ifaddrmsg, ifinfomsg, rtmsg,
} from './netlink.js';
import type { HostRoute } from './hostconf.js';

const LOOPBACK_INDEX = 1;
const IFLA_TXQLEN = 13;
const TX_QUEUE_LEN = 10000;

export function linkUp(nl: Netlink, index: number): void {
  nl.request(new NlRequest(RTM_NEWLINK, 0, ifinfomsg(index, IFF_UP, IFF_UP)), 'bringing up interface');
}

export function configureNamespace(nl: Netlink, ifindex: number, plan: NetPlan, configNet: boolean): void {
  linkUp(nl, LOOPBACK_INDEX);
  // the launcher let the kernel name the tap; it takes the host's interface name
  nl.request(new NlRequest(RTM_NEWLINK, 0, ifinfomsg(ifindex)).attr(IFLA_IFNAME, Buffer.from(`${plan.nsIfname}\0`)),
    `naming the interface ${plan.nsIfname}`);
  if (plan.nsMac) nl.request(new NlRequest(RTM_NEWLINK, 0, ifinfomsg(ifindex)).attr(IFLA_ADDRESS, plan.nsMac), 'setting MAC address');
  if (!configNet) return;
  // A long transmit queue: bursts from many connections at once are queued
  // for the helper to read rather than dropped (1000, the default, dropped
  // about a tenth of the frames with 2000 connections opening and closing).
  nl.request(new NlRequest(RTM_NEWLINK, 0, ifinfomsg(ifindex)).u32(IFLA_MTU, plan.mtu).u32(IFLA_TXQLEN, TX_QUEUE_LEN),
    `setting MTU ${plan.mtu}`);
  linkUp(nl, ifindex);
  if (plan.v4) {
    const a = bytes4(plan.v4.addr);
    nl.request(new NlRequest(RTM_NEWADDR, CREATE_FLAGS, ifaddrmsg(AF_INET, plan.v4.prefix, ifindex))
      .attr(IFA_LOCAL, a).attr(IFA_ADDRESS, a), `adding address ${format4(plan.v4.addr)}`);
    addRoutes(nl, AF_INET, ifindex, plan.v4.routes, { dst: '0.0.0.0', prefix: 0, gateway: format4(plan.v4.gateway) });
  }
  if (plan.v6) {
    nl.request(new NlRequest(RTM_NEWADDR, CREATE_FLAGS, ifaddrmsg(AF_INET6, plan.v6.prefix, ifindex))
      .attr(IFA_ADDRESS, plan.v6.addr).u32(IFA_FLAGS, IFA_F_NODAD), 'adding IPv6 address');
    addRoutes(nl, AF_INET6, ifindex, plan.v6.routes, { dst: '::', prefix: 0, gateway: format6(plan.v6.gateway) });
  }
}

/** Copies the host's routes; the default route via the plan's gateway is always there. */
function addRoutes(nl: Netlink, af: number, ifindex: number, routes: HostRoute[], def: HostRoute): void {
  const all = routes.some((r) => r.prefix === 0) ? routes : [...routes, def];
  // Routes through a gateway need the gateway reachable first: direct routes go first.
  const ordered = [...all.filter((r) => !r.gateway), ...all.filter((r) => r.gateway)];
  for (const r of ordered) {
    const addr = (s: string): Buffer => (af === AF_INET ? bytes4(parse4(s)) : parse6(s));
    const req = new NlRequest(RTM_NEWROUTE, CREATE_FLAGS, rtmsg(af, r.prefix, RTPROT_BOOT, r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK))
      .u32(RTA_OIF, ifindex);
    if (r.prefix > 0) req.attr(RTA_DST, addr(r.dst));
    if (r.gateway) req.attr(RTA_GATEWAY, addr(r.gateway));
    if (r.metric !== undefined) req.u32(RTA_PRIORITY, r.metric);
    try {
      nl.request(req, `adding route to ${r.dst}/${r.prefix}`);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === 17)) throw e; // EEXIST: already there
    }
  }
}


