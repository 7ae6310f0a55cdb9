import { describe, expect, it } from 'vitest';
import {
  BOOTREQUEST, DHCPDISCOVER, DHCP_MAGIC, DHCP_OPT_OFF, DhcpError, DhcpOptionWriter, OPT_DOMAIN_SEARCH, OPT_END,
  OPT_MSG_TYPE, OPT_PARAM_LIST, OPT_RAPID_COMMIT, OPT_REQUESTED_IP, OPT_SERVER_ID, decodeDomainNames,
  encodeDomainNames, findDhcpOption, newDhcpView, parseDhcp, writeDhcpHeader,
} from '../../../src/wire/dhcp.js';
import { parse4 } from '../../../src/wire/ip.js';

const CHADDR = Buffer.from('020000000042' + '00'.repeat(10), 'hex');

/** A request: fixed part, cookie, then raw option bytes. */
function message(opts: number[], over: { magic?: number; xid?: number; flags?: number; ciaddr?: number } = {}): Buffer {
  const b = Buffer.alloc(DHCP_OPT_OFF + opts.length);
  writeDhcpHeader(b, 0, {
    op: BOOTREQUEST, htype: 1, hlen: 6, xid: over.xid ?? 0x12345678, flags: over.flags ?? 0, ciaddr: over.ciaddr ?? 0,
    yiaddr: 0, siaddr: 0, giaddr: 0,
  }, CHADDR, 0);
  if (over.magic !== undefined) b.writeUInt32BE(over.magic, 236);
  Buffer.from(opts).copy(b, DHCP_OPT_OFF);
  return b;
}

