import { afterEach, describe, expect, it, vi } from 'vitest';
import { ALL_NODES, RouterAdvertiser, ourLinkLocal } from '../../../src/flow/ndp.js';
import { format6, parse6 } from '../../../src/wire/ip.js';
import {
  ND_INFINITY, NdpError, RA_FLAG_MANAGED, newRaView, parseRouterAdvert, readDnssl, readMtuOption, readPrefixInfo, readRdnss,
} from '../../../src/wire/ndp.js';
import { GUEST_LL, GUEST_MAC, OUR_LL, OUR_MAC, checksum6, eth, ipv6, makeCtx, makePlan, sent6 } from './helpers.js';

function setup(o: Partial<{ managed: boolean; dns: boolean; search: boolean }> = {}, plan = makePlan()) {
  const { ctx, link } = makeCtx(plan);
  const ra = new RouterAdvertiser(ctx, { ourLinkLocal: OUR_LL, managed: true, dns: true, search: true, ...o });
  /** An RS from src, with a source link-layer address option unless told otherwise; returns nothing. */
  const rs = (src: Uint8Array = GUEST_LL, bytes?: number[]): void => {
    const body = Buffer.from(bytes ?? [133, 0, 0, 0, 0, 0, 0, 0, 1, 1, ...GUEST_MAC]);
    const ip = checksum6(ipv6(src, parse6('ff02::2'), 58, body), 2);
    const f = eth(0x86dd, ip);
    ra.onRouterSolicit(f, 14 + 8, 14 + 40, body.length);
  };
  return { ctx, link, ra, rs };
}

function advert(frames: Buffer[]) {
  expect(frames).toHaveLength(1);
  const s = sent6(frames[0]);
  expect(s.proto).toBe(58);
  const v = newRaView();
  expect(parseRouterAdvert(s.l4, 0, s.l4.length, v)).toBe(NdpError.Ok);
  return { s, v, b: s.l4 };
}

describe('router advertisements', () => {
  afterEach(() => vi.useRealTimers());

  it('answers an RS with the prefix for SLAAC, our MAC, MTU, RDNSS, DNSSL and the M flag', () => {
    const { link, rs } = setup();
    rs();
    const { s, v, b } = advert(link.take());
    expect(s.src).toEqual(OUR_LL);
    expect(s.dst).toEqual(GUEST_LL);
    expect(s.hopLimit).toBe(255);
    expect(s.ethDst).toEqual(GUEST_MAC);
    expect(s.ethSrc).toEqual(OUR_MAC);
    expect(v.flags).toBe(RA_FLAG_MANAGED);
    expect(v.routerLifetime).toBe(65535);
    expect(v.curHopLimit).toBe(255); // as passt
    expect([v.reachable, v.retrans]).toEqual([0, 0]);
    const pi = readPrefixInfo(b, v.prefixInfo);
    expect(pi).toMatchObject({ prefixLen: 64, flags: 0xc0, valid: ND_INFINITY, preferred: ND_INFINITY });
    expect(format6(b, pi.prefixOff)).toBe('fd00::');
    expect(b.subarray(v.srcLl + 2, v.srcLl + 8)).toEqual(OUR_MAC);
    expect(readMtuOption(b, v.mtu)).toBe(65520);
    const r = readRdnss(b, v.rdnss);
    expect(r.lifetime).toBe(ND_INFINITY);
    expect(r.addrOffs.map((o) => format6(b, o))).toEqual(['fd00::53', '2001:db8::53']);
    expect(readDnssl(b, v.dnssl).names).toEqual(['example.org', 'sub.example.org']);
  });

  it('leaves out the M flag without DHCPv6, and RDNSS/DNSSL when not enabled or empty', () => {
    const a = setup({ managed: false, dns: false, search: false });
    a.rs();
    const r = advert(a.link.take());
    expect(r.v.flags).toBe(0);
    expect(r.v.rdnss).toBe(-1);
    expect(r.v.dnssl).toBe(-1);
    const plan = makePlan({ mtu: 0, search: [] });
    plan.v6!.dns = [];
    const b = setup({}, plan);
    b.rs();
    const r2 = advert(b.link.take());
    expect(r2.v.rdnss).toBe(-1);
    expect(r2.v.dnssl).toBe(-1);
    expect(r2.v.mtu).toBe(-1); // -m 0: no MTU assignment
    expect(r2.v.prefixInfo).toBeGreaterThan(0);
  });

  it('answers an RS from the unspecified address to all nodes', () => {
    const { link, rs } = setup();
    rs(Buffer.alloc(16), [133, 0, 0, 0, 0, 0, 0, 0]);
    const { s } = advert(link.take());
    expect(s.dst).toEqual(ALL_NODES);
  });

  it('drops invalid solicitations (RFC 4861 6.1.1)', () => {
    const { ctx, link, rs } = setup();
    rs(Buffer.alloc(16)); // unspecified source with a link-layer address option
    rs(GUEST_LL, [133, 1, 0, 0, 0, 0, 0, 0]); // code 1
    rs(GUEST_LL, [133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // zero-length option
    rs(GUEST_LL, [133, 0, 0, 0, 0, 0, 0]); // truncated
    expect(link.take()).toHaveLength(0);
    expect(ctx.counters.drops.get('ndp_invalid')).toBe(4);
  });

  it('shortens the search list to keep the RA within 1280 bytes', () => {
    const plan = makePlan({ search: [...Array(100)].map((_, i) => `a-rather-long-domain-name-${i}.example.org`) });
    const { link, rs } = setup({}, plan);
    rs();
    const { s, v, b } = advert(link.take());
    expect(s.l4.length + 40).toBeLessThanOrEqual(1280);
    const names = readDnssl(b, v.dnssl).names!;
    expect(names.length).toBeGreaterThan(10);
    expect(names).toEqual(plan.search.slice(0, names.length));
  });

  it('sends unsolicited RAs to all nodes every 200-600 s, and stops', () => {
    vi.useFakeTimers();
    const { link, ra } = setup();
    ra.startUnsolicited(() => 0.5); // 400 s
    vi.advanceTimersByTime(399_000);
    expect(link.take()).toHaveLength(0);
    vi.advanceTimersByTime(1_000);
    const { s } = advert(link.take());
    expect(s.dst).toEqual(ALL_NODES);
    vi.advanceTimersByTime(400_000);
    expect(link.take()).toHaveLength(1);
    ra.stop();
    vi.advanceTimersByTime(2_000_000);
    expect(link.take()).toHaveLength(0);
  });
});

describe('our link-local address', () => {
  it('is the modified EUI-64 address of our MAC', () => {
    expect(format6(ourLinkLocal(parse6('fd00::1'), OUR_MAC))).toBe('fe80::9855:9aff:fe55:9a55');
    expect(format6(ourLinkLocal(undefined, Buffer.from('020000000001', 'hex')))).toBe('fe80::ff:fe00:1');
  });

  it('is the host gateway when that is link-local, as passt does', () => {
    expect(format6(ourLinkLocal(parse6('fe80::1'), OUR_MAC))).toBe('fe80::1');
  });
});
