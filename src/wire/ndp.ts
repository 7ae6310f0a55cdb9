// Neighbour Discovery (RFC 4861) router solicitations and advertisements and
// their options: prefix information, MTU, source link-layer address, RDNSS
// and DNSSL (RFC 8106). Parsing fills reusable views; writers append to a
// buffer; no I/O. The ICMPv6 checksum is left to the caller (field 2).
import { decodeDomainNames, encodeDomainNames } from './dhcp.js';

export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;

export const ND_OPT_SOURCE_LLADDR = 1;
export const ND_OPT_TARGET_LLADDR = 2;
export const ND_OPT_PREFIX_INFO = 3;
export const ND_OPT_MTU = 5;
export const ND_OPT_RDNSS = 25;
export const ND_OPT_DNSSL = 31;

/** RS: type, code, checksum, reserved */
export const RS_HLEN = 8;
/** RA: type, code, checksum, hop limit, flags, router lifetime, reachable, retrans */
export const RA_HLEN = 16;
export const RA_FLAG_MANAGED = 0x80;
export const RA_FLAG_OTHER = 0x40;
export const PREFIX_FLAG_ONLINK = 0x80;
export const PREFIX_FLAG_AUTO = 0x40;
export const PREFIX_INFO_LEN = 32;
export const MTU_OPT_LEN = 8;
export const LLADDR_OPT_LEN = 8;
export const ND_INFINITY = 0xffffffff;

export const enum NdpError {
  Ok = 0,
  Truncated = 1,
  /** wrong code, or an option with length 0 or past the end */
  Invalid = 2,
}

/** Offset after the option at p, or -1 when it is malformed (length 0 or past end). */
export function nextNdpOption(buf: Uint8Array, p: number, end: number): number {
  if (p + 2 > end) return -1;
  const units = buf[p + 1];
  if (units === 0) return -1;
  const n = p + units * 8;
  return n > end ? -1 : n;
}

/** Checks that [p, end) is a well-formed option list; returns the first option `code`'s offset, -1 if none, -2 if malformed. */
export function scanNdpOptions(buf: Uint8Array, p: number, end: number, code: number): number {
  let found = -1;
  let q = p;
  while (q < end) {
    const n = nextNdpOption(buf, q, end);
    if (n < 0) return -2;
    if (found < 0 && buf[q] === code) found = q;
    q = n;
  }
  return found;
}

export interface RsView {
  /** offset of the 6-byte source link-layer address, -1 when absent */
  srcLlOff: number;
}

export function newRsView(): RsView {
  return { srcLlOff: -1 };
}

/** Parses a router solicitation (ICMPv6 message at buf[off, off+len)) as RFC 4861 6.1.1 validates it. */
export function parseRouterSolicit(buf: Uint8Array, off: number, len: number, v: RsView): NdpError {
  if (len < RS_HLEN) return NdpError.Truncated;
  if (buf[off] !== ND_ROUTER_SOLICIT || buf[off + 1] !== 0) return NdpError.Invalid;
  const o = scanNdpOptions(buf, off + RS_HLEN, off + len, ND_OPT_SOURCE_LLADDR);
  if (o === -2) return NdpError.Invalid;
  v.srcLlOff = o >= 0 && buf[o + 1] === 1 ? o + 2 : -1;
  return NdpError.Ok;
}

/** The fixed part of a router advertisement. */
export interface RaHeader {
  curHopLimit: number;
  /** RA_FLAG_MANAGED | RA_FLAG_OTHER */
  flags: number;
  /** seconds, 0..65535 */
  routerLifetime: number;
  reachable: number;
  retrans: number;
}

/** A parsed RA: header fields and the offsets of the first instance of each option (-1 when absent). */
export interface RaView extends RaHeader {
  optOff: number;
  optEnd: number;
  prefixInfo: number;
  mtu: number;
  srcLl: number;
  rdnss: number;
  dnssl: number;
}

export function newRaView(): RaView {
  return {
    curHopLimit: 0, flags: 0, routerLifetime: 0, reachable: 0, retrans: 0,
    optOff: 0, optEnd: 0, prefixInfo: -1, mtu: -1, srcLl: -1, rdnss: -1, dnssl: -1,
  };
}

export function parseRouterAdvert(buf: Uint8Array, off: number, len: number, v: RaView): NdpError {
  if (len < RA_HLEN) return NdpError.Truncated;
  if (buf[off] !== ND_ROUTER_ADVERT || buf[off + 1] !== 0) return NdpError.Invalid;
  v.curHopLimit = buf[off + 4];
  v.flags = buf[off + 5];
  v.routerLifetime = (buf[off + 6] << 8) | buf[off + 7];
  v.reachable = u32(buf, off + 8);
  v.retrans = u32(buf, off + 12);
  v.optOff = off + RA_HLEN;
  v.optEnd = off + len;
  v.prefixInfo = v.mtu = v.srcLl = v.rdnss = v.dnssl = -1;
  let p = v.optOff;
  while (p < v.optEnd) {
    const n = nextNdpOption(buf, p, v.optEnd);
    if (n < 0) return NdpError.Invalid;
    const units = buf[p + 1];
    switch (buf[p]) {
      case ND_OPT_PREFIX_INFO: if (v.prefixInfo < 0 && units === 4) v.prefixInfo = p; break;
      case ND_OPT_MTU: if (v.mtu < 0 && units === 1) v.mtu = p; break;
      case ND_OPT_SOURCE_LLADDR: if (v.srcLl < 0 && units === 1) v.srcLl = p; break;
      case ND_OPT_RDNSS: if (v.rdnss < 0 && units >= 3 && units % 2 === 1) v.rdnss = p; break;
      case ND_OPT_DNSSL: if (v.dnssl < 0 && units >= 2) v.dnssl = p; break;
      default: break;
    }
    p = n;
  }
  return NdpError.Ok;
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
}