describe('DHCP message codec', () => {
  it('parses the fixed fields and the options a server needs', () => {
    const m = message([
      OPT_MSG_TYPE, 1, DHCPDISCOVER,
      0, 0, // pads
      OPT_REQUESTED_IP, 4, 192, 0, 2, 2,
      OPT_SERVER_ID, 4, 192, 0, 2, 1,
      OPT_PARAM_LIST, 3, 1, 3, 6,
      57, 2, 0x05, 0xdc,
      OPT_RAPID_COMMIT, 0,
      OPT_END,
      OPT_MSG_TYPE, 1, 3, // after the end option: ignored
    ], { flags: 0x8000, ciaddr: parse4('10.0.0.1') });
    const v = newDhcpView();
    expect(parseDhcp(m, 0, m.length, v)).toBe(DhcpError.Ok);
    expect(v).toMatchObject({
      op: BOOTREQUEST, htype: 1, hlen: 6, xid: 0x12345678, flags: 0x8000, ciaddr: parse4('10.0.0.1'), msgType: DHCPDISCOVER,
      requestedIp: parse4('192.0.2.2'), hasServerId: true, serverId: parse4('192.0.2.1'), paramLen: 3, maxMsgSize: 1500,
      rapidCommit: true, chaddrOff: 28, optOff: DHCP_OPT_OFF,
    });
    expect([...m.subarray(v.paramOff, v.paramOff + v.paramLen)]).toEqual([1, 3, 6]);
  });

  it('parses at an offset inside a larger buffer', () => {
    const m = message([OPT_MSG_TYPE, 1, 3, OPT_END]);
    const big = Buffer.concat([Buffer.alloc(42, 0xee), m, Buffer.alloc(10, 0xee)]);
    const v = newDhcpView();
    expect(parseDhcp(big, 42, m.length, v)).toBe(DhcpError.Ok);
    expect(v.msgType).toBe(3);
    expect(v.chaddrOff).toBe(42 + 28);
  });

  it('takes the first instance of a repeated option', () => {
    const m = message([OPT_MSG_TYPE, 1, 1, OPT_MSG_TYPE, 1, 3, OPT_END]);
    const v = newDhcpView();
    parseDhcp(m, 0, m.length, v);
    expect(v.msgType).toBe(1);
  });

  it('accepts options without an end option, and BOOTP without options', () => {
    const v = newDhcpView();
    const a = message([OPT_MSG_TYPE, 1, 1]);
    expect(parseDhcp(a, 0, a.length, v)).toBe(DhcpError.Ok);
    const b = message([]);
    expect(parseDhcp(b, 0, b.length, v)).toBe(DhcpError.Ok);
    expect(v.msgType).toBe(0);
  });

  it('rejects a message shorter than the fixed part and cookie', () => {
    const m = message([]);
    const v = newDhcpView();
    for (const n of [0, 1, 100, 236, 239]) expect(parseDhcp(m, 0, n, v)).toBe(DhcpError.Truncated);
  });

  it('rejects a bad magic cookie', () => {
    const m = message([OPT_MSG_TYPE, 1, 1, OPT_END], { magic: 0x63825364 });
    expect(parseDhcp(m, 0, m.length, newDhcpView())).toBe(DhcpError.BadMagic);
  });

  it('rejects an option whose length runs past the end', () => {
    const v = newDhcpView();
    for (const opts of [
      [OPT_MSG_TYPE, 2, 1],
      [OPT_MSG_TYPE, 1, 1, OPT_PARAM_LIST, 200, 1, 3],
      [OPT_MSG_TYPE], // code without its length byte
      [OPT_MSG_TYPE, 1, 1, 12, 255],
    ]) {
      const m = message(opts);
      expect(parseDhcp(m, 0, m.length, v), JSON.stringify(opts)).toBe(DhcpError.BadOption);
    }
  });

  it('reads only within the given length (truncated options inside a larger buffer)', () => {
    const m = message([OPT_MSG_TYPE, 1, 1, OPT_SERVER_ID, 4, 192, 0, 2, 1, OPT_END]);
    const v = newDhcpView();
    // cut in the middle of option 54
    expect(parseDhcp(m, 0, DHCP_OPT_OFF + 5, v)).toBe(DhcpError.BadOption);
  });

  it('ignores too-short known options instead of reading past them', () => {
    const m = message([OPT_MSG_TYPE, 0, OPT_SERVER_ID, 2, 1, 2, OPT_REQUESTED_IP, 3, 1, 2, 3, OPT_END]);
    const v = newDhcpView();
    expect(parseDhcp(m, 0, m.length, v)).toBe(DhcpError.Ok);
    expect(v).toMatchObject({ msgType: 0, hasServerId: false, requestedIp: 0 });
  });

  it('finds options by code', () => {
    const m = message([0, OPT_MSG_TYPE, 1, 5, 12, 3, 0x61, 0x62, 0x63, OPT_END]);
    const d = findDhcpOption(m, DHCP_OPT_OFF, m.length, 12);
    expect(m.subarray(d, d + m[d - 1]).toString()).toBe('abc');
    expect(findDhcpOption(m, DHCP_OPT_OFF, m.length, 99)).toBe(-1);
    expect(findDhcpOption(m, DHCP_OPT_OFF, m.length - 3, 12)).toBe(-1); // truncated
  });

  it('writes the header and cookie, and options with RFC 3396 splitting', () => {
    const b = Buffer.alloc(1000, 0xaa);
    const p = writeDhcpHeader(b, 0, {
      op: 2, htype: 1, hlen: 6, xid: 0xdeadbeef, flags: 0x8000, ciaddr: 1, yiaddr: parse4('192.0.2.2'), siaddr: 0, giaddr: 3,
    }, CHADDR, 0);
    expect(p).toBe(DHCP_OPT_OFF);
    expect(b.readUInt32BE(236)).toBe(DHCP_MAGIC);
    expect(b.subarray(44, 236).every((x) => x === 0)).toBe(true);
    const w = new DhcpOptionWriter(b, p, 1000);
    expect(w.putU8(OPT_MSG_TYPE, 2)).toBe(true);
    expect(w.putU16(26, 65520)).toBe(true);
    expect(w.putAddrs(6, [parse4('192.0.2.1'), parse4('192.0.2.53')])).toBe(true);
    const long = Buffer.alloc(300, 7);
    expect(w.put(OPT_DOMAIN_SEARCH, long)).toBe(true);
    const end = w.end(DHCP_OPT_OFF + 700);
    expect(end).toBe(DHCP_OPT_OFF + 700);
    const v = newDhcpView();
    expect(parseDhcp(b, 0, end, v)).toBe(DhcpError.Ok);
    expect(v).toMatchObject({ op: 2, xid: 0xdeadbeef, flags: 0x8000, ciaddr: 1, yiaddr: parse4('192.0.2.2'), giaddr: 3, msgType: 2 });
    const mtu = findDhcpOption(b, p, end, 26);
    expect(b.readUInt16BE(mtu)).toBe(65520);
    // 300 bytes: two instances, 255 + 45
    const s1 = findDhcpOption(b, p, end, OPT_DOMAIN_SEARCH);
    expect(b[s1 - 1]).toBe(255);
    expect(b[s1 + 255]).toBe(OPT_DOMAIN_SEARCH);
    expect(b[s1 + 256]).toBe(45);
    expect(b[s1 + 257 + 45]).toBe(OPT_END);
    expect(b.subarray(s1 + 258 + 45, end).every((x) => x === 0)).toBe(true);
  });

  it('refuses options that do not fit before the limit, keeping room for the end option', () => {
    const b = Buffer.alloc(300);
    const w = new DhcpOptionWriter(b, 240, 250);
    expect(w.put(1, Buffer.alloc(6))).toBe(true); // 240..248, end at 248
    expect(w.put(2, Buffer.alloc(0))).toBe(false); // would leave no room for the end option
    expect(w.p).toBe(248);
    expect(w.end()).toBe(249);
  });
});

