// Listening ports through NETLINK_SOCK_DIAG (sock_diag(7)), for "auto" port
// forwarding. Reading /proc/net/tcp walks the kernel's whole established
// hash (hundreds of thousands of buckets on a big machine, and every
// TIME_WAIT socket of a busy namespace) once a second: 4 to 7 ms a read here,
// and a seventh of the helper's time under a connection-per-request load.
// A dump asking for listening sockets only walks the listening hash.
// Messages are built and parsed here; the socket is a blocking netlink
// socket made in the namespace to be watched (its namespace is fixed then).
import fs from 'node:fs';
import { AF_INET, AF_INET6, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST } from './netlink.js';
import { TCP_CLOSE } from './sys.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ip.js';

const SOCK_DIAG_BY_FAMILY = 20;
const NLMSG_HDRLEN = 16;
const TCP_LISTEN = 10;
/** struct inet_diag_req_v2 */
const REQ_LEN = 56;
/** struct inet_diag_msg: family, state, timer, retrans, then the socket id (sport first, big-endian) */
const MSG_LEN = 72;

/** A dump request for sockets of one family and protocol in the given states. */
export function diagRequest(family: number, protocol: number, states: number, seq: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + REQ_LEN);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(seq, 8);
  b[16] = family;
  b[17] = protocol;
  b.writeUInt32LE(states >>> 0, 20);
  return b;
}

/**
 * Adds the local ports of the inet_diag_msg records in one datagram to out.
 * Returns 'done' at the end of the dump, -errno for an error, else 'more'.
 */
export function parseDiag(buf: Buffer, seq: number, wantState: number, out: Set<number>): 'more' | 'done' | number {
  let p = 0;
  while (p + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(p);
    if (len < NLMSG_HDRLEN || p + len > buf.length) return -71; // EPROTO: a truncated message
    const type = buf.readUInt16LE(p + 4);
    if (buf.readUInt32LE(p + 8) === seq) {
      if (type === NLMSG_DONE) return 'done';
      if (type === NLMSG_ERROR) return len >= NLMSG_HDRLEN + 4 ? buf.readInt32LE(p + NLMSG_HDRLEN) || -71 : -71;
      if (type === SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDRLEN + MSG_LEN && buf[p + NLMSG_HDRLEN + 1] === wantState) {
        const port = buf.readUInt16BE(p + NLMSG_HDRLEN + 4);
        if (port > 0) out.add(port);
      }
    }
    p += (len + 3) & ~3;
  }
  return 'more';
}

/** Listening TCP and bound, unconnected UDP ports over a NETLINK_SOCK_DIAG socket. */
export class DiagScanner {
  private seq = 1;
  private readonly rbuf = Buffer.alloc(32 << 10);

  constructor(readonly fd: number) {}

  /** The ports, sorted; throws when the kernel cannot answer (no inet_diag, say). */
  ports(kind: 'tcp' | 'udp'): number[] {
    const out = new Set<number>();
    const state = kind === 'tcp' ? TCP_LISTEN : TCP_CLOSE;
    for (const family of [AF_INET, AF_INET6]) {
      const seq = this.seq++;
      fs.writeSync(this.fd, diagRequest(family, kind === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP, 1 << state, seq));
      for (;;) {
        const n = fs.readSync(this.fd, this.rbuf, 0, this.rbuf.length, null);
        if (n <= 0) throw new Error('sock_diag: the socket closed');
        const r = parseDiag(this.rbuf.subarray(0, n), seq, state, out);
        if (r === 'done') break;
        // no IPv6 in this kernel or namespace: like a missing /proc/net/tcp6
        if (typeof r === 'number' && family === AF_INET6 && (r === -97 || r === -2)) break;
        if (typeof r === 'number') throw Object.assign(new Error(`sock_diag: errno ${-r}`), { errno: r });
      }
    }
    return [...out].sort((a, b) => a - b);
  }
}
