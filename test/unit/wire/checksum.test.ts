import { describe, expect, it } from 'vitest';
import { checksum, finish, fold, pseudo4, pseudo6, sum16 } from '../../../src/wire/checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP, parse4, parse6, writeIpv4, writeIpv6 } from '../../../src/wire/ip.js';
import { ACK, PSH, writeTcp } from '../../../src/wire/tcp.js';
import { writeUdp } from '../../../src/wire/udp.js';
import { inetChecksum, l4Checksum, onesSum, verifies } from '../helpers/csum.js';
import { rng } from '../helpers/rng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('sum16 / fold / finish', () => {
  it('RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7', () => {
    const b = hex('0001 f203 f4f5 f6f7');
    // The RFC sums 0001 + f203 + f4f5 + f6f7 = 2ddf0, folds to ddf2 and
    // stores the complement, 220d.
    expect(sum16(b, 0, 8)).toBe(0x2ddf0);
    expect(fold(0x2ddf0)).toBe(0xddf2);
    expect(finish(0x2ddf0)).toBe(0x220d);
    expect(checksum(b, 0, 8)).toBe(0x220d);
  });

  it('the RFC 1071 sum is byte-order independent: swapped bytes give the swapped sum', () => {
    const b = hex('0100 03f2 f5f4 f7f6');
    expect(fold(sum16(b, 0, 8))).toBe(0xf2dd);
  });

  it('a classic IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) has checksum b861', () => {
    const h = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(checksum(h, 0, 20)).toBe(0xb861);
    h.writeUInt16BE(0xb861, 10);
    expect(fold(sum16(h, 0, 20))).toBe(0xffff);
    expect(checksum(h, 0, 20)).toBe(0);
  });

  it('odd lengths pad the last byte with a zero on the right', () => {
    expect(sum16(hex('01'), 0, 1)).toBe(0x0100);
    expect(sum16(hex('0102 03'), 0, 3)).toBe(0x0102 + 0x0300);
    // 9 bytes: the unrolled 8-byte block, then one padded byte
    expect(sum16(hex('0102 0304 0506 0708 09'), 0, 9)).toBe(0x0102 + 0x0304 + 0x0506 + 0x0708 + 0x0900);
    expect(sum16(hex('ff'), 0, 0)).toBe(0);
  });

  it('honours the offset: bytes outside [off, off+len) never count', () => {
    const b = hex('ffff 1234 5678 9a ffff');
    expect(sum16(b, 2, 5)).toBe(0x1234 + 0x5678 + 0x9a00);
    expect(sum16(b, 3, 4)).toBe(0x3456 + 0x789a);
  });

  it('continues from an accumulator', () => {
    expect(sum16(hex('0001'), 0, 2, 0x10000)).toBe(0x10001);
    expect(checksum(hex('0001'), 0, 2, 0xfffe)).toBe(0);
  });

  it('fold carries more than once (0x1fffe -> 0xffff, 2^32-1 -> 0xffff)', () => {
    expect(fold(0x1fffe)).toBe(0xffff);
    expect(fold(0xffffffff)).toBe(0xffff);
    expect(fold(0x10000)).toBe(1);
    expect(fold(0)).toBe(0);
    // far beyond 32 bits: a 64 KiB frame of 0xff bytes
    expect(fold(0xffff * 32768)).toBe(0xffff);
    expect(finish(0xffff)).toBe(0);
    expect(finish(0)).toBe(0xffff);
  });

  it('agrees with a naive implementation for every length 0..70 at offsets 0..3 and on 64 KiB', () => {
    const r = rng(1071);
    const b = Buffer.alloc(80);
    for (let len = 0; len <= 70; len++) {
      for (let off = 0; off < 4; off++) {
        for (let i = 0; i < b.length; i++) b[i] = r.byte();
        const naive = onesSum(b.subarray(off, off + len));
        expect(fold(sum16(b, off, len)) % 0xffff, `len ${len} off ${off}`).toBe(naive % 0xffff);
        expect(checksum(b, off, len) % 0xffff).toBe(inetChecksum(b.subarray(off, off + len)) % 0xffff);
      }
    }
    const big = Buffer.alloc(65535, 0xff);
    expect(finish(sum16(big, 0, big.length))).toBe(inetChecksum(big));
    const rnd = r.bytes(65533);
    expect(checksum(rnd, 0, rnd.length)).toBe(inetChecksum(rnd));
  });
});

