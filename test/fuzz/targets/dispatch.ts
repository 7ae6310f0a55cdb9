// The whole frame path: Dispatcher.onFrame with the services attached, a
// FakeLink that verifies every frame sent back (checksums, lengths, MAC,
// IPv4 flags), and real sockets to servers on the loopback. Properties: the
// dispatcher never throws, counts every frame, never emits a malformed
// frame or one larger than the MTU, and its buffer accounting never goes
// negative. Stateful: the engine lets the event loop run every few inputs
// and starts over from a fresh translator every few thousand.
//
// Where frames may go: run by test/fuzz/run.mjs the engine sits in a network
// namespace of its own (FUZZ_ISOLATED=1) with only a loopback, so whatever
// address a frame names, nothing leaves the machine. Anywhere else (the
// regression tests, a run without namespaces) every destination is first
// rewritten to the gateway (the host's loopback) and one of the servers'
// ports.
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { createServices } from '../../../src/flow/services.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../../../src/wire/ethernet.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IpError, newIpView, parse4, parse6, parseIpv4, parseIpv6 } from '../../../src/wire/ip.js';
import { DHCP_OPT_OFF, DhcpOptionWriter, writeDhcpHeader } from '../../../src/wire/dhcp.js';
import { duidLlt, putIaNa, putOption6, writeDhcpv6Header } from '../../../src/wire/dhcpv6.js';
import { ACK, FIN, PSH, RST, SYN } from '../../../src/wire/tcp.js';
import { type Addr } from '../../unit/helpers/csum.js';
import { Env, GUEST4, GUEST6, GW4, GW6, LL6 } from '../../unit/helpers/envcore.js';
import { BCAST_MAC, GUEST_MAC, OUR_MAC, arpFrame, describe, ethFrame, icmpFrame, ipFrame, tcpFrame, udpDatagram, udpFrame } from '../../unit/helpers/frames.js';
import type { Rng } from '../../unit/helpers/rng.js';
import { type FuzzTarget, check } from '../check.js';
import { mutateBytes } from '../mutate.js';

const isolated = (): boolean => process.env.FUZZ_ISOLATED === '1';

const DNS4 = parse4('10.0.2.3');
const DNS6 = parse6('2001:db8::3');
const MAPPED4 = parse4('10.0.2.5'); // --map-guest-addr: reaches hostAddr
const HOST4 = parse4('127.0.0.3');
const ALL_DHCP6 = parse6('ff02::1:2');
const ALL_ROUTERS6 = parse6('ff02::2');
const UNSPEC6 = Buffer.alloc(16);

// ---- host-side servers ----

class Servers {
  readonly tcpPorts: number[] = [];
  readonly udpPorts: number[] = [];
  private readonly closers: Array<() => void> = [];

  async start(): Promise<void> {
    // echo: sends back what it gets; '!' first resets the connection (ECONNRESET), '"' ends it
    const echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.on('data', (d) => {
        if (d[0] === 0x21) s.resetAndDestroy();
        else if (d[0] === 0x22) s.end();
        else if (!s.writableEnded) s.write(d);
      });
      s.on('end', () => s.end());
    });
    // source: 256 KiB on connect, then FIN
    const source = net.createServer((s) => {
      s.on('error', () => {});
      s.end(Buffer.alloc(256 << 10, 0x61));
    });
    // sink that stops reading after 64 KiB: the guest's window must close
    const sink = net.createServer((s) => {
      let n = 0;
      s.on('error', () => {});
      s.on('data', (d) => {
        n += d.length;
        if (n > 64 << 10) s.pause();
      });
    });
    for (const srv of [echo, source, sink]) {
      srv.listen(0, '127.0.0.1');
      await once(srv, 'listening');
      const port = (srv.address() as net.AddressInfo).port;
      this.tcpPorts.push(port);
      this.closers.push(() => srv.close());
      // the same service on [::1]:port
      const six = net.createServer({ allowHalfOpen: true }, srv.listeners('connection')[0] as (s: net.Socket) => void);
      six.on('error', () => {});
      six.listen(port, '::1');
      this.closers.push(() => six.close());
    }
    // a closed port
    const c = net.createServer().listen(0, '127.0.0.1');
    await once(c, 'listening');
    this.tcpPorts.push((c.address() as net.AddressInfo).port);
    c.close();
    for (const type of ['udp4', 'udp6'] as const) {
      const u = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
      u.on('error', () => {});
      u.on('message', (m, ri) => u.send(m, ri.port, ri.address));
      u.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
      await once(u, 'listening');
      this.udpPorts.push(u.address().port);
      this.closers.push(() => u.close());
    }
  }

  close(): void {
    for (const c of this.closers.splice(0)) c();
  }
}

