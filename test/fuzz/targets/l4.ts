// parseTcp, parseUdp, parseArp and the checksum functions: reference
// readings, out-of-bounds read detection, writer round trips.
import { ARP_LEN, type ArpView, parseArp, writeArp } from '../../../src/wire/arp.js';
import { checksum, fold, pseudo4, pseudo6, sum16 } from '../../../src/wire/checksum.js';
import { ACK, FIN, SYN, TCP_HLEN, newTcpView, parseTcp, writeTcp } from '../../../src/wire/tcp.js';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../../../src/wire/udp.js';
import { onesSum, pseudoHeader4, pseudoHeader6 } from '../../unit/helpers/csum.js';
import { GUEST4, GW4 } from '../../unit/helpers/envcore.js';
import { GUEST_MAC, OUR_MAC } from '../../unit/helpers/frames.js';
import { type FuzzTarget, check, inside, sameOutsideBytes } from '../check.js';

const tcpView = newTcpView();

/** RFC 9293 3.1 and 3.2: MSS (kind 2, length 4) and window scale (kind 3, length 3, at most 14) on SYN. */
function refTcpOptions(d: Uint8Array, doff: number): { mss: number; wscale: number } {
  let mss = 0;
  let wscale = -1;
  if (!(d[13] & SYN)) return { mss, wscale };
  for (let p = 20; p < doff;) {
    const kind = d[p];
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    if (p + 1 >= doff) break;
    const n = d[p + 1];
    if (n < 2 || p + n > doff) break;
    if (kind === 2 && n === 4) mss = (d[p + 2] << 8) | d[p + 3];
    if (kind === 3 && n === 3) wscale = Math.min(d[p + 2], 14);
    p += n;
  }
  return { mss, wscale };
}

export const tcp: FuzzTarget = {
  name: 'tcp',
  maxLen: 1600,
  seeds() {
    const out: Buffer[] = [];
    const seg = (flags: number, mss = 0, ws = -1, data = 0) => {
      const b = Buffer.alloc(TCP_HLEN + (mss ? 4 : 0) + (ws >= 0 ? 4 : 0) + data);
      writeTcp(b, 0, 40000, 80, 1000, 2000, flags, 65535, mss, ws);
      return b;
    };
    out.push(seg(SYN, 1460, 7), seg(SYN, 536), seg(ACK, 0, -1, 100), seg(FIN | ACK));
    const opts = Buffer.alloc(44);
    writeTcp(opts, 0, 40000, 80, 1, 0, SYN, 1000);
    opts[12] = 11 << 4;
    opts.set([1, 1, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 3, 3, 9, 2, 4, 5, 0xb4], 20); // SACK-permitted, timestamps, wscale, MSS
    out.push(opts);
    return out;
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => {
      const ok = parseTcp(buf, off, len, tcpView);
      return ok ? { ok, ...tcpView, dataOff: tcpView.dataOff - off } : { ok };
    });
    const doff = data.length >= 20 ? (data[12] >> 4) * 4 : 0;
    check(got.ok === (data.length >= 20 && doff >= 20 && doff <= data.length), () => `parseTcp says ${got.ok} for data offset ${doff} in ${data.length} bytes`);
    if (got.ok) {
      const v = got as unknown as typeof tcpView;
      inside('TCP data', v.dataOff, v.dataLen, 20, data.length);
      check(v.dataOff === doff && v.dataOff + v.dataLen === data.length, 'data offset or length misread');
      check(v.srcPort === data.readUInt16BE(0) && v.dstPort === data.readUInt16BE(2) && v.seq === data.readUInt32BE(4) && v.ack === data.readUInt32BE(8)
        && v.flags === data[13] && v.window === data.readUInt16BE(14), 'header field misread');
      const want = refTcpOptions(data, doff);
      check(v.mss === want.mss && v.wscale === want.wscale, () => `options: mss ${v.mss} wscale ${v.wscale}, reference mss ${want.mss} wscale ${want.wscale}`);
    }
    if (data.length >= 16) {
      const mss = data[14] & 1 ? data.readUInt16BE(12) : 0;
      const ws = data[15] & 1 ? data[15] >> 4 : -1;
      const b = Buffer.alloc(60);
      const end = writeTcp(b, 0, data.readUInt16BE(0), data.readUInt16BE(2), data.readUInt32BE(4), data.readUInt32BE(8), SYN | (data[13] & ~SYN), 0xffff, mss, ws);
      const ok = parseTcp(b, 0, end, tcpView);
      check(ok && tcpView.dataOff === end && tcpView.dataLen === 0 && tcpView.mss === mss && tcpView.wscale === Math.min(ws, 14)
        && tcpView.seq === data.readUInt32BE(4) && tcpView.ack === data.readUInt32BE(8), () => `writeTcp(mss ${mss}, wscale ${ws}) -> parseTcp mismatch`);
    }
    return got.ok ? `tcp:${doff > 20 ? 'opts' : ''}:${(got as { mss: number }).mss ? 'mss' : ''}:${(got as { wscale: number }).wscale >= 0 ? 'ws' : ''}` : 'tcp:bad';
  },
};

const udpView = newUdpView();

