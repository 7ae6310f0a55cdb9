import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST } from '../../../src/wire/arp.js';
import { ETH_P_ARP } from '../../../src/wire/ethernet.js';
import { parse4, parse6 } from '../../../src/wire/ip.js';
import { l4Checksum } from '../helpers/csum.js';
import { envFactory, GUEST4, GUEST6, GW4, GW6, LL6 } from '../helpers/env.js';
import { BCAST_MAC, GUEST_MAC, OUR_MAC, arpFrame, ethFrame, icmpFrame } from '../helpers/frames.js';

const newEnv = envFactory();

describe('ARP', () => {
  for (const ethOff of [0, 10]) {
    it(`a request for the gateway gets a reply with our MAC (link ethOff ${ethOff})`, () => {
      const env = newEnv({ ethOff });
      env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), GW4));
      expect(env.link.queue).toHaveLength(1);
      const f = env.link.takeNow()!;
      expect(f.raw).toHaveLength(42);
      expect(f.raw.toString('hex')).toBe(
        '525400123456' + '9a559a559a55' + '0806' +
        '0001' + '0800' + '06' + '04' + '0002' + '9a559a559a55' + '0a000202' + '525400123456' + '0a00020f',
      );
      expect(env.ctx.counters.framesOut).toBe(1);
      expect(env.ctx.counters.framesIn).toBe(1);
      // the link's own header room was left alone, the frame starts at ethOff
      expect(env.link.tx.subarray(ethOff, ethOff + 6)).toEqual(GUEST_MAC);
    });
  }

  it.each(['10.0.2.1', '10.0.2.99', '93.184.216.34', '255.255.255.254', '127.0.0.1'])('a request for %s is answered too', (ip) => {
    const env = newEnv();
    env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), parse4(ip)));
    const f = env.link.takeNow()!;
    expect(f.type).toBe(ETH_P_ARP);
    expect(f.dstMac).toEqual(GUEST_MAC);
    expect(f.arp).toEqual({
      htype: 1, ptype: 0x0800, hlen: 6, plen: 4, op: ARP_REPLY,
      senderMac: OUR_MAC, senderIp: parse4(ip), targetMac: GUEST_MAC, targetIp: GUEST4,
    });
  });

  it("our MAC changes when the guest uses it (libvirt 9.0 passes the guest's MAC as --mac-addr)", () => {
    const env = newEnv();
    env.link.expectSrcMac = undefined; // checked below
    // the guest's frames come from our own MAC address
    env.inject(arpFrame(ARP_REQUEST, OUR_MAC, GUEST4, Buffer.alloc(6), GW4));
    const f = env.link.takeNow()!;
    expect(f.arp!.senderMac).not.toEqual(OUR_MAC);
    expect(f.srcMac).toEqual(f.arp!.senderMac);
    expect(f.dstMac).toEqual(OUR_MAC);
    expect(f.arp!.senderMac[0] & 1).toBe(0); // still unicast
  });

  it('replies to the MAC in the ARP payload, and to unicast or padded requests', () => {
    const env = newEnv();
    const other = Buffer.from('020000000099', 'hex');
    env.inject(arpFrame(ARP_REQUEST, other, GUEST4, Buffer.alloc(6), GW4, OUR_MAC, 18)); // 60-byte frame
    const f = env.link.takeNow()!;
    expect(f.dstMac).toEqual(other);
    expect(f.arp!.targetMac).toEqual(other);
    expect(f.arp!.senderMac).toEqual(OUR_MAC);
  });

  it('no reply for the guest\'s own address, gratuitous ARP, probes for 0.0.0.0 or replies', () => {
    const env = newEnv();
    env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), GUEST4)); // gratuitous / own
    env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, 0, Buffer.alloc(6), GUEST4)); // address conflict probe (RFC 5227)
    env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, GW4, Buffer.alloc(6), GW4)); // gratuitous for another address
    env.inject(arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), 0));
    env.inject(arpFrame(ARP_REPLY, GUEST_MAC, GUEST4, OUR_MAC, GW4));
    env.inject(arpFrame(3, GUEST_MAC, GUEST4, OUR_MAC, GW4)); // RARP request op
    expect(env.link.sent).toEqual([]);
    expect(env.ctx.counters.framesIn).toBe(6);
    expect(env.drops('arp_malformed')).toBe(0);
  });

  it('malformed ARP is dropped and counted', () => {
    const env = newEnv();
    const good = arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), GW4);
    env.inject(good.subarray(0, 14 + 27)); // one byte short
    env.inject(good.subarray(0, 14)); // header only
    for (const [off, v] of [[14, 1], [15, 6], [16, 0x86], [18, 8], [19, 16]] as const) {
      const b = Buffer.from(good);
      b[off] = v;
      env.inject(b);
    }
    expect(env.link.sent).toEqual([]);
    expect(env.drops('arp_malformed')).toBe(7);
    env.inject(good);
    expect(env.link.sent).toHaveLength(1);
  });

  it('learns the guest MAC from unicast sources only', () => {
    const env = newEnv();
    expect(env.ctx.guestMac).toEqual(BCAST_MAC);
    const mcast = Buffer.from('330000000001', 'hex');
    env.inject(ethFrame(OUR_MAC, mcast, 0x88b5, Buffer.alloc(50)));
    expect(env.ctx.guestMac).toEqual(BCAST_MAC);
    env.inject(ethFrame(OUR_MAC, GUEST_MAC, 0x88b5, Buffer.alloc(50)));
    expect(env.ctx.guestMac).toEqual(GUEST_MAC);
    const mac2 = Buffer.from('525400abcdef', 'hex');
    env.inject(ethFrame(OUR_MAC, mac2, 0x88b5, Buffer.alloc(50)));
    expect(env.ctx.guestMac).toEqual(mac2);
    expect(env.drops('ethertype')).toBe(3);
  });
});