// ---- what the translator told the guest about each TCP connection ----

interface Hint {
  v6: boolean;
  guest: Addr;
  remote: Addr;
  guestPort: number;
  remotePort: number;
  /** the sequence number the translator expects from the guest next */
  ourSeq: number;
  /** the translator's next sequence number (what the guest acknowledges) */
  theirNext: number;
}

const hints = new Map<string, Hint>();
const servers = new Servers();
let env: Env | undefined;
let envNo = 0;
let envConfig = 0;
const ipView = newIpView();

/** A fresh translator; its configuration (MTU, link offsets) cycles unless given. */
function newEnv(config?: number): Env {
  const n = config ?? envNo++ % 6;
  envConfig = n;
  const e = new Env({
    mtu: [65520, 1500, 1280][n % 3],
    ethOff: n % 2 === 0 ? 10 : 0,
    rxOff: [10, 0, 3][n % 3],
    tweak: (p) => {
      p.search = ['example.com', 'lab.example.com'];
      p.v4!.dns = [DNS4];
      p.v4!.dnsMatch = DNS4;
      p.v4!.dnsHost = parse4('127.0.0.1');
      p.v4!.mapGuestAddr = MAPPED4;
      p.v4!.hostAddr = HOST4;
      p.v6!.dns = [DNS6];
    },
  });
  e.d.hooks = createServices(e.ctx, { dhcp: true, ndp: true, dhcpv6: true, ra: true, dhcpDns: true, dhcpSearch: true });
  hints.clear();
  return e;
}

/** Takes the frames the translator sent: checks what FakeLink cannot, and notes TCP sequence numbers. */
function harvest(e: Env): void {
  const mtu = e.plan.mtu;
  for (const f of e.link.queue) {
    check(f.raw.length - 14 <= mtu, () => `frame of ${f.raw.length - 14} bytes to the guest exceeds the MTU ${mtu}: ${describe(f)}`);
    const t = f.tcp;
    if (!t) continue;
    const key = `${f.ipv}:${t.dstPort}:${t.srcPort}`;
    if (t.flags & RST) {
      hints.delete(key);
      continue;
    }
    if (hints.size > 512 && !hints.has(key)) hints.delete(hints.keys().next().value!);
    hints.set(key, {
      v6: f.ipv === 6, guest: (f.dst6 ?? f.dst4)!, remote: (f.src6 ?? f.src4)!, guestPort: t.dstPort, remotePort: t.srcPort,
      ourSeq: t.flags & ACK ? t.ack : hints.get(key)?.ourSeq ?? 0,
      theirNext: (t.seq + t.data.length + (t.flags & SYN ? 1 : 0) + (t.flags & FIN ? 1 : 0)) >>> 0,
    });
  }
  e.link.queue.length = 0;
  e.link.sent.length = 0;
  if (e.log.lines.length > 1000) e.log.lines.length = 0;
  const err = e.link.errors[0];
  check(err === undefined, () => `malformed frame sent to the guest: ${err}`);
}

function invariants(e: Env): void {
  const tcp = e.d.tcp;
  check(tcp.queuedAll >= 0 && tcp.unflushedAll >= 0, () => `TCP buffer accounting went negative: queuedAll ${tcp.queuedAll} unflushedAll ${tcp.unflushedAll}`);
  check(tcp.stats.conns >= 0 && tcp.stats.conns <= 16384, `TCP connection count ${tcp.stats.conns}`);
  check(e.d.udp.count >= 0 && e.d.udp.count <= 4096, `UDP flow count ${e.d.udp.count}`);
}

// ---- making frames ----

const SRC_PORTS = [40000, 40001, 40002, 40003, 50000, 68, 546, 1];

function dst4(r: Rng): number {
  if (!isolated()) return r.pick([GW4, MAPPED4]);
  return r.pick([GW4, GW4, GW4, MAPPED4, DNS4, GUEST4, parse4('203.0.113.9'), parse4('127.0.0.1'), 0xffffffff, parse4('224.0.0.251'), 0, r.int(2 ** 32)]);
}

