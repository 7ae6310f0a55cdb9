// Frames as a guest would send them (built with the src/wire writers, checksums
// from the naive implementation in csum.ts) and an independent parser for the
// frames the translator sends back (it reads the bytes itself, so a bug in
// the src/wire parsers cannot hide a bug in what was sent).
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, writeEth } from '../../../src/wire/ethernet.js';
import { writeArp } from '../../../src/wire/arp.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN, IPV6_HLEN, format4, format6, writeIpv4, writeIpv6 } from '../../../src/wire/ip.js';
import { TCP_HLEN, writeTcp } from '../../../src/wire/tcp.js';
import { UDP_HLEN, writeUdp } from '../../../src/wire/udp.js';
import { type Addr, inetChecksum, l4Checksum, l4Verifies, verifies } from './csum.js';

export const GUEST_MAC = Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const BCAST_MAC = Buffer.alloc(6, 0xff);
/** pasta's MAC address (src/netplan.ts OUR_MAC), as the plans in env.ts use. */
export const OUR_MAC = Buffer.from([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]);

export function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(ETH_HLEN + payload.length);
  writeEth(b, 0, dst, src, type);
  b.set(payload, ETH_HLEN);
  return b;
}

export interface IpOpts {
  ttl?: number;
  /** IPv4 only: raw value of the flags/fragment-offset field (default DF) */
  frag?: number;
  /** bytes appended after the IP packet (Ethernet padding) */
  pad?: number;
}

/** An IP packet (v4 when the addresses are numbers) carrying l4, with a valid IPv4 header checksum. */
export function ipPacket(src: Addr, dst: Addr, proto: number, l4: Uint8Array, o: IpOpts = {}): Buffer {
  if (typeof src === 'number' && typeof dst === 'number') {
    const b = Buffer.alloc(IPV4_HLEN + l4.length + (o.pad ?? 0));
    writeIpv4(b, 0, src, dst, proto, l4.length, o.ttl ?? 64);
    if (o.frag !== undefined) {
      b.writeUInt16BE(o.frag, 6);
      b.writeUInt16BE(0, 10);
      b.writeUInt16BE(inetChecksum(b.subarray(0, IPV4_HLEN)), 10);
    }
    b.set(l4, IPV4_HLEN);
    return b;
  }
  if (typeof src === 'number' || typeof dst === 'number') throw new Error('mixed families');
  const b = Buffer.alloc(IPV6_HLEN + l4.length + (o.pad ?? 0));
  writeIpv6(b, 0, src, dst, proto, l4.length, o.ttl ?? 64);
  b.set(l4, IPV6_HLEN);
  return b;
}

export function ipFrame(src: Addr, dst: Addr, proto: number, l4: Uint8Array, o: IpOpts = {}, mac: Uint8Array = GUEST_MAC, dstMac: Uint8Array = OUR_MAC): Buffer {
  return ethFrame(dstMac, mac, typeof src === 'number' ? ETH_P_IP : ETH_P_IPV6, ipPacket(src, dst, proto, l4, o));
}

export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;
  wscale?: number;
  /** raw option bytes (padded to 4 with zeros), instead of mss/wscale */
  options?: Uint8Array;
  data?: Uint8Array;
}

/** A TCP segment with a correct checksum for the given addresses. */
export function tcpSegment(src: Addr, dst: Addr, s: TcpSpec): Buffer {
  const data = s.data ?? Buffer.alloc(0);
  let optLen: number;
  if (s.options) optLen = (s.options.length + 3) & ~3;
  else optLen = (s.mss ? 4 : 0) + (s.wscale !== undefined && s.wscale >= 0 ? 4 : 0);
  const b = Buffer.alloc(TCP_HLEN + optLen + data.length);
  if (s.options) {
    writeTcp(b, 0, s.srcPort, s.dstPort, s.seq, s.ack ?? 0, s.flags, s.window ?? 0xffff);
    b[12] = ((TCP_HLEN + optLen) / 4) << 4;
    b.set(s.options, TCP_HLEN);
  } else {
    const p = writeTcp(b, 0, s.srcPort, s.dstPort, s.seq, s.ack ?? 0, s.flags, s.window ?? 0xffff, s.mss ?? 0, s.wscale ?? -1);
    if (p !== TCP_HLEN + optLen) throw new Error('writeTcp: unexpected header length');
  }
  b.set(data, TCP_HLEN + optLen);
  b.writeUInt16BE(l4Checksum(src, dst, IPPROTO_TCP, b), 16);
  return b;
}

export function tcpFrame(src: Addr, dst: Addr, s: TcpSpec, o: IpOpts = {}): Buffer {
  return ipFrame(src, dst, IPPROTO_TCP, tcpSegment(src, dst, s), o);
}

