import { isIP, isIPv4, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IpError, equal6, format4, format6, ipFamily, isIp4, isLinkLocal6, isMulticast6, isUnspecified6, mask4,
  newIpView, parse4, parse6, parseIpv4, parseIpv6, writeIpv4, writeIpv6,
} from '../../../src/wire/ip.js';
import { inetChecksum, verifies } from '../helpers/csum.js';
import { rng } from '../helpers/rng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('IPv4 addresses', () => {
  it.each([
    ['0.0.0.0', 0],
    ['10.0.2.15', 0x0a00020f],
    ['127.0.0.1', 0x7f000001],
    ['192.168.255.1', 0xc0a8ff01],
    ['255.255.255.255', 0xffffffff],
  ])('parse4(%s) and back', (s, v) => {
    expect(parse4(s)).toBe(v);
    expect(format4(v)).toBe(s);
    expect(format4(v | 0)).toBe(s); // int32 view of the same address
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', 'a.b.c.d', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.1000', '0x1.2.3.4'])(
    'parse4 rejects %j', (s) => {
      expect(() => parse4(s)).toThrow(/invalid IPv4 address/);
    },
  );

  it('mask4', () => {
    expect(mask4(0)).toBe(0);
    expect(mask4(1)).toBe(0x80000000);
    expect(mask4(24)).toBe(0xffffff00);
    expect(mask4(31)).toBe(0xfffffffe);
    expect(mask4(32)).toBe(0xffffffff);
  });
});

describe('IPv6 addresses', () => {
  // RFC 5952 section 4: one canonical text form.
  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // 4.1 leading zeros
    ['2001:DB8::A:B:c', '2001:db8::a:b:c'], // 4.3 lower case
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'], // 4.2.1 as much as possible
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 not a single 16-bit 0
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 the first of equal runs
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'], // :: for one group is not used when formatting
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['fe80::1%eth0', 'fe80::1'], // zone index dropped
    ['fe80:0:0:0:a:0:0:0', 'fe80::a:0:0:0'], // two runs of 3: the first wins
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s -> %s', (input, canonical) => {
    expect(format6(parse6(input))).toBe(canonical);
    expect(format6(parse6(canonical))).toBe(canonical);
  });

  it('parses an embedded IPv4 tail', () => {
    expect(parse6('::ffff:192.0.2.1').toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(parse6('64:ff9b::10.0.0.1').toString('hex')).toBe('0064ff9b00000000000000000a000001');
    expect(parse6('1:2:3:4:5:6:1.2.3.4').toString('hex')).toBe('000100020003000400050006' + '01020304');
  });

  it('fe80::1 bytes', () => {
    expect(parse6('fe80::1').toString('hex')).toBe('fe800000000000000000000000000001');
  });

  it.each([
    '', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', ':1::', '1:::2',
    '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8::', '::1.2.3', '::1.2.3.256', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5',
    '1.2.3.4::', '1.2.3.4::1', '::1.2.3.4::',
  ])('parse6 rejects %j', (s) => {
    expect(isIPv6(s)).toBe(false); // Node agrees it is not an address
    expect(() => parse6(s)).toThrow(/invalid IPv6 address/);
  });

  it('format6 output parses back and equals the WHATWG URL serialization (random addresses with zero runs)', () => {
    const r = rng(5952);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(16);
      for (let w = 0; w < 8; w++) {
        const k = r.int(4);
        b.writeUInt16BE(k < 2 ? 0 : k === 2 ? r.int(16) : r.int(0x10000), w * 2);
      }
      const s = format6(b);
      expect(isIPv6(s), s).toBe(true);
      expect(parse6(s).equals(b), s).toBe(true);
      // the WHATWG URL serializer implements the same RFC 5952 rules
      expect(s).toBe(new URL(`http://[${s}]/`).hostname.slice(1, -1));
    }
  });

  it('format6 reads at an offset', () => {
    const b = Buffer.concat([Buffer.from([0xaa, 0xbb]), parse6('2001:db8::15')]);
    expect(format6(b, 2)).toBe('2001:db8::15');
  });

  it('predicates', () => {
    const buf = Buffer.concat([Buffer.alloc(3, 0xee), parse6('fe80::1'), parse6('ff02::1:ff00:15'), Buffer.alloc(16)]);
    expect(isLinkLocal6(buf, 3)).toBe(true);
    expect(isLinkLocal6(parse6('febf::1'))).toBe(true);
    expect(isLinkLocal6(parse6('fec0::1'))).toBe(false);
    expect(isMulticast6(buf, 19)).toBe(true);
    expect(isMulticast6(buf, 3)).toBe(false);
    expect(isUnspecified6(buf, 35)).toBe(true);
    expect(isUnspecified6(parse6('::1'))).toBe(false);
    expect(equal6(buf, 3, parse6('fe80::1'), 0)).toBe(true);
    expect(equal6(buf, 3, parse6('fe80::2'), 0)).toBe(false);
  });
});