describe('pseudo-headers', () => {
  it('pseudo4 is the sum of addresses, protocol and length', () => {
    const s = parse4('192.0.2.1');
    const d = parse4('198.51.100.254');
    expect(pseudo4(s, d, 6, 40)).toBe(0xc000 + 0x0201 + 0xc633 + 0x64fe + 6 + 40);
    // addresses with the top bit set as negative int32 give the same sum
    expect(pseudo4(s | 0, d | 0, 6, 40)).toBe(pseudo4(s, d, 6, 40));
  });

  it('TCP over IPv4: checksum from pseudo4 matches the naive one and verifies', () => {
    const r = rng(4);
    for (const dataLen of [0, 1, 2, 7, 8, 9, 1459, 1460]) {
      const src = parse4('10.0.2.15');
      const dst = parse4('93.184.216.34');
      const buf = Buffer.alloc(20 + 20 + dataLen);
      const l4 = writeIpv4(buf, 0, src, dst, IPPROTO_TCP, 20 + dataLen);
      const p = writeTcp(buf, l4, 40000, 443, 0xfffffff0, 12345, ACK | PSH, 512);
      r.bytes(dataLen).copy(buf, p);
      const seg = buf.subarray(l4);
      const c = finish(sum16(buf, l4, seg.length, pseudo4(src, dst, IPPROTO_TCP, seg.length)));
      expect(c, `data ${dataLen}`).toBe(l4Checksum(src, dst, IPPROTO_TCP, seg));
      buf.writeUInt16BE(c, l4 + 16);
      expect(finish(sum16(buf, l4, seg.length, pseudo4(src, dst, IPPROTO_TCP, seg.length)))).toBe(0);
      expect(verifies(buf.subarray(0, 20))).toBe(true); // IPv4 header checksum from writeIpv4
    }
  });

  it('UDP over IPv6: checksum from pseudo6 (addresses read from the frame) matches the naive one', () => {
    const r = rng(6);
    for (const dataLen of [0, 1, 3, 512, 1231]) {
      const src = parse6('2001:db8::15');
      const dst = parse6('fe80::1:2:3:4');
      const buf = Buffer.alloc(7 + 40 + 8 + dataLen); // odd offset on purpose
      const l4 = writeIpv6(buf, 7, src, dst, IPPROTO_UDP, 8 + dataLen);
      r.bytes(dataLen).copy(buf, writeUdp(buf, l4, 5353, 53, dataLen));
      const len = 8 + dataLen;
      const c = finish(sum16(buf, l4, len, pseudo6(buf, 7 + 8, 7 + 24, IPPROTO_UDP, len)));
      expect(c).toBe(l4Checksum(src, dst, IPPROTO_UDP, buf.subarray(l4)));
    }
  });

  it('pseudo6 handles payload lengths above 65535 (jumbo sizes) like the RFC 8200 32-bit length', () => {
    const b = Buffer.alloc(32);
    expect(pseudo6(b, 0, 16, 17, 0x12345)).toBe(17 + 0x1 + 0x2345);
  });

  it('a known-good captured IPv4/TCP SYN verifies (header and segment)', () => {
    // 10.0.0.1:51234 -> 10.0.0.2:80 SYN, MSS 1460, SACK permitted, TS, NOP, WS 7
    const pkt = hex(
      '4500 003c 1c46 4000 4006 0000 0a00 0001 0a00 0002' +
      'c822 0050 a1b2 c3d4 0000 0000 a002 faf0 0000 0000' +
      '0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307',
    );
    const ipc = checksum(pkt, 0, 20);
    pkt.writeUInt16BE(ipc, 10);
    const src = pkt.readUInt32BE(12);
    const dst = pkt.readUInt32BE(16);
    const tc = finish(sum16(pkt, 20, 40, pseudo4(src, dst, 6, 40)));
    // both checksums computed independently by the naive code
    expect(ipc).toBe(inetChecksum(Buffer.concat([pkt.subarray(0, 10), Buffer.alloc(2), pkt.subarray(12, 20)])));
    expect(tc).toBe(l4Checksum(src, dst, 6, pkt.subarray(20)));
    expect([ipc, tc]).toEqual([0x0a74, 0x28d1]); // computed once with Python
  });
});
