// DHCPv4 (RFC 2131, options RFC 2132) messages, and the DNS domain-name
// lists that DHCP (option 119, RFC 3397), DHCPv6 (option 24, RFC 3646) and
// NDP (DNSSL, RFC 8106) carry. Parsing fills a reusable view in place;
// nothing here does I/O.

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const DHCP_MAGIC = 0x63825363;
/** op .. file: the fixed BOOTP part before the magic cookie. */
export const DHCP_FIXED_LEN = 236;
/** Offset of the options (after the magic cookie). */
export const DHCP_OPT_OFF = 240;
/** RFC 1542: a BOOTP message is at least 300 bytes long (options padded to 60). */
export const DHCP_MIN_LEN = 300;
/** RFC 2131: a client must accept 576-byte IP datagrams: 576 - 20 (IP) - 8 (UDP). */
export const DHCP_DEFAULT_MAX_LEN = 548;
export const DHCP_FLAG_BROADCAST = 0x8000;

// message types (option 53)
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

// option codes
export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_DOMAIN_NAME = 15;
export const OPT_MTU = 26;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_OVERLOAD = 52;
export const OPT_MSG_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAM_LIST = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_MSG_SIZE = 57;
export const OPT_CLIENT_ID = 61;
export const OPT_RAPID_COMMIT = 80;
export const OPT_DOMAIN_SEARCH = 119;
export const OPT_CLASSLESS_ROUTE = 121;
export const OPT_END = 255;

export const enum DhcpError {
  Ok = 0,
  /** shorter than the fixed part and the magic cookie */
  Truncated = 1,
  BadMagic = 2,
  /** an option runs past the end of the message */
  BadOption = 3,
}

/** A parsed DHCP message: fixed fields, and the options a server needs, located in place. */
export interface DhcpView {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** offset of the 16-byte client hardware address */
  chaddrOff: number;
  /** the options area: [optOff, optEnd) */
  optOff: number;
  optEnd: number;
  /** option 53, 0 when absent (plain BOOTP) */
  msgType: number;
  /** option 50, 0 when absent */
  requestedIp: number;
  /** option 54 */
  hasServerId: boolean;
  serverId: number;
  /** option 55: offset and length of the requested option codes (length 0 when absent) */
  paramOff: number;
  paramLen: number;
  /** option 57, 0 when absent */
  maxMsgSize: number;
  /** option 80 present (RFC 4039) */
  rapidCommit: boolean;
}

export function newDhcpView(): DhcpView {
  return {
    op: 0, htype: 0, hlen: 0, hops: 0, xid: 0, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddrOff: 0, optOff: 0, optEnd: 0, msgType: 0, requestedIp: 0, hasServerId: false, serverId: 0,
    paramOff: 0, paramLen: 0, maxMsgSize: 0, rapidCommit: false,
  };
}

/**
 * Parses the DHCP message at buf[off, off+len). Every option is checked to
 * end inside the message; options after the end option are ignored. The
 * first instance of an option wins (RFC 3396 concatenation is not needed
 * for anything a server reads).
 */
export function parseDhcp(buf: Buffer, off: number, len: number, v: DhcpView): DhcpError {
  if (len < DHCP_OPT_OFF) return DhcpError.Truncated;
  if (buf.readUInt32BE(off + DHCP_FIXED_LEN) !== DHCP_MAGIC) return DhcpError.BadMagic;
  v.op = buf[off];
  v.htype = buf[off + 1];
  v.hlen = buf[off + 2];
  v.hops = buf[off + 3];
  v.xid = buf.readUInt32BE(off + 4);
  v.secs = buf.readUInt16BE(off + 8);
  v.flags = buf.readUInt16BE(off + 10);
  v.ciaddr = buf.readUInt32BE(off + 12);
  v.yiaddr = buf.readUInt32BE(off + 16);
  v.siaddr = buf.readUInt32BE(off + 20);
  v.giaddr = buf.readUInt32BE(off + 24);
  v.chaddrOff = off + 28;
  v.optOff = off + DHCP_OPT_OFF;
  v.optEnd = off + len;
  v.msgType = 0;
  v.requestedIp = 0;
  v.hasServerId = false;
  v.serverId = 0;
  v.paramOff = 0;
  v.paramLen = 0;
  v.maxMsgSize = 0;
  v.rapidCommit = false;
  const end = off + len;
  let seen = 0; // bit set of the options below already taken
  let p = v.optOff;
  while (p < end) {
    const code = buf[p];
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      p++;
      continue;
    }
    if (p + 2 > end) return DhcpError.BadOption;
    const olen = buf[p + 1];
    const d = p + 2;
    if (d + olen > end) return DhcpError.BadOption;
    switch (code) {
      case OPT_MSG_TYPE:
        if (olen >= 1 && !(seen & 1)) { v.msgType = buf[d]; seen |= 1; }
        break;
      case OPT_REQUESTED_IP:
        if (olen >= 4 && !(seen & 2)) { v.requestedIp = buf.readUInt32BE(d); seen |= 2; }
        break;
      case OPT_SERVER_ID:
        if (olen >= 4 && !v.hasServerId) { v.serverId = buf.readUInt32BE(d); v.hasServerId = true; }
        break;
      case OPT_PARAM_LIST:
        if (!(seen & 4)) { v.paramOff = d; v.paramLen = olen; seen |= 4; }
        break;
      case OPT_MAX_MSG_SIZE:
        if (olen >= 2 && !(seen & 8)) { v.maxMsgSize = buf.readUInt16BE(d); seen |= 8; }
        break;
      case OPT_RAPID_COMMIT:
        v.rapidCommit = true;
        break;
      default:
        break;
    }
    p = d + olen;
  }
  return DhcpError.Ok;
}

