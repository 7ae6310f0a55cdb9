// The services wired into the dispatcher as main.ts does it: frames in
// through Dispatcher.onFrame, replies out through the fake link.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dispatcher } from '../../../src/flow/dispatch.js';
import { createServices, type ServiceOptions } from '../../../src/flow/services.js';
import { DHCPDISCOVER, DHCPOFFER, DHCP_OPT_OFF, BOOTREQUEST, newDhcpView, parseDhcp, writeDhcpHeader } from '../../../src/wire/dhcp.js';
import { ADVERTISE, OPTION_CLIENTID, OPTION_IA_NA, SOLICIT, duidLlt, newDhcpv6View, parseDhcpv6, putOption6, writeDhcpv6Header } from '../../../src/wire/dhcpv6.js';
import { parse6 } from '../../../src/wire/ip.js';
import { GUEST_LL, GUEST_MAC, OUR_LL, checksum6, eth, ipv4, ipv6, makeCtx, makePlan, sent4, sent6, udp } from './helpers.js';

const ALL: ServiceOptions = { dhcp: true, ndp: true, dhcpv6: true, ra: true, dhcpDns: false, dhcpSearch: false };

const dispatchers: Dispatcher[] = [];
function setup(opts: Partial<ServiceOptions> = {}, plan = makePlan()) {
  const { ctx, link } = makeCtx(plan);
  ctx.guestMac = Buffer.alloc(6, 0xff); // not learnt yet
  const d = new Dispatcher(ctx, { tcp: true, udp: true, icmp: true });
  d.hooks = createServices(ctx, { ...ALL, ...opts });
  dispatchers.push(d);
  const frame = (f: Buffer): Buffer[] => {
    d.onFrame(f, 0, f.length);
    return link.take();
  };
  return { ctx, link, d, frame };
}

afterEach(() => {
  for (const d of dispatchers.splice(0)) d.closeAll();
  vi.useRealTimers();
});

function discover(): Buffer {
  const m = Buffer.alloc(DHCP_OPT_OFF + 4);
  writeDhcpHeader(m, 0, { op: BOOTREQUEST, htype: 1, hlen: 6, xid: 7, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0 },
    Buffer.concat([GUEST_MAC, Buffer.alloc(10)]), 0);
  m.set([53, 1, DHCPDISCOVER, 255], DHCP_OPT_OFF);
  return eth(0x0800, ipv4(0, 0xffffffff, 17, udp(68, 67, m)));
}

function solicit(): Buffer {
  const b = Buffer.alloc(100);
  let p = writeDhcpv6Header(b, 0, SOLICIT, 9);
  p = putOption6(b, p, OPTION_CLIENTID, duidLlt(GUEST_MAC, 1));
  p = putOption6(b, p, OPTION_IA_NA, Buffer.alloc(12));
  return eth(0x86dd, checksum6(ipv6(GUEST_LL, parse6('ff02::1:2'), 17, udp(546, 547, b.subarray(0, p)), 1), 6));
}

function rs(hopLimit = 255): Buffer {
  return eth(0x86dd, checksum6(ipv6(GUEST_LL, parse6('ff02::2'), 58, Buffer.from([133, 0, 0, 0, 0, 0, 0, 0]), hopLimit), 2));
}

function ns(target: Uint8Array): Buffer {
  const body = Buffer.alloc(32);
  body[0] = 135;
  body.set(target, 8);
  body.set([1, 1, ...GUEST_MAC], 24);
  const solicited = parse6('ff02::1:ff00:0');
  solicited.set(target.subarray(13, 16), 13);
  return eth(0x86dd, checksum6(ipv6(GUEST_LL, solicited, 58, body), 2));
}

