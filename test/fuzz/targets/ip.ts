// parseIpv4 and parseIpv6 against a reference reading of the RFCs, with
// out-of-bounds read detection, and writeIpv4/writeIpv6 round trips.
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IpError, type IpView, newIpView, parseIpv4, parseIpv6, writeIpv4, writeIpv6 } from '../../../src/wire/ip.js';
import { onesSum } from '../../unit/helpers/csum.js';
import { GUEST4, GUEST6, GW4, GW6 } from '../../unit/helpers/envcore.js';
import { type FuzzTarget, check, inside, sameOutsideBytes } from '../check.js';

const view = newIpView();

function relative(e: IpError, v: IpView, off: number): Record<string, number> {
  if (e !== IpError.Ok) return { e };
  return v.version === 4
    ? { e, hdr: v.hdrOff - off, proto: v.proto, ttl: v.ttl, src: v.src4, dst: v.dst4, l4: v.l4Off - off, l4Len: v.l4Len }
    : { e, hdr: v.hdrOff - off, proto: v.proto, ttl: v.ttl, src: v.src6Off - off, dst: v.dst6Off - off, l4: v.l4Off - off, l4Len: v.l4Len };
}

/** RFC 791, as the translator must read it: no fragments, total length within the frame. */
function ref4(d: Uint8Array): { e: IpError; l4?: number; l4Len?: number } {
  if (d.length < 20) return { e: IpError.Truncated };
  if (d[0] >> 4 !== 4) return { e: IpError.BadHeader };
  const ihl = (d[0] & 15) * 4;
  const total = (d[2] << 8) | d[3];
  if (ihl < 20 || total < ihl) return { e: IpError.BadHeader };
  if (total > d.length) return { e: IpError.Truncated };
  if ((((d[6] << 8) | d[7]) & 0x3fff) !== 0) return { e: IpError.Fragment };
  return { e: IpError.Ok, l4: ihl, l4Len: total - ihl };
}

/** RFC 8200: the extension header chain to the upper layer. */
function ref6(d: Uint8Array): { e: IpError; l4?: number; l4Len?: number; proto?: number } {
  if (d.length < 40) return { e: IpError.Truncated };
  if (d[0] >> 4 !== 6) return { e: IpError.BadHeader };
  const end = 40 + ((d[4] << 8) | d[5]);
  if (end > d.length) return { e: IpError.Truncated };
  let next = d[6];
  let p = 40;
  for (let hops = 0; next === 0 || next === 43 || next === 60 || next === 44; hops++) {
    check(hops < 8192, 'reference walk does not end');
    if (p + 8 > end) return { e: IpError.Truncated };
    if (next === 44) return { e: IpError.Fragment };
    const n = p + (d[p + 1] + 1) * 8;
    next = d[p];
    if (n > end) return { e: IpError.Truncated };
    p = n;
  }
  return { e: IpError.Ok, l4: p, l4Len: end - p, proto: next };
}

export const ipv4: FuzzTarget = {
  name: 'ipv4',
  maxLen: 2048,
  seeds() {
    const out: Buffer[] = [];
    for (const [proto, n, ihl] of [[IPPROTO_TCP, 20, 5], [IPPROTO_UDP, 8, 5], [1, 8, 5], [IPPROTO_TCP, 40, 15], [IPPROTO_UDP, 0, 6]]) {
      const b = Buffer.alloc(ihl * 4 + n);
      writeIpv4(b, 0, GUEST4, GW4, proto, ihl * 4 - 20 + n);
      b[0] = 0x40 | ihl;
      out.push(b);
    }
    const frag = Buffer.alloc(28);
    writeIpv4(frag, 0, GUEST4, GW4, IPPROTO_UDP, 8);
    frag.writeUInt16BE(0x2000, 6);
    out.push(frag);
    return out;
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => relative(parseIpv4(buf, off, len, view), view, off));
    const want = ref4(data);
    check(got.e === want.e, () => `parseIpv4 says ${got.e}, the reference ${want.e}`);
    if (got.e === IpError.Ok) {
      inside('IPv4 payload', got.l4, got.l4Len, 20, data.length);
      check(got.l4 === want.l4 && got.l4Len === want.l4Len, () => `payload [${got.l4}, +${got.l4Len}), reference [${want.l4}, +${want.l4Len})`);
      check(got.src === data.readUInt32BE(12) && got.dst === data.readUInt32BE(16) && got.proto === data[9], 'addresses or protocol misread');
    }
    // writer round trip, fields taken from the input
    if (data.length >= 13) {
      const plen = data.readUInt16BE(9) % (65535 - 20);
      const b = Buffer.alloc(20 + plen);
      const src = data.readUInt32BE(0);
      const dst = data.readUInt32BE(4);
      check(writeIpv4(b, 0, src, dst, data[8], plen, data[11]) === 20, 'writeIpv4 returned a wrong payload offset');
      check(onesSum(b.subarray(0, 20)) === 0xffff, 'writeIpv4: header checksum does not verify');
      const e = parseIpv4(b, 0, b.length, view);
      check(e === IpError.Ok && view.src4 === src && view.dst4 === dst && view.proto === data[8] && view.ttl === data[11] && view.l4Len === plen,
        () => `writeIpv4 -> parseIpv4 mismatch (error ${e})`);
    }
    return `v4:${got.e}:${got.e === IpError.Ok ? `${got.l4 > 20 ? 'opts' : ''}${got.l4Len === 0 ? 'empty' : ''}` : ''}`;
  },
};

