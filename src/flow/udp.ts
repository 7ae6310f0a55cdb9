// UDP translation: one host socket per guest source (address, port), so that
// replies from any peer find their way back, with an idle timeout (pasta's
// default is 180 s; the sweeper closes a flow within one sweep after that).
import dgram from 'node:dgram';
import type { FlowContext } from './context.js';
import { IPPROTO_UDP, IPV4_HLEN, IPV6_HLEN, equal6, format4, format6, parse4, parse6 } from '../wire/ip.js';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../wire/udp.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { type FastIo, POLL_RECV4, POLL_RECV6, errnoName, fastIo } from '../io/fastio.js';

export const UDP_IDLE_MS = 180_000;

/**
 * A flow's host socket: the fastio addon's (sendto() straight from the
 * guest's frame, replies received straight into the link's transmit buffer),
 * or Node's dgram where the addon is missing.
 */
interface HostUdp {
  /** the fastio socket's descriptor (its datagrams can be sent in batches); -1 for dgram */
  readonly fd: number;
  /** sends buf[off, off+len); false if the socket could not take it */
  send4(buf: Buffer, off: number, len: number, dst: number, port: number): boolean;
  send6(buf: Buffer, off: number, len: number, dst: Buffer, port: number): boolean;
  close(): void;
}

class UdpFlow {
  readonly sock: HostUdp;
  /**
   * When the sweeper last found the flow in use, and whether it was used
   * since: Date.now() on every datagram (a runtime call and a heap number
   * each) was a tenth of the request/response path's own time.
   */
  lastUse = Date.now();
  used = false;
  /** a batch sent with UDP_SEGMENT failed (no checksum offload on the way out, a datagram over the MTU): no more batches */
  noBatch = false;
  next: UdpFlow | undefined;
  /** the guest's last IPv6 destination and where it goes on the host */
  private readonly lastGuestDst6 = Buffer.alloc(16);
  private lastHostDst6: Buffer | undefined;
  private lastPort6 = -1;
  /** the source address of the last reply (dgram: as Node gave it, parsed) */
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
    sock: HostUdp | undefined,
  ) {
    this.sock = sock ?? this.dgramSocket();
  }

  private dgramSocket(): HostUdp {
    const sock = dgram.createSocket({ type: this.v6 ? 'udp6' : 'udp4', ipv6Only: this.v6, recvBufferSize: 1 << 21, sendBufferSize: 1 << 21 });
    sock.on('message', (msg, rinfo) => this.onDgram(msg, rinfo));
    sock.on('error', (e) => this.t.ctx.log.debug(`UDP socket for guest port ${this.guestPort}: ${e.message}`));
    sock.bind(0);
    let dst = -1;
    let dstStr = '';
    return {
      fd: -1,
      send4: (buf, off, len, d, port) => {
        if (d !== dst) dstStr = format4((dst = d));
        sock.send(Buffer.from(buf.subarray(off, off + len)), port, dstStr);
        return true;
      },
      send6: (buf, off, len, d, port) => {
        sock.send(Buffer.from(buf.subarray(off, off + len)), port, format6(d));
        return true;
      },
      close: () => sock.close(),
    };
  }

  send4(buf: Buffer, dst: number, port: number, off: number, len: number): void {
    const ctx = this.t.ctx;
    const hostDst = ctx.hostDst4(dst, port);
    if (ctx.guestSrc4(hostDst, port) !== dst) this.remember(hostDst * 0x10000 + port, dst);
    this.used = true;
    if (this.sock.fd >= 0 && !this.noBatch) this.t.batch.add(this, false, hostDst, port, buf, off, len);
    else if (!this.sock.send4(buf, off, len, hostDst, port)) ctx.counters.drop('udp_host_send');
  }

  send6(buf: Buffer, dstOff: number, port: number, off: number, len: number): void {
    const ctx = this.t.ctx;
    let hostDst = this.lastHostDst6;
    if (!hostDst || port !== this.lastPort6 || !equal6(buf, dstOff, this.lastGuestDst6, 0)) {
      hostDst = this.lastHostDst6 = ctx.hostDst6(buf, dstOff, port);
      this.lastPort6 = port;
      buf.copy(this.lastGuestDst6, 0, dstOff, dstOff + 16);
      if (!equal6(ctx.guestSrc6(hostDst, port), 0, buf, dstOff)) {
        this.remember(`${hostDst.toString('hex')}:${port}`, Buffer.from(buf.subarray(dstOff, dstOff + 16)));
      }
    }
    this.used = true;
    if (this.sock.fd >= 0 && !this.noBatch) this.t.batch.add(this, true, hostDst, port, buf, off, len);
    else if (!this.sock.send6(buf, off, len, hostDst, port)) ctx.counters.drop('udp_host_send');
  }

  private remember(key: number | string, guestDst: number | Buffer): void {
    if (this.peers.size >= 256 && !this.peers.has(key)) this.peers.clear();
    this.peers.set(key, guestDst);
  }

  /** A reply through dgram: parse its source (mostly the last one's) and pass it on. */
  private onDgram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const addr = rinfo.address;
    if (addr !== this.lastSrcStr) {
      this.lastSrcStr = addr;
      if (this.v6) this.lastSrc6 = parse6(addr);
      else this.lastSrc4 = parse4(addr);
    }
    if (this.v6) this.onReply6(this.lastSrc6!, rinfo.port, msg, msg.length);
    else this.onReply4(this.lastSrc4, rinfo.port, msg, msg.length);
  }

  /** A reply of len bytes, in msg, or (msg null) already in place in the link's transmit buffer. */
  onReply4(src: number, port: number, msg: Buffer | null, len: number): void {
    const ctx = this.t.ctx;
    this.used = true;
    const known = this.peers.size > 0 ? (this.peers.get(src * 0x10000 + port) as number | undefined) : undefined;
    this.t.emit(false, known ?? ctx.guestSrc4(src, port), port, this.guest4, this.guestPort, msg, len);
  }

  onReply6(src: Buffer, port: number, msg: Buffer | null, len: number): void {
    const ctx = this.t.ctx;
    this.used = true;
    const known = this.peers.size > 0 ? (this.peers.get(`${src.toString('hex')}:${port}`) as Buffer | undefined) : undefined;
    this.t.emit(true, known ?? ctx.guestSrc6(src, port), port, this.guest6!, this.guestPort, msg, len);
  }

  matches(v6: boolean, buf: Buffer, srcOff: number, src4: number): boolean {
    return v6 === this.v6 && (v6 ? equal6(buf, srcOff, this.guest6!, 0) : src4 === this.guest4);
  }

  close(): void {
    this.sock.close();
  }
}