function dst6(r: Rng): Buffer {
  if (!isolated()) return r.pick([GW6, ALL_DHCP6]);
  return r.pick([GW6, GW6, GW6, DNS6, GUEST6, ALL_DHCP6, ALL_ROUTERS6, parse6('2001:db8::9'), parse6('::1'), r.bytes(16)]);
}

function tcpOptions(r: Rng): Buffer {
  const parts: number[] = [];
  const n = r.int(6);
  for (let i = 0; i < n; i++) {
    const kind = r.pick([0, 1, 2, 3, 4, 5, 8, 19, 28, 30, 34, 253, r.byte()]);
    if (kind <= 1) {
      parts.push(kind);
      continue;
    }
    const len = r.next() < 0.7 ? ({ 2: 4, 3: 3, 4: 2, 8: 10 } as Record<number, number>)[kind] ?? 2 + r.int(10) : r.int(41);
    parts.push(kind, len, ...r.bytes(Math.max(0, Math.min(len - 2, 38))));
  }
  return Buffer.from(parts.slice(0, 40));
}

function payload(r: Rng): Buffer {
  const n = r.pick([0, 0, 1, 10, 100, 1400, r.int(2000), r.int(65000)]);
  return r.next() < 0.5 ? Buffer.alloc(n, r.pick([0x61, 0x21, 0x22])) : r.bytes(Math.min(n, 4096));
}

function genTcp(r: Rng, v6: boolean): Buffer {
  const src: Addr = v6 ? GUEST6 : GUEST4;
  const dst: Addr = v6 ? dst6(r) : dst4(r);
  const flags = r.next() < 0.5 ? SYN : r.pick([ACK, ACK | PSH, FIN | ACK, RST, RST | ACK, SYN | ACK, r.byte()]);
  const o = r.next();
  return tcpFrame(src, dst, {
    srcPort: r.pick(SRC_PORTS), dstPort: r.pick(servers.tcpPorts), seq: r.int(2 ** 32), ack: r.int(2 ** 32), flags,
    window: r.pick([0, 1, 0xffff, r.int(0x10000)]),
    ...(o < 0.4 ? { mss: r.pick([0, 1, 536, 1460, 65535]), wscale: r.pick([-1, 0, 7, 14, 15, 255]) } : o < 0.7 ? { options: tcpOptions(r) } : {}),
    data: flags & SYN && r.next() < 0.8 ? undefined : payload(r),
  });
}

/** A segment of a connection the translator told us about, with the right (or nearly right) numbers. */
function follow(r: Rng): Buffer | undefined {
  if (hints.size === 0) return undefined;
  const all = [...hints.values()];
  const h = r.pick(all);
  const near = (x: number): number => (r.next() < 0.8 ? x : (x + r.pick([-1, 1, -1000, 65536, 2 ** 31, r.int(2 ** 32)])) >>> 0);
  const flags = r.pick([ACK, ACK, ACK | PSH, ACK | PSH, FIN | ACK, RST, RST | ACK, SYN, ACK | URG_FLAG, r.byte()]);
  return tcpFrame(h.guest, h.remote, {
    srcPort: h.guestPort, dstPort: h.remotePort, seq: near(h.ourSeq), ack: near(h.theirNext), flags,
    window: r.pick([0xffff, 0xffff, 0, 1, r.int(0x10000)]),
    data: flags & (ACK | PSH) && r.next() < 0.6 ? payload(r) : undefined,
  });
}
const URG_FLAG = 0x20;
const KNOWN_PROTOS = [0, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, 43, 44, IPPROTO_ICMPV6, 59, 60];

function genUdp(r: Rng, v6: boolean): Buffer {
  const port = r.pick([...servers.udpPorts, ...servers.udpPorts, 53, 67, 547, 0, r.int(0x10000)]);
  const data = payload(r);
  return v6
    ? udpFrame(r.pick([GUEST6, LL6]), dst6(r), r.pick(SRC_PORTS), port, data.subarray(0, 65000))
    : udpFrame(GUEST4, dst4(r), r.pick(SRC_PORTS), port, data.subarray(0, 65000));
}

