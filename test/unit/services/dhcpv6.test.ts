import { describe, expect, it } from 'vitest';
import { Dhcpv6Server } from '../../../src/flow/dhcpv6.js';
import {
  ADVERTISE, CONFIRM, DECLINE, Dhcpv6Error, IA_NA_FIXED, INFORMATION_REQUEST, OPTION_CLIENTID, OPTION_DNS_SERVERS,
  OPTION_DOMAIN_LIST, OPTION_ELAPSED_TIME, OPTION_IAADDR, OPTION_IA_NA, OPTION_IA_TA, OPTION_PREFERENCE,
  OPTION_RAPID_COMMIT, OPTION_SERVERID, OPTION_STATUS_CODE, REBIND, RELEASE, RENEW, REPLY, REQUEST, SOLICIT,
  STATUS_NOT_ON_LINK, STATUS_NO_ADDRS_AVAIL, STATUS_SUCCESS, beginOption6, duidLlt, endOption6, findOption6,
  forEachIaAddr, newDhcpv6View, opt6Len, parseDhcpv6, putOption6, writeDhcpv6Header,
} from '../../../src/wire/dhcpv6.js';
import { decodeDomainNames } from '../../../src/wire/dhcp.js';
import { format6, parse6 } from '../../../src/wire/ip.js';
import { GUEST_LL, GUEST_MAC, OUR_LL, OUR_MAC, checksum6, eth, ipv6, makeCtx, makePlan, sent6, udp } from './helpers.js';

const XID = 0x0a0b0c;
const CLIENT_DUID = duidLlt(GUEST_MAC, 12345);
const ALL_SERVERS = parse6('ff02::1:2');
/** The server's DUID-LLT time for a fixed clock. */
const NOW = Date.UTC(2024, 0, 1);

interface Msg {
  type: number;
  clientId?: boolean;
  serverId?: Buffer | 'ours';
  iaNa?: { iaid: number; addrs?: string[] };
  iaTa?: boolean;
  rapid?: boolean;
}

function setup(opts = { dns: true, search: true }, plan = makePlan()) {
  const { ctx, link } = makeCtx(plan);
  const server = new Dhcpv6Server(ctx, { ...opts, ourLinkLocal: OUR_LL }, NOW);
  const send = (m: Msg, dst = ALL_SERVERS, trim = 0): boolean => {
    const b = Buffer.alloc(600);
    let p = writeDhcpv6Header(b, 0, m.type, XID);
    if (m.clientId !== false) p = putOption6(b, p, OPTION_CLIENTID, CLIENT_DUID);
    if (m.serverId === 'ours') p += server.serverIdOpt.copy(b, p);
    else if (m.serverId) p = putOption6(b, p, OPTION_SERVERID, m.serverId);
    p = putOption6(b, p, OPTION_ELAPSED_TIME, Buffer.from([0, 0]));
    if (m.iaNa) {
      const d = beginOption6(b, p, OPTION_IA_NA);
      b.writeUInt32BE(m.iaNa.iaid, d);
      b.writeUInt32BE(3600, d + 4);
      b.writeUInt32BE(5400, d + 8);
      let q = d + IA_NA_FIXED;
      for (const a of m.iaNa.addrs ?? []) {
        const ad = beginOption6(b, q, OPTION_IAADDR);
        parse6(a).copy(b, ad);
        b.writeUInt32BE(7200, ad + 16);
        b.writeUInt32BE(7500, ad + 20);
        q = endOption6(b, q, ad + 24);
      }
      p = endOption6(b, p, q);
    }
    if (m.iaTa) p = putOption6(b, p, OPTION_IA_TA, Buffer.from([0, 0, 0, 9]));
    if (m.rapid) p = putOption6(b, p, OPTION_RAPID_COMMIT);
    const msg = b.subarray(0, p - trim);
    const ip = checksum6(ipv6(GUEST_LL, dst, 17, udp(546, 547, msg), 1), 6);
    const frame = eth(0x86dd, ip);
    return server.onDatagram(frame, 14 + 8, 14 + 24, 14 + 40, ip.length - 40);
  };
  return { ctx, link, server, send };
}