/** Offset of the data of option `code` in [off, end), or -1 (absent or malformed); its length is buf[result-1]. */
export function findDhcpOption(buf: Buffer, off: number, end: number, code: number): number {
  let p = off;
  while (p < end) {
    const c = buf[p];
    if (c === OPT_END) return -1;
    if (c === OPT_PAD) {
      p++;
      continue;
    }
    if (p + 2 > end || p + 2 + buf[p + 1] > end) return -1;
    if (c === code) return p + 2;
    p += 2 + buf[p + 1];
  }
  return -1;
}

/** The fixed part of a message to write; chaddr is copied from chaddrSrc[chaddrOff, +16). */
export interface DhcpHeader {
  op: number;
  htype: number;
  hlen: number;
  xid: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
}

/** Writes the fixed part and the magic cookie (sname, file zeroed); returns the options offset. */
export function writeDhcpHeader(buf: Buffer, off: number, h: DhcpHeader, chaddrSrc: Uint8Array, chaddrOff: number): number {
  buf[off] = h.op;
  buf[off + 1] = h.htype;
  buf[off + 2] = h.hlen;
  buf[off + 3] = 0; // hops
  buf.writeUInt32BE(h.xid >>> 0, off + 4);
  buf.writeUInt16BE(0, off + 8); // secs
  buf.writeUInt16BE(h.flags & 0xffff, off + 10);
  buf.writeUInt32BE(h.ciaddr >>> 0, off + 12);
  buf.writeUInt32BE(h.yiaddr >>> 0, off + 16);
  buf.writeUInt32BE(h.siaddr >>> 0, off + 20);
  buf.writeUInt32BE(h.giaddr >>> 0, off + 24);
  buf.set(chaddrSrc.subarray(chaddrOff, chaddrOff + 16), off + 28);
  buf.fill(0, off + 44, off + DHCP_FIXED_LEN); // sname, file
  buf.writeUInt32BE(DHCP_MAGIC, off + DHCP_FIXED_LEN);
  return off + DHCP_OPT_OFF;
}

/**
 * Appends options to a message being written, up to a limit that keeps room
 * for the end option. Options longer than 255 bytes are split into several
 * instances of the same code (RFC 3396).
 */
export class DhcpOptionWriter {
  p: number;

  /** Options go to buf[off, limit); limit includes the end option's byte. */
  constructor(readonly buf: Buffer, readonly start: number, readonly limit: number) {
    this.p = start;
  }

  /** Bytes an option of this data length takes, with its RFC 3396 splitting. */
  static size(dataLen: number): number {
    return dataLen + 2 * Math.max(1, Math.ceil(dataLen / 255));
  }

  /** Appends an option; false (and nothing written) when it does not fit. */
  put(code: number, data: Uint8Array): boolean {
    if (this.p + DhcpOptionWriter.size(data.length) > this.limit - 1) return false;
    let i = 0;
    do {
      const n = Math.min(255, data.length - i);
      this.buf[this.p] = code;
      this.buf[this.p + 1] = n;
      this.buf.set(data.subarray(i, i + n), this.p + 2);
      this.p += 2 + n;
      i += n;
    } while (i < data.length);
    return true;
  }

