// IPv4 (RFC 791) and IPv6 (RFC 8200) headers, and address conversions.
import { put32 } from './bytes.js';
import { sum16, finish } from './checksum.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPV4_HLEN = 20;
export const IPV6_HLEN = 40;

/** A reusable parse result for either family; parse functions fill it in place. */
export interface IpView {
  version: 4 | 6;
  hdrOff: number;
  proto: number;
  /** offset and length of the upper-layer payload */
  l4Off: number;
  l4Len: number;
  ttl: number;
  /** IPv4 addresses as uint32 */
  src4: number;
  dst4: number;
  /** offsets of the 16-byte IPv6 addresses in the frame */
  src6Off: number;
  dst6Off: number;
}

export function newIpView(): IpView {
  return { version: 4, hdrOff: 0, proto: 0, l4Off: 0, l4Len: 0, ttl: 0, src4: 0, dst4: 0, src6Off: 0, dst6Off: 0 };
}

export const enum IpError {
  Ok = 0,
  Truncated = 1,
  BadHeader = 2,
  Fragment = 3,
}

/** Parses an IPv4 header at off (len bytes available). Fragments are reported, not parsed. */
export function parseIpv4(buf: Buffer, off: number, len: number, v: IpView): IpError {
  if (len < IPV4_HLEN) return IpError.Truncated;
  const vihl = buf[off];
  if (vihl >> 4 !== 4) return IpError.BadHeader;
  const ihl = (vihl & 0xf) * 4;
  const total = (buf[off + 2] << 8) | buf[off + 3];
  if (ihl < IPV4_HLEN || total < ihl) return IpError.BadHeader;
  if (total > len) return IpError.Truncated;
  const frag = (buf[off + 6] << 8) | buf[off + 7];
  if ((frag & 0x3fff) !== 0) return IpError.Fragment; // MF set or offset != 0
  v.version = 4;
  v.hdrOff = off;
  v.ttl = buf[off + 8];
  v.proto = buf[off + 9];
  v.src4 = buf.readUInt32BE(off + 12);
  v.dst4 = buf.readUInt32BE(off + 16);
  v.l4Off = off + ihl;
  v.l4Len = total - ihl;
  return IpError.Ok;
}

const EXT_HOPOPTS = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DSTOPTS = 60;

/** Parses an IPv6 header and walks its extension headers to the upper layer. */
export function parseIpv6(buf: Buffer, off: number, len: number, v: IpView): IpError {
  if (len < IPV6_HLEN) return IpError.Truncated;
  if (buf[off] >> 4 !== 6) return IpError.BadHeader;
  const plen = (buf[off + 4] << 8) | buf[off + 5];
  if (IPV6_HLEN + plen > len) return IpError.Truncated;
  let next = buf[off + 6];
  let p = off + IPV6_HLEN;
  const end = p + plen;
  // Bounded walk: each extension header is at least 8 bytes long.
  while (next === EXT_HOPOPTS || next === EXT_ROUTING || next === EXT_DSTOPTS || next === EXT_FRAGMENT) {
    if (p + 8 > end) return IpError.Truncated;
    if (next === EXT_FRAGMENT) return IpError.Fragment;
    const hl = (buf[p + 1] + 1) * 8;
    next = buf[p];
    p += hl;
    if (p > end) return IpError.Truncated;
  }
  v.version = 6;
  v.hdrOff = off;
  v.ttl = buf[off + 7];
  v.proto = next;
  v.src6Off = off + 8;
  v.dst6Off = off + 24;
  v.l4Off = p;
  v.l4Len = end - p;
  return IpError.Ok;
}

let ipv4Id = 0;

/** Writes an IPv4 header (no options, DF set) with its checksum; returns the payload offset. */
export function writeIpv4(buf: Buffer, off: number, src: number, dst: number, proto: number, payloadLen: number, ttl = 64): number {
  const total = IPV4_HLEN + payloadLen;
  buf[off] = 0x45;
  buf[off + 1] = 0;
  buf[off + 2] = total >>> 8;
  buf[off + 3] = total & 0xff;
  ipv4Id = (ipv4Id + 1) & 0xffff;
  buf[off + 4] = ipv4Id >>> 8;
  buf[off + 5] = ipv4Id & 0xff;
  buf[off + 6] = 0x40; // DF
  buf[off + 7] = 0;
  buf[off + 8] = ttl;
  buf[off + 9] = proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  put32(buf, off + 12, src);
  put32(buf, off + 16, dst);
  const c = finish(sum16(buf, off, IPV4_HLEN));
  buf[off + 10] = c >>> 8;
  buf[off + 11] = c & 0xff;
  return off + IPV4_HLEN;
}

