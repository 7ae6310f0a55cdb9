import { describe, expect, it } from 'vitest';
import {
  ACK, FIN, PSH, RST, SYN, TCP_HLEN, URG, newTcpView, parseTcp, seqAdd, seqDiff, seqLe, seqLt, writeTcp,
} from '../../../src/wire/tcp.js';
import { rng } from '../helpers/rng.js';

/** A SYN with the given raw option bytes (padded to a multiple of 4 with EOL). */
function synWith(opts: number[], flags = SYN): Buffer {
  const olen = (opts.length + 3) & ~3;
  const b = Buffer.alloc(TCP_HLEN + olen);
  writeTcp(b, 0, 1234, 80, 1, 0, flags, 1000);
  b[12] = ((TCP_HLEN + olen) / 4) << 4;
  Buffer.from(opts).copy(b, TCP_HLEN);
  return b;
}

const parse = (b: Buffer, len = b.length) => {
  const v = newTcpView();
  return { ok: parseTcp(b, 0, len, v), v };
};

describe('TCP header', () => {
  it('flag values', () => {
    expect([FIN, SYN, RST, PSH, ACK, URG]).toEqual([1, 2, 4, 8, 16, 32]);
  });

  it('writeTcp without options: exact bytes, checksum and urgent pointer zero', () => {
    const b = Buffer.alloc(3 + 20, 0xee);
    expect(writeTcp(b, 3, 0xc822, 80, 0xfffffffe, 0x80000001, ACK | PSH, 0xabcd)).toBe(23);
    expect(b.subarray(3).toString('hex')).toBe('c822' + '0050' + 'fffffffe' + '80000001' + '50' + '18' + 'abcd' + '0000' + '0000');
  });

  it('writeTcp with MSS and window scale: header 28, options 02 04 mss, 01 03 03 ws', () => {
    const b = Buffer.alloc(28);
    expect(writeTcp(b, 0, 80, 40000, 7, 8, SYN | ACK, 65535, 65480, 8)).toBe(28);
    expect(b[12]).toBe(0x70);
    expect(b.subarray(20).toString('hex')).toBe('0204ffc8' + '01030308');
    const { ok, v } = parse(b);
    expect(ok).toBe(true);
    expect(v).toMatchObject({ srcPort: 80, dstPort: 40000, seq: 7, ack: 8, flags: SYN | ACK, window: 65535, dataOff: 28, dataLen: 0, mss: 65480, wscale: 8 });
  });

  it('writeTcp with MSS only, and with window scale 0', () => {
    const b = Buffer.alloc(28);
    expect(writeTcp(b, 0, 1, 2, 3, 4, SYN, 5, 1460)).toBe(24);
    expect(b[12]).toBe(0x60);
    expect(parse(b, 24).v).toMatchObject({ mss: 1460, wscale: -1 });
    expect(writeTcp(b, 0, 1, 2, 3, 4, SYN, 5, 1460, 0)).toBe(28);
    expect(parse(b).v).toMatchObject({ mss: 1460, wscale: 0 });
  });

  it('parseTcp round trip with data, at an offset', () => {
    const r = rng(9293);
    const data = r.bytes(100);
    const b = Buffer.alloc(5 + 20 + 100);
    const p = writeTcp(b, 5, 65535, 1, 0xffffffff, 0, FIN | ACK, 0);
    data.copy(b, p);
    const v = newTcpView();
    expect(parseTcp(b, 5, 120, v)).toBe(true);
    expect(v).toMatchObject({ srcPort: 65535, dstPort: 1, seq: 0xffffffff, ack: 0, flags: FIN | ACK, window: 0, dataOff: 25, dataLen: 100 });
    expect(b.subarray(v.dataOff, v.dataOff + v.dataLen)).toEqual(data);
  });

  it('rejects segments shorter than 20 bytes and bad data offsets', () => {
    const b = Buffer.alloc(40);
    writeTcp(b, 0, 1, 2, 3, 4, ACK, 5);
    expect(parse(b, 19).ok).toBe(false);
    expect(parse(b, 20).ok).toBe(true);
    for (const doff of [0, 1, 4]) {
      b[12] = doff << 4;
      expect(parse(b).ok, `doff ${doff}`).toBe(false);
    }
    b[12] = 0xb0; // 44 > 40
    expect(parse(b).ok).toBe(false);
    b[12] = 0xa0; // 40 = 40: all options, no data
    expect(parse(b)).toMatchObject({ ok: true, v: { dataLen: 0, dataOff: 40 } });
  });

  describe('options', () => {
    it('MSS and window scale among NOPs, SACK-permitted and timestamps (a Linux SYN)', () => {
      const { ok, v } = parse(synWith([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 1, 0xe2, 0x40, 0, 0, 0, 0, 1, 3, 3, 7]));
      expect(ok).toBe(true);
      expect(v.mss).toBe(1460);
      expect(v.wscale).toBe(7);
    });

    it('window scale above 14 is clamped to 14 (RFC 7323 2.3)', () => {
      expect(parse(synWith([1, 3, 3, 14])).v.wscale).toBe(14);
      expect(parse(synWith([1, 3, 3, 15])).v.wscale).toBe(14);
      expect(parse(synWith([1, 3, 3, 255])).v.wscale).toBe(14);
      expect(parse(synWith([1, 3, 3, 0])).v.wscale).toBe(0);
    });

    it('NOP padding before, between and after', () => {
      const { v } = parse(synWith([1, 1, 1, 2, 4, 0x23, 0x28, 1, 1, 3, 3, 2, 1, 1, 1]));
      expect(v.mss).toBe(9000);
      expect(v.wscale).toBe(2);
    });

    it('end-of-list stops parsing', () => {
      const { v } = parse(synWith([2, 4, 0x05, 0xb4, 0, 1, 3, 3, 7]));
      expect(v.mss).toBe(1460);
      expect(v.wscale).toBe(-1);
    });

    it('options are only read on SYN segments; fields reset on every parse', () => {
      const b = synWith([2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
      const v = newTcpView();
      expect(parseTcp(b, 0, b.length, v)).toBe(true);
      expect([v.mss, v.wscale]).toEqual([1460, 7]);
      b[13] = ACK;
      expect(parseTcp(b, 0, b.length, v)).toBe(true);
      expect([v.mss, v.wscale]).toEqual([0, -1]);
    });

    it('wrong-length MSS or window scale options are skipped, not misread', () => {
      const { v } = parse(synWith([2, 6, 1, 2, 3, 4, 3, 4, 9, 9, 2, 4, 0x02, 0x18]));
      expect(v.mss).toBe(0x218);
      expect(v.wscale).toBe(-1);
    });

    it.each([
      ['length 0', [2, 0, 5, 0xb4]],
      ['length 1', [8, 1, 2, 4, 5, 0xb4]],
      ['length past the header', [1, 3, 3, 7, 8, 40]],
      ['kind as the last byte', [1, 1, 1, 8]],
      ['MSS cut short by the header end', [1, 1, 1, 1, 1, 1, 2, 4]],
    ])('malformed option (%s) ends parsing without throwing', (_name, opts) => {
      const { ok, v } = parse(synWith(opts));
      expect(ok).toBe(true);
      expect(v.mss).toBe(0);
    });

    it('garbage options never throw, never read past the header, and terminate', () => {
      const r = rng(7323);
      for (let i = 0; i < 5000; i++) {
        const opts = [...r.bytes(r.int(41))];
        const b = synWith(opts, SYN | (r.int(2) ? ACK : 0));
        // bytes after the header must not influence the options: fill with an MSS option
        const tail = Buffer.from([2, 4, 0xde, 0xad, 3, 3, 5]);
        const withTail = Buffer.concat([b, tail]);
        const a = parse(b);
        const c = newTcpView();
        expect(parseTcp(withTail, 0, withTail.length, c)).toBe(true);
        expect(a.ok).toBe(true);
        expect([c.mss, c.wscale]).toEqual([a.v.mss, a.v.wscale]);
        expect(a.v.wscale).toBeLessThanOrEqual(14);
        expect(a.v.mss).toBeGreaterThanOrEqual(0);
        expect(a.v.mss).toBeLessThanOrEqual(0xffff);
      }
    });
  });
});

describe('sequence arithmetic modulo 2^32', () => {
  it('comparisons across the wrap', () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqLt(0x10, 0xfffffff0)).toBe(false);
    expect(seqLe(0xffffffff, 0)).toBe(true);
    expect(seqLe(5, 5)).toBe(true);
    expect(seqLt(5, 5)).toBe(false);
    expect(seqLt(0, 0x7fffffff)).toBe(true);
    expect(seqLt(0x7fffffff, 0x80000000)).toBe(true);
    expect(seqLt(0x80000000, 0)).toBe(true); // exactly half way: the int32 difference is negative
  });

  it('seqDiff is signed, seqAdd is unsigned', () => {
    expect(seqDiff(5, 0xfffffffb)).toBe(10);
    expect(seqDiff(0xfffffffb, 5)).toBe(-10);
    expect(seqDiff(100, 100)).toBe(0);
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(1, 0xffffffff)).toBe(0); // adding 2^32 - 1 is subtracting 1
    expect(seqAdd(0, 0xffffffff)).toBe(0xffffffff);
  });
});