export const udp: FuzzTarget = {
  name: 'udp',
  maxLen: 1600,
  seeds() {
    return [0, 1, 100].map((n) => {
      const b = Buffer.alloc(UDP_HLEN + n);
      writeUdp(b, 0, 68, 67, n);
      return b;
    });
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => {
      const ok = parseUdp(buf, off, len, udpView);
      return ok ? { ok, ...udpView, dataOff: udpView.dataOff - off } : { ok };
    });
    const ulen = data.length >= 8 ? data.readUInt16BE(4) : 0;
    check(got.ok === (data.length >= 8 && ulen >= 8 && ulen <= data.length), `parseUdp says ${got.ok} for length ${ulen} in ${data.length} bytes`);
    if (got.ok) {
      const v = got as unknown as typeof udpView;
      inside('UDP data', v.dataOff, v.dataLen, 8, data.length);
      check(v.dataOff === 8 && v.dataLen === ulen - 8 && v.srcPort === data.readUInt16BE(0) && v.dstPort === data.readUInt16BE(2), 'field misread');
    }
    if (data.length >= 6) {
      const n = data.readUInt16BE(4) % 2000;
      const b = Buffer.alloc(UDP_HLEN + n);
      check(writeUdp(b, 0, data.readUInt16BE(0), data.readUInt16BE(2), n) === UDP_HLEN, 'writeUdp returned a wrong data offset');
      check(parseUdp(b, 0, b.length, udpView) && udpView.dataLen === n && udpView.srcPort === data.readUInt16BE(0), 'writeUdp -> parseUdp mismatch');
    }
    return `udp:${got.ok}:${got.ok && ulen < data.length ? 'padded' : ''}`;
  },
};

const arpView: ArpView = { op: 0, senderMacOff: 0, senderIp: 0, targetMacOff: 0, targetIp: 0 };

export const arp: FuzzTarget = {
  name: 'arp',
  maxLen: 128,
  seeds() {
    const b = Buffer.alloc(ARP_LEN);
    writeArp(b, 0, 1, GUEST_MAC, GUEST4, Buffer.alloc(6), GW4);
    const c = Buffer.alloc(ARP_LEN + 18);
    writeArp(c, 0, 2, OUR_MAC, GW4, GUEST_MAC, GUEST4);
    return [b, c];
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => {
      const a = parseArp(buf, off, len, arpView);
      return a ? { ok: true, op: a.op, s: a.senderMacOff - off, si: a.senderIp, t: a.targetMacOff - off, ti: a.targetIp } : { ok: false };
    });
    const valid = data.length >= 28 && data.readUInt16BE(0) === 1 && data.readUInt16BE(2) === 0x0800 && data[4] === 6 && data[5] === 4;
    check(got.ok === valid, `parseArp says ${got.ok}, reference ${valid}`);
    if (got.ok) {
      check(got.s === 8 && got.t === 18 && got.si === data.readUInt32BE(14) && got.ti === data.readUInt32BE(24) && got.op === data.readUInt16BE(6), 'field misread');
    }
    if (data.length >= 20) {
      const b = Buffer.alloc(ARP_LEN);
      check(writeArp(b, 0, data.readUInt16BE(0), data.subarray(2, 8), data.readUInt32BE(8), data.subarray(12, 18), data.readUInt32BE(16) ^ 0x5a5a) === ARP_LEN, 'writeArp length');
      const a = parseArp(b, 0, b.length, arpView);
      check(a !== null && a.op === data.readUInt16BE(0) && a.senderIp === data.readUInt32BE(8) && b.subarray(8, 14).equals(data.subarray(2, 8)),
        'writeArp -> parseArp mismatch');
    }
    return `arp:${got.ok}:${got.ok ? Math.min(got.op as number, 3) : ''}`;
  },
};

/** sum16/fold/finish/pseudo4/pseudo6 against the naive checksum of test/unit/helpers/csum.ts. */
export const csum: FuzzTarget = {
  name: 'checksum',
  maxLen: 4096,
  seeds() {
    return [Buffer.alloc(0), Buffer.from([0xff]), Buffer.alloc(20, 0xff), Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz')];
  },
  run(data) {
    const off = data.length > 0 ? data[0] % 8 : 0;
    const len = data.length - Math.min(off, data.length);
    const same = (a: number, b: number): boolean => a % 0xffff === b % 0xffff;
    const s = sameOutsideBytes(data.subarray(Math.min(off, data.length)), (buf, o, l) => fold(sum16(buf, o, l)));
    check(same(s, onesSum(data.subarray(data.length - len))), () => `sum16 of ${len} bytes disagrees with the naive sum`);
    check(s >= 0 && s <= 0xffff, `fold gave ${s}`);
    if (data.length >= 8) {
      const a = data.readUInt32BE(0);
      const b = data.readUInt32BE(4);
      const l = data.length;
      check(same(fold(pseudo4(a, b, data[0], l)), onesSum(pseudoHeader4(a, b, data[0], l))), 'pseudo4 disagrees');
    }
    if (data.length >= 32) {
      const l = data.length * 37;
      check(same(fold(pseudo6(data, 0, 16, 58, l)), onesSum(pseudoHeader6(data.subarray(0, 16), data.subarray(16, 32), 58, l))), 'pseudo6 disagrees');
      // a range with its checksum filled in verifies
      const c = Buffer.from(data);
      c.writeUInt16BE(0, 10);
      c.writeUInt16BE(checksum(c, 0, c.length), 10);
      check(onesSum(c) === 0xffff || c.every((x) => x === 0), 'checksum() does not verify');
    }
    return `csum:${len & 1}`;
  },
};
