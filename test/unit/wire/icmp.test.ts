import { describe, expect, it } from 'vitest';
import {
  ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGH_ADVERT,
  ICMPV6_NEIGH_SOLICIT, ICMPV6_ROUTER_ADVERT, ICMPV6_ROUTER_SOLICIT, icmpCode, icmpEchoId, icmpEchoSeq, icmpType, setIcmpEchoId,
} from '../../../src/wire/icmp.js';

describe('ICMP', () => {
  it('type numbers (RFC 792, RFC 4443, RFC 4861)', () => {
    expect([ICMP_ECHOREPLY, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_HLEN]).toEqual([0, 3, 8, 8]);
    expect([ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY]).toEqual([128, 129]);
    expect([ICMPV6_ROUTER_SOLICIT, ICMPV6_ROUTER_ADVERT, ICMPV6_NEIGH_SOLICIT, ICMPV6_NEIGH_ADVERT]).toEqual([133, 134, 135, 136]);
  });

  it('echo accessors at an offset', () => {
    const b = Buffer.from('ee' + '08' + '00' + 'f7ff' + 'beef' + '0102' + '61626364', 'hex');
    expect(icmpType(b, 1)).toBe(8);
    expect(icmpCode(b, 1)).toBe(0);
    expect(icmpEchoId(b, 1)).toBe(0xbeef);
    expect(icmpEchoSeq(b, 1)).toBe(0x0102);
  });

  it('setIcmpEchoId changes only the identifier', () => {
    const b = Buffer.from('00' + '08' + '00' + 'f7ff' + 'beef' + '0102' + '61', 'hex');
    setIcmpEchoId(b, 1, 0x1234);
    expect(b.toString('hex')).toBe('00' + '08' + '00' + 'f7ff' + '1234' + '0102' + '61');
    setIcmpEchoId(b, 1, 0xffff);
    expect(icmpEchoId(b, 1)).toBe(0xffff);
  });
});