describe('domain name lists', () => {
  it('round-trips with compression (RFC 3397), pointers into earlier names', () => {
    const names = ['example.org', 'sub.example.org', 'a.sub.example.org', 'other.net'];
    const b = encodeDomainNames(names, true);
    expect(decodeDomainNames(b, 0, b.length, true)).toEqual(names);
    const plain = encodeDomainNames(names, false);
    expect(b.length).toBeLessThan(plain.length);
    // "sub." then a pointer to offset 0 ("example.org")
    expect([...b.subarray(13, 19)]).toEqual([3, 0x73, 0x75, 0x62, 0xc0, 0x00]);
  });

  it('matches the RFC 3397 example encoding', () => {
    // eng.apple.com. and marketing.apple.com.
    const b = encodeDomainNames(['eng.apple.com', 'marketing.apple.com.'], true);
    const expected = Buffer.concat([
      Buffer.from([3]), Buffer.from('eng'), Buffer.from([5]), Buffer.from('apple'), Buffer.from([3]), Buffer.from('com'),
      Buffer.from([0, 9]), Buffer.from('marketing'), Buffer.from([0xc0, 0x04]),
    ]);
    expect(b).toEqual(expected);
  });

  it('round-trips without compression, as DHCPv6 and NDP carry it', () => {
    const names = ['example.org', 'sub.example.org'];
    const b = encodeDomainNames(names, false);
    expect(b.includes(0xc0)).toBe(false);
    expect(decodeDomainNames(b, 0, b.length, false)).toEqual(names);
  });

  it('skips names that cannot be encoded', () => {
    const long = 'a'.repeat(64);
    const b = encodeDomainNames(['', '.', `${long}.org`, 'a..b', 'ok.example', `${'abcdefgh.'.repeat(29)}org`, 'sp ace.org'], true);
    expect(decodeDomainNames(b, 0, b.length, true)).toEqual(['ok.example']);
  });

  it('compares suffixes case-insensitively', () => {
    const b = encodeDomainNames(['Example.ORG', 'x.example.org'], true);
    expect(b.length).toBe(13 + 4);
    expect(decodeDomainNames(b, 0, b.length, true)).toEqual(['Example.ORG', 'x.Example.ORG']);
  });

  it('rejects pointers when compression is off', () => {
    const b = encodeDomainNames(['a.org', 'b.a.org'], true);
    expect(decodeDomainNames(b, 0, b.length, false)).toBeUndefined();
  });

  it('does not hang on compression loops', () => {
    const cases = [
      [0xc0, 0x00], // points at itself
      [1, 0x61, 0xc0, 0x00], // label, then back to its own start
      [1, 0x61, 0xc0, 0x04, 1, 0x62, 0xc0, 0x00], // two names pointing at each other
      [0xc0, 0x02, 1, 0x61, 0], // forward pointer
      [1, 0x61, 0, 1, 0x62, 0xc0, 0x03], // pointer into its own name
      [0xc0, 0xff], // out of range
    ];
    for (const c of cases) {
      const b = Buffer.from(c);
      const t0 = Date.now();
      expect(decodeDomainNames(b, 0, b.length, true), JSON.stringify(c)).toBeUndefined();
      expect(Date.now() - t0).toBeLessThan(100);
    }
  });

  it('rejects truncated names, reserved label types, empty and over-long names', () => {
    for (const c of [
      [3, 0x61, 0x62], // label past the end
      [1, 0x61], // no terminator
      [0xc0], // half a pointer
      [0x40, 0x61, 0], // reserved label type
      [0], // root name
    ]) {
      const b = Buffer.from(c);
      expect(decodeDomainNames(b, 0, b.length, true), JSON.stringify(c)).toBeUndefined();
    }
    // 5 labels of 63 bytes: longer than 255
    const tooLong = Buffer.concat([...Array(5)].map(() => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])));
    const b = Buffer.concat([tooLong, Buffer.from([0])]);
    expect(decodeDomainNames(b, 0, b.length, true)).toBeUndefined();
  });

  it('follows chained pointers that go backwards', () => {
    const names = ['c.org', 'b.c.org', 'a.b.c.org', 'z.a.b.c.org'];
    const b = encodeDomainNames(names, true);
    expect(decodeDomainNames(b, 0, b.length, true)).toEqual(names);
  });

  it('allows zero padding only when asked (NDP DNSSL)', () => {
    const b = Buffer.concat([encodeDomainNames(['example.org'], false), Buffer.alloc(3)]);
    expect(decodeDomainNames(b, 0, b.length, false, true)).toEqual(['example.org']);
    expect(decodeDomainNames(b, 0, b.length, false)).toBeUndefined();
    const junk = Buffer.concat([b, Buffer.from([1])]);
    expect(decodeDomainNames(junk, 0, junk.length, false, true)).toBeUndefined();
  });
});