function genDhcp(r: Rng): Buffer {
  const b = Buffer.alloc(600);
  writeDhcpHeader(b, 0, { op: r.pick([1, 1, 2]), htype: 1, hlen: r.pick([6, 16, 0]), xid: r.int(2 ** 32), flags: r.pick([0, 0x8000]),
    ciaddr: r.pick([0, GUEST4, r.int(2 ** 32)]), yiaddr: 0, siaddr: 0, giaddr: r.pick([0, GW4]) }, Buffer.concat([GUEST_MAC, Buffer.alloc(10)]), 0);
  const w = new DhcpOptionWriter(b, DHCP_OPT_OFF, b.length);
  if (r.next() < 0.9) w.putU8(53, r.pick([1, 3, 4, 7, 8, r.byte()]));
  if (r.next() < 0.5) w.put(55, r.bytes(r.int(40)));
  if (r.next() < 0.3) w.put(55, Buffer.from([1, 3, 6, 15, 26, 119, 121, 51, 54, 80]));
  if (r.next() < 0.3) w.putU32(50, r.pick([GUEST4, r.int(2 ** 32)]));
  if (r.next() < 0.3) w.putU32(54, r.pick([GW4, r.int(2 ** 32)]));
  if (r.next() < 0.3) w.putU16(57, r.pick([0, 576, 1500, 65535, r.int(0x10000)]));
  if (r.next() < 0.2) w.put(80, Buffer.alloc(0));
  if (r.next() < 0.2) w.put(r.byte(), r.bytes(r.int(300)));
  const end = w.end(r.next() < 0.8 ? 300 : 0);
  return udpFrame(r.pick([0, GUEST4]), r.pick([0xffffffff, GW4]), 68, 67, b.subarray(0, end));
}

function genDhcpv6(r: Rng): Buffer {
  const b = Buffer.alloc(1200);
  let p = writeDhcpv6Header(b, 0, r.pick([1, 3, 4, 5, 6, 8, 11, r.byte()]), r.int(1 << 24));
  if (r.next() < 0.9) p = putOption6(b, p, 1, r.next() < 0.9 ? duidLlt(GUEST_MAC, 1) : r.bytes(r.int(200)));
  if (r.next() < 0.3) p = putOption6(b, p, 2, r.next() < 0.5 ? duidLlt(OUR_MAC, r.int(2 ** 32)) : r.bytes(r.int(20)));
  if (r.next() < 0.6) p = putIaNa(b, p, r.int(2 ** 32), 0, 0, r.pick([GUEST6, r.bytes(16)]), 0, 0);
  if (r.next() < 0.2) p = putOption6(b, p, 3, r.bytes(r.int(20)));
  if (r.next() < 0.2) p = putOption6(b, p, 4, r.bytes(r.int(40)));
  if (r.next() < 0.3) p = putOption6(b, p, 14);
  if (r.next() < 0.3) p = putOption6(b, p, 6, Buffer.from([0, 23, 0, 24]));
  return udpFrame(r.pick([LL6, GUEST6]), r.pick([ALL_DHCP6, ALL_DHCP6, GW6]), 546, 547, b.subarray(0, p));
}

function genNdp(r: Rng): Buffer {
  const src = r.pick([LL6, GUEST6, UNSPEC6]);
  if (r.next() < 0.5) {
    const body = Buffer.alloc(20 + (r.next() < 0.6 ? 8 : 0));
    body.set(r.pick([GW6, LL6, GUEST6, parse6('fe80::1'), parse6('ff02::1'), r.bytes(16)]), 4);
    if (body.length > 20) body.set([1, r.pick([1, 0, 2]), ...GUEST_MAC], 20);
    return icmpFrame(src, r.pick([GW6, parse6('ff02::1:ff00:2')]), 135, r.pick([0, 0, 1]), body, { ttl: r.pick([255, 255, 64]) });
  }
  const body = Buffer.alloc(4 + (r.next() < 0.6 ? 8 : r.int(24)));
  if (body.length >= 12) body.set([r.pick([1, 1, 3, 0]), r.pick([1, 0, 3, 255]), ...GUEST_MAC], 4);
  return icmpFrame(src, ALL_ROUTERS6, 133, r.pick([0, 0, 1]), body, { ttl: r.pick([255, 255, 1]) });
}