export function udpDatagram(src: Addr, dst: Addr, srcPort: number, dstPort: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(UDP_HLEN + data.length);
  writeUdp(b, 0, srcPort, dstPort, data.length);
  b.set(data, UDP_HLEN);
  const c = l4Checksum(src, dst, IPPROTO_UDP, b);
  b.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return b;
}

export function udpFrame(src: Addr, dst: Addr, srcPort: number, dstPort: number, data: Uint8Array, o: IpOpts = {}): Buffer {
  return ipFrame(src, dst, IPPROTO_UDP, udpDatagram(src, dst, srcPort, dstPort, data), o);
}

/** ICMP (v4 when addresses are numbers) or ICMPv6 message with a correct checksum. */
export function icmpMessage(src: Addr, dst: Addr, type: number, code: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b[0] = type;
  b[1] = code;
  b.set(body, 4);
  const c = typeof src === 'number' ? inetChecksum(b) : l4Checksum(src, dst, IPPROTO_ICMPV6, b);
  b.writeUInt16BE(c, 2);
  return b;
}

export function icmpFrame(src: Addr, dst: Addr, type: number, code: number, body: Uint8Array, o: IpOpts = {}): Buffer {
  return ipFrame(src, dst, typeof src === 'number' ? IPPROTO_ICMP : IPPROTO_ICMPV6, icmpMessage(src, dst, type, code, body), o);
}

export function arpFrame(op: number, senderMac: Uint8Array, senderIp: number, targetMac: Uint8Array, targetIp: number,
  ethDst: Uint8Array = BCAST_MAC, pad = 0): Buffer {
  const p = Buffer.alloc(28 + pad);
  writeArp(p, 0, op, senderMac, senderIp, targetMac, targetIp);
  return ethFrame(ethDst, senderMac, ETH_P_ARP, p);
}

// ---- parsing what the translator sent ----

export interface TcpInfo {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  hlen: number;
  /** option bytes between the fixed header and the data */
  options: Buffer;
  mss?: number;
  wscale?: number;
  data: Buffer;
  csum: number;
  csumOk: boolean;
}

export interface UdpInfo {
  srcPort: number;
  dstPort: number;
  len: number;
  data: Buffer;
  csum: number;
  csumOk: boolean;
}

export interface IcmpInfo {
  type: number;
  code: number;
  csum: number;
  csumOk: boolean;
  /** bytes after type, code and checksum */
  body: Buffer;
}

export interface ArpInfo {
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  op: number;
  senderMac: Buffer;
  senderIp: number;
  targetMac: Buffer;
  targetIp: number;
}

export interface Frame {
  raw: Buffer;
  dstMac: Buffer;
  srcMac: Buffer;
  type: number;
  arp?: ArpInfo;
  /** 4 or 6 for IP frames */
  ipv?: 4 | 6;
  src4?: number;
  dst4?: number;
  src6?: Buffer;
  dst6?: Buffer;
  /** printable source and destination addresses */
  src?: string;
  dst?: string;
  proto?: number;
  ttl?: number;
  ipId?: number;
  ipFrag?: number;
  ipHdrOk?: boolean;
  /** IP total length (v4) or payload length + 40 (v6) equals the bytes after the Ethernet header */
  ipLenOk?: boolean;
  l4?: Buffer;
  tcp?: TcpInfo;
  udp?: UdpInfo;
  icmp?: IcmpInfo;
}

function parseTcpInfo(l4: Buffer, src: Addr, dst: Addr): TcpInfo | undefined {
  if (l4.length < 20) return undefined;
  const hlen = (l4[12] >> 4) * 4;
  if (hlen < 20 || hlen > l4.length) return undefined;
  const t: TcpInfo = {
    srcPort: l4.readUInt16BE(0),
    dstPort: l4.readUInt16BE(2),
    seq: l4.readUInt32BE(4),
    ack: l4.readUInt32BE(8),
    flags: l4[13],
    window: l4.readUInt16BE(14),
    hlen,
    options: Buffer.from(l4.subarray(20, hlen)),
    data: Buffer.from(l4.subarray(hlen)),
    csum: l4.readUInt16BE(16),
    csumOk: l4Verifies(src, dst, IPPROTO_TCP, l4),
  };
  for (let p = 20; p < hlen; ) {
    const kind = l4[p];
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    const len = l4[p + 1];
    if (len < 2 || p + len > hlen) throw new Error(`translator sent malformed TCP options: ${t.options.toString('hex')}`);
    if (kind === 2 && len === 4) t.mss = l4.readUInt16BE(p + 2);
    if (kind === 3 && len === 3) t.wscale = l4[p + 2];
    p += len;
  }
  return t;
}

