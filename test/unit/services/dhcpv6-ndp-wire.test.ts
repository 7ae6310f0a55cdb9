import { describe, expect, it } from 'vitest';
import {
  Dhcpv6Error, IA_NA_FIXED, INFINITY, OPTION_CLIENTID, OPTION_DNS_SERVERS, OPTION_DOMAIN_LIST, OPTION_IAADDR,
  OPTION_IA_NA, OPTION_IA_TA, OPTION_ORO, OPTION_RAPID_COMMIT, OPTION_SERVERID, OPTION_STATUS_CODE, REPLY, SOLICIT,
  STATUS_NOT_ON_LINK, beginOption6, copyOption6, duidLlt, endOption6, findOption6, forEachIaAddr, newDhcpv6View,
  nextOption6, opt6Code, opt6Len, parseDhcpv6, putDnsServers6, putDomainList6, putIaNa, putIaNaStatus, putOption6,
  sameOption6, writeDhcpv6Header,
} from '../../../src/wire/dhcpv6.js';
import { decodeDomainNames } from '../../../src/wire/dhcp.js';
import { format6, parse6 } from '../../../src/wire/ip.js';
import {
  ND_INFINITY, ND_OPT_DNSSL, ND_OPT_RDNSS, ND_OPT_SOURCE_LLADDR, NdpError, PREFIX_FLAG_AUTO, PREFIX_FLAG_ONLINK,
  RA_FLAG_MANAGED, dnsslSize, newRaView, newRsView, nextNdpOption, parseRouterAdvert, parseRouterSolicit, putDnssl,
  putLinkAddrOption, putMtuOption, putPrefixInfo, putRdnss, readDnssl, readMtuOption, readPrefixInfo, readRdnss,
  writeRouterAdvert,
} from '../../../src/wire/ndp.js';

const MAC = Buffer.from('9a559a559a55', 'hex');