  putU8(code: number, v: number): boolean {
    return this.put(code, Uint8Array.of(v & 0xff));
  }

  putU16(code: number, v: number): boolean {
    return this.put(code, Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
  }

  putU32(code: number, v: number): boolean {
    return this.put(code, u32s([v]));
  }

  /** A list of IPv4 addresses (uint32 each). */
  putAddrs(code: number, addrs: readonly number[]): boolean {
    return this.put(code, u32s(addrs));
  }

  /** Writes the end option and pads the message to `minEnd` (absolute offset); returns the end offset. */
  end(minEnd = 0): number {
    this.buf[this.p++] = OPT_END;
    if (this.p < minEnd) {
      this.buf.fill(0, this.p, minEnd);
      this.p = minEnd;
    }
    return this.p;
  }
}

function u32s(vals: readonly number[]): Uint8Array {
  const b = Buffer.alloc(4 * vals.length);
  vals.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

// ---- domain name lists (RFC 1035 3.1 wire format, 4.1.4 compression) ----

export const MAX_DOMAIN_LEN = 255;

/**
 * Encodes domain names as a sequence of wire-format names. With compress
 * (DHCP option 119, RFC 3397), suffixes seen before become pointers, whose
 * offsets count from the start of the returned data. Names that are empty
 * (the root), have an empty or over-long label, or encode to more than 255
 * bytes are skipped; a trailing dot is allowed.
 */
export function encodeDomainNames(names: readonly string[], compress: boolean): Buffer {
  const out: number[] = [];
  const seen = new Map<string, number>();
  for (const raw of names) {
    const labels = domainLabels(raw);
    if (!labels) continue;
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = compress ? seen.get(suffix) : undefined;
      if (at !== undefined) {
        out.push(0xc0 | (at >> 8), at & 0xff);
        break;
      }
      if (compress && out.length < 0x4000) seen.set(suffix, out.length);
      const l = Buffer.from(labels[i], 'latin1');
      out.push(l.length, ...l);
      if (i === labels.length - 1) out.push(0);
    }
  }
  return Buffer.from(out);
}

/** The labels of a domain name, or undefined when it cannot be encoded. */
function domainLabels(name: string): string[] | undefined {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return undefined;
  const labels = n.split('.');
  let total = 1;
  for (const l of labels) {
    const bytes = Buffer.byteLength(l, 'latin1');
    if (bytes === 0 || bytes > 63 || /[^\x21-\x7e]/.test(l)) return undefined;
    total += bytes + 1;
  }
  return total > MAX_DOMAIN_LEN ? undefined : labels;
}

/**
 * Decodes a sequence of wire-format names filling buf[off, off+len); with
 * compress, pointers are offsets from `off`. Returns undefined on anything
 * malformed. Each pointer must go strictly before the place the name was
 * last read from, so no input can loop. With padded (NDP DNSSL), zero bytes
 * after the last name are padding.
 */
export function decodeDomainNames(buf: Uint8Array, off: number, len: number, compress: boolean, padded = false): string[] | undefined {
  const end = off + len;
  const names: string[] = [];
  let p = off;
  while (p < end) {
    if (padded && buf[p] === 0) {
      // NDP DNSSL: zero padding to the end of the option
      for (let i = p; i < end; i++) if (buf[i] !== 0) return undefined;
      break;
    }
    const labels: string[] = [];
    let encLen = 1;
    let q = p;
    let next = -1; // where the following name starts, once a pointer is taken
    let limit = p; // pointers must point before this
    for (;;) {
      if (q >= end) return undefined;
      const b = buf[q];
      if (b === 0) {
        q++;
        break;
      }
      if ((b & 0xc0) === 0xc0) {
        if (!compress || q + 2 > end) return undefined;
        const target = off + (((b & 0x3f) << 8) | buf[q + 1]);
        if (next < 0) next = q + 2;
        if (target >= limit) return undefined;
        limit = target;
        q = target;
        continue;
      }
      if (b & 0xc0) return undefined; // reserved label types
      if (q + 1 + b > end) return undefined;
      encLen += b + 1;
      if (encLen > MAX_DOMAIN_LEN) return undefined;
      labels.push(Buffer.from(buf.subarray(q + 1, q + 1 + b)).toString('latin1'));
      q += 1 + b;
    }
    if (labels.length === 0) return undefined; // a root name is never sent
    names.push(labels.join('.'));
    p = next >= 0 ? next : q;
  }
  return names;
}