function genOther(r: Rng): Buffer {
  switch (r.int(6)) {
    case 0:
      return arpFrame(r.pick([1, 1, 2, r.int(0x10000)]), GUEST_MAC, r.pick([GUEST4, 0]), Buffer.alloc(6), r.pick([GW4, GUEST4, DNS4, 0, r.int(2 ** 32)]), BCAST_MAC, r.int(20));
    case 1: {
      const v6 = r.next() < 0.5;
      const body = Buffer.concat([Buffer.from([0, r.int(4), 0, r.int(3)]), r.bytes(r.int(100))]);
      return v6 ? icmpFrame(GUEST6, dst6(r), r.pick([128, 128, 129, 1, 136]), 0, body) : icmpFrame(GUEST4, dst4(r), r.pick([8, 8, 0, 3, 13]), 0, body);
    }
    case 2: { // fragments, IPv4 options
      const l4 = udpDatagram(GUEST4, GW4, 40000, r.pick(servers.udpPorts), r.bytes(r.int(64)));
      const f = ipFrame(GUEST4, dst4(r), IPPROTO_UDP, l4, { frag: r.pick([0x2000, 0x0001, 0x2010, 0x4000, 0x8000, 0x3fff]) });
      return f;
    }
    case 3: { // an IPv6 extension header chain in front of any payload
      const inner = r.next() < 0.5 ? genUdp(r, true) : genTcp(r, true);
      return insertExt(inner, r, 1 + r.int(4));
    }
    case 4: // anything behind any ethertype
      return ethFrame(r.pick([OUR_MAC, BCAST_MAC]), GUEST_MAC, r.pick([ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, 0x8100, 0x88cc, 0x8863, r.int(0x10000)]), r.bytes(r.int(200)));
    default:
      return ethFrame(OUR_MAC, r.bytes(6), r.int(0x10000), Buffer.alloc(0)).subarray(0, r.int(15));
  }
}

function generate(r: Rng): Buffer {
  const k = r.int(20);
  if (k < 5) return genTcp(r, r.next() < 0.4);
  if (k < 10) return follow(r) ?? genTcp(r, false);
  if (k < 12) return genUdp(r, r.next() < 0.4);
  if (k < 13) return genDhcp(r);
  if (k < 14) return genDhcpv6(r);
  if (k < 15) return genNdp(r);
  return genOther(r);
}

/** Inserts n IPv6 extension headers (hop-by-hop, routing, destination options, sometimes fragment) after the IPv6 header. */
function insertExt(f: Buffer, r: Rng, n: number): Buffer {
  if (f.length < 54 || f.readUInt16BE(12) !== ETH_P_IPV6) return f;
  let next = f[20];
  const exts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.pick([0, 43, 60, 60, r.next() < 0.2 ? 44 : 0]);
    const hl = r.int(3);
    const e = Buffer.alloc(8 * (hl + 1));
    e[0] = next;
    e[1] = r.next() < 0.9 ? hl : r.byte();
    if (kind === 43) e[2] = r.int(5); // routing type
    if (kind === 44) e.writeUInt16BE(r.int(0x10000), 2);
    next = kind;
    exts.unshift(e);
  }
  const ext = Buffer.concat(exts);
  const out = Buffer.concat([f.subarray(0, 54), ext, f.subarray(54)]);
  out[20] = next;
  out.writeUInt16BE((f.readUInt16BE(18) + ext.length) & 0xffff, 18);
  return out;
}

/** Sets the IP header's length field to what the frame holds (clamped to 0..0xffff: a frame may be shorter than an IPv6 header). */
function fixIpLen(b: Buffer, type: number, l3: number): void {
  if (type === ETH_P_IP && b.length >= l3 + 4) b.writeUInt16BE(Math.max(0, Math.min(0xffff, b.length - l3)), l3 + 2);
  if (type === ETH_P_IPV6 && b.length >= l3 + 6) b.writeUInt16BE(Math.max(0, Math.min(0xffff, b.length - l3 - 40)), l3 + 4);
}