function put32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 24;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
}

// readers for options located by parseRouterAdvert (offsets of option headers)

export interface PrefixInfo {
  prefixLen: number;
  flags: number;
  valid: number;
  preferred: number;
  prefixOff: number;
}

export function readPrefixInfo(buf: Uint8Array, o: number): PrefixInfo {
  return { prefixLen: buf[o + 2], flags: buf[o + 3], valid: u32(buf, o + 4), preferred: u32(buf, o + 8), prefixOff: o + 16 };
}

export const readMtuOption = (buf: Uint8Array, o: number): number => u32(buf, o + 4);

/** RDNSS: lifetime and the offsets of its addresses. */
export function readRdnss(buf: Uint8Array, o: number): { lifetime: number; addrOffs: number[] } {
  const n = (buf[o + 1] - 1) / 2;
  const addrOffs: number[] = [];
  for (let i = 0; i < n; i++) addrOffs.push(o + 8 + 16 * i);
  return { lifetime: u32(buf, o + 4), addrOffs };
}

/** DNSSL: lifetime and the names, undefined when the names are malformed. */
export function readDnssl(buf: Uint8Array, o: number): { lifetime: number; names: string[] | undefined } {
  const len = buf[o + 1] * 8;
  return { lifetime: u32(buf, o + 4), names: decodeDomainNames(buf, o + 8, len - 8, false, true) };
}

// ---- writing ----

/** Writes the RA header (checksum 0); returns the options offset. */
export function writeRouterAdvert(buf: Uint8Array, off: number, h: RaHeader): number {
  buf[off] = ND_ROUTER_ADVERT;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = h.curHopLimit;
  buf[off + 5] = h.flags;
  buf[off + 6] = (h.routerLifetime >>> 8) & 0xff;
  buf[off + 7] = h.routerLifetime & 0xff;
  put32(buf, off + 8, h.reachable);
  put32(buf, off + 12, h.retrans);
  return off + RA_HLEN;
}

export function putLinkAddrOption(buf: Uint8Array, p: number, type: number, mac: Uint8Array): number {
  buf[p] = type;
  buf[p + 1] = 1;
  buf.set(mac.subarray(0, 6), p + 2);
  return p + LLADDR_OPT_LEN;
}

/** Prefix information: the first prefixLen bits of prefix[prefixOff..], the rest zeroed. */
export function putPrefixInfo(buf: Uint8Array, p: number, prefix: Uint8Array, prefixOff: number, prefixLen: number,
  flags: number, valid: number, preferred: number): number {
  buf[p] = ND_OPT_PREFIX_INFO;
  buf[p + 1] = 4;
  buf[p + 2] = prefixLen;
  buf[p + 3] = flags;
  put32(buf, p + 4, valid);
  put32(buf, p + 8, preferred);
  put32(buf, p + 12, 0);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefixLen - 8 * i));
    buf[p + 16 + i] = prefix[prefixOff + i] & ((0xff00 >> bits) & 0xff);
  }
  return p + PREFIX_INFO_LEN;
}

export function putMtuOption(buf: Uint8Array, p: number, mtu: number): number {
  buf[p] = ND_OPT_MTU;
  buf[p + 1] = 1;
  buf[p + 2] = 0;
  buf[p + 3] = 0;
  put32(buf, p + 4, mtu);
  return p + MTU_OPT_LEN;
}

/** Recursive DNS servers (RFC 8106 5.1). */
export function putRdnss(buf: Uint8Array, p: number, lifetime: number, addrs: readonly Uint8Array[]): number {
  buf[p] = ND_OPT_RDNSS;
  buf[p + 1] = 1 + 2 * addrs.length;
  buf[p + 2] = 0;
  buf[p + 3] = 0;
  put32(buf, p + 4, lifetime);
  addrs.forEach((a, i) => buf.set(a.subarray(0, 16), p + 8 + 16 * i));
  return p + 8 + 16 * addrs.length;
}

/** Size of a DNSSL option for these names: 8 + names padded to 8 bytes; 0 when no name can be encoded. */
export function dnsslSize(names: readonly string[]): number {
  const n = encodeDomainNames(names, false).length;
  return n === 0 ? 0 : 8 + Math.ceil(n / 8) * 8;
}

/** DNS search list (RFC 8106 5.2): uncompressed names, zero-padded; writes nothing when no name can be encoded. */
export function putDnssl(buf: Uint8Array, p: number, lifetime: number, names: readonly string[]): number {
  const data = encodeDomainNames(names, false);
  if (data.length === 0) return p;
  const len = 8 + Math.ceil(data.length / 8) * 8;
  buf[p] = ND_OPT_DNSSL;
  buf[p + 1] = len / 8;
  buf[p + 2] = 0;
  buf[p + 3] = 0;
  put32(buf, p + 4, lifetime);
  buf.set(data, p + 8);
  buf.fill(0, p + 8 + data.length, p + len);
  return p + len;
}
