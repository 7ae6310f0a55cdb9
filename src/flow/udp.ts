// UDP translation: one host socket per guest source (address, port), so that
// replies from any peer find their way back, with an idle timeout (pasta's
// default is 180 s).
import dgram from 'node:dgram';
import type { FlowContext } from './context.js';
import { IPPROTO_UDP, IPV4_HLEN, IPV6_HLEN, equal6, format4, format6, parse4, parse6 } from '../wire/ip.js';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../wire/udp.js';

export const UDP_IDLE_MS = 180_000;

class UdpFlow {
  readonly sock: dgram.Socket;
  lastUse = Date.now();
  next: UdpFlow | undefined;
  private lastDst = -1;
  private lastDstStr = '';
  /** the source address of the last reply, as Node gave it and parsed */
  private lastSrcStr = '';
  private lastSrc4 = 0;
  private lastSrc6: Buffer | undefined;
  /**
   * Host-side peers (address and port) this flow sent to under another
   * guest-side address than guestSrc4/guestSrc6 would give back, with that
   * address: replies must come from where the guest sent. Usually empty.
   */
  private readonly peers = new Map<number | string, number | Buffer>();

  constructor(
    private readonly t: UdpTranslator,
    readonly v6: boolean,
    readonly guest4: number,
    readonly guest6: Buffer | undefined,
    readonly guestPort: number,
  ) {
    this.sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, recvBufferSize: 1 << 21, sendBufferSize: 1 << 21 });
    this.sock.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
    this.sock.on('error', (e) => this.t.ctx.log.debug(`UDP socket for guest port ${guestPort}: ${e.message}`));
    this.sock.bind(0);
  }

  send4(buf: Buffer, dst: number, port: number, off: number, len: number): void {
    const hostDst = this.t.ctx.hostDst4(dst, port);
    if (hostDst !== this.lastDst) {
      this.lastDst = hostDst;
      this.lastDstStr = format4(hostDst);
    }
    if (this.t.ctx.guestSrc4(hostDst, port) !== dst) this.remember(hostDst * 0x10000 + port, dst);
    this.lastUse = Date.now();
    this.sock.send(Buffer.from(buf.subarray(off, off + len)), port, this.lastDstStr);
  }

  send6(buf: Buffer, dstOff: number, port: number, off: number, len: number): void {
    const hostDst = this.t.ctx.hostDst6(buf, dstOff, port);
    if (!equal6(this.t.ctx.guestSrc6(hostDst, port), 0, buf, dstOff)) {
      this.remember(`${hostDst.toString('hex')}:${port}`, Buffer.from(buf.subarray(dstOff, dstOff + 16)));
    }
    this.lastUse = Date.now();
    this.sock.send(Buffer.from(buf.subarray(off, off + len)), port, format6(hostDst));
  }

  private remember(key: number | string, guestDst: number | Buffer): void {
    if (this.peers.size >= 256 && !this.peers.has(key)) this.peers.clear();
    this.peers.set(key, guestDst);
  }

  private onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const ctx = this.t.ctx;
    this.lastUse = Date.now();
    // Replies mostly come from the peer of the last one: parse its address once.
    const addr = rinfo.address;
    if (addr !== this.lastSrcStr) {
      this.lastSrcStr = addr;
      if (this.v6) this.lastSrc6 = parse6(addr);
      else this.lastSrc4 = parse4(addr);
    }
    if (this.v6) {
      const src = this.lastSrc6!;
      const known = this.peers.size > 0 ? this.peers.get(`${src.toString('hex')}:${rinfo.port}`) as Buffer | undefined : undefined;
      this.t.emit(true, known ?? ctx.guestSrc6(src, rinfo.port), rinfo.port, this.guest6!, this.guestPort, msg);
    } else {
      const src = this.lastSrc4;
      const known = this.peers.size > 0 ? this.peers.get(src * 0x10000 + rinfo.port) as number | undefined : undefined;
      this.t.emit(false, known ?? ctx.guestSrc4(src, rinfo.port), rinfo.port, this.guest4, this.guestPort, msg);
    }
  }

  matches(v6: boolean, buf: Buffer, srcOff: number, src4: number): boolean {
    return v6 === this.v6 && (v6 ? equal6(buf, srcOff, this.guest6!, 0) : src4 === this.guest4);
  }

  close(): void {
    this.sock.close();
  }
}

/** The way back for a datagram that came in through a forwarded port. */
interface InboundPeer {
  sock: dgram.Socket;
  address: string;
  port: number;
  lastUse: number;
}

export class UdpTranslator {
  private readonly flows = new Map<number, UdpFlow>();
  private readonly inboundPeers = new Map<string, InboundPeer>();
  private readonly udp = newUdpView();
  private readonly sweeper: NodeJS.Timeout;
  count = 0;