/**
 * A host socket of the fastio addon for flow f, or null when none can be
 * opened (EMFILE...). Replies are received into the link's transmit buffer
 * where their payload goes in the frame to the guest, so that nothing is
 * copied.
 */
function nativeSocket(io: FastIo, t: UdpTranslator, f: () => UdpFlow, v6: boolean): HostUdp | null {
  const fd = io.udpSocket(v6, 1 << 21, 1 << 21);
  if (fd < 0) {
    t.ctx.log.debug(`UDP socket for a guest flow: ${errnoName(-fd)}`);
    return null;
  }
  const ctx = t.ctx;
  const tx = ctx.link.tx;
  const payload = ctx.link.ethOff + ETH_HLEN + (v6 ? IPV6_HLEN : IPV4_HLEN) + UDP_HLEN;
  const cap = Math.max(0, Math.min(tx.length - payload, ctx.plan.mtu - (v6 ? IPV6_HLEN : IPV4_HLEN) - UDP_HLEN));
  const src = Buffer.alloc(16);
  const poll = io.poll(fd, v6 ? POLL_RECV6 : POLL_RECV4, tx, payload, Math.max(1, cap), src, (n, port) => {
    if (n < 0 || port < 0) return; // an ICMP error for an earlier datagram, or not our family
    if (n > cap) ctx.counters.drop('udp_to_guest_over_mtu');
    else if (v6) f().onReply6(src, port, null, n);
    else f().onReply4(src.readUInt32BE(0), port, null, n);
  });
  let closed = false;
  return {
    fd,
    send4: (buf, off, len, dst, port) => io.sendTo4(fd, buf, off, len, dst, port) >= 0,
    send6: (buf, off, len, dst, port) => io.sendTo6(fd, buf, off, len, dst, 0, port) >= 0,
    close: () => {
      if (closed) return;
      closed = true;
      io.stop(poll);
      io.close(fd);
    },
  };
}