/** Changes one header field of an existing frame. */
function tweak(f: Buffer, r: Rng): Buffer {
  const b = Buffer.from(f);
  if (b.length < 14) return b;
  const type = b.readUInt16BE(12);
  const l3 = 14;
  let l4 = -1;
  let proto = -1;
  if (type === ETH_P_IP && parseIpv4(b, l3, b.length - l3, ipView) === IpError.Ok) [l4, proto] = [ipView.l4Off, ipView.proto];
  if (type === ETH_P_IPV6 && parseIpv6(b, l3, b.length - l3, ipView) === IpError.Ok) [l4, proto] = [ipView.l4Off, ipView.proto];
  switch (r.int(12)) {
    case 0:
      if (type === ETH_P_IP && b.length > l3) b[l3] = (b[l3] & 0xf0) | r.int(16);
      return b;
    case 1:
      if (type === ETH_P_IP && b.length >= l3 + 4) b.writeUInt16BE(r.pick([0, 19, 20, b.length - l3 + 1, b.length - l3 - 1, r.int(0x10000)]) & 0xffff, l3 + 2);
      if (type === ETH_P_IPV6 && b.length >= l3 + 6) b.writeUInt16BE(r.pick([0, 8, b.length - l3 - 39, b.length - l3 - 41, r.int(0x10000)]) & 0xffff, l3 + 4);
      return b;
    case 2:
      if (type === ETH_P_IP && b.length >= l3 + 8) b.writeUInt16BE(r.pick([0x2000, 0x0001, 0x1fff, 0x8000, 0x4000]), l3 + 6);
      if (type === ETH_P_IPV6) return insertExt(b, r, 1);
      return b;
    case 3: // the protocol
      if (type === ETH_P_IP && b.length > l3 + 9) b[l3 + 9] = r.pick([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 0, r.byte()]);
      if (type === ETH_P_IPV6 && b.length > l3 + 6) b[l3 + 6] = r.pick([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, 0, 43, 44, 59, 60, r.byte()]);
      return b;
    case 4: // TCP data offset, flags
      if (proto === IPPROTO_TCP && l4 + 14 <= b.length) {
        if (r.next() < 0.5) b[l4 + 12] = r.int(16) << 4;
        else b[l4 + 13] = r.byte();
      }
      return b;
    case 5: // TCP options rewritten
      if (proto === IPPROTO_TCP && l4 + 20 <= b.length) {
        const hl = (b[l4 + 12] >> 4) * 4;
        const opts = tcpOptions(r);
        const pad = Buffer.alloc((4 - (opts.length % 4)) % 4);
        const out = Buffer.concat([b.subarray(0, l4 + 20), opts, pad, b.subarray(Math.min(b.length, l4 + Math.max(20, hl)))]);
        out[l4 + 12] = ((20 + opts.length + pad.length) / 4) << 4;
        fixIpLen(out, type, l3);
        return out;
      }
      return b;
    case 6: // UDP length
      if (proto === IPPROTO_UDP && l4 + 8 <= b.length) b.writeUInt16BE(r.pick([0, 7, 8, b.length - l4 + 1, r.int(0x10000)]) & 0xffff, l4 + 4);
      return b;
    case 7: // truncate anywhere
      return b.subarray(0, r.int(b.length + 1));
    case 8: // Ethernet padding
      return Buffer.concat([b, r.next() < 0.5 ? Buffer.alloc(r.int(64)) : r.bytes(r.int(64))]);
    case 9:
      fixIpLen(b, type, l3);
      return b;
    case 10: // hop limit / TTL (NDP wants 255)
      if (type === ETH_P_IPV6 && b.length > l3 + 7) b[l3 + 7] = r.pick([255, 1, 0, 64]);
      if (type === ETH_P_IP && b.length > l3 + 8) b[l3 + 8] = r.pick([0, 1, 64, 255]);
      return b;
    default: // grow towards the largest frames
      if (b.length < 60000 && r.next() < 0.3) {
        const g = Buffer.concat([b, Buffer.alloc(r.int(65536 + 14 - b.length), 0x61)]);
        if (r.next() < 0.8) fixIpLen(g, type, l3);
        return g;
      }
      return b;
  }
}

/** Outside a private network namespace: every destination becomes the gateway (the host's loopback) and a server's port. */
function sanitize(f: Buffer): Buffer {
  if (f.length < 14) return f;
  const type = f.readUInt16BE(12);
  const b = Buffer.from(f);
  if (type === ETH_P_IP && b.length >= 34) {
    const d = b.readUInt32BE(30);
    if (d !== GW4 && d !== MAPPED4 && d !== 0xffffffff) b.writeUInt32BE(GW4 >>> 0, 30);
  } else if (type === ETH_P_IPV6 && b.length >= 54) {
    if (b[38] !== 0xff) b.set(GW6, 38);
  } else {
    return b;
  }
  const v = type === ETH_P_IP ? parseIpv4(b, 14, b.length - 14, ipView) : parseIpv6(b, 14, b.length - 14, ipView);
  if (v !== IpError.Ok || ipView.l4Len < 4) return b;
  const port = b.readUInt16BE(ipView.l4Off + 2);
  if (ipView.proto === IPPROTO_TCP) {
    if (!servers.tcpPorts.includes(port)) b.writeUInt16BE(servers.tcpPorts[port % servers.tcpPorts.length], ipView.l4Off + 2);
  } else if (ipView.proto === IPPROTO_UDP) {
    if (port !== 67 && port !== 547 && !servers.udpPorts.includes(port)) b.writeUInt16BE(servers.udpPorts[port % servers.udpPorts.length], ipView.l4Off + 2);
  }
  return b;
}