function reply(frames: Buffer[]) {
  expect(frames).toHaveLength(1);
  const s = sent6(frames[0]);
  expect(s.proto).toBe(17);
  const data = s.l4.subarray(8);
  const v = newDhcpv6View();
  expect(parseDhcpv6(data, 0, data.length, v)).toBe(Dhcpv6Error.Ok);
  const opt = (code: number): number => findOption6(data, v.optOff, v.optEnd, code);
  const status = (): number => {
    const o = opt(OPTION_STATUS_CODE);
    return o < 0 ? -1 : data.readUInt16BE(o + 4);
  };
  const iaAddrs = (): string[] => {
    const out: string[] = [];
    forEachIaAddr(data, v.iaNa, (a) => out.push(format6(data, a)));
    return out;
  };
  return { s, data, v, opt, status, iaAddrs };
}

describe('DHCPv6 server', () => {
  it('advertises the plan address in the client IA_NA, from our link-local address, 547 to 546', () => {
    const { link, server, send } = setup();
    expect(send({ type: SOLICIT, iaNa: { iaid: 0xcafe } })).toBe(true);
    const { s, data, v, opt, status, iaAddrs } = reply(link.take());
    expect(s.ethDst).toEqual(GUEST_MAC);
    expect(s.ethSrc).toEqual(OUR_MAC);
    expect(s.src).toEqual(OUR_LL);
    expect(s.dst).toEqual(GUEST_LL);
    expect([s.l4.readUInt16BE(0), s.l4.readUInt16BE(2)]).toEqual([547, 546]);
    expect(v.type).toBe(ADVERTISE);
    expect(v.xid).toBe(XID);
    // our DUID-LLT: Ethernet, time since 2000, our MAC
    const sid = data.subarray(v.serverId, v.serverId + 4 + opt6Len(data, v.serverId));
    expect(sid).toEqual(server.serverIdOpt);
    expect(sid.subarray(4).toString('hex')).toBe(`00010001${((NOW / 1000 - 946684800) >>> 0).toString(16).padStart(8, '0')}9a559a559a55`);
    expect(data.subarray(v.clientId + 4, v.clientId + 4 + opt6Len(data, v.clientId))).toEqual(CLIENT_DUID);
    expect(data.readUInt32BE(v.iaNa + 4)).toBe(0xcafe);
    expect(data.readUInt32BE(v.iaNa + 8)).toBe(0xffffffff); // T1
    expect(data.readUInt32BE(v.iaNa + 12)).toBe(0xffffffff); // T2
    expect(iaAddrs()).toEqual(['fd00::2']);
    const a = findOption6(data, v.iaNa + 16, v.iaNa + 4 + opt6Len(data, v.iaNa), OPTION_IAADDR);
    expect(data.readUInt32BE(a + 20)).toBe(0xffffffff); // preferred
    expect(data.readUInt32BE(a + 24)).toBe(0xffffffff); // valid
    expect(data[opt(OPTION_PREFERENCE) + 4]).toBe(255);
    const dns = opt(OPTION_DNS_SERVERS);
    expect([format6(data, dns + 4), format6(data, dns + 20)]).toEqual(['fd00::53', '2001:db8::53']);
    const dl = opt(OPTION_DOMAIN_LIST);
    expect(decodeDomainNames(data, dl + 4, opt6Len(data, dl), false)).toEqual(['example.org', 'sub.example.org']);
    expect(status()).toBe(-1);
    expect(v.rapidCommit).toBe(false);
  });

  it('replies at once to a SOLICIT with rapid commit', () => {
    const { link, send } = setup();
    send({ type: SOLICIT, iaNa: { iaid: 1 }, rapid: true });
    const { v, opt, iaAddrs } = reply(link.take());
    expect(v.type).toBe(REPLY);
    expect(v.rapidCommit).toBe(true);
    expect(opt(OPTION_PREFERENCE)).toBe(-1);
    expect(iaAddrs()).toEqual(['fd00::2']);
  });

  it('advertises NoAddrsAvail to a SOLICIT without IA_NA', () => {
    const { link, send } = setup();
    send({ type: SOLICIT });
    const { v, status } = reply(link.take());
    expect(v.type).toBe(ADVERTISE);
    expect(v.iaNa).toBe(-1);
    expect(status()).toBe(STATUS_NO_ADDRS_AVAIL);
  });

  it('replies to REQUEST, RENEW and REBIND with the address', () => {
    const { link, send } = setup();
    send({ type: REQUEST, serverId: 'ours', iaNa: { iaid: 5, addrs: ['fd00::2'] } });
    send({ type: RENEW, serverId: 'ours', iaNa: { iaid: 5, addrs: ['fd00::2'] } });
    send({ type: REBIND, iaNa: { iaid: 5, addrs: ['fd00::2'] } });
    const frames = link.take();
    expect(frames).toHaveLength(3);
    for (const f of frames) {
      const { v, iaAddrs, data } = reply([f]);
      expect(v.type).toBe(REPLY);
      expect(data.readUInt32BE(v.iaNa + 4)).toBe(5);
      expect(iaAddrs()).toEqual(['fd00::2']);
    }
  });

  it('drops REQUEST and RENEW for another server or without server identifier, SOLICIT with one', () => {
    const { ctx, link, send } = setup();
    const other = duidLlt(Buffer.from('020000000099', 'hex'), 1);
    expect(send({ type: REQUEST, serverId: other, iaNa: { iaid: 5 } })).toBe(true);
    expect(send({ type: REQUEST, iaNa: { iaid: 5 } })).toBe(true);
    expect(send({ type: RENEW, serverId: other, iaNa: { iaid: 5 } })).toBe(true);
    expect(send({ type: REBIND, serverId: other, iaNa: { iaid: 5 } })).toBe(true);
    expect(send({ type: SOLICIT, serverId: 'ours', iaNa: { iaid: 5 } })).toBe(true);
    expect(link.take()).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcpv6_invalid')).toBe(5);
  });

  it('answers NotOnLink in the IA to a REQUEST for another address', () => {
    const { link, send } = setup();
    send({ type: REQUEST, serverId: 'ours', iaNa: { iaid: 5, addrs: ['2001:db8::9'] } });
    const { v, data, iaAddrs } = reply(link.take());
    expect(v.type).toBe(REPLY);
    expect(iaAddrs()).toEqual([]);
    const st = findOption6(data, v.iaNa + 16, v.iaNa + 4 + opt6Len(data, v.iaNa), OPTION_STATUS_CODE);
    expect(data.readUInt16BE(st + 4)).toBe(STATUS_NOT_ON_LINK);
    expect(data.readUInt32BE(v.iaNa + 4)).toBe(5);
  });

  it('confirms our address with Success, anything else with NotOnLink', () => {
    const { link, send } = setup();
    send({ type: CONFIRM, iaNa: { iaid: 5, addrs: ['fd00::2'] } });
    let r = reply(link.take());
    expect(r.v.type).toBe(REPLY);
    expect(r.status()).toBe(STATUS_SUCCESS);
    expect(r.v.iaNa).toBe(-1);
    send({ type: CONFIRM, iaNa: { iaid: 5, addrs: ['fd01::2'] } });
    r = reply(link.take());
    expect(r.status()).toBe(STATUS_NOT_ON_LINK);
    expect(send({ type: CONFIRM, serverId: 'ours', iaNa: { iaid: 5, addrs: ['fd00::2'] } })).toBe(true);
    expect(link.take()).toHaveLength(0);
  });

  it('answers INFORMATION-REQUEST with DNS and search list only, client identifier optional', () => {
    const { link, send } = setup();
    send({ type: INFORMATION_REQUEST, clientId: false });
    const r = reply(link.take());
    expect(r.v.type).toBe(REPLY);
    expect(r.v.iaNa).toBe(-1);
    expect(r.v.clientId).toBe(-1);
    expect(r.opt(OPTION_DNS_SERVERS)).toBeGreaterThan(0);
    expect(r.opt(OPTION_DOMAIN_LIST)).toBeGreaterThan(0);
    send({ type: INFORMATION_REQUEST });
    expect(reply(link.take()).v.clientId).toBeGreaterThan(0);
    // with an IA: discarded (RFC 8415 16.12)
    send({ type: INFORMATION_REQUEST, iaNa: { iaid: 1 } });
    send({ type: INFORMATION_REQUEST, iaTa: true });
    expect(link.take()).toHaveLength(0);
  });

  it('acknowledges RELEASE with Success, ignores DECLINE', () => {
    const { link, send } = setup();
    send({ type: RELEASE, serverId: 'ours', iaNa: { iaid: 5, addrs: ['fd00::2'] } });
    const r = reply(link.take());
    expect(r.status()).toBe(STATUS_SUCCESS);
    expect(send({ type: DECLINE, serverId: 'ours', iaNa: { iaid: 5, addrs: ['fd00::2'] } })).toBe(true);
    expect(link.take()).toHaveLength(0);
  });

  it('leaves out DNS and the domain list when not enabled, or empty', () => {
    const { link, send } = setup({ dns: false, search: false });
    send({ type: SOLICIT, iaNa: { iaid: 1 } });
    const r = reply(link.take());
    expect(r.opt(OPTION_DNS_SERVERS)).toBe(-1);
    expect(r.opt(OPTION_DOMAIN_LIST)).toBe(-1);
    const plan = makePlan({ search: [] });
    plan.v6!.dns = [];
    const e = setup({ dns: true, search: true }, plan);
    e.send({ type: SOLICIT, iaNa: { iaid: 1 } });
    const r2 = reply(e.link.take());
    expect(r2.opt(OPTION_DNS_SERVERS)).toBe(-1);
    expect(r2.opt(OPTION_DOMAIN_LIST)).toBe(-1);
  });

  it('keeps replies within the IPv6 minimum MTU', () => {
    const plan = makePlan({ search: [...Array(100)].map((_, i) => `a-rather-long-domain-name-${i}.example.org`) });
    const { link, send } = setup({ dns: true, search: true }, plan);
    send({ type: SOLICIT, iaNa: { iaid: 1 } });
    const r = reply(link.take());
    expect(r.s.l4.length + 40).toBeLessThanOrEqual(1280);
    const dl = r.opt(OPTION_DOMAIN_LIST);
    const names = decodeDomainNames(r.data, dl + 4, opt6Len(r.data, dl), false)!;
    expect(names.length).toBeGreaterThan(10);
    expect(names).toEqual(plan.search.slice(0, names.length));
  });

  it('drops unicast, malformed and unknown messages, and ignores other ports', () => {
    const { ctx, link, server, send } = setup();
    expect(send({ type: SOLICIT, iaNa: { iaid: 1 } }, parse6('fe80::1'))).toBe(true); // unicast
    expect(send({ type: SOLICIT, iaNa: { iaid: 1 } }, ALL_SERVERS, 3)).toBe(true); // option cut short
    expect(send({ type: SOLICIT, clientId: false, iaNa: { iaid: 1 } })).toBe(true); // no client id
    expect(send({ type: 12 /* relay-forw */ })).toBe(true);
    expect(send({ type: REPLY })).toBe(true);
    expect(link.take()).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcpv6_malformed')).toBe(2);
    const ip = checksum6(ipv6(GUEST_LL, ALL_SERVERS, 17, udp(546, 5353, Buffer.alloc(8)), 1), 6);
    expect(server.onDatagram(eth(0x86dd, ip), 22, 38, 54, ip.length - 40)).toBe(false);
  });

  it('drops an IA_NA shorter than its fixed part', () => {
    const { ctx, link, server } = setup();
    const b = Buffer.alloc(100);
    let p = writeDhcpv6Header(b, 0, SOLICIT, 1);
    p = putOption6(b, p, OPTION_CLIENTID, CLIENT_DUID);
    p = putOption6(b, p, OPTION_IA_NA, Buffer.from([0, 0, 0, 1]));
    const ip = checksum6(ipv6(GUEST_LL, ALL_SERVERS, 17, udp(546, 547, b.subarray(0, p)), 1), 6);
    expect(server.onDatagram(eth(0x86dd, ip), 22, 38, 54, ip.length - 40)).toBe(true);
    expect(link.take()).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcpv6_malformed')).toBe(1);
  });
});