describe('DHCPv6 message codec', () => {
  function solicit(): Buffer {
    const b = Buffer.alloc(200);
    let p = writeDhcpv6Header(b, 0, SOLICIT, 0xabcdef);
    p = putOption6(b, p, OPTION_CLIENTID, duidLlt(Buffer.from('020000000042', 'hex'), 1000));
    p = putOption6(b, p, OPTION_ORO, Buffer.from([0, 23, 0, 24]));
    const ia = beginOption6(b, p, OPTION_IA_NA);
    b.writeUInt32BE(0x11223344, ia);
    b.writeUInt32BE(3600, ia + 4);
    b.writeUInt32BE(5400, ia + 8);
    p = endOption6(b, p, ia + IA_NA_FIXED);
    p = putOption6(b, p, OPTION_RAPID_COMMIT);
    return b.subarray(0, p);
  }

  it('round-trips a message and locates its options', () => {
    const m = solicit();
    const v = newDhcpv6View();
    expect(parseDhcpv6(m, 0, m.length, v)).toBe(Dhcpv6Error.Ok);
    expect(v.type).toBe(SOLICIT);
    expect(v.xid).toBe(0xabcdef);
    expect(opt6Code(m, v.clientId)).toBe(OPTION_CLIENTID);
    expect(opt6Len(m, v.clientId)).toBe(14);
    expect(m.readUInt16BE(v.clientId + 4)).toBe(1); // DUID-LLT
    expect(opt6Code(m, v.oro)).toBe(OPTION_ORO);
    expect(m.readUInt32BE(v.iaNa + 4)).toBe(0x11223344);
    expect(v.serverId).toBe(-1);
    expect(v.iaTa).toBe(-1);
    expect(v.rapidCommit).toBe(true);
    expect(findOption6(m, v.optOff, v.optEnd, OPTION_RAPID_COMMIT)).toBeGreaterThan(0);
    expect(findOption6(m, v.optOff, v.optEnd, 99)).toBe(-1);
  });

  it('rejects truncated messages and options past the end', () => {
    const m = solicit();
    const v = newDhcpv6View();
    expect(parseDhcpv6(m, 0, 3, v)).toBe(Dhcpv6Error.Truncated);
    expect(parseDhcpv6(m, 0, 4, v)).toBe(Dhcpv6Error.Ok); // no options
    expect(parseDhcpv6(m, 0, 6, v)).toBe(Dhcpv6Error.BadOption); // half an option header
    expect(parseDhcpv6(m, 0, 10, v)).toBe(Dhcpv6Error.BadOption); // client id cut
    const bad = Buffer.from(m);
    bad.writeUInt16BE(0xffff, 6); // client id length
    expect(parseDhcpv6(bad, 0, bad.length, v)).toBe(Dhcpv6Error.BadOption);
    expect(nextOption6(bad, 4, bad.length)).toBe(-1);
    expect(findOption6(bad, 4, bad.length, OPTION_ORO)).toBe(-1);
  });

  it('writes IA_NA with an address, status codes, DNS servers and domain lists', () => {
    const b = Buffer.alloc(400);
    let p = writeDhcpv6Header(b, 0, REPLY, 0x010203);
    p = putIaNa(b, p, 7, INFINITY, INFINITY, parse6('fd00::2'), INFINITY, INFINITY);
    p = putIaNaStatus(b, p, 8, STATUS_NOT_ON_LINK, 'nope');
    p = putDnsServers6(b, p, [parse6('fd00::53'), parse6('2001:db8::53')]);
    p = putDomainList6(b, p, ['example.org', 'sub.example.org']);
    const v = newDhcpv6View();
    expect(parseDhcpv6(b, 0, p, v)).toBe(Dhcpv6Error.Ok);
    expect(v.type).toBe(REPLY);
    expect(v.xid).toBe(0x010203);
    expect(opt6Len(b, v.iaNa)).toBe(12 + 4 + 24);
    const addrs: string[] = [];
    expect(forEachIaAddr(b, v.iaNa, (a) => addrs.push(format6(b, a)))).toBe(true);
    expect(addrs).toEqual(['fd00::2']);
    const ia2 = v.iaNa + 4 + opt6Len(b, v.iaNa);
    expect(b.readUInt32BE(ia2 + 4)).toBe(8);
    const st = findOption6(b, ia2 + 4 + 12, ia2 + 4 + opt6Len(b, ia2), OPTION_STATUS_CODE);
    expect(b.readUInt16BE(st + 4)).toBe(STATUS_NOT_ON_LINK);
    expect(b.subarray(st + 6, st + 4 + opt6Len(b, st)).toString()).toBe('nope');
    const dns = findOption6(b, v.optOff, v.optEnd, OPTION_DNS_SERVERS);
    expect(opt6Len(b, dns)).toBe(32);
    expect(format6(b, dns + 20)).toBe('2001:db8::53');
    const dl = findOption6(b, v.optOff, v.optEnd, OPTION_DOMAIN_LIST);
    expect(decodeDomainNames(b, dl + 4, opt6Len(b, dl), false)).toEqual(['example.org', 'sub.example.org']);
  });

  it('walks IA addresses only when the IA is well formed', () => {
    const b = Buffer.alloc(100);
    const end = putIaNa(b, 0, 1, 0, 0, parse6('fd00::9'), 0, 0);
    expect(forEachIaAddr(b, 0, () => {})).toBe(true);
    // IAADDR too short
    const c = Buffer.from(b.subarray(0, end));
    c.writeUInt16BE(20, 4 + 12 + 2);
    c.writeUInt16BE(12 + 4 + 20, 2);
    expect(forEachIaAddr(c, 0, () => {})).toBe(false);
    // IA_NA shorter than its fixed part
    const d = Buffer.from([0, OPTION_IA_NA, 0, 4, 0, 0, 0, 1]);
    expect(forEachIaAddr(d, 0, () => {})).toBe(false);
    // IA_TA: 4-byte fixed part
    const t = Buffer.alloc(60);
    const ta = beginOption6(t, 0, OPTION_IA_TA);
    const a = beginOption6(t, ta + 4, OPTION_IAADDR);
    parse6('fd00::7').copy(t, a);
    endOption6(t, ta + 4, a + 24);
    endOption6(t, 0, a + 24);
    const seen: string[] = [];
    expect(forEachIaAddr(t, 0, (o) => seen.push(format6(t, o)))).toBe(true);
    expect(seen).toEqual(['fd00::7']);
  });

  it('compares and copies options across buffers', () => {
    const a = Buffer.alloc(30);
    const b = Buffer.alloc(40);
    putOption6(a, 0, OPTION_SERVERID, duidLlt(MAC, 5));
    const n = copyOption6(b, 10, a, 0);
    expect(n).toBe(10 + 18);
    expect(sameOption6(a, 0, b, 10)).toBe(true);
    b[27] ^= 1;
    expect(sameOption6(a, 0, b, 10)).toBe(false);
    putOption6(b, 10, OPTION_SERVERID, duidLlt(MAC, 5).subarray(0, 10));
    expect(sameOption6(a, 0, b, 10)).toBe(false);
  });

  it('builds DUID-LLT from type, hardware type, time and MAC', () => {
    expect(duidLlt(MAC, 0x01020304).toString('hex')).toBe('00010001010203049a559a559a55');
  });
});