export const dispatch: FuzzTarget = {
  name: 'dispatch',
  maxLen: 65536 + 14,
  yieldEvery: 16,
  resetEvery: 2000,
  async setup() {
    if (servers.tcpPorts.length === 0) await servers.start();
  },
  async teardown() {
    env?.close();
    env = undefined;
    servers.close();
    servers.tcpPorts.length = 0;
    servers.udpPorts.length = 0;
  },
  reset(config) {
    if (process.env.FUZZ_VERBOSE && env) process.stderr.write(`dispatch: translator ${envConfig}: TCP ${JSON.stringify(env.d.tcp.stats)}, hints ${hints.size}; ${env.ctx.counters.summary()}\n`);
    env?.close();
    env = newEnv(config);
  },
  config: () => envConfig,
  seeds() {
    const [echo, source, , closed] = servers.tcpPorts.length ? servers.tcpPorts : [7000, 7001, 7002, 7003];
    const [u4, u6] = servers.udpPorts.length ? servers.udpPorts : [7004, 7005];
    const syn = (src: Addr, dst: Addr, port: number) => tcpFrame(src, dst, { srcPort: 40000, dstPort: port, seq: 1000, flags: SYN, mss: 1460, wscale: 7 });
    const r = { next: () => 0.1, int: () => 0, byte: () => 1, bytes: (n: number) => Buffer.alloc(n, 1), pick: <T>(a: readonly T[]) => a[0] } as Rng;
    return [
      syn(GUEST4, GW4, echo), syn(GUEST6, GW6, echo), syn(GUEST4, GW4, source), syn(GUEST4, GW4, closed),
      tcpFrame(GUEST4, GW4, { srcPort: 40000, dstPort: echo, seq: 1001, ack: 1, flags: ACK | PSH, data: Buffer.from('hello') }),
      udpFrame(GUEST4, GW4, 40000, u4, Buffer.from('ping')), udpFrame(GUEST6, GW6, 40000, u6, Buffer.from('ping6')),
      icmpFrame(GUEST4, GW4, 8, 0, Buffer.from([0, 1, 0, 1, 1, 2, 3])), icmpFrame(GUEST6, GW6, 128, 0, Buffer.from([0, 1, 0, 1, 1, 2, 3])),
      arpFrame(1, GUEST_MAC, GUEST4, Buffer.alloc(6), GW4), genNdp(r), genDhcp(r), genDhcpv6(r),
      insertExt(udpFrame(GUEST6, GW6, 40000, u6, Buffer.from('ext')), r, 2),
    ];
  },
  mutate(data, r) {
    const x = r.next();
    if (x < 0.3) return generate(r);
    if (x < 0.7) return tweak(data, r);
    return tweak(mutateBytes(data, r, 65536 + 14, []), r);
  },
  run(data) {
    const e = (env ??= newEnv());
    const frame = isolated() ? data : sanitize(data);
    const c = e.ctx.counters;
    const before = c.framesIn;
    const snap = new Map(c.drops);
    e.inject(frame);
    check(c.framesIn === before + 1, 'frame not counted');
    harvest(e);
    invariants(e);
    // the signature: ethertype and protocol, and the reason if the frame was dropped
    let reason = '';
    for (const [k, n] of c.drops) if ((snap.get(k) ?? 0) !== n) reason = k;
    const et = frame.length >= 14 ? frame.readUInt16BE(12) : -1;
    const proto = (p: number): string => (KNOWN_PROTOS.includes(p) ? String(p) : 'x');
    const cls = et === ETH_P_IP ? `4.${proto(frame[23])}` : et === ETH_P_IPV6 ? `6.${proto(frame[20])}` : et === ETH_P_ARP ? 'arp' : 'other';
    return `${cls}:${reason}`;
  },
  async settle() {
    await new Promise((res) => setImmediate(res));
    await new Promise((res) => setImmediate(res));
    if (!env) return;
    harvest(env);
    invariants(env);
  },
};
