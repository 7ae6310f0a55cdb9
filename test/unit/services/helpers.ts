// Test doubles for the service responders: a GuestLink that completes
// checksums as the tap does and captures frames, a plan like the fake host's,
// guest frame builders, and an independent checksum check.
import type { GuestLink, FrameHandler } from '../../../src/io/link.js';
import { FlowContext, type Log } from '../../../src/flow/context.js';
import type { NetPlan } from '../../../src/netplan.js';
import { parseMac } from '../../../src/wire/ethernet.js';
import { parse4, parse6 } from '../../../src/wire/ip.js';

export const GUEST_MAC = parseMac('02:00:00:00:00:42');
export const OUR_MAC = parseMac('9a:55:9a:55:9a:55');
export const OUR_LL = parse6('fe80::9855:9aff:fe55:9a55');
export const GUEST_LL = parse6('fe80::42');

/** Ones'-complement sum of 16-bit words, written here independently of src/wire/checksum.ts. */
function onesSum(bytes: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i + 1 < bytes.length; i += 2) s += bytes[i] * 256 + bytes[i + 1];
  if (bytes.length % 2) s += bytes[bytes.length - 1] * 256;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

export class FakeLink implements GuestLink {
  readonly ethOff = 0;
  readonly tx = Buffer.alloc(70000);
  readonly frames: Buffer[] = [];
  txDropped = 0;

  send(len: number, csumStart: number, csumField: number): void {
    if (csumStart >= 0) {
      // the field holds the folded pseudo-header sum: complete it like the tap does
      const l4 = this.tx.subarray(csumStart, len);
      const c = ~onesSum(l4) & 0xffff;
      const v = c === 0 && csumField === 6 ? 0xffff : c;
      this.tx.writeUInt16BE(v, csumStart + csumField);
    }
    this.frames.push(Buffer.from(this.tx.subarray(0, len)));
  }

  start(_onFrame: FrameHandler): void {}
  close(): void {}

  take(): Buffer[] {
    return this.frames.splice(0);
  }
}

export const silentLog: Log = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function makePlan(over: Partial<NetPlan> = {}): NetPlan {
  return {
    mtu: 65520,
    ourMac: Buffer.from(OUR_MAC),
    nsIfname: 'eth0',
    v4: {
      addr: parse4('192.0.2.2'),
      prefix: 24,
      gateway: parse4('192.0.2.1'),
      routes: [],
      hostAddr: parse4('192.0.2.2'),
      dns: [parse4('192.0.2.1'), parse4('198.51.100.53')],
    },
    v6: {
      addr: parse6('fd00::2'),
      prefix: 64,
      gateway: parse6('fd00::1'),
      routes: [],
      hostAddr: parse6('fd00::2'),
      dns: [parse6('fd00::53'), parse6('2001:db8::53')],
    },
    search: ['example.org', 'sub.example.org'],
    ...over,
  };
}

export function makeCtx(plan: NetPlan = makePlan()): { ctx: FlowContext; link: FakeLink } {
  const link = new FakeLink();
  const ctx = new FlowContext(link, plan, silentLog);
  ctx.guestMac = Buffer.from(GUEST_MAC);
  return { ctx, link };
}

// ---- frames from the guest ----

