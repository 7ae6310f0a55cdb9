// What the guest sees: the validated Config merged with the host's own
// configuration (pasta copies the host's addresses, routes and gateway).
import type { Config } from './config.js';
import type { HostConfig, HostRoute } from './ns/hostconf.js';
import type { Resolv } from './ns/resolv.js';
import { parseMac } from './wire/ethernet.js';
import { format4, ipFamily, mask4, parse4, parse6 } from './wire/ip.js';

export const DEFAULT_MTU = 65520;
/** pasta's own MAC address (MAC_OUR_LAA). */
export const OUR_MAC = '9a:55:9a:55:9a:55';

export interface Plan4 {
  addr: number;
  prefix: number;
  gateway: number;
  routes: HostRoute[];
  /** guest-side address that reaches the host's loopback (127.0.0.1), or undefined */
  mapHostLoopback?: number;
  /** guest-side address that reaches the host's own address */
  mapGuestAddr?: number;
  /** the host's own address behind mapGuestAddr */
  hostAddr: number;
  /** DNS servers the guest is told about (DHCP) */
  dns: number[];
  /** DNS traffic (port 53) to dnsMatch goes to dnsHost instead (--dns-forward, or a loopback resolver) */
  dnsMatch?: number;
  dnsHost?: number;
}

export interface Plan6 {
  addr: Buffer;
  prefix: number;
  gateway: Buffer;
  routes: HostRoute[];
  mapHostLoopback?: Buffer;
  mapGuestAddr?: Buffer;
  hostAddr: Buffer;
  /** DNS servers the guest is told about (RA RDNSS, DHCPv6) */
  dns: Buffer[];
  dnsMatch?: Buffer;
  dnsHost?: Buffer;
}

export interface NetPlan {
  mtu: number;
  ourMac: Buffer;
  /** interface name inside the namespace */
  nsIfname: string;
  nsMac?: Buffer;
  v4?: Plan4;
  v6?: Plan6;
  /** DNS search list for DHCP option 119, RA DNSSL and DHCPv6 */
  search: string[];
}

export class PlanError extends Error {}

/** QEMU's user networking (libslirp) as its guests know it. */
export const SLIRP = {
  address4: '10.0.2.15',
  prefixLen4: 24,
  gateway4: '10.0.2.2',
  dns4: '10.0.2.3',
  address6: 'fec0::15',
  gateway6: 'fec0::2',
  dns6: 'fec0::3',
  mac: '52:56:00:00:00:02',
};

/** --slirp-compat fills in what the other options leave open. */
function withSlirpDefaults(cfg: Config): Config {
  if (!cfg.slirpCompat) return cfg;
  return {
    ...cfg,
    address4: cfg.address4 ?? SLIRP.address4,
    prefixLen4: cfg.prefixLen4 ?? SLIRP.prefixLen4,
    gateway4: cfg.gateway4 ?? SLIRP.gateway4,
    mapHostLoopback4: cfg.mapHostLoopback4 ?? (cfg.noMapGw ? undefined : cfg.gateway4 ?? SLIRP.gateway4),
    dnsForward4: cfg.dnsForward4 ?? SLIRP.dns4,
    address6: cfg.address6 ?? SLIRP.address6,
    gateway6: cfg.gateway6 ?? SLIRP.gateway6,
    mapHostLoopback6: cfg.mapHostLoopback6 ?? (cfg.noMapGw ? undefined : cfg.gateway6 ?? SLIRP.gateway6),
    dnsForward6: cfg.dnsForward6 ?? SLIRP.dns6,
    macAddr: cfg.macAddr ?? SLIRP.mac,
  };
}

export function makePlan(options: Config, host: HostConfig, resolv: Resolv = { nameservers: [], search: [] }): NetPlan {
  const cfg = withSlirpDefaults(options);
  const v4 = cfg.ipv4 ? plan4(cfg, host) : undefined;
  const v6 = cfg.ipv6 ? plan6(cfg, host) : undefined;
  if (v4) Object.assign(v4, planDns(cfg, resolv, 4, v4.mapHostLoopback));
  if (v6) Object.assign(v6, planDns(cfg, resolv, 6, v6.mapHostLoopback));
  if (!v4 && !v6) throw new PlanError('no usable interface with an IPv4 or IPv6 default route found on the host; use -i, -a and -g');
  const template = cfg.nsIfname ?? host.v4?.ifname ?? host.v6?.ifname ?? 'tap0';
  return {
    mtu: cfg.mtu ?? DEFAULT_MTU,
    ourMac: parseMac(cfg.macAddr ?? OUR_MAC),
    nsIfname: template,
    nsMac: cfg.nsMacAddr ? parseMac(cfg.nsMacAddr) : undefined,
    v4,
    v6,
    search: cfg.search.length > 0 ? [...cfg.search] : cfg.dnsNone ? [] : resolv.search,
  };
}

