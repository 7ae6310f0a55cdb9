import { describe, expect, it } from 'vitest';
import { Counters, FlowContext } from '../../../src/flow/context.js';
import type { NetPlan } from '../../../src/netplan.js';
import { format4, format6, parse4, parse6 } from '../../../src/wire/ip.js';
import { TestLog, testPlan } from '../helpers/env.js';
import { FakeLink } from '../helpers/fakelink.js';

function ctx(tweak?: (p: NetPlan) => void): FlowContext {
  return new FlowContext(new FakeLink(), testPlan({ tweak }), new TestLog());
}

const h4 = (c: FlowContext, dst: string, port = 80): string => format4(c.hostDst4(parse4(dst), port));
const g4 = (c: FlowContext, src: string, port = 80): string => format4(c.guestSrc4(parse4(src), port));
const h6 = (c: FlowContext, dst: string, port = 80): string => format6(c.hostDst6(Buffer.concat([Buffer.alloc(3), parse6(dst)]), 3, port));
const g6 = (c: FlowContext, src: string, port = 80): string => format6(c.guestSrc6(parse6(src), port));

describe('FlowContext address mapping', () => {
  it('IPv4: the mapped gateway reaches 127.0.0.1, replies from loopback come from it; other addresses pass', () => {
    const c = ctx();
    expect(h4(c, '10.0.2.2')).toBe('127.0.0.1');
    expect(h4(c, '93.184.216.34')).toBe('93.184.216.34');
    expect(h4(c, '10.0.2.3')).toBe('10.0.2.3');
    expect(g4(c, '127.0.0.1')).toBe('10.0.2.2');
    expect(g4(c, '93.184.216.34')).toBe('93.184.216.34');
  });

  it('IPv4: --map-guest-addr reaches the host\'s address, and replies from it come from the mapped address', () => {
    const c = ctx((p) => {
      p.v4!.hostAddr = parse4('192.0.2.10');
      p.v4!.mapGuestAddr = parse4('10.0.2.3');
    });
    expect(h4(c, '10.0.2.3')).toBe('192.0.2.10');
    expect(g4(c, '192.0.2.10')).toBe('10.0.2.3');
    expect(g4(c, '127.0.0.1')).toBe('10.0.2.2');
  });

  it('IPv4: with --no-map-gw the gateway is the real one; the host\'s own replies appear from the gateway', () => {
    const c = ctx((p) => {
      p.v4!.mapHostLoopback = undefined;
      p.v4!.hostAddr = parse4('192.0.2.10');
    });
    expect(h4(c, '10.0.2.2')).toBe('10.0.2.2');
    expect(g4(c, '192.0.2.10')).toBe('10.0.2.2');
    expect(g4(c, '127.0.0.53')).toBe('10.0.2.2');
  });

  it('IPv4: DNS (port 53 only) to dnsMatch goes to dnsHost and back', () => {
    const c = ctx((p) => {
      p.v4!.dnsMatch = parse4('10.0.2.3');
      p.v4!.dnsHost = parse4('127.0.0.53');
    });
    expect(h4(c, '10.0.2.3', 53)).toBe('127.0.0.53');
    expect(h4(c, '10.0.2.3', 853)).toBe('10.0.2.3');
    expect(g4(c, '127.0.0.53', 53)).toBe('10.0.2.3');
    expect(g4(c, '127.0.0.53', 5353)).toBe('10.0.2.2'); // loopback, not DNS: the gateway
  });

  it('IPv6: the same mappings', () => {
    const c = ctx((p) => {
      p.v6!.hostAddr = parse6('2001:db8:1::10');
      p.v6!.mapGuestAddr = parse6('2001:db8::3');
      p.v6!.dnsMatch = parse6('2001:db8::53');
      p.v6!.dnsHost = parse6('fd00::53');
    });
    expect(h6(c, '2001:db8::2')).toBe('::1');
    expect(h6(c, '2001:db8::3')).toBe('2001:db8:1::10');
    expect(h6(c, '2606:4700::1111')).toBe('2606:4700::1111');
    expect(h6(c, '2001:db8::53', 53)).toBe('fd00::53');
    expect(h6(c, '2001:db8::53', 54)).toBe('2001:db8::53');
    expect(g6(c, '::1')).toBe('2001:db8::2');
    expect(g6(c, '2001:db8:1::10')).toBe('2001:db8::3');
    expect(g6(c, 'fd00::53', 53)).toBe('2001:db8::53');
    expect(g6(c, '2606:4700::1111')).toBe('2606:4700::1111');
  });

  it('IPv6 without mappings: the host\'s loopback and own address appear as the gateway', () => {
    const c = ctx((p) => {
      p.v6!.mapHostLoopback = undefined;
      p.v6!.hostAddr = parse6('2001:db8:1::10');
    });
    expect(h6(c, '2001:db8::2')).toBe('2001:db8::2');
    expect(g6(c, '::1')).toBe('2001:db8::2');
    expect(g6(c, '2001:db8:1::10')).toBe('2001:db8::2');
  });

  it('without a plan for a family, addresses pass unchanged', () => {
    const c = new FlowContext(new FakeLink(), testPlan({ v4: false, v6: false }), new TestLog());
    expect(h4(c, '10.0.2.2')).toBe('10.0.2.2');
    expect(g4(c, '127.0.0.1')).toBe('127.0.0.1');
    expect(h6(c, '2001:db8::2')).toBe('2001:db8::2');
    expect(g6(c, '::1')).toBe('::1');
  });

  it('hostDst6 returns a copy, not a view of the frame', () => {
    const c = ctx();
    const buf = Buffer.concat([Buffer.alloc(1), parse6('2606:4700::1111')]);
    const out = c.hostDst6(buf, 1, 80);
    buf.fill(0);
    expect(format6(out)).toBe('2606:4700::1111');
  });
});

describe('Counters', () => {
  it('counts drops by reason and summarises', () => {
    const k = new Counters();
    expect(k.summary()).toBe('frames in 0, out 0; dropped: none');
    k.framesIn = 3;
    k.framesOut = 1;
    k.drop('a');
    k.drop('b');
    k.drop('a');
    expect(k.drops.get('a')).toBe(2);
    expect(k.summary()).toBe('frames in 3, out 1; dropped: a=2 b=1');
  });
});
