// The frame dispatcher: every frame from the guest enters here, is checked,
// and goes to ARP, neighbour discovery, or a protocol translator. Anything
// malformed or unsupported is dropped and counted, never thrown.
import type { FlowContext } from './context.js';
import { IcmpTranslator } from './icmp.js';
import { TcpTranslator } from './tcp.js';
import { UdpTranslator } from './udp.js';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, type ArpView, parseArp, writeArp } from '../wire/arp.js';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ethType, isMulticastMac, writeEth } from '../wire/ethernet.js';
import {
  ICMPV6_ECHO_REQUEST, ICMPV6_NEIGH_ADVERT, ICMPV6_NEIGH_SOLICIT, ICMPV6_ROUTER_SOLICIT,
} from '../wire/icmp.js';
import {
  IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IpError, equal6, isUnspecified6, newIpView, parseIpv4, parseIpv6,
} from '../wire/ip.js';

/** Extra handlers for services (DHCP, NDP router advertisements, DHCPv6, DNS); return true when consumed. */
export interface ServiceHooks {
  udp4?(buf: Buffer, src4: number, dst4: number, l4Off: number, l4Len: number): boolean;
  udp6?(buf: Buffer, srcOff: number, dstOff: number, l4Off: number, l4Len: number): boolean;
  routerSolicit?(buf: Buffer, srcOff: number, l4Off: number, l4Len: number): void;
  /** --no-ndp: neighbour and router solicitations go unanswered, as in pasta */
  noNdp?: boolean;
  /** stops the services' timers (from closeAll) */
  close?(): void;
}


export class Dispatcher {
  readonly tcp: TcpTranslator;
  readonly udp: UdpTranslator;
  readonly icmp: IcmpTranslator;
  private readonly ip = newIpView();
  private readonly arp: ArpView = { op: 0, senderMacOff: 0, senderIp: 0, targetMacOff: 0, targetIp: 0 };
  hooks: ServiceHooks = {};

  /** nodeTimers: TCP's timers on Node's setTimeout even with the fastio addon (tests that fake the clock) */
  constructor(readonly ctx: FlowContext, opts: { tcp: boolean; udp: boolean; icmp: boolean; nodeTimers?: boolean }) {
    this.tcp = new TcpTranslator(ctx, undefined, undefined, opts.nodeTimers);
    this.udp = new UdpTranslator(ctx);
    this.icmp = new IcmpTranslator(ctx);
    this.enabled = opts;
  }

  private readonly enabled: { tcp: boolean; udp: boolean; icmp: boolean };

  /**
   * onFrame for the guest link: a frame that makes a translator throw is
   * dropped and counted ('exception'), and the frames after it go on.
   */
  onFrameGuarded = (buf: Buffer, off: number, len: number): void => {
    try {
      this.onFrame(buf, off, len);
    } catch (e) {
      this.ctx.counters.drop('exception');
      this.ctx.log.debug(`frame handling failed: ${(e as Error).stack ?? e}`);
    }
  };

  /** One Ethernet frame from the guest at buf[off, off+len). */
  onFrame = (buf: Buffer, off: number, len: number): void => {
    const ctx = this.ctx;
    ctx.counters.framesIn++;
    if (len < ETH_HLEN) {
      ctx.counters.drop('eth_short');
      return;
    }
    if (!isMulticastMac(buf, off + 6)) {
      const mac = ctx.guestMac;
      const s = off + 6;
      if (mac[5] !== buf[s + 5] || mac[4] !== buf[s + 4] || mac[3] !== buf[s + 3] || mac[2] !== buf[s + 2] || mac[1] !== buf[s + 1] || mac[0] !== buf[s]) {
        buf.copy(mac, 0, off + 6, off + 12);
        ctx.avoidGuestMac();
      }
    }
    const l3 = off + ETH_HLEN;
    const l3Len = len - ETH_HLEN;
    switch (ethType(buf, off)) {
      case ETH_P_IP:
        if (ctx.plan.v4) this.ipv4(buf, l3, l3Len);
        else ctx.counters.drop('ipv4_disabled');
        return;
      case ETH_P_IPV6:
        if (ctx.plan.v6) this.ipv6(buf, l3, l3Len);
        else ctx.counters.drop('ipv6_disabled');
        return;
      case ETH_P_ARP:
        this.onArp(buf, l3, l3Len);
        return;
      default:
        ctx.counters.drop('ethertype');
    }
  };

  private ipError(e: IpError, v: string): void {
    this.ctx.counters.drop(e === IpError.Fragment ? `${v}_fragment` : e === IpError.Truncated ? `${v}_truncated` : `${v}_bad_header`);
  }

  private ipv4(buf: Buffer, off: number, len: number): void {
    const ip = this.ip;
    const e = parseIpv4(buf, off, len, ip);
    if (e !== IpError.Ok) return this.ipError(e, 'ipv4');
    const { src4, dst4, l4Off, l4Len } = ip;
    switch (ip.proto) {
      case IPPROTO_TCP:
        if (this.enabled.tcp) this.tcp.onGuestSegment(buf, false, 0, 0, src4, dst4, l4Off, l4Len);
        return;
      case IPPROTO_UDP:
        if (this.hooks.udp4?.(buf, src4, dst4, l4Off, l4Len)) return;
        if (this.enabled.udp) this.udp.onGuestDatagram(buf, false, 0, 0, src4, dst4, l4Off, l4Len);
        return;
      case IPPROTO_ICMP:
        if (this.enabled.icmp) this.icmp.onGuestIcmp(buf, false, 0, 0, src4, dst4, l4Off, l4Len);
        return;
      default:
        this.ctx.counters.drop('ipv4_protocol');
    }
  }