describe('ipFamily', () => {
  it.each([
    ['1.2.3.4', 4], ['0.0.0.0', 4], ['255.255.255.255', 4], ['::', 6], ['fd00::100', 6], ['::ffff:10.0.2.2', 6],
    ['fe80::1%eth0', 6], ['24', 0], ['', 0], ['01.2.3.4', 0], ['::1.02.3.4', 0], ['fe80::1%', 0], ['256.1.1.1', 0],
    ['1.2.3.4:80', 0], ['[::1]', 0], ['localhost', 0],
  ] as const)('%j is %i', (s, family) => {
    expect(ipFamily(s)).toBe(family);
  });

  it('agrees with node:net isIP (and isIp4 with isIPv4) on 30000 random and mutated addresses', () => {
    const r = rng(4291);
    const seeds = ['192.0.2.1', '10.0.2.100', '::', '::1', 'fd00::2', '2001:db8:0:1:1:1:1:1', '::ffff:192.0.2.1', '64:ff9b::10.0.0.1',
      '1:2:3:4:5:6:1.2.3.4', 'fe80::1%eth0', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8'];
    const alphabet = '0123456789abcdefABCDEFgG:.%-';
    let agreed = 0;
    for (let i = 0; i < 30000; i++) {
      let s: string;
      if (i % 2) {
        s = '';
        for (let n = r.int(24); n > 0; n--) s += alphabet[r.int(alphabet.length)];
      } else {
        const chars = [...seeds[r.int(seeds.length)]!];
        for (let n = 1 + r.int(3); n > 0; n--) {
          const at = r.int(chars.length + 1);
          const k = r.int(3);
          if (k === 0) chars.splice(at, 1);
          else if (k === 1) chars.splice(at, 0, alphabet[r.int(alphabet.length)]!);
          else chars[at] = alphabet[r.int(alphabet.length)]!;
        }
        s = chars.join('');
      }
      expect(ipFamily(s), JSON.stringify(s)).toBe(isIP(s));
      expect(isIp4(s), JSON.stringify(s)).toBe(isIPv4(s));
      if (isIP(s)) agreed++;
    }
    expect(agreed).toBeGreaterThan(3000); // the mutations keep enough real addresses to compare
  });
});

describe('IPv4 header', () => {
  it('writeIpv4: version/IHL, length, DF, TTL, protocol, addresses, valid checksum, increasing id', () => {
    const b = Buffer.alloc(2 + 20 + 5);
    expect(writeIpv4(b, 2, parse4('10.0.2.2'), parse4('10.0.2.15'), IPPROTO_UDP, 5)).toBe(22);
    const h = b.subarray(2, 22);
    expect(h[0]).toBe(0x45);
    expect(h[1]).toBe(0);
    expect(h.readUInt16BE(2)).toBe(25);
    expect(h.readUInt16BE(6)).toBe(0x4000);
    expect(h[8]).toBe(64);
    expect(h[9]).toBe(17);
    expect(h.readUInt32BE(12)).toBe(0x0a000202);
    expect(h.readUInt32BE(16)).toBe(0x0a00020f);
    expect(verifies(h)).toBe(true);
    const id1 = h.readUInt16BE(4);
    writeIpv4(b, 2, parse4('10.0.2.2'), parse4('10.0.2.15'), IPPROTO_UDP, 5, 1);
    expect(h.readUInt16BE(4)).toBe((id1 + 1) & 0xffff);
    expect(h[8]).toBe(1);
    expect(verifies(h)).toBe(true);
    const z = Buffer.from(h);
    z.writeUInt16BE(0, 10);
    expect(h.readUInt16BE(10)).toBe(inetChecksum(z));
  });

  it('parseIpv4 round trip, with Ethernet padding after the packet', () => {
    const b = Buffer.alloc(4 + 20 + 8 + 18, 0x77);
    writeIpv4(b, 4, parse4('192.0.2.1'), parse4('203.0.113.9'), IPPROTO_TCP, 8, 33);
    const v = newIpView();
    expect(parseIpv4(b, 4, b.length - 4, v)).toBe(IpError.Ok);
    expect(v).toMatchObject({ version: 4, hdrOff: 4, proto: 6, ttl: 33, src4: 0xc0000201, dst4: 0xcb007109, l4Off: 24, l4Len: 8 });
  });

  it('parseIpv4 skips header options (IHL 6)', () => {
    const b = hex('4600 001c 0000 4000 4011 0000 0a00 020f 0a00 0202 9404 0000' + '1234 0035 0008 0000');
    const v = newIpView();
    expect(parseIpv4(b, 0, b.length, v)).toBe(IpError.Ok);
    expect(v.l4Off).toBe(24);
    expect(v.l4Len).toBe(4);
  });

  const base = (): Buffer => {
    const b = Buffer.alloc(40);
    writeIpv4(b, 0, parse4('10.0.2.15'), parse4('10.0.2.2'), IPPROTO_UDP, 20);
    return b;
  };

  it('truncated: fewer than 20 bytes, or total length beyond the buffer', () => {
    const v = newIpView();
    expect(parseIpv4(base(), 0, 19, v)).toBe(IpError.Truncated);
    expect(parseIpv4(base(), 0, 0, v)).toBe(IpError.Truncated);
    expect(parseIpv4(base(), 0, 39, v)).toBe(IpError.Truncated);
    const b = base();
    b.writeUInt16BE(41, 2);
    expect(parseIpv4(b, 0, 40, v)).toBe(IpError.Truncated);
    b.writeUInt16BE(0xffff, 2);
    expect(parseIpv4(b, 0, 40, v)).toBe(IpError.Truncated);
  });

  it('bad header: version, IHL below 5, total length below the header length', () => {
    const v = newIpView();
    for (const vihl of [0x65, 0x05, 0x44, 0x40, 0x41, 0xf5]) {
      const b = base();
      b[0] = vihl;
      expect(parseIpv4(b, 0, 40, v), `vihl 0x${vihl.toString(16)}`).toBe(IpError.BadHeader);
    }
    const b = base();
    b.writeUInt16BE(19, 2);
    expect(parseIpv4(b, 0, 40, v)).toBe(IpError.BadHeader);
    b[0] = 0x46; // IHL 24 > total 20
    b.writeUInt16BE(20, 2);
    expect(parseIpv4(b, 0, 40, v)).toBe(IpError.BadHeader);
    b[0] = 0x4f; // IHL 60 > the 40 bytes there are (and > total)
    b.writeUInt16BE(40, 2);
    expect(parseIpv4(b, 0, 40, v)).toBe(IpError.BadHeader);
  });

  it('fragments: MF set, or a non-zero offset; DF alone is fine', () => {
    const v = newIpView();
    for (const [frag, want] of [[0x2000, IpError.Fragment], [0x0001, IpError.Fragment], [0x1fff, IpError.Fragment],
      [0x6000, IpError.Fragment], [0x4000, IpError.Ok], [0x0000, IpError.Ok], [0x8000, IpError.Ok]] as const) {
      const b = base();
      b.writeUInt16BE(frag, 6);
      expect(parseIpv4(b, 0, 40, v), `frag 0x${frag.toString(16)}`).toBe(want);
    }
  });
});

describe('IPv6 header and extension headers', () => {
  const src = parse6('2001:db8::15');
  const dst = parse6('2001:db8::2');

  /** IPv6 packet: header at off 2, then the given extension headers (next header, bytes) and an 8-byte UDP-ish payload. */
  function pkt(exts: Array<[number, Buffer]>, finalProto = IPPROTO_UDP, payload = Buffer.alloc(8, 0x11)): { b: Buffer; plen: number } {
    const body = Buffer.concat([...exts.map(([, e]) => e), payload]);
    const b = Buffer.alloc(2 + 40 + body.length + 6, 0xcc); // trailing padding
    writeIpv6(b, 2, src, dst, exts.length > 0 ? exts[0][0] : finalProto, body.length, 255);
    // chain: each extension header's first byte is the next header
    let p = 0;
    exts.forEach(([, e], i) => {
      e[0] = i + 1 < exts.length ? exts[i + 1][0] : finalProto;
      p += e.length;
    });
    Buffer.concat([...exts.map(([, e]) => e), payload]).copy(b, 42);
    return { b, plen: body.length };
  }
  /** An options-style extension header of 8*(hl+1) bytes. */
  const ext = (hl: number): Buffer => {
    const e = Buffer.alloc(8 * (hl + 1));
    e[1] = hl;
    e[2] = 1; // PadN
    e[3] = e.length - 4;
    return e;
  };

  it('writeIpv6 / parseIpv6 round trip', () => {
    const { b } = pkt([]);
    expect(b.subarray(2, 10).toString('hex')).toBe('60000000' + '0008' + '11' + 'ff');
    const v = newIpView();
    expect(parseIpv6(b, 2, b.length - 2, v)).toBe(IpError.Ok);
    expect(v).toMatchObject({ version: 6, hdrOff: 2, proto: 17, ttl: 255, src6Off: 10, dst6Off: 26, l4Off: 42, l4Len: 8 });
    expect(format6(b, v.src6Off)).toBe('2001:db8::15');
    expect(format6(b, v.dst6Off)).toBe('2001:db8::2');
  });

  it('walks hop-by-hop, routing and destination options to the upper layer', () => {
    const { b } = pkt([[0, ext(0)], [60, ext(2)], [43, ext(1)], [60, ext(0)]], IPPROTO_TCP, Buffer.alloc(20));
    const v = newIpView();
    expect(parseIpv6(b, 2, b.length - 2, v)).toBe(IpError.Ok);
    expect(v.proto).toBe(IPPROTO_TCP);
    expect(v.l4Off).toBe(42 + 8 + 24 + 16 + 8);
    expect(v.l4Len).toBe(20);
  });

  it('a fragment header anywhere in the chain is reported as a fragment', () => {
    const v = newIpView();
    expect(parseIpv6(pkt([[44, Buffer.alloc(8)]]).b, 2, 60, v)).toBe(IpError.Fragment);
    const { b } = pkt([[0, ext(0)], [44, Buffer.alloc(8)]]);
    expect(parseIpv6(b, 2, b.length - 2, v)).toBe(IpError.Fragment);
  });

  it('a chain running past the payload length is truncated', () => {
    const v = newIpView();
    // the destination options header claims 24 bytes; only 16 bytes of payload follow the IPv6 header
    const { b } = pkt([[60, ext(0)]]);
    b[42 + 1] = 2;
    expect(parseIpv6(b, 2, b.length - 2, v)).toBe(IpError.Truncated);
    // an extension header that does not fit at all (payload length 4)
    const c = Buffer.alloc(44);
    writeIpv6(c, 0, src, dst, 0, 4);
    expect(parseIpv6(c, 0, 44, v)).toBe(IpError.Truncated);
    // a chain that ends exactly at the end is fine: no upper-layer bytes
    const e = ext(0);
    e[0] = 59; // no next header
    const d = Buffer.alloc(48);
    writeIpv6(d, 0, src, dst, 0, 8);
    e.copy(d, 40);
    expect(parseIpv6(d, 0, 48, v)).toBe(IpError.Ok);
    expect(v.proto).toBe(59);
    expect(v.l4Len).toBe(0);
  });

  it('payload length beyond the buffer, short header, wrong version', () => {
    const v = newIpView();
    const { b } = pkt([]);
    expect(parseIpv6(b, 2, 39, v)).toBe(IpError.Truncated);
    expect(parseIpv6(b, 2, 47, v)).toBe(IpError.Truncated);
    expect(parseIpv6(b, 2, 48, v)).toBe(IpError.Ok);
    b[2] = 0x45;
    expect(parseIpv6(b, 2, 48, v)).toBe(IpError.BadHeader);
  });

  it('a long chain of extension headers terminates (bounded by the payload)', () => {
    const exts: Array<[number, Buffer]> = [];
    for (let i = 0; i < 200; i++) exts.push([60, ext(0)]);
    const { b } = pkt(exts, IPPROTO_ICMPV6);
    const v = newIpView();
    expect(parseIpv6(b, 2, b.length - 2, v)).toBe(IpError.Ok);
    expect(v.proto).toBe(IPPROTO_ICMPV6);
    expect(v.l4Off).toBe(42 + 1600);
  });
});