describe('NDP', () => {
  /** Neighbour solicitation from src for target, with a source link-layer address option. */
  function ns(src: Buffer, target: Buffer, o: { hop?: number; dst?: Buffer; noOption?: boolean; trim?: number } = {}): Buffer {
    const dst = o.dst ?? parse6(`ff02::1:ff${target.toString('hex', 13, 14)}:${target.toString('hex', 14, 16)}`);
    const body = Buffer.alloc(4 + 16 + (o.noOption ? 0 : 8));
    target.copy(body, 4);
    if (!o.noOption) {
      body[20] = 1;
      body[21] = 1;
      GUEST_MAC.copy(body, 22);
    }
    const f = icmpFrame(src, dst, 135, 0, body, { ttl: o.hop ?? 255 });
    return o.trim ? f.subarray(0, f.length - o.trim) : f;
  }

  it('a solicitation for the gateway gets an advertisement: hop limit 255, R/S/O, target LL option, checksum', () => {
    const env = newEnv();
    env.inject(ns(GUEST6, GW6));
    const f = env.link.takeNow()!;
    expect(env.link.queue).toHaveLength(0);
    expect(f.dstMac).toEqual(GUEST_MAC);
    expect(f.ipv).toBe(6);
    expect(f.ttl).toBe(255);
    expect(f.src).toBe('2001:db8::2');
    expect(f.dst).toBe('2001:db8::15');
    expect(f.proto).toBe(58);
    expect(f.l4!.toString('hex', 4)).toBe(
      'e0000000' + GW6.toString('hex') + '02' + '01' + '9a559a559a55',
    );
    expect(f.icmp).toMatchObject({ type: 136, code: 0, csumOk: true });
    const z = Buffer.from(f.l4!);
    z.writeUInt16BE(0, 2);
    expect(f.icmp!.csum).toBe(l4Checksum(GW6, GUEST6, 58, z));
  });

  it('answers solicitations from a link-local source, for any address but the guest\'s', () => {
    const env = newEnv();
    const target = parse6('2606:4700::1111');
    env.inject(ns(LL6, target, { noOption: true }));
    const f = env.link.takeNow()!;
    expect(f.src).toBe('2606:4700::1111');
    expect(f.dst).toBe('fe80::5054:ff:fe12:3456');
    expect(f.l4!.subarray(8, 24)).toEqual(target);
    // unicast (reachability confirmation) solicitations are answered as well
    env.inject(ns(GUEST6, GW6, { dst: GW6 }));
    expect(env.link.takeNow()!.src).toBe('2001:db8::2');
  });

  it('no advertisement for duplicate address detection, the guest\'s own address or a multicast target', () => {
    const env = newEnv();
    env.inject(ns(Buffer.alloc(16), GUEST6)); // DAD for its own address
    env.inject(ns(Buffer.alloc(16), GW6)); // DAD for any address: unspecified source
    env.inject(ns(LL6, GUEST6));
    env.inject(ns(GUEST6, parse6('ff02::1')));
    expect(env.link.sent).toEqual([]);
  });

  it('invalid solicitations (hop limit below 255, too short) are dropped and counted', () => {
    const env = newEnv();
    env.inject(ns(GUEST6, GW6, { hop: 64 }));
    env.inject(ns(GUEST6, GW6, { hop: 254 }));
    const short = icmpFrame(GUEST6, parse6('ff02::1:ff00:2'), 135, 0, Buffer.alloc(16), { ttl: 255 }); // 20 bytes of ICMPv6
    env.inject(short);
    expect(env.link.sent).toEqual([]);
    expect(env.drops('ndp_invalid')).toBe(3);
  });

  it('other ICMPv6 types are dropped and counted; router solicitations go to the hook', () => {
    const env = newEnv();
    env.inject(icmpFrame(GUEST6, GW6, 136, 0, Buffer.alloc(24), { ttl: 255 }));
    env.inject(icmpFrame(GUEST6, GW6, 1, 4, Buffer.alloc(44)));
    env.inject(icmpFrame(GUEST6, GW6, 129, 0, Buffer.alloc(8)));
    expect(env.drops('icmpv6_type')).toBe(3);
    const seen: string[] = [];
    env.d.hooks.routerSolicit = (buf, srcOff) => seen.push(buf.toString('hex', srcOff, srcOff + 16));
    env.inject(icmpFrame(LL6, parse6('ff02::2'), 133, 0, Buffer.alloc(4), { ttl: 255 }));
    env.inject(icmpFrame(LL6, parse6('ff02::2'), 133, 0, Buffer.alloc(4), { ttl: 64 })); // not from a neighbour
    expect(seen).toEqual([LL6.toString('hex')]);
    expect(env.link.sent).toEqual([]);
  });

  it('ICMPv6 shorter than 4 bytes is dropped and counted', () => {
    const env = newEnv();
    const f = icmpFrame(GUEST6, GW6, 128, 0, Buffer.alloc(0));
    // rewrite as a 3-byte ICMPv6 payload
    const b = Buffer.from(f.subarray(0, f.length - 1));
    b.writeUInt16BE(3, 14 + 4);
    env.inject(b);
    expect(env.drops('icmpv6_short')).toBe(1);
  });

  it('IPv6 frames are dropped when the plan has no IPv6, IPv4 frames when it has no IPv4', () => {
    const env = newEnv({ v6: false });
    env.inject(ns(GUEST6, GW6));
    expect(env.drops('ipv6_disabled')).toBe(1);
    const env4 = newEnv({ v4: false });
    env4.inject(icmpFrame(GUEST4, GW4, 8, 0, Buffer.alloc(8)));
    expect(env4.drops('ipv4_disabled')).toBe(1);
    expect(env.link.sent).toEqual([]);
    expect(env4.link.sent).toEqual([]);
  });
});