export function eth(type: number, payload: Buffer, src: Uint8Array = GUEST_MAC, dst: Uint8Array = Buffer.alloc(6, 0xff)): Buffer {
  const h = Buffer.alloc(14);
  h.set(dst, 0);
  h.set(src, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

export function ipv4(src: number, dst: number, proto: number, l4: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h[8] = ttl;
  h[9] = proto;
  h.writeUInt32BE(src >>> 0, 12);
  h.writeUInt32BE(dst >>> 0, 16);
  h.writeUInt16BE(~onesSum(h) & 0xffff, 10);
  return Buffer.concat([h, l4]);
}

export function ipv6(src: Uint8Array, dst: Uint8Array, proto: number, l4: Buffer, hopLimit = 255): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(l4.length, 4);
  h[6] = proto;
  h[7] = hopLimit;
  h.set(src, 8);
  h.set(dst, 24);
  return Buffer.concat([h, l4]);
}

export function udp(srcPort: number, dstPort: number, data: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(srcPort, 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([u, data]);
}

/** Sets the UDP/ICMPv6 checksum of an IPv6 packet (ip = IPv6 header + l4). */
export function checksum6(ip: Buffer, field: number): Buffer {
  const l4 = ip.subarray(40);
  l4.writeUInt16BE(0, field);
  l4.writeUInt16BE(~onesSum(l4, pseudo6(ip)) & 0xffff, field);
  return ip;
}

function pseudo6(ip: Buffer): number {
  const p = Buffer.alloc(40);
  ip.copy(p, 0, 8, 40);
  p.writeUInt32BE(ip.readUInt16BE(4), 32);
  p[39] = ip[6];
  return onesSum(p);
}

// ---- checks on frames sent to the guest ----

export interface Sent4 {
  ethDst: Buffer;
  ethSrc: Buffer;
  src: number;
  dst: number;
  ttl: number;
  srcPort: number;
  dstPort: number;
  /** UDP payload */
  data: Buffer;
}

/** Parses an IPv4/UDP frame to the guest, asserting its lengths and both checksums. */
export function sent4(f: Buffer): Sent4 {
  if (f.readUInt16BE(12) !== 0x0800) throw new Error('not IPv4');
  const ip = f.subarray(14);
  if (ip[0] !== 0x45) throw new Error('bad IPv4 version/IHL');
  const total = ip.readUInt16BE(2);
  if (total !== ip.length) throw new Error(`IPv4 total length ${total} != ${ip.length}`);
  if (onesSum(ip.subarray(0, 20)) !== 0xffff) throw new Error('bad IPv4 header checksum');
  if (ip[9] !== 17) throw new Error('not UDP');
  const l4 = ip.subarray(20);
  if (l4.readUInt16BE(4) !== l4.length) throw new Error('bad UDP length');
  const ph = Buffer.alloc(12);
  ip.copy(ph, 0, 12, 20);
  ph[9] = 17;
  ph.writeUInt16BE(l4.length, 10);
  if (l4.readUInt16BE(6) === 0 || onesSum(l4, onesSum(ph)) !== 0xffff) throw new Error('bad UDP checksum');
  return {
    ethDst: f.subarray(0, 6), ethSrc: f.subarray(6, 12), src: ip.readUInt32BE(12), dst: ip.readUInt32BE(16), ttl: ip[8],
    srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2), data: l4.subarray(8),
  };
}

export interface Sent6 {
  ethDst: Buffer;
  ethSrc: Buffer;
  src: Buffer;
  dst: Buffer;
  hopLimit: number;
  proto: number;
  /** the whole upper-layer message (UDP header included for UDP) */
  l4: Buffer;
}

/** Parses an IPv6 frame to the guest, asserting its payload length and transport checksum. */
export function sent6(f: Buffer): Sent6 {
  if (f.readUInt16BE(12) !== 0x86dd) throw new Error('not IPv6');
  const ip = f.subarray(14);
  if (ip[0] >> 4 !== 6) throw new Error('bad IPv6 version');
  if (ip.readUInt16BE(4) !== ip.length - 40) throw new Error('bad IPv6 payload length');
  const l4 = ip.subarray(40);
  if (ip[6] === 17 && l4.readUInt16BE(4) !== l4.length) throw new Error('bad UDP length');
  if (onesSum(l4, pseudo6(ip)) !== 0xffff) throw new Error('bad transport checksum');
  return {
    ethDst: f.subarray(0, 6), ethSrc: f.subarray(6, 12), src: ip.subarray(8, 24), dst: ip.subarray(24, 40), hopLimit: ip[7],
    proto: ip[6], l4,
  };
}