/** Writes an IPv6 header; src and dst are 16-byte addresses. Returns the payload offset. */
export function writeIpv6(buf: Buffer, off: number, src: Uint8Array, dst: Uint8Array, proto: number, payloadLen: number, hopLimit = 64): number {
  buf[off] = 0x60;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = payloadLen >>> 8;
  buf[off + 5] = payloadLen & 0xff;
  buf[off + 6] = proto;
  buf[off + 7] = hopLimit;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
  return off + IPV6_HLEN;
}

// ---- addresses ----

export function parse4(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) throw new Error(`invalid IPv4 address: ${s}`);
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) throw new Error(`invalid IPv4 address: ${s}`);
    v = v * 256 + Number(x);
  }
  return v >>> 0;
}

/** a dotted IPv4 address as inet_pton reads it: 0-255 each, no leading zeros */
const V4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** a zone index as node:net allows it */
const ZONE = /^[0-9a-zA-Z.:-]+$/;

/** Whether s is a dotted IPv4 address (node:net's isIPv4): a pattern test, nothing parsed. */
export function isIp4(s: string): boolean {
  return V4.test(s);
}

/**
 * 4 or 6 for a literal address (an IPv6 one may carry a %zone), 0 for
 * anything else: what node:net's isIP answers, without its IPv6 pattern,
 * whose first use compiles for 3 ms of a start-up that Podman waits for.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (!s.includes(':')) return isIp4(s) ? 4 : 0;
  const pct = s.indexOf('%');
  if (pct >= 0 && !ZONE.test(s.slice(pct + 1))) return 0;
  const addr = pct < 0 ? s : s.slice(0, pct);
  const last = addr.lastIndexOf(':');
  if (addr.includes('.', last) && !isIp4(addr.slice(last + 1))) return 0; // parse4 allows leading zeros
  try {
    parse6(addr);
    return 6;
  } catch {
    return 0;
  }
}

/** An IPv4 address (uint32) as 4 bytes in network order. */
export function bytes4(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export function format4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Parses an IPv6 address (with ::, and a dotted IPv4 tail) into 16 bytes. */
export function parse6(s: string): Buffer {
  const out = Buffer.alloc(16);
  let str = s;
  const pct = str.indexOf('%');
  if (pct >= 0) str = str.slice(0, pct);
  const halves = str.split('::');
  if (halves.length > 2) throw new Error(`invalid IPv6 address: ${s}`);
  // A dotted IPv4 tail is only allowed as the very last part of the address.
  const words = (h: string, last: boolean): number[] => {
    if (h === '') return [];
    const parts = h.split(':');
    const res: number[] = [];
    parts.forEach((part, i) => {
      if (last && i === parts.length - 1 && part.includes('.')) {
        let v4: number;
        try {
          v4 = parse4(part);
        } catch {
          throw new Error(`invalid IPv6 address: ${s}`);
        }
        res.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) throw new Error(`invalid IPv6 address: ${s}`);
        res.push(parseInt(part, 16));
      }
    });
    return res;
  };
  const head = words(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1], true) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) throw new Error(`invalid IPv6 address: ${s}`);
  head.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  tail.forEach((w, i) => out.writeUInt16BE(w, 16 - (tail.length - i) * 2));
  return out;
}

/** Formats 16 bytes as an RFC 5952 IPv6 address. */
export function format6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

export function equal6(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

export function isUnspecified6(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}

export function isLinkLocal6(b: Uint8Array, off = 0): boolean {
  return b[off] === 0xfe && (b[off + 1] & 0xc0) === 0x80;
}

export function isMulticast6(b: Uint8Array, off = 0): boolean {
  return b[off] === 0xff;
}

/** IPv4 netmask for a prefix length. */
export function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
