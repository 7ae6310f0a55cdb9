// Router advertisements, as passt's ndp.c sends them: the plan's /64 as an
// on-link, autonomous prefix (SLAAC), infinite lifetimes, router lifetime
// 65535 s (RFC 8319), the MTU, RDNSS and DNSSL (RFC 8106), our MAC address,
// and the M flag when DHCPv6 is on. They come from our link-local address,
// which becomes the guest's default router; the dispatcher answers neighbour
// solicitations for it like for any address but the guest's.
// Solicited RAs answer router solicitations; unsolicited ones go to all
// nodes every 200-600 s (RFC 4861 6.2.1).
import type { FlowContext } from './context.js';
import { IPPROTO_ICMPV6, IPV6_HLEN, isLinkLocal6, isUnspecified6, parse6 } from '../wire/ip.js';
import {
  LLADDR_OPT_LEN, MTU_OPT_LEN, ND_INFINITY, ND_OPT_SOURCE_LLADDR, NdpError, PREFIX_FLAG_AUTO, PREFIX_FLAG_ONLINK,
  PREFIX_INFO_LEN, RA_FLAG_MANAGED, RA_HLEN, dnsslSize, newRsView, parseRouterSolicit, putDnssl, putLinkAddrOption,
  putMtuOption, putPrefixInfo, putRdnss, writeRouterAdvert,
} from '../wire/ndp.js';

export const ALL_NODES = parse6('ff02::1');
/** RFC 8319: the largest router lifetime */
export const RT_LIFETIME = 65535;
/** RFC 4861 6.2.1 */
export const MAX_RTR_ADV_INTERVAL = 600;
export const MIN_RTR_ADV_INTERVAL = 200;
/** Options of an RA must fit, with the headers, in the IPv6 minimum MTU. */
const MAX_RA = 1280 - IPV6_HLEN;

/**
 * Our link-local address: the host's gateway when it is link-local (as
 * passt does), otherwise the modified EUI-64 one of our MAC address.
 */
export function ourLinkLocal(gateway: Buffer | undefined, mac: Uint8Array): Buffer {
  if (gateway && isLinkLocal6(gateway)) return Buffer.from(gateway);
  const a = Buffer.alloc(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0] ^ 0x02;
  a[9] = mac[1];
  a[10] = mac[2];
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3];
  a[14] = mac[4];
  a[15] = mac[5];
  return a;
}

export interface RouterOptions {
  ourLinkLocal: Buffer;
  /** set the M flag (DHCPv6 available) */
  managed: boolean;
  dns: boolean;
  search: boolean;
}

export class RouterAdvertiser {
  private readonly rs = newRsView();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: FlowContext, private readonly opts: RouterOptions) {}

  /** A router solicitation from the guest (hop limit already checked to be 255). */
  onRouterSolicit(buf: Buffer, srcOff: number, l4Off: number, l4Len: number): void {
    const ctx = this.ctx;
    if (parseRouterSolicit(buf, l4Off, l4Len, this.rs) !== NdpError.Ok) {
      ctx.counters.drop('ndp_invalid');
      return;
    }
    const unspecified = isUnspecified6(buf, srcOff);
    // RFC 4861 6.1.1: no source link-layer address option from the unspecified address
    if (unspecified && this.rs.srcLlOff >= 0) {
      ctx.counters.drop('ndp_invalid');
      return;
    }
    ctx.log.debug('NDP: received RS, sending RA');
    this.send(unspecified ? ALL_NODES : Buffer.from(buf.subarray(srcOff, srcOff + 16)));
  }

  /** Sends an RA to dst. */
  send(dst: Uint8Array): void {
    const ctx = this.ctx;
    const plan = ctx.plan;
    const v6 = plan.v6!;
    const o = this.opts;
    const dns = o.dns ? v6.dns.slice(0, Math.floor((MAX_RA - 400) / 16)) : [];
    let search = o.search ? [...plan.search] : [];
    const fixed = RA_HLEN + PREFIX_INFO_LEN + LLADDR_OPT_LEN + (plan.mtu > 0 ? MTU_OPT_LEN : 0) + (dns.length ? 8 + 16 * dns.length : 0);
    while (search.length > 0 && (fixed + dnsslSize(search) > MAX_RA || dnsslSize(search) > 255 * 8)) search = search.slice(0, -1);
    const l4Len = fixed + (search.length ? dnsslSize(search) : 0);
    const l4 = ctx.begin6(o.ourLinkLocal, dst, IPPROTO_ICMPV6, l4Len);
    const tx = ctx.link.tx;
    tx[l4 - IPV6_HLEN + 7] = 255; // hop limit 255, as NDP requires
    let p = writeRouterAdvert(tx, l4, {
      curHopLimit: 255, // as passt advertises
      flags: o.managed ? RA_FLAG_MANAGED : 0,
      routerLifetime: RT_LIFETIME,
      reachable: 0,
      retrans: 0,
    });
    p = putPrefixInfo(tx, p, v6.addr, 0, 64, PREFIX_FLAG_ONLINK | PREFIX_FLAG_AUTO, ND_INFINITY, ND_INFINITY);
    p = putLinkAddrOption(tx, p, ND_OPT_SOURCE_LLADDR, plan.ourMac);
    if (plan.mtu > 0) p = putMtuOption(tx, p, plan.mtu);
    if (dns.length > 0) p = putRdnss(tx, p, ND_INFINITY, dns);
    if (search.length > 0) p = putDnssl(tx, p, ND_INFINITY, search);
    ctx.finish6(IPPROTO_ICMPV6, l4, p - l4, 2);
  }

  /** Starts unsolicited RAs to all nodes, the first one after a random 200-600 s as in passt. */
  startUnsolicited(random: () => number = Math.random): void {
    const next = (): void => {
      const s = MIN_RTR_ADV_INTERVAL + Math.floor(random() * (MAX_RTR_ADV_INTERVAL - MIN_RTR_ADV_INTERVAL));
      this.timer = setTimeout(() => {
        this.ctx.log.debug('NDP: sending unsolicited RA');
        this.send(ALL_NODES);
        next();
      }, s * 1000);
      this.timer.unref();
    };
    next();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
