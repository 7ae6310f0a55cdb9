// DHCPv6 (RFC 8415) client/server messages and their options. Parsing checks
// that every top-level option lies inside the message and locates, in place,
// the options a server needs; writers append options to a buffer. No I/O.
import { encodeDomainNames } from './dhcp.js';

export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;
export const DHCPV6_HLEN = 4;
export const OPT6_HLEN = 4;

// message types
export const SOLICIT = 1;
export const ADVERTISE = 2;
export const REQUEST = 3;
export const CONFIRM = 4;
export const RENEW = 5;
export const REBIND = 6;
export const REPLY = 7;
export const RELEASE = 8;
export const DECLINE = 9;
export const RECONFIGURE = 10;
export const INFORMATION_REQUEST = 11;

// option codes
export const OPTION_CLIENTID = 1;
export const OPTION_SERVERID = 2;
export const OPTION_IA_NA = 3;
export const OPTION_IA_TA = 4;
export const OPTION_IAADDR = 5;
export const OPTION_ORO = 6;
export const OPTION_PREFERENCE = 7;
export const OPTION_ELAPSED_TIME = 8;
export const OPTION_STATUS_CODE = 13;
export const OPTION_RAPID_COMMIT = 14;
export const OPTION_DNS_SERVERS = 23;
export const OPTION_DOMAIN_LIST = 24;

// status codes
export const STATUS_SUCCESS = 0;
export const STATUS_UNSPEC_FAIL = 1;
export const STATUS_NO_ADDRS_AVAIL = 2;
export const STATUS_NO_BINDING = 3;
export const STATUS_NOT_ON_LINK = 4;
export const STATUS_USE_MULTICAST = 5;

export const DUID_LLT = 1;
export const DUID_LL = 3;
export const ARPHRD_ETHER = 1;
/** RFC 8415 11.1: a DUID is at most 128 bytes. */
export const DUID_MAX_LEN = 128;
export const INFINITY = 0xffffffff;
/** IA_NA: IAID, T1, T2 */
export const IA_NA_FIXED = 12;
/** IAADDR: address, preferred and valid lifetimes */
export const IAADDR_FIXED = 24;

export const enum Dhcpv6Error {
  Ok = 0,
  Truncated = 1,
  /** an option runs past the end of the message */
  BadOption = 2,
}

/** A parsed message; option offsets point at option headers, -1 when absent (first instance wins). */
export interface Dhcpv6View {
  type: number;
  xid: number;
  /** the options: [optOff, optEnd) */
  optOff: number;
  optEnd: number;
  clientId: number;
  serverId: number;
  iaNa: number;
  iaTa: number;
  oro: number;
  rapidCommit: boolean;
}

export function newDhcpv6View(): Dhcpv6View {
  return { type: 0, xid: 0, optOff: 0, optEnd: 0, clientId: -1, serverId: -1, iaNa: -1, iaTa: -1, oro: -1, rapidCommit: false };
}

export const opt6Code = (buf: Buffer, o: number): number => (buf[o] << 8) | buf[o + 1];
export const opt6Len = (buf: Buffer, o: number): number => (buf[o + 2] << 8) | buf[o + 3];
export const opt6Data = (o: number): number => o + OPT6_HLEN;

/** Offset after the option at p, or -1 when its header or data would pass end. */
export function nextOption6(buf: Buffer, p: number, end: number): number {
  if (p + OPT6_HLEN > end) return -1;
  const n = p + OPT6_HLEN + opt6Len(buf, p);
  return n > end ? -1 : n;
}

/** Header offset of the first option `code` in [p, end), or -1 (absent, or malformed before it). */
export function findOption6(buf: Buffer, p: number, end: number, code: number): number {
  let q = p;
  while (q < end) {
    const n = nextOption6(buf, q, end);
    if (n < 0) return -1;
    if (opt6Code(buf, q) === code) return q;
    q = n;
  }
  return -1;
}