describe('NDP codec', () => {
  it('parses router solicitations with and without a source link-layer address', () => {
    const v = newRsView();
    const rs = Buffer.from([133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 0x42]);
    expect(parseRouterSolicit(rs, 0, rs.length, v)).toBe(NdpError.Ok);
    expect(rs.subarray(v.srcLlOff, v.srcLlOff + 6).toString('hex')).toBe('020000000042');
    expect(parseRouterSolicit(rs, 0, 8, v)).toBe(NdpError.Ok);
    expect(v.srcLlOff).toBe(-1);
  });

  it('rejects malformed router solicitations', () => {
    const v = newRsView();
    const ok = [133, 0, 0, 0, 0, 0, 0, 0];
    for (const c of [
      ok.slice(0, 7), // truncated
      [133, 1, ...ok.slice(2)], // code != 0
      [134, ...ok.slice(1)], // not an RS
      [...ok, 1, 0, 0, 0, 0, 0, 0, 0], // option length 0 (would loop)
      [...ok, 1, 2, 0, 0, 0, 0, 0, 0], // option past the end
      [...ok, 1], // half an option header
    ]) {
      const b = Buffer.from(c);
      expect(parseRouterSolicit(b, 0, b.length, v), JSON.stringify(c)).not.toBe(NdpError.Ok);
    }
    expect(nextNdpOption(Buffer.from([1, 0]), 0, 2)).toBe(-1);
  });

  it('round-trips a router advertisement with all its options', () => {
    const b = Buffer.alloc(300);
    let p = writeRouterAdvert(b, 0, { curHopLimit: 255, flags: RA_FLAG_MANAGED, routerLifetime: 65535, reachable: 7, retrans: 9 });
    p = putPrefixInfo(b, p, parse6('fd00::1234:5678'), 0, 64, PREFIX_FLAG_ONLINK | PREFIX_FLAG_AUTO, ND_INFINITY, 3600);
    p = putLinkAddrOption(b, p, ND_OPT_SOURCE_LLADDR, MAC);
    p = putMtuOption(b, p, 65520);
    p = putRdnss(b, p, ND_INFINITY, [parse6('fd00::53'), parse6('2001:db8::53')]);
    const before = p;
    p = putDnssl(b, p, ND_INFINITY, ['example.org', 'sub.example.org']);
    expect(p - before).toBe(dnsslSize(['example.org', 'sub.example.org']));
    expect((p - before) % 8).toBe(0);
    const v = newRaView();
    expect(parseRouterAdvert(b, 0, p, v)).toBe(NdpError.Ok);
    expect(v).toMatchObject({ curHopLimit: 255, flags: RA_FLAG_MANAGED, routerLifetime: 65535, reachable: 7, retrans: 9 });
    const pi = readPrefixInfo(b, v.prefixInfo);
    expect(pi).toMatchObject({ prefixLen: 64, flags: 0xc0, valid: ND_INFINITY, preferred: 3600 });
    expect(format6(b, pi.prefixOff)).toBe('fd00::'); // host part cleared
    expect(b.subarray(v.srcLl + 2, v.srcLl + 8)).toEqual(MAC);
    expect(readMtuOption(b, v.mtu)).toBe(65520);
    const r = readRdnss(b, v.rdnss);
    expect(r.lifetime).toBe(ND_INFINITY);
    expect(r.addrOffs.map((o) => format6(b, o))).toEqual(['fd00::53', '2001:db8::53']);
    const d = readDnssl(b, v.dnssl);
    expect(d.names).toEqual(['example.org', 'sub.example.org']);
    expect(b[v.rdnss]).toBe(ND_OPT_RDNSS);
    expect(b[v.dnssl]).toBe(ND_OPT_DNSSL);
  });

  it('masks prefixes of any length', () => {
    const b = Buffer.alloc(32);
    putPrefixInfo(b, 0, parse6('2001:db8:ffff:ffff::1'), 0, 36, 0, 0, 0);
    expect(format6(b, 16)).toBe('2001:db8:f000::');
  });

  it('writes no DNSSL when no name can be encoded', () => {
    const b = Buffer.alloc(16);
    expect(putDnssl(b, 0, 1, ['', '.'])).toBe(0);
    expect(dnsslSize([''])).toBe(0);
  });

  it('rejects malformed router advertisements', () => {
    const b = Buffer.alloc(64);
    const p = writeRouterAdvert(b, 0, { curHopLimit: 64, flags: 0, routerLifetime: 1, reachable: 0, retrans: 0 });
    const v = newRaView();
    expect(parseRouterAdvert(b, 0, 15, v)).toBe(NdpError.Truncated);
    b[p] = 5;
    b[p + 1] = 0; // zero-length option
    expect(parseRouterAdvert(b, 0, p + 8, v)).toBe(NdpError.Invalid);
    b[p + 1] = 2; // 16 bytes, only 8 there
    expect(parseRouterAdvert(b, 0, p + 8, v)).toBe(NdpError.Invalid);
  });
});
