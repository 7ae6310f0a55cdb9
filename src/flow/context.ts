// Shared state of the translation layer: the guest link, the plan (addresses
// on both sides), the guest's MAC address, drop counters, and the helpers
// that build frames towards the guest in the link's transmit buffer.
import type { GuestLink } from '../io/link.js';
import type { NetPlan } from '../netplan.js';
import { fold, pseudo4, pseudo6 } from '../wire/checksum.js';
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, formatMac, writeEth } from '../wire/ethernet.js';
import { IPV4_HLEN, IPV6_HLEN, equal6, writeIpv4, writeIpv6 } from '../wire/ip.js';

export interface Log {
  /** whether trace() prints: callers skip formatting a line nobody reads */
  readonly tracing?: boolean;
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Why frames from the guest were dropped; shown with -d. */
export class Counters {
  readonly drops = new Map<string, number>();
  framesIn = 0;
  framesOut = 0;
  drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
  summary(): string {
    const d = [...this.drops].map(([k, v]) => `${k}=${v}`).join(' ');
    return `frames in ${this.framesIn}, out ${this.framesOut}; dropped: ${d || 'none'}`;
  }
}

const HOST_LOOPBACK4 = 0x7f000001;
const HOST_LOOPBACK6 = Buffer.from('00000000000000000000000000000001', 'hex');
const BROADCAST_MAC = Buffer.alloc(6, 0xff);

export class FlowContext {
  /** The guest's MAC address, learnt from its frames; broadcast until then. */
  guestMac: Buffer = Buffer.from(BROADCAST_MAC);
  readonly counters = new Counters();

  constructor(readonly link: GuestLink, readonly plan: NetPlan, readonly log: Log) {}

  /**
   * Our MAC address must never be the guest's: libvirt 9.0 passes the
   * guest's own MAC as --mac-addr, which passt takes as its own. When the
   * guest turns out to use ours, ours changes (the locally administered bit
   * is set and the last byte flipped), as frames to the guest must tell the
   * two apart.
   */
  avoidGuestMac(): void {
    const ours = this.plan.ourMac;
    if (!ours.equals(this.guestMac)) return;
    ours[0] = (ours[0] | 0x02) & 0xfe;
    ours[5] ^= 0xff;
    if (ours.equals(this.guestMac)) ours[4] ^= 0xff;
    this.log.info(`the guest uses our MAC address; ours is now ${formatMac(ours)}`);
  }

  // ---- address mapping between the guest's view and host sockets ----

  /** Host-side destination for a guest's IPv4 destination and port. */
  hostDst4(dst: number, port: number): number {
    const p = this.plan.v4;
    if (p) {
      if (port === 53 && dst === p.dnsMatch && p.dnsHost !== undefined) return p.dnsHost;
      if (p.mapHostLoopback !== undefined && dst === p.mapHostLoopback) return HOST_LOOPBACK4;
      if (p.mapGuestAddr !== undefined && dst === p.mapGuestAddr) return p.hostAddr;
    }
    return dst;
  }

  /** Guest-side source for a host-side IPv4 peer (the reverse of hostDst4). */
  guestSrc4(src: number, port: number): number {
    const p = this.plan.v4;
    if (p) {
      if (port === 53 && src === p.dnsHost && p.dnsMatch !== undefined) return p.dnsMatch;
      if (src === HOST_LOOPBACK4 && p.mapHostLoopback !== undefined) return p.mapHostLoopback;
      if (src === p.hostAddr && p.mapGuestAddr !== undefined) return p.mapGuestAddr;
      if (src === p.hostAddr || (src >>> 24) === 127) return p.gateway;
    }
    return src;
  }

  hostDst6(dst: Buffer, off: number, port: number): Buffer {
    const p = this.plan.v6;
    if (p) {
      if (port === 53 && p.dnsMatch && p.dnsHost && equal6(dst, off, p.dnsMatch, 0)) return p.dnsHost;
      if (p.mapHostLoopback && equal6(dst, off, p.mapHostLoopback, 0)) return HOST_LOOPBACK6;
      if (p.mapGuestAddr && equal6(dst, off, p.mapGuestAddr, 0)) return p.hostAddr;
    }
    return Buffer.from(dst.subarray(off, off + 16));
  }

  guestSrc6(src: Buffer, port: number): Buffer {
    const p = this.plan.v6;
    if (p) {
      if (port === 53 && p.dnsMatch && p.dnsHost && equal6(src, 0, p.dnsHost, 0)) return p.dnsMatch;
      const loop = equal6(src, 0, HOST_LOOPBACK6, 0);
      const self = equal6(src, 0, p.hostAddr, 0);
      if (loop && p.mapHostLoopback) return p.mapHostLoopback;
      if (self && p.mapGuestAddr) return p.mapGuestAddr;
      if (loop || self) return p.gateway;
    }
    return src;
  }

  // ---- frame building ----

  /** Starts an IPv4 packet to the guest; returns the offset of its payload in link.tx. */
  begin4(src: number, dst: number, proto: number, l4Len: number): number {
    const tx = this.link.tx;
    const off = writeEth(tx, this.link.ethOff, this.guestMac, this.plan.ourMac, ETH_P_IP);
    return writeIpv4(tx, off, src, dst, proto, l4Len);
  }

  begin6(src: Uint8Array, dst: Uint8Array, proto: number, l4Len: number): number {
    const tx = this.link.tx;
    const off = writeEth(tx, this.link.ethOff, this.guestMac, this.plan.ourMac, ETH_P_IPV6);
    return writeIpv6(tx, off, src, dst, proto, l4Len);
  }

  /**
   * Sends a packet begun with begin4/begin6 whose transport checksum field
   * (at l4Off+field) is to be completed from the pseudo-header.
   */
  finish4(src: number, dst: number, proto: number, l4Off: number, l4Len: number, field: number): void {
    this.finishWith(pseudo4(src, dst, proto, l4Len), l4Off, l4Len, field, IPV4_HLEN);
  }

  finish6(proto: number, l4Off: number, l4Len: number, field: number): void {
    const tx = this.link.tx;
    const ip = l4Off - IPV6_HLEN;
    this.finishWith(pseudo6(tx, ip + 8, ip + 24, proto, l4Len), l4Off, l4Len, field, IPV6_HLEN);
  }

  private finishWith(pseudo: number, l4Off: number, l4Len: number, field: number, ipLen: number): void {
    const tx = this.link.tx;
    const s = fold(pseudo);
    tx[l4Off + field] = s >>> 8;
    tx[l4Off + field + 1] = s & 0xff;
    const frameLen = ETH_HLEN + ipLen + l4Len;
    this.counters.framesOut++;
    this.link.send(frameLen, l4Off - this.link.ethOff, field);
  }

  /** Sends a frame whose checksums are all complete (ARP, ICMPv4). */
  sendComplete(frameLen: number): void {
    this.counters.framesOut++;
    this.link.send(frameLen, -1, 0);
  }
}
