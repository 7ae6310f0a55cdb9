// The host's network configuration, read once at start-up over rtnetlink:
// the template interface of each family (the one holding the default route,
// or -i), its addresses, routes and MTU.
import { format4, format6 } from '../wire/ip.js';
import {
  AF_INET, AF_INET6, IFA_ADDRESS, IFA_LOCAL, IFADDR_LEN, IFINFO_LEN, IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, Netlink,
  RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTMSG_LEN,
  RT_TABLE_MAIN, RTPROT_KERNEL,
} from './netlink.js';

export interface HostRoute {
  dst: string; // network address, '0.0.0.0' / '::' for default
  prefix: number;
  gateway?: string;
  metric?: number;
}

export interface HostFamily {
  ifname: string;
  ifindex: number;
  addrs: Array<{ addr: string; prefix: number }>;
  routes: HostRoute[];
  gateway?: string;
}

export interface HostConfig {
  v4?: HostFamily;
  v6?: HostFamily;
  links: Map<number, { name: string; mtu: number; mac?: Buffer }>;
}

const fmt = (family: number, b: Buffer): string => (family === AF_INET ? format4(b.readUInt32BE(0)) : format6(b));

export function readHostConfig(nl: Netlink, iface4?: string, iface6?: string): HostConfig {
  const links = new Map<number, { name: string; mtu: number; mac?: Buffer }>();
  for (const m of nl.dump(RTM_GETLINK, 0, IFINFO_LEN)) {
    const index = m.body.readInt32LE(4);
    const name = m.attrs.get(IFLA_IFNAME)?.toString('latin1').replace(/\0.*$/, '') ?? '';
    links.set(index, { name, mtu: m.attrs.get(IFLA_MTU)?.readUInt32LE(0) ?? 1500, mac: m.attrs.get(IFLA_ADDRESS) });
  }
  const byName = (n: string): number | undefined => [...links].find(([, l]) => l.name === n)?.[0];
  return {
    links,
    v4: family(nl, AF_INET, links, iface4 !== undefined ? byName(iface4) ?? -1 : undefined),
    v6: family(nl, AF_INET6, links, iface6 !== undefined ? byName(iface6) ?? -1 : undefined),
  };
}

function family(nl: Netlink, af: number, links: HostConfig['links'], forced?: number): HostFamily | undefined {
  const routes: Array<HostRoute & { oif: number; proto: number }> = [];
  for (const m of nl.dump(RTM_GETROUTE, af, RTMSG_LEN)) {
    const table = m.attrs.get(RTA_TABLE)?.readUInt32LE(0) ?? m.body[4];
    if (table !== RT_TABLE_MAIN || m.body[7] !== 1 /* RTN_UNICAST */) continue;
    const dst = m.attrs.get(RTA_DST);
    const gw = m.attrs.get(RTA_GATEWAY);
    routes.push({
      dst: dst ? fmt(af, dst) : af === AF_INET ? '0.0.0.0' : '::',
      prefix: m.body[1],
      gateway: gw ? fmt(af, gw) : undefined,
      metric: m.attrs.get(RTA_PRIORITY)?.readUInt32LE(0),
      oif: m.attrs.get(RTA_OIF)?.readInt32LE(0) ?? 0,
      proto: m.body[5],
    });
  }
  let ifindex = forced;
  if (ifindex === undefined) {
    const def = routes.filter((r) => r.prefix === 0 && r.oif > 0).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    ifindex = def?.oif;
  }
  if (ifindex === undefined || ifindex < 0 || !links.has(ifindex)) return undefined;
  const addrs: HostFamily['addrs'] = [];
  for (const m of nl.dump(RTM_GETADDR, af, IFADDR_LEN)) {
    if (m.body[0] !== af || m.body.readUInt32LE(4) !== ifindex) continue;
    if (m.body[3] !== 0) continue; // global scope only: no link-local or host addresses
    const a = m.attrs.get(IFA_LOCAL) ?? m.attrs.get(IFA_ADDRESS);
    if (a) addrs.push({ addr: fmt(af, a), prefix: m.body[1] });
  }
  const mine = routes.filter((r) => r.oif === ifindex);
  const gateway = mine.find((r) => r.prefix === 0)?.gateway;
  return {
    ifname: links.get(ifindex)!.name,
    ifindex,
    addrs,
    gateway,
    // routes the kernel adds by itself for an address are not copied
    routes: mine.filter((r) => r.proto !== RTPROT_KERNEL && !(af === AF_INET6 && r.dst.startsWith('fe80:')))
      .map(({ dst, prefix, gateway: g, metric }) => ({ dst, prefix, gateway: g, metric })),
  };
}