/** Datagrams per batch: the kernel's UDP_MAX_SEGMENTS (64 in older kernels, more in newer ones). */
const BATCH_MAX = 64;
/** Bytes per batch: the UDP and IP length fields must hold it with its headers. */
const BATCH_BYTES = 65_000;

/**
 * The guest's datagrams of one flow to one destination, of one size, that
 * came in one burst of frames, sent to the host by one sendmsg() with
 * UDP_SEGMENT: the kernel then routes and builds one packet for all of
 * them and cuts it up at the device, where a sendto() each walks the whole
 * stack per datagram (most of the helper's time under a UDP upload). The
 * first datagram of a run goes at once, straight from the frame (a lone
 * request costs no copy); those after it are copied and wait for the end of
 * the burst (a microtask: it runs once the callback of the guest link's read
 * returns), a datagram of another flow, destination or size, or a full
 * batch. Order is kept.
 */
export class UdpBatch {
  private readonly buf = Buffer.allocUnsafe(BATCH_BYTES);
  /** the run under way in this burst: its flow, destination and datagram size */
  private flow: UdpFlow | undefined;
  private v6 = false;
  private dst4 = 0;
  private dst6: Buffer | undefined;
  private port = 0;
  private seg = 0;
  /** datagrams waiting in buf, and their bytes */
  private count = 0;
  private fill = 0;
  private scheduled = false;
  /** batches of more than one datagram sent, and the datagrams in them */
  batches = 0;
  batched = 0;
  private readonly endOfBurst = (): void => {
    this.scheduled = false;
    this.flush();
    this.end();
  };

  constructor(private readonly io: FastIo, private readonly ctx: FlowContext) {}

