// rtnetlink (RFC 3549, linux/rtnetlink.h): just enough to read the host's
// links, addresses and routes and to write them into the namespace. Messages
// are built and parsed here; the socket I/O is plain synchronous read/write on
// a blocking NETLINK_ROUTE socket (start-up only, never on the data path).
import fs from 'node:fs';

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
export const NLM_F_DUMP = 0x300;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IFF_UP = 1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTN_UNICAST = 1;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;

const align4 = (n: number): number => (n + 3) & ~3;

/** One parsed netlink message: its type, fixed header bytes and attributes. */
export interface NlMsg {
  type: number;
  body: Buffer;
  attrs: Map<number, Buffer>;
}

/** Builds a netlink request: header, fixed part, then attributes. */
export class NlRequest {
  private parts: Buffer[] = [];
  constructor(readonly type: number, readonly flags: number, fixed: Buffer) {
    this.parts.push(fixed);
  }
  attr(type: number, data: Buffer): this {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(4 + data.length, 0);
    h.writeUInt16LE(type, 2);
    this.parts.push(h, data, Buffer.alloc(align4(data.length) - data.length));
    return this;
  }
  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    return this.attr(type, b);
  }
  encode(seq: number): Buffer {
    const body = Buffer.concat(this.parts);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16 + body.length, 0);
    h.writeUInt16LE(this.type, 4);
    h.writeUInt16LE(this.flags, 6);
    h.writeUInt32LE(seq, 8);
    return Buffer.concat([h, body]);
  }
}

/** Splits a datagram into messages; fixedLen is the size of each type's fixed header. */
export function parseMessages(buf: Buffer, fixedLen: number): Array<NlMsg & { seq: number; error?: number; done?: boolean }> {
  const out: Array<NlMsg & { seq: number; error?: number; done?: boolean }> = [];
  let p = 0;
  while (p + 16 <= buf.length) {
    const len = buf.readUInt32LE(p);
    const type = buf.readUInt16LE(p + 4);
    const seq = buf.readUInt32LE(p + 8);
    if (len < 16 || p + len > buf.length) break;
    const body = buf.subarray(p + 16, p + len);
    if (type === NLMSG_DONE) out.push({ type, seq, body, attrs: new Map(), done: true });
    else if (type === NLMSG_ERROR) out.push({ type, seq, body, attrs: new Map(), error: body.length >= 4 ? -body.readInt32LE(0) : 0 });
    else out.push({ type, seq, body: body.subarray(0, fixedLen), attrs: parseAttrs(body, fixedLen) });
    p += align4(len);
  }
  return out;
}

export function parseAttrs(buf: Buffer, off: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let p = off;
  while (p + 4 <= buf.length) {
    const len = buf.readUInt16LE(p);
    const type = buf.readUInt16LE(p + 2) & 0x3fff;
    if (len < 4 || p + len > buf.length) break;
    m.set(type, buf.subarray(p + 4, p + len));
    p += align4(len);
  }
  return m;
}

export class NetlinkError extends Error {
  constructor(readonly errno: number, what: string) {
    super(`${what}: ${errnoName(errno)}`);
  }
}

function errnoName(e: number): string {
  const names: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 101: 'ENETUNREACH' };
  return `${names[e] ?? 'errno'} (${e})`;
}

/** A blocking NETLINK_ROUTE socket driven with synchronous read/write. */
export class Netlink {
  private seq = 1;
  private readonly rbuf = Buffer.alloc(1 << 16);
  constructor(readonly fd: number) {}

  private recvUntil(seq: number, fixedLen: number, dump: boolean, what: string): NlMsg[] {
    const res: NlMsg[] = [];
    for (;;) {
      const n = fs.readSync(this.fd, this.rbuf, 0, this.rbuf.length, null);
      for (const m of parseMessages(this.rbuf.subarray(0, n), fixedLen)) {
        if (m.seq !== seq) continue;
        if (m.error !== undefined) {
          if (m.error !== 0) throw new NetlinkError(m.error, what);
          if (!dump) return res;
        } else if (m.done) {
          return res;
        } else {
          res.push({ type: m.type, body: Buffer.from(m.body), attrs: new Map([...m.attrs].map(([k, v]) => [k, Buffer.from(v)])) });
        }
      }
    }
  }

  /** Sends a request and waits for its acknowledgement. */
  request(req: NlRequest, what: string, fixedLen = 0): void {
    const seq = this.seq++;
    const msg = req.encode(seq);
    msg.writeUInt16LE(req.flags | NLM_F_REQUEST | NLM_F_ACK, 6);
    fs.writeSync(this.fd, msg);
    this.recvUntil(seq, fixedLen, false, what);
  }

  /** Dumps all objects of a kind (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE). */
  dump(type: number, family: number, fixedLen: number): NlMsg[] {
    const seq = this.seq++;
    const fixed = Buffer.alloc(fixedLen);
    fixed[0] = family;
    const req = new NlRequest(type, NLM_F_REQUEST | NLM_F_DUMP, fixed);
    fs.writeSync(this.fd, req.encode(seq));
    return this.recvUntil(seq, fixedLen, true, 'netlink dump');
  }
}

export const IFINFO_LEN = 16;
export const IFADDR_LEN = 8;
export const RTMSG_LEN = 12;

export function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(IFINFO_LEN);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

export function ifaddrmsg(family: number, prefix: number, index: number, scope = 0): Buffer {
  const b = Buffer.alloc(IFADDR_LEN);
  b[0] = family;
  b[1] = prefix;
  b[3] = scope;
  b.writeUInt32LE(index, 4);
  return b;
}

export function rtmsg(family: number, dstLen: number, protocol: number, scope: number): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b[0] = family;
  b[1] = dstLen;
  b[4] = RT_TABLE_MAIN;
  b[5] = protocol;
  b[6] = scope;
  b[7] = RTN_UNICAST;
  return b;
}

export const CREATE_FLAGS = NLM_F_CREATE | NLM_F_EXCL;