  constructor(readonly ctx: FlowContext, private readonly idleMs = UDP_IDLE_MS, private readonly maxFlows = 4096) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, idleMs / 2));
    this.sweeper.unref();
  }

  onGuestDatagram(buf: Buffer, v6: boolean, srcOff: number, dstOff: number, src4: number, dst4: number, l4Off: number, l4Len: number): void {
    const u = this.udp;
    if (!parseUdp(buf, l4Off, l4Len, u) || u.dstPort === 0) {
      this.ctx.counters.drop('udp_malformed');
      return;
    }
    if (v6 ? buf[dstOff] === 0xff : dst4 >>> 28 === 14 || dst4 === 0xffffffff) {
      this.ctx.counters.drop('udp_multicast');
      return;
    }
    if (this.inboundPeers.size > 0) {
      const key = inboundKey(v6, u.srcPort, v6 ? buf.toString('hex', dstOff, dstOff + 16) : dst4, u.dstPort);
      const peer = this.inboundPeers.get(key);
      if (peer) {
        // a reply to a forwarded datagram leaves through the forwarded port
        peer.lastUse = Date.now();
        peer.sock.send(Buffer.from(buf.subarray(u.dataOff, u.dataOff + u.dataLen)), peer.port, peer.address);
        return;
      }
    }
    let f = this.flows.get(u.srcPort);
    while (f && !f.matches(v6, buf, srcOff, src4)) f = f.next;
    if (!f) {
      if (this.count >= this.maxFlows) {
        this.ctx.counters.drop('udp_table_full');
        return;
      }
      f = new UdpFlow(this, v6, src4, v6 ? Buffer.from(buf.subarray(srcOff, srcOff + 16)) : undefined, u.srcPort);
      f.next = this.flows.get(u.srcPort);
      this.flows.set(u.srcPort, f);
      this.count++;
    }
    if (v6) f.send6(buf, dstOff, u.dstPort, u.dataOff, u.dataLen);
    else f.send4(buf, dst4, u.dstPort, u.dataOff, u.dataLen);
  }

  /** A datagram from a host peer to a forwarded port, for guest port guestPort. */
  inbound(sock: dgram.Socket, address: string, port: number, v6: boolean, remote: number | Buffer, guestPort: number, msg: Buffer): void {
    const p = v6 ? this.ctx.plan.v6 : this.ctx.plan.v4;
    if (!p) return;
    const key = inboundKey(v6, guestPort, v6 ? (remote as Buffer).toString('hex') : (remote as number), port);
    const known = this.inboundPeers.get(key);
    if (known) known.lastUse = Date.now();
    else if (this.inboundPeers.size < this.maxFlows) this.inboundPeers.set(key, { sock, address, port, lastUse: Date.now() });
    if (v6) this.emit(true, remote as Buffer, port, this.ctx.plan.v6!.addr, guestPort, msg);
    else this.emit(false, remote as number, port, this.ctx.plan.v4!.addr, guestPort, msg);
  }

  /** Sends a datagram to the guest. */
  emit(v6: boolean, src: number | Buffer, srcPort: number, dst: number | Buffer, dstPort: number, msg: Buffer): void {
    const ctx = this.ctx;
    const l4Len = UDP_HLEN + msg.length;
    if (l4Len + (v6 ? IPV6_HLEN : IPV4_HLEN) > ctx.plan.mtu) {
      ctx.counters.drop('udp_to_guest_over_mtu');
      return;
    }
    const tx = ctx.link.tx;
    if (v6) {
      const l4 = ctx.begin6(src as Buffer, dst as Buffer, IPPROTO_UDP, l4Len);
      msg.copy(tx, writeUdp(tx, l4, srcPort, dstPort, msg.length));
      ctx.finish6(IPPROTO_UDP, l4, l4Len, 6);
    } else {
      const l4 = ctx.begin4(src as number, dst as number, IPPROTO_UDP, l4Len);
      msg.copy(tx, writeUdp(tx, l4, srcPort, dstPort, msg.length));
      ctx.finish4(src as number, dst as number, IPPROTO_UDP, l4, l4Len, 6);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, p] of this.inboundPeers) if (now - p.lastUse > this.idleMs) this.inboundPeers.delete(k);
    for (const [port, head] of this.flows) {
      let keep: UdpFlow | undefined;
      for (let f: UdpFlow | undefined = head; f; ) {
        const next: UdpFlow | undefined = f.next;
        if (now - f.lastUse > this.idleMs) {
          f.close();
          this.count--;
        } else {
          f.next = keep;
          keep = f;
        }
        f = next;
      }
      if (keep) this.flows.set(port, keep);
      else this.flows.delete(port);
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const head of this.flows.values()) for (let f: UdpFlow | undefined = head; f; f = f.next) f.close();
    this.flows.clear();
    this.count = 0;
  }
}


function inboundKey(v6: boolean, guestPort: number, remote: string | number, remotePort: number): string {
  return `${v6 ? 6 : 4}:${guestPort}:${remote}:${remotePort}`;
}