describe('services through the dispatcher', () => {
  it('answers a DHCP DISCOVER to the MAC address the dispatcher learnt from it', () => {
    const { frame } = setup();
    const out = frame(discover());
    expect(out).toHaveLength(1);
    const s = sent4(out[0]);
    expect(s.ethDst).toEqual(GUEST_MAC);
    const v = newDhcpView();
    parseDhcp(s.data, 0, s.data.length, v);
    expect(v.msgType).toBe(DHCPOFFER);
  });

  it('answers a DHCPv6 SOLICIT and a router solicitation from our link-local address', () => {
    const { frame } = setup();
    const a = sent6(frame(solicit())[0]);
    const v = newDhcpv6View();
    parseDhcpv6(a.l4.subarray(8), 0, a.l4.length - 8, v);
    expect(v.type).toBe(ADVERTISE);
    expect(a.src).toEqual(OUR_LL);
    const r = sent6(frame(rs())[0]);
    expect(r.src).toEqual(OUR_LL);
    expect(r.l4[0]).toBe(134);
  });

  it('ignores a router solicitation whose hop limit is not 255', () => {
    const { frame } = setup();
    expect(frame(rs(64))).toHaveLength(0);
  });

  it('answers neighbour solicitations for our link-local address with the router flag', () => {
    const { frame } = setup();
    const out = frame(ns(OUR_LL));
    expect(out).toHaveLength(1);
    const n = sent6(out[0]);
    expect(n.l4[0]).toBe(136);
    expect(n.l4[4] & 0xe0).toBe(0xe0); // router, solicited, override
    expect(n.l4.subarray(8, 24)).toEqual(OUR_LL);
    expect(n.hopLimit).toBe(255);
  });

  it('--no-dhcp: DHCP is dropped, not forwarded', () => {
    const { ctx, frame } = setup({ dhcp: false });
    expect(frame(discover())).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcp_disabled')).toBe(1);
  });

  it('--no-dhcpv6: DHCPv6 is dropped, and RAs lose the M flag', () => {
    const { ctx, frame } = setup({ dhcpv6: false });
    expect(frame(solicit())).toHaveLength(0);
    expect(ctx.counters.drops.get('dhcpv6_disabled')).toBe(1);
    expect(sent6(frame(rs())[0]).l4[5]).toBe(0);
  });

  it('--no-ra: router solicitations go unanswered, neighbour solicitations do not', () => {
    const { frame } = setup({ ra: false });
    expect(frame(rs())).toHaveLength(0);
    expect(frame(ns(OUR_LL))).toHaveLength(1);
  });

  it('--no-ndp: neither router nor neighbour solicitations are answered', () => {
    const { frame } = setup({ ndp: false });
    expect(frame(rs())).toHaveLength(0);
    expect(frame(ns(OUR_LL))).toHaveLength(0);
    expect(frame(ns(parse6('fd00::1')))).toHaveLength(0);
  });

  it('lets other UDP through to the translator', () => {
    const { d } = setup();
    const dns = eth(0x0800, ipv4(0xc0000202, 0xc0000201, 17, udp(5353, 53, Buffer.alloc(12))));
    expect(d.hooks.udp4!(dns, 0xc0000202, 0xc0000201, 34, 20)).toBe(false);
    const six = checksum6(ipv6(GUEST_LL, parse6('fd00::1'), 17, udp(546, 53, Buffer.alloc(4))), 6);
    expect(d.hooks.udp6!(eth(0x86dd, six), 22, 38, 54, 12)).toBe(false);
  });

  it('installs no hooks for a family the plan lacks', () => {
    const { d } = setup({}, makePlan({ v4: undefined }));
    expect(d.hooks.udp4).toBeUndefined();
    const e = setup({}, makePlan({ v6: undefined }));
    expect(e.d.hooks.udp6).toBeUndefined();
    expect(e.d.hooks.routerSolicit).toBeUndefined();
  });

  it('sends unsolicited RAs until the dispatcher closes', () => {
    vi.useFakeTimers();
    const { link, d } = setup();
    // passt's interval is random between 200 and 600 s: one or two in 600 s, three at most
    vi.advanceTimersByTime(600_000);
    const sent = link.take().length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(3);
    d.closeAll();
    vi.advanceTimersByTime(3_600_000);
    expect(link.take()).toHaveLength(0);
  });
});