  private ipv6(buf: Buffer, off: number, len: number): void {
    const ip = this.ip;
    const e = parseIpv6(buf, off, len, ip);
    if (e !== IpError.Ok) return this.ipError(e, 'ipv6');
    const { src6Off, dst6Off, l4Off, l4Len } = ip;
    switch (ip.proto) {
      case IPPROTO_TCP:
        if (this.enabled.tcp) this.tcp.onGuestSegment(buf, true, src6Off, dst6Off, 0, 0, l4Off, l4Len);
        return;
      case IPPROTO_UDP:
        if (this.hooks.udp6?.(buf, src6Off, dst6Off, l4Off, l4Len)) return;
        if (this.enabled.udp) this.udp.onGuestDatagram(buf, true, src6Off, dst6Off, 0, 0, l4Off, l4Len);
        return;
      case IPPROTO_ICMPV6:
        this.icmpv6(buf, src6Off, dst6Off, l4Off, l4Len, ip.ttl);
        return;
      default:
        this.ctx.counters.drop('ipv6_protocol');
    }
  }

  private icmpv6(buf: Buffer, srcOff: number, dstOff: number, l4Off: number, l4Len: number, hopLimit: number): void {
    if (l4Len < 4) {
      this.ctx.counters.drop('icmpv6_short');
      return;
    }
    const type = buf[l4Off];
    if (this.hooks.noNdp && (type === ICMPV6_NEIGH_SOLICIT || type === ICMPV6_ROUTER_SOLICIT)) return;
    if (type === ICMPV6_NEIGH_SOLICIT) {
      if (hopLimit === 255 && l4Len >= 24) this.onNeighSolicit(buf, srcOff, l4Off);
      else this.ctx.counters.drop('ndp_invalid');
    } else if (type === ICMPV6_ROUTER_SOLICIT) {
      if (hopLimit === 255) this.hooks.routerSolicit?.(buf, srcOff, l4Off, l4Len);
    } else if (type === ICMPV6_ECHO_REQUEST) {
      if (this.enabled.icmp) this.icmp.onGuestIcmp(buf, true, srcOff, dstOff, 0, 0, l4Off, l4Len);
    } else {
      this.ctx.counters.drop('icmpv6_type');
    }
  }

  /** Answers for every address but the guest's own: everything is reached through us. */
  private onArp(buf: Buffer, off: number, len: number): void {
    const ctx = this.ctx;
    const a = parseArp(buf, off, len, this.arp);
    if (!a) {
      ctx.counters.drop('arp_malformed');
      return;
    }
    const guest = ctx.plan.v4?.addr;
    if (a.op !== ARP_REQUEST || a.targetIp === a.senderIp || a.targetIp === guest || a.targetIp === 0) return;
    const tx = ctx.link.tx;
    const senderMac = Buffer.from(buf.subarray(a.senderMacOff, a.senderMacOff + 6));
    const p = writeEth(tx, ctx.link.ethOff, senderMac, ctx.plan.ourMac, ETH_P_ARP);
    writeArp(tx, p, ARP_REPLY, ctx.plan.ourMac, a.targetIp, senderMac, a.senderIp);
    ctx.sendComplete(ETH_HLEN + ARP_LEN);
  }

  private onNeighSolicit(buf: Buffer, srcOff: number, l4Off: number): void {
    const ctx = this.ctx;
    const targetOff = l4Off + 8;
    // Duplicate address detection (unspecified source) must go unanswered,
    // and the guest's own address is the guest's to answer.
    if (isUnspecified6(buf, srcOff) || buf[targetOff] === 0xff) return;
    if (ctx.plan.v6 && equal6(buf, targetOff, ctx.plan.v6.addr, 0)) return;
    const target = Buffer.from(buf.subarray(targetOff, targetOff + 16));
    const dst = Buffer.from(buf.subarray(srcOff, srcOff + 16));
    const l4Len = 32;
    const l4 = ctx.begin6(target, dst, IPPROTO_ICMPV6, l4Len);
    const tx = ctx.link.tx;
    tx[l4 - 40 + 7] = 255; // hop limit 255, as NDP requires
    tx[l4] = ICMPV6_NEIGH_ADVERT;
    tx[l4 + 1] = 0;
    tx[l4 + 2] = 0;
    tx[l4 + 3] = 0;
    // router, solicited, override: a guest whose default router's NA lacked
    // the router flag would drop its RA-learnt default route (RFC 4861 7.2.5)
    tx.writeUInt32BE(0xe0000000, l4 + 4);
    target.copy(tx, l4 + 8);
    tx[l4 + 24] = 2; // target link-layer address option
    tx[l4 + 25] = 1;
    ctx.plan.ourMac.copy(tx, l4 + 26);
    ctx.finish6(IPPROTO_ICMPV6, l4, l4Len, 2);
  }

  closeAll(): void {
    this.hooks.close?.();
    this.tcp.closeAll();
    this.udp.closeAll();
    this.icmp.closeAll();
  }
}