  /** dst: an IPv4 address, or the flow's cached 16-byte IPv6 host destination (compared by identity). */
  add(f: UdpFlow, v6: boolean, dst: number | Buffer, port: number, buf: Buffer, off: number, len: number): void {
    // (empty datagrams are never batched: a batch of them would be one)
    const same = f === this.flow && port === this.port && (v6 ? dst === this.dst6 : dst === this.dst4) && len <= this.seg && len > 0;
    if (!same || this.count === BATCH_MAX || this.fill + len > BATCH_BYTES) {
      this.flush();
      this.flow = f;
      this.v6 = v6;
      if (v6) this.dst6 = dst as Buffer;
      else this.dst4 = dst as number;
      this.port = port;
      this.seg = len;
      this.send(buf, off, len, 0);
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(this.endOfBurst);
      }
      return;
    }
    buf.copy(this.buf, this.fill, off, off + len);
    this.fill += len;
    this.count++;
    if (len < this.seg) {
      // only the last datagram of a batch may be shorter
      this.flush();
      this.end();
    }
  }

  /** Sends what waits: one datagram, or a batch. */
  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const fill = this.fill;
    this.fill = 0;
    if (n === 1) {
      this.send(this.buf, 0, fill, 0);
      return;
    }
    const r = this.send(this.buf, 0, fill, this.seg);
    if (r >= 0) {
      this.batches++;
      this.batched += n;
      return;
    }
    // UDP_SEGMENT refused (no checksum offload on the way out, a segment
    // over the route's MTU...): this flow sends one by one from now on
    const f = this.flow!;
    f.noBatch = true;
    this.ctx.log.debug(`UDP guest port ${f.guestPort}: batched send failed (${errnoName(-r)}), sending datagrams one by one`);
    for (let at = 0; at < fill; at += this.seg) this.send(this.buf, at, Math.min(this.seg, fill - at), 0);
    this.end();
  }

  /** One sendto(), or with seg a batch of datagrams of seg bytes; a failed single datagram is counted. */
  private send(buf: Buffer, off: number, len: number, seg: number): number {
    const fd = this.flow!.sock.fd;
    const r = this.v6
      ? this.io.sendTo6(fd, buf, off, len, this.dst6!, 0, this.port, seg)
      : this.io.sendTo4(fd, buf, off, len, this.dst4, this.port, seg);
    if (r < 0 && seg === 0) this.ctx.counters.drop('udp_host_send');
    return r;
  }

  /** No run under way: the next datagram starts one. */
  private end(): void {
    this.flow = undefined;
    this.dst6 = undefined;
    this.seg = -1;
  }

  /** Forgets what is waiting (the flows are being closed). */
  drop(): void {
    this.count = 0;
    this.fill = 0;
    this.end();
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
  /** the guest's datagrams on their way to fastio sockets */
  readonly batch: UdpBatch;

  constructor(
    readonly ctx: FlowContext,
    private readonly idleMs = UDP_IDLE_MS,
    private readonly maxFlows = 4096,
    private readonly io: FastIo | null = fastIo(),
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, idleMs / 2));
    this.sweeper.unref();
    // (with no addon there are no fastio sockets, and nothing is ever added)
    this.batch = new UdpBatch(io as FastIo, ctx);
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
      let sock: HostUdp | undefined;
      if (this.io) {
        const made = nativeSocket(this.io, this, () => flow!, v6);
        if (!made) {
          this.ctx.counters.drop('udp_host_socket');
          return;
        }
        sock = made;
      }
      const flow: UdpFlow = new UdpFlow(this, v6, src4, v6 ? Buffer.from(buf.subarray(srcOff, srcOff + 16)) : undefined, u.srcPort, sock);
      f = flow;
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
    if (v6) this.emit(true, remote as Buffer, port, this.ctx.plan.v6!.addr, guestPort, msg, msg.length);
    else this.emit(false, remote as number, port, this.ctx.plan.v4!.addr, guestPort, msg, msg.length);
  }

  /**
   * Sends a datagram of len bytes to the guest: msg, or (msg null) the
   * payload already in the link's transmit buffer where the frame needs it.
   */
  emit(v6: boolean, src: number | Buffer, srcPort: number, dst: number | Buffer, dstPort: number, msg: Buffer | null, len: number): void {
    const ctx = this.ctx;
    const l4Len = UDP_HLEN + len;
    if (l4Len + (v6 ? IPV6_HLEN : IPV4_HLEN) > ctx.plan.mtu) {
      ctx.counters.drop('udp_to_guest_over_mtu');
      return;
    }
    const tx = ctx.link.tx;
    if (v6) {
      const l4 = ctx.begin6(src as Buffer, dst as Buffer, IPPROTO_UDP, l4Len);
      const at = writeUdp(tx, l4, srcPort, dstPort, len);
      if (msg) msg.copy(tx, at, 0, len);
      ctx.finish6(IPPROTO_UDP, l4, l4Len, 6);
    } else {
      const l4 = ctx.begin4(src as number, dst as number, IPPROTO_UDP, l4Len);
      const at = writeUdp(tx, l4, srcPort, dstPort, len);
      if (msg) msg.copy(tx, at, 0, len);
      ctx.finish4(src as number, dst as number, IPPROTO_UDP, l4, l4Len, 6);
    }
  }

  private sweep(): void {
    this.batch.flush(); // (it is empty outside a burst of guest frames)
    const now = Date.now();
    for (const [k, p] of this.inboundPeers) if (now - p.lastUse > this.idleMs) this.inboundPeers.delete(k);
    for (const [port, head] of this.flows) {
      let keep: UdpFlow | undefined;
      for (let f: UdpFlow | undefined = head; f; ) {
        const next: UdpFlow | undefined = f.next;
        if (f.used) {
          f.used = false;
          f.lastUse = now;
        }
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
    this.batch.drop();
    for (const head of this.flows.values()) for (let f: UdpFlow | undefined = head; f; f = f.next) f.close();
    this.flows.clear();
    this.count = 0;
  }
}


function inboundKey(v6: boolean, guestPort: number, remote: string | number, remotePort: number): string {
  return `${v6 ? 6 : 4}:${guestPort}:${remote}:${remotePort}`;
}