export const ipv6: FuzzTarget = {
  name: 'ipv6',
  maxLen: 2048,
  seeds() {
    const out: Buffer[] = [];
    const pkt = (next: number, ext: Buffer, l4: number) => {
      const b = Buffer.alloc(40 + ext.length + l4);
      writeIpv6(b, 0, GUEST6, GW6, next, ext.length + l4);
      ext.copy(b, 40);
      return b;
    };
    out.push(pkt(IPPROTO_TCP, Buffer.alloc(0), 20));
    out.push(pkt(IPPROTO_ICMPV6, Buffer.alloc(0), 8));
    out.push(pkt(0, Buffer.from([IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0]), 8)); // hop-by-hop, PadN
    out.push(pkt(60, Buffer.from([43, 0, 0, 0, 0, 0, 0, 0, IPPROTO_UDP, 2, 0, 0, ...Buffer.alloc(20)]), 8)); // dstopts, routing
    out.push(pkt(44, Buffer.from([IPPROTO_UDP, 0, 0, 1, 0, 0, 0, 7]), 8)); // fragment
    return out;
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => relative(parseIpv6(buf, off, len, view), view, off));
    const want = ref6(data);
    check(got.e === want.e, () => `parseIpv6 says ${got.e}, the reference ${want.e}`);
    if (got.e === IpError.Ok) {
      inside('IPv6 payload', got.l4, got.l4Len, 40, data.length);
      check(got.l4 === want.l4 && got.l4Len === want.l4Len && got.proto === want.proto,
        () => `payload [${got.l4}, +${got.l4Len}) proto ${got.proto}, reference [${want.l4}, +${want.l4Len}) proto ${want.proto}`);
      check(got.src === 8 && got.dst === 24 && got.ttl === data[7], 'address offsets or hop limit misread');
    }
    // writer round trip with an extension chain built from the input
    if (data.length >= 2) {
      const kinds = [0, 43, 60];
      const exts: Buffer[] = [];
      for (let i = 1; i < Math.min(data.length, 6); i++) {
        const e = Buffer.alloc(8 * ((data[i] & 3) + 1));
        e[1] = data[i] & 3;
        exts.push(e);
      }
      const proto = data[0] === 44 || kinds.includes(data[0]) ? IPPROTO_UDP : data[0];
      const chain: number[] = exts.map((_, i) => kinds[(data[i + 1] >> 2) % 3]);
      exts.forEach((e, i) => (e[0] = i + 1 < exts.length ? chain[i + 1] : proto));
      const body = Buffer.concat([...exts, Buffer.alloc(8)]);
      const b = Buffer.alloc(40 + body.length);
      check(writeIpv6(b, 0, GUEST6, GW6, exts.length ? chain[0] : proto, body.length, 255) === 40, 'writeIpv6 returned a wrong payload offset');
      body.copy(b, 40);
      const e = parseIpv6(b, 0, b.length, view);
      const extLen = body.length - 8;
      check(e === IpError.Ok && view.proto === proto && view.l4Off === 40 + extLen && view.l4Len === 8 && view.ttl === 255,
        () => `writeIpv6 + ${exts.length} extension headers -> parseIpv6 mismatch (error ${e}, proto ${view.proto}, l4 ${view.l4Off})`);
    }
    return `v6:${got.e}:${got.e === IpError.Ok ? `${got.l4 > 40 ? 'ext' : ''}${got.l4Len === 0 ? 'empty' : ''}` : ''}`;
  },
};