/**
 * DNS as pasta plans it: -D servers, or the host's own. A resolver on the
 * host's loopback cannot be reached from the guest, so the guest is told the
 * address mapped to the host's loopback and its queries go to that resolver.
 * --dns-forward ADDR: the guest is told ADDR, and port 53 on ADDR goes to the
 * host's first resolver (or --dns-host).
 */
function planDns<T extends number | Buffer>(cfg: Config, resolv: Resolv, family: 4 | 6, mapLoopback?: T): {
  dns: T[]; dnsMatch?: T; dnsHost?: T;
} {
  const parse = (s: string): T => (family === 4 ? parse4(s) : parse6(s)) as T;
  const mine = (s: string): boolean => ipFamily(s) === family;
  const forward = family === 4 ? cfg.dnsForward4 : cfg.dnsForward6;
  const hostOpt = family === 4 ? cfg.dnsHost4 : cfg.dnsHost6;
  const hostResolvers = resolv.nameservers.filter(mine);
  const dnsHostStr = hostOpt ?? hostResolvers[0];
  if (cfg.dnsNone) return { dns: [] };
  if (forward) {
    return { dns: [parse(forward)], dnsMatch: parse(forward), dnsHost: dnsHostStr ? parse(dnsHostStr) : undefined };
  }
  const given = cfg.dns.filter(mine);
  if (given.length > 0) return { dns: given.map(parse) };
  const dns: T[] = [];
  let dnsMatch: T | undefined;
  let dnsHost: T | undefined;
  for (const r of hostResolvers) {
    if (isLoopback(r)) {
      // reachable through the address that maps to the host's loopback
      if (mapLoopback === undefined || dnsMatch !== undefined) continue;
      dnsMatch = mapLoopback;
      dnsHost = parse(r);
      dns.push(mapLoopback);
    } else {
      dns.push(parse(r));
    }
  }
  return { dns, dnsMatch, dnsHost };
}

function isLoopback(a: string): boolean {
  return a === '::1' || a.startsWith('127.');
}

function plan4(cfg: Config, host: HostConfig): Plan4 | undefined {
  const h = host.v4;
  const first = h?.addrs[0];
  const addrStr = cfg.address4 ?? first?.addr;
  const gwStr = cfg.gateway4 ?? h?.gateway;
  if (!addrStr || !gwStr) return undefined;
  const addr = parse4(addrStr);
  const gateway = parse4(gwStr);
  const prefix = cfg.prefixLen4 ?? (cfg.address4 ? defaultPrefix4(addr) : first!.prefix);
  if (prefix < 31) {
    const host = addr & ~mask4(prefix);
    if (host === 0 || host === ~mask4(prefix) >>> 0) {
      throw new PlanError(`address ${addrStr} is the ${host === 0 ? 'network' : 'broadcast'} address of ${format4((addr & mask4(prefix)) >>> 0)}/${prefix}: use a host address`);
    }
  }
  const loop = cfg.mapHostLoopback4 ?? (cfg.noMapGw ? undefined : gwStr);
  return {
    addr,
    prefix,
    gateway,
    routes: cfg.address4 || cfg.gateway4 ? [] : h?.routes ?? [],
    mapHostLoopback: loop !== undefined && loop !== 'none' ? parse4(loop) : undefined,
    mapGuestAddr: cfg.mapGuestAddr4 && cfg.mapGuestAddr4 !== 'none' ? parse4(cfg.mapGuestAddr4) : undefined,
    hostAddr: first ? parse4(first.addr) : addr,
    dns: [],
  };
}

function plan6(cfg: Config, host: HostConfig): Plan6 | undefined {
  const h = host.v6;
  const first = h?.addrs[0];
  const addrStr = cfg.address6 ?? first?.addr;
  const gwStr = cfg.gateway6 ?? h?.gateway;
  if (!addrStr || !gwStr) return undefined;
  const loop = cfg.mapHostLoopback6 ?? (cfg.noMapGw ? undefined : gwStr);
  return {
    addr: parse6(addrStr),
    prefix: cfg.address6 ? 64 : first!.prefix,
    gateway: parse6(gwStr),
    routes: cfg.address6 || cfg.gateway6 ? [] : h?.routes ?? [],
    mapHostLoopback: loop !== undefined && loop !== 'none' ? parse6(loop) : undefined,
    mapGuestAddr: cfg.mapGuestAddr6 && cfg.mapGuestAddr6 !== 'none' ? parse6(cfg.mapGuestAddr6) : undefined,
    hostAddr: parse6(first?.addr ?? addrStr),
    dns: [],
  };
}

/** Classful default, as passt uses when -a is given without -n. */
function defaultPrefix4(a: number): number {
  const top = a >>> 24;
  if (top < 128) return 8;
  if (top < 192) return 16;
  return 24;
}