/** Parses a frame sent towards the guest. Throws on anything a correct translator never sends. */
export function parseFrame(raw: Buffer): Frame {
  if (raw.length < 14) throw new Error(`short frame (${raw.length})`);
  const f: Frame = {
    raw,
    dstMac: Buffer.from(raw.subarray(0, 6)),
    srcMac: Buffer.from(raw.subarray(6, 12)),
    type: raw.readUInt16BE(12),
  };
  const l3 = raw.subarray(14);
  if (f.type === ETH_P_ARP) {
    if (l3.length < 28) throw new Error('short ARP');
    f.arp = {
      htype: l3.readUInt16BE(0),
      ptype: l3.readUInt16BE(2),
      hlen: l3[4],
      plen: l3[5],
      op: l3.readUInt16BE(6),
      senderMac: Buffer.from(l3.subarray(8, 14)),
      senderIp: l3.readUInt32BE(14),
      targetMac: Buffer.from(l3.subarray(18, 24)),
      targetIp: l3.readUInt32BE(24),
    };
    return f;
  }
  let src: Addr;
  let dst: Addr;
  if (f.type === ETH_P_IP) {
    if (l3.length < 20 || l3[0] !== 0x45) throw new Error(`bad IPv4 header ${l3.subarray(0, 20).toString('hex')}`);
    f.ipv = 4;
    f.src4 = src = l3.readUInt32BE(12);
    f.dst4 = dst = l3.readUInt32BE(16);
    f.src = format4(src);
    f.dst = format4(dst);
    f.proto = l3[9];
    f.ttl = l3[8];
    f.ipId = l3.readUInt16BE(4);
    f.ipFrag = l3.readUInt16BE(6);
    f.ipHdrOk = verifies(l3.subarray(0, 20));
    f.ipLenOk = l3.readUInt16BE(2) === l3.length;
    f.l4 = Buffer.from(l3.subarray(20));
  } else if (f.type === ETH_P_IPV6) {
    if (l3.length < 40 || l3[0] >> 4 !== 6) throw new Error('bad IPv6 header');
    f.ipv = 6;
    f.src6 = src = Buffer.from(l3.subarray(8, 24));
    f.dst6 = dst = Buffer.from(l3.subarray(24, 40));
    f.src = format6(src);
    f.dst = format6(dst);
    f.proto = l3[6];
    f.ttl = l3[7];
    f.ipHdrOk = true;
    f.ipLenOk = l3.readUInt16BE(4) + 40 === l3.length;
    f.l4 = Buffer.from(l3.subarray(40));
  } else {
    throw new Error(`unexpected ethertype 0x${f.type.toString(16)}`);
  }
  const l4 = f.l4;
  if (f.proto === IPPROTO_TCP) {
    f.tcp = parseTcpInfo(l4, src, dst);
    if (!f.tcp) throw new Error('bad TCP header');
  } else if (f.proto === IPPROTO_UDP) {
    if (l4.length < 8) throw new Error('short UDP');
    f.udp = {
      srcPort: l4.readUInt16BE(0),
      dstPort: l4.readUInt16BE(2),
      len: l4.readUInt16BE(4),
      data: Buffer.from(l4.subarray(8)),
      csum: l4.readUInt16BE(6),
      csumOk: l4.readUInt16BE(6) !== 0 && l4Verifies(src, dst, IPPROTO_UDP, l4),
    };
  } else if (f.proto === IPPROTO_ICMP || f.proto === IPPROTO_ICMPV6) {
    if (l4.length < 4) throw new Error('short ICMP');
    f.icmp = {
      type: l4[0],
      code: l4[1],
      csum: l4.readUInt16BE(2),
      csumOk: f.proto === IPPROTO_ICMP ? verifies(l4) : l4Verifies(src, dst, IPPROTO_ICMPV6, l4),
      body: Buffer.from(l4.subarray(4)),
    };
  }
  return f;
}

/** "SA", "A", "FA", "RA"... for messages. */
export function flagStr(flags: number): string {
  const names: Array<[number, string]> = [[2, 'S'], [1, 'F'], [4, 'R'], [8, 'P'], [16, 'A'], [32, 'U']];
  return names.filter(([b]) => flags & b).map(([, n]) => n).join('') || '.';
}

export function describe(f: Frame): string {
  if (f.arp) return `ARP op ${f.arp.op} ${format4(f.arp.senderIp)} -> ${format4(f.arp.targetIp)}`;
  const t = f.tcp;
  if (t) return `TCP ${f.src}:${t.srcPort} > ${f.dst}:${t.dstPort} [${flagStr(t.flags)}] seq ${t.seq} ack ${t.ack} win ${t.window} len ${t.data.length}`;
  if (f.udp) return `UDP ${f.src}:${f.udp.srcPort} > ${f.dst}:${f.udp.dstPort} len ${f.udp.data.length}`;
  if (f.icmp) return `ICMP ${f.src} > ${f.dst} type ${f.icmp.type}`;
  return `ethertype ${f.type} proto ${f.proto}`;
}