/** Parses a client/server message (not a relay message) at buf[off, off+len). */
export function parseDhcpv6(buf: Buffer, off: number, len: number, v: Dhcpv6View): Dhcpv6Error {
  if (len < DHCPV6_HLEN) return Dhcpv6Error.Truncated;
  v.type = buf[off];
  v.xid = (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
  v.optOff = off + DHCPV6_HLEN;
  v.optEnd = off + len;
  v.clientId = v.serverId = v.iaNa = v.iaTa = v.oro = -1;
  v.rapidCommit = false;
  const end = off + len;
  let p = v.optOff;
  while (p < end) {
    const n = nextOption6(buf, p, end);
    if (n < 0) return Dhcpv6Error.BadOption;
    switch (opt6Code(buf, p)) {
      case OPTION_CLIENTID: if (v.clientId < 0) v.clientId = p; break;
      case OPTION_SERVERID: if (v.serverId < 0) v.serverId = p; break;
      case OPTION_IA_NA: if (v.iaNa < 0) v.iaNa = p; break;
      case OPTION_IA_TA: if (v.iaTa < 0) v.iaTa = p; break;
      case OPTION_ORO: if (v.oro < 0) v.oro = p; break;
      case OPTION_RAPID_COMMIT: v.rapidCommit = true; break;
      default: break;
    }
    p = n;
  }
  return Dhcpv6Error.Ok;
}

/** True when the options at a and b (header offsets, possibly in different buffers) are byte-identical. */
export function sameOption6(a: Buffer, aOff: number, b: Buffer, bOff: number): boolean {
  const n = OPT6_HLEN + opt6Len(a, aOff);
  if (n !== OPT6_HLEN + opt6Len(b, bOff)) return false;
  return a.subarray(aOff, aOff + n).equals(b.subarray(bOff, bOff + n));
}

// ---- writing ----

export function writeDhcpv6Header(buf: Buffer, off: number, type: number, xid: number): number {
  buf[off] = type;
  buf[off + 1] = (xid >>> 16) & 0xff;
  buf[off + 2] = (xid >>> 8) & 0xff;
  buf[off + 3] = xid & 0xff;
  return off + DHCPV6_HLEN;
}

/** Writes an option header; returns the data offset. Close it with endOption6. */
export function beginOption6(buf: Buffer, p: number, code: number): number {
  buf[p] = code >>> 8;
  buf[p + 1] = code & 0xff;
  return p + OPT6_HLEN;
}

/** Sets the length of the option begun at hdr, whose data ends at end; returns end. */
export function endOption6(buf: Buffer, hdr: number, end: number): number {
  const len = end - hdr - OPT6_HLEN;
  buf[hdr + 2] = len >>> 8;
  buf[hdr + 3] = len & 0xff;
  return end;
}

export function putOption6(buf: Buffer, p: number, code: number, data: Uint8Array = new Uint8Array(0)): number {
  const d = beginOption6(buf, p, code);
  buf.set(data, d);
  return endOption6(buf, p, d + data.length);
}

/** Copies the option at src[o] verbatim (header included). */
export function copyOption6(buf: Buffer, p: number, src: Buffer, o: number): number {
  const n = OPT6_HLEN + opt6Len(src, o);
  src.copy(buf, p, o, o + n);
  return p + n;
}

/** DUID-LLT (RFC 8415 11.2) for an Ethernet address; time in seconds since 2000-01-01 UTC. */
export function duidLlt(mac: Uint8Array, time: number): Buffer {
  const d = Buffer.alloc(14);
  d.writeUInt16BE(DUID_LLT, 0);
  d.writeUInt16BE(ARPHRD_ETHER, 2);
  d.writeUInt32BE(time >>> 0, 4);
  d.set(mac.subarray(0, 6), 8);
  return d;
}

/** An IA_NA holding one address (RFC 8415 21.4, 21.6). */
export function putIaNa(buf: Buffer, p: number, iaid: number, t1: number, t2: number, addr: Uint8Array,
  preferred: number, valid: number): number {
  const d = beginOption6(buf, p, OPTION_IA_NA);
  buf.writeUInt32BE(iaid >>> 0, d);
  buf.writeUInt32BE(t1 >>> 0, d + 4);
  buf.writeUInt32BE(t2 >>> 0, d + 8);
  const a = beginOption6(buf, d + IA_NA_FIXED, OPTION_IAADDR);
  buf.set(addr.subarray(0, 16), a);
  buf.writeUInt32BE(preferred >>> 0, a + 16);
  buf.writeUInt32BE(valid >>> 0, a + 20);
  endOption6(buf, d + IA_NA_FIXED, a + IAADDR_FIXED);
  return endOption6(buf, p, a + IAADDR_FIXED);
}

/** An IA_NA without addresses carrying a status code (e.g. NotOnLink for the client's IAID). */
export function putIaNaStatus(buf: Buffer, p: number, iaid: number, status: number, msg: string): number {
  const d = beginOption6(buf, p, OPTION_IA_NA);
  buf.writeUInt32BE(iaid >>> 0, d);
  buf.writeUInt32BE(0, d + 4);
  buf.writeUInt32BE(0, d + 8);
  return endOption6(buf, p, putStatus6(buf, d + IA_NA_FIXED, status, msg));
}

export function putStatus6(buf: Buffer, p: number, status: number, msg: string): number {
  const d = beginOption6(buf, p, OPTION_STATUS_CODE);
  buf.writeUInt16BE(status, d);
  const n = buf.write(msg, d + 2, 'utf8');
  return endOption6(buf, p, d + 2 + n);
}

export function putDnsServers6(buf: Buffer, p: number, addrs: readonly Uint8Array[]): number {
  const d = beginOption6(buf, p, OPTION_DNS_SERVERS);
  addrs.forEach((a, i) => buf.set(a.subarray(0, 16), d + 16 * i));
  return endOption6(buf, p, d + 16 * addrs.length);
}

/** Domain search list (RFC 3646): uncompressed wire-format names. */
export function putDomainList6(buf: Buffer, p: number, names: readonly string[]): number {
  return putOption6(buf, p, OPTION_DOMAIN_LIST, encodeDomainNames(names, false));
}

/** IAADDR options inside an IA_NA at header offset ia: calls fn with each address offset; false if malformed. */
export function forEachIaAddr(buf: Buffer, ia: number, fn: (addrOff: number) => void): boolean {
  const end = ia + OPT6_HLEN + opt6Len(buf, ia);
  const fixed = opt6Code(buf, ia) === OPTION_IA_TA ? 4 : IA_NA_FIXED;
  let p = ia + OPT6_HLEN + fixed;
  if (p > end) return false;
  while (p < end) {
    const n = nextOption6(buf, p, end);
    if (n < 0) return false;
    if (opt6Code(buf, p) === OPTION_IAADDR) {
      if (opt6Len(buf, p) < IAADDR_FIXED) return false;
      fn(p + OPT6_HLEN);
    }
    p = n;
  }
  return true;
}
