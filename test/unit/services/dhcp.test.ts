import { describe, expect, it } from 'vitest';
import { DhcpServer } from '../../../src/flow/dhcp.js';
import {
  BOOTREPLY, BOOTREQUEST, DHCPACK, DHCPDECLINE, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST,
  DHCP_MIN_LEN, DHCP_OPT_OFF, DhcpError, OPT_CLASSLESS_ROUTE, OPT_DNS, OPT_DOMAIN_SEARCH, OPT_LEASE_TIME, OPT_MSG_TYPE,
  OPT_MTU, OPT_PARAM_LIST, OPT_RAPID_COMMIT, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK,
  decodeDomainNames, findDhcpOption, newDhcpView, parseDhcp, writeDhcpHeader,
} from '../../../src/wire/dhcp.js';
import { format4, parse4 } from '../../../src/wire/ip.js';
import { GUEST_MAC, OUR_MAC, eth, ipv4, makeCtx, makePlan, sent4, udp } from './helpers.js';

const XID = 0x5eed1234;

interface Req {
  type?: number;
  opts?: number[];
  flags?: number;
  ciaddr?: number;
  src?: number;
  dst?: number;
  magic?: boolean;
}

/** A DHCP request frame from the guest, and where its UDP header is. */
function request(r: Req): { frame: Buffer; l4Off: number; l4Len: number; src: number; dst: number } {
  const chaddr = Buffer.concat([GUEST_MAC, Buffer.alloc(10)]);
  const opts = [...(r.type ? [OPT_MSG_TYPE, 1, r.type] : []), ...(r.opts ?? []), 255];
  const m = Buffer.alloc(DHCP_OPT_OFF + opts.length);
  writeDhcpHeader(m, 0, {
    op: BOOTREQUEST, htype: 1, hlen: 6, xid: XID, flags: r.flags ?? 0, ciaddr: r.ciaddr ?? 0, yiaddr: 0, siaddr: 0, giaddr: 0,
  }, chaddr, 0);
  if (r.magic === false) m[236] = 0;
  Buffer.from(opts).copy(m, DHCP_OPT_OFF);
  const src = r.src ?? 0;
  const dst = r.dst ?? 0xffffffff;
  const l4 = udp(68, 67, m);
  const frame = eth(0x0800, ipv4(src, dst, 17, l4));
  return { frame, l4Off: 14 + 20, l4Len: l4.length, src, dst };
}

function setup(opts = { dns: true, search: true }, plan = makePlan()) {
  const { ctx, link } = makeCtx(plan);
  const server = new DhcpServer(ctx, opts);
  const send = (r: Req): boolean => {
    const q = request(r);
    return server.onDatagram(q.frame, q.src, q.dst, q.l4Off, q.l4Len);
  };
  return { ctx, link, server, send };
}

/** The one reply sent, checked and parsed. */
function reply(frames: Buffer[]) {
  expect(frames).toHaveLength(1);
  const s = sent4(frames[0]);
  const v = newDhcpView();
  expect(parseDhcp(s.data, 0, s.data.length, v)).toBe(DhcpError.Ok);
  const opt = (code: number): Buffer | undefined => {
    const d = findDhcpOption(s.data, DHCP_OPT_OFF, s.data.length, code);
    return d < 0 ? undefined : s.data.subarray(d, d + s.data[d - 1]);
  };
  const codes: number[] = [];
  for (let p = DHCP_OPT_OFF; p < s.data.length && s.data[p] !== 255; p += 2 + s.data[p + 1]) codes.push(s.data[p]);
  return { s, v, opt, codes };
}

describe('DHCPv4 server', () => {
  it('offers the plan to a DISCOVER: address, mask, router, DNS, search list, MTU, infinite lease', () => {
    const { link, send } = setup();
    expect(send({ type: DHCPDISCOVER })).toBe(true);
    const { s, v, opt, codes } = reply(link.take());
    expect(s.ethDst).toEqual(GUEST_MAC);
    expect(s.ethSrc).toEqual(OUR_MAC);
    expect(format4(s.src)).toBe('192.0.2.1');
    expect(format4(s.dst)).toBe('255.255.255.255'); // no address yet
    expect([s.srcPort, s.dstPort]).toEqual([67, 68]);
    expect(v).toMatchObject({ op: BOOTREPLY, xid: XID, yiaddr: parse4('192.0.2.2'), ciaddr: 0, siaddr: 0, msgType: DHCPOFFER });
    expect(s.data.subarray(v.chaddrOff, v.chaddrOff + 6)).toEqual(GUEST_MAC);
    expect(codes[0]).toBe(OPT_MSG_TYPE);
    expect(format4(opt(OPT_SERVER_ID)!.readUInt32BE(0))).toBe('192.0.2.1');
    expect(opt(OPT_LEASE_TIME)!.readUInt32BE(0)).toBe(0xffffffff);
    expect(format4(opt(OPT_SUBNET_MASK)!.readUInt32BE(0))).toBe('255.255.255.0');
    expect(format4(opt(OPT_ROUTER)!.readUInt32BE(0))).toBe('192.0.2.1');
    expect([0, 4].map((i) => format4(opt(OPT_DNS)!.readUInt32BE(i)))).toEqual(['192.0.2.1', '198.51.100.53']);
    expect(opt(OPT_MTU)!.readUInt16BE(0)).toBe(65520);
    const search = opt(OPT_DOMAIN_SEARCH)!;
    expect(decodeDomainNames(search, 0, search.length, true)).toEqual(['example.org', 'sub.example.org']);
    expect(opt(OPT_CLASSLESS_ROUTE)).toBeUndefined(); // gateway on the subnet
    expect(opt(OPT_RAPID_COMMIT)).toBeUndefined();
    expect(s.data.length).toBeGreaterThanOrEqual(DHCP_MIN_LEN);
    expect(s.data.length).toBeLessThanOrEqual(548);
  });

  it('acks a REQUEST for the offered address from the SELECTING state', () => {
    const { link, send } = setup();
    send({ type: DHCPREQUEST, opts: [OPT_SERVER_ID, 4, 192, 0, 2, 1, OPT_REQUESTED_IP, 4, 192, 0, 2, 2] });
    const { s, v, opt } = reply(link.take());
    expect(v.msgType).toBe(DHCPACK);
    expect(format4(v.yiaddr)).toBe('192.0.2.2');
    expect(format4(s.dst)).toBe('255.255.255.255');
    expect(opt(OPT_LEASE_TIME)!.readUInt32BE(0)).toBe(0xffffffff);
  });

  it('acks a renewal unicast to the client address', () => {
    const { link, send } = setup();
    send({ type: DHCPREQUEST, ciaddr: parse4('192.0.2.2'), src: parse4('192.0.2.2'), dst: parse4('192.0.2.1') });
    const { s, v } = reply(link.take());
    expect(v.msgType).toBe(DHCPACK);
    expect(format4(s.dst)).toBe('192.0.2.2');
    expect(format4(v.ciaddr)).toBe('192.0.2.2');
  });

  it('broadcasts when the client sets the broadcast flag', () => {
    const { link, send } = setup();
    send({ type: DHCPREQUEST, flags: 0x8000, ciaddr: parse4('192.0.2.2') });
    const { s, v } = reply(link.take());
    expect(format4(s.dst)).toBe('255.255.255.255');
    expect(v.flags).toBe(0x8000);
  });

  it('ignores a REQUEST that selected another server', () => {
    const { link, send } = setup();
    expect(send({ type: DHCPREQUEST, opts: [OPT_SERVER_ID, 4, 10, 0, 0, 1, OPT_REQUESTED_IP, 4, 10, 0, 0, 9] })).toBe(true);
    expect(link.take()).toHaveLength(0);
  });

  it('naks a REQUEST for another address (INIT-REBOOT with an old lease), broadcast', () => {
    const { link, send } = setup();
    send({ type: DHCPREQUEST, opts: [OPT_REQUESTED_IP, 4, 10, 0, 0, 9] });
    const { s, v, opt } = reply(link.take());
    expect(v.msgType).toBe(DHCPNAK);
    expect(v.yiaddr).toBe(0);
    expect(format4(s.dst)).toBe('255.255.255.255');
    expect(opt(OPT_SERVER_ID)).toBeDefined();
    expect(opt(OPT_LEASE_TIME)).toBeUndefined();
    expect(opt(OPT_ROUTER)).toBeUndefined();
  });

  it('answers rapid commit DISCOVERs with an ACK carrying option 80 (RFC 4039)', () => {
    const { link, send } = setup();
    send({ type: DHCPDISCOVER, opts: [OPT_RAPID_COMMIT, 0] });
    const { v, opt } = reply(link.take());
    expect(v.msgType).toBe(DHCPACK);
    expect(opt(OPT_RAPID_COMMIT)).toEqual(Buffer.alloc(0));
  });

  it('acks an INFORM without address or lease, to the client address', () => {
    const { link, send } = setup();
    send({ type: DHCPINFORM, ciaddr: parse4('192.0.2.2'), src: parse4('192.0.2.2') });
    const { s, v, opt } = reply(link.take());
    expect(v.msgType).toBe(DHCPACK);
    expect(v.yiaddr).toBe(0);
    expect(format4(s.dst)).toBe('192.0.2.2');
    expect(opt(OPT_LEASE_TIME)).toBeUndefined();
    expect(opt(OPT_DNS)).toBeDefined();
  });

  it('takes RELEASE and DECLINE quietly', () => {
    const { link, send } = setup();
    expect(send({ type: DHCPRELEASE, ciaddr: parse4('192.0.2.2') })).toBe(true);
    expect(send({ type: DHCPDECLINE, opts: [OPT_REQUESTED_IP, 4, 192, 0, 2, 2] })).toBe(true);
    expect(link.take()).toHaveLength(0);
  });

  it('answers plain BOOTP (no message type) as passt does', () => {
    const { link, send } = setup();
    send({});
    const { v } = reply(link.take());
    expect(v.yiaddr).toBe(parse4('192.0.2.2'));
  });

  it('orders options as the parameter request list asks, the message type first', () => {
    const { link, send } = setup();
    send({ type: DHCPDISCOVER, opts: [OPT_PARAM_LIST, 5, OPT_MTU, OPT_DOMAIN_SEARCH, OPT_ROUTER, 99, OPT_SUBNET_MASK] });
    const { codes } = reply(link.take());
    expect(codes.slice(0, 6)).toEqual([OPT_MSG_TYPE, OPT_SERVER_ID, OPT_MTU, OPT_DOMAIN_SEARCH, OPT_ROUTER, OPT_SUBNET_MASK]);
    expect(codes).toContain(OPT_LEASE_TIME);
    expect(codes).toContain(OPT_DNS);
    expect(codes).not.toContain(99);
  });

  it('leaves out DNS and the search list without --dhcp-dns/--dhcp-search (pasta defaults)', () => {
    const { link, send } = setup({ dns: false, search: false });
    send({ type: DHCPDISCOVER });
    const { opt } = reply(link.take());
    expect(opt(OPT_DNS)).toBeUndefined();
    expect(opt(OPT_DOMAIN_SEARCH)).toBeUndefined();
    expect(opt(OPT_ROUTER)).toBeDefined();
  });

  it('leaves out empty DNS and search lists, and the MTU when it is 0', () => {
    const plan = makePlan({ mtu: 0, search: [] });
    plan.v4!.dns = [];
    const { link, send } = setup({ dns: true, search: true }, plan);
    send({ type: DHCPDISCOVER });
    const { opt } = reply(link.take());
    expect(opt(OPT_DNS)).toBeUndefined();
    expect(opt(OPT_DOMAIN_SEARCH)).toBeUndefined();
    expect(opt(OPT_MTU)).toBeUndefined();
  });

  it('adds a classless route to a gateway outside the subnet (RFC 3442), as passt does', () => {
    const plan = makePlan();
    plan.v4!.addr = parse4('10.0.0.2');
    const { link, send } = setup(undefined, plan);
    send({ type: DHCPDISCOVER });
    const { opt } = reply(link.take());
    expect([...opt(OPT_CLASSLESS_ROUTE)!]).toEqual([32, 192, 0, 2, 1, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
  });

  it('drops options that do not fit in a 576-byte message, keeping the rest', () => {
    const plan = makePlan({ search: [...Array(40)].map((_, i) => `domain${i}.example${i}.org`) });
    const { link, send } = setup(undefined, plan);
    send({ type: DHCPDISCOVER });
    const { s, opt } = reply(link.take());
    expect(s.data.length).toBeLessThanOrEqual(548);
    expect(opt(OPT_DOMAIN_SEARCH)).toBeUndefined();
    expect(opt(OPT_ROUTER)).toBeDefined();
  });

  it('uses a larger maximum message size when the client allows it (option 57)', () => {
    const plan = makePlan({ search: [...Array(40)].map((_, i) => `domain${i}.example${i}.org`) });
    const { link, send } = setup(undefined, plan);
    send({ type: DHCPDISCOVER, opts: [57, 2, 0x05, 0xdc] });
    const { s, opt } = reply(link.take());
    expect(s.data.length).toBeLessThanOrEqual(1500 - 28);
    const search = Buffer.concat(
      (() => {
        // option 119 may be split in several instances (RFC 3396): concatenate them
        const parts: Buffer[] = [];
        for (let p = DHCP_OPT_OFF; s.data[p] !== 255; p += 2 + s.data[p + 1]) {
          if (s.data[p] === OPT_DOMAIN_SEARCH) parts.push(s.data.subarray(p + 2, p + 2 + s.data[p + 1]));
        }
        return parts;
      })(),
    );
    expect(opt(OPT_DOMAIN_SEARCH)).toBeDefined();
    expect(decodeDomainNames(search, 0, search.length, true)).toEqual(plan.search);
  });

  it('ignores UDP to other ports', () => {
    const { link, server } = setup();
    const m = Buffer.alloc(300);
    const l4 = udp(68, 53, m);
    const frame = eth(0x0800, ipv4(0, 0xffffffff, 17, l4));
    expect(server.onDatagram(frame, 0, 0xffffffff, 34, l4.length)).toBe(false);
    expect(link.take()).toHaveLength(0);
  });

  it('drops malformed messages: bad cookie, truncated, replies, bad UDP length, bad options', () => {
    const { ctx, link, server, send } = setup();
    expect(send({ type: DHCPDISCOVER, magic: false })).toBe(true);
    const q = request({ type: DHCPDISCOVER });
    // truncated: the UDP length says more than there is
    expect(server.onDatagram(q.frame, 0, 0xffffffff, q.l4Off, 100)).toBe(true);
    // a BOOTREPLY from the guest
    const r = request({ type: DHCPDISCOVER });
    r.frame[q.l4Off + 8] = 2;
    expect(server.onDatagram(r.frame, 0, 0xffffffff, r.l4Off, r.l4Len)).toBe(true);
    // an option whose length runs past the end
    const o = request({ type: DHCPDISCOVER, opts: [OPT_PARAM_LIST, 250, 1] });
    expect(server.onDatagram(o.frame, 0, 0xffffffff, o.l4Off, o.l4Len - 1)).toBe(true);
    expect(link.take()).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcp_bad_magic')).toBe(1);
    expect(ctx.counters.drops.get('dhcp_malformed')).toBe(3);
  });

  it('survives random garbage without throwing or answering nonsense', () => {
    const { link, server } = setup();
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 2000; i++) {
      const q = request({ type: DHCPDISCOVER, opts: [OPT_PARAM_LIST, 3, 1, 3, 6] });
      const n = q.l4Off + 8 + DHCP_OPT_OFF;
      for (let k = 0; k < 6; k++) q.frame[n + (rnd() % 10)] = rnd();
      q.frame[n + 9] = rnd() % 3 === 0 ? 0xff : q.frame[n + 9];
      const cut = q.l4Len - (rnd() % 12);
      q.frame.writeUInt16BE(cut, q.l4Off + 4);
      expect(() => server.onDatagram(q.frame, 0, 0xffffffff, q.l4Off, cut)).not.toThrow();
    }
    for (const f of link.take()) expect(() => sent4(f)).not.toThrow();
  });
});
