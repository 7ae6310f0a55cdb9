import { describe, expect, it } from 'vitest';
import {
  ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ethDstOff, ethSrcOff, ethType, formatMac, isMulticastMac, parseMac, writeEth,
} from '../../../src/wire/ethernet.js';

describe('Ethernet', () => {
  it('constants', () => {
    expect([ETH_HLEN, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6]).toEqual([14, 0x0800, 0x0806, 0x86dd]);
  });

  it('writeEth writes dst, src, type at an offset and returns the payload offset', () => {
    const b = Buffer.alloc(24, 0xee);
    const dst = parseMac('01:02:03:04:05:06');
    const src = parseMac('9a:55:9a:55:9a:55');
    expect(writeEth(b, 3, dst, src, ETH_P_IPV6)).toBe(17);
    expect(b.toString('hex')).toBe('eeeeee' + '010203040506' + '9a559a559a55' + '86dd' + 'ee'.repeat(7));
    expect(ethType(b, 3)).toBe(ETH_P_IPV6);
    expect(ethDstOff(3)).toBe(3);
    expect(ethSrcOff(3)).toBe(9);
  });

  it('multicast bit is the least significant bit of the first octet', () => {
    expect(isMulticastMac(parseMac('ff:ff:ff:ff:ff:ff'), 0)).toBe(true);
    expect(isMulticastMac(parseMac('33:33:00:00:00:01'), 0)).toBe(true);
    expect(isMulticastMac(parseMac('01:00:5e:00:00:fb'), 0)).toBe(true);
    expect(isMulticastMac(parseMac('02:00:00:00:00:01'), 0)).toBe(false);
    expect(isMulticastMac(Buffer.from([0, 1, 0]), 1)).toBe(true);
  });

  it('parseMac / formatMac round trip, case-insensitive, single digits', () => {
    expect(parseMac('9A:55:9a:55:9A:55')).toEqual(Buffer.from([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]));
    expect(parseMac('2:0:0:0:0:a')).toEqual(Buffer.from([2, 0, 0, 0, 0, 10]));
    expect(formatMac(parseMac('2:0:0:0:0:a'))).toBe('02:00:00:00:00:0a');
    expect(formatMac(Buffer.from([0, 0xde, 0xad, 0xbe, 0xef, 0, 1]), 1)).toBe('de:ad:be:ef:00:01');
  });

  it.each(['', '01:02:03:04:05', '01:02:03:04:05:06:07', '001:02:03:04:05:06', 'g1:02:03:04:05:06', '01-02-03-04-05-06', '01:02:03:04:05:'])(
    'parseMac rejects %j', (s) => {
      expect(() => parseMac(s)).toThrow(/invalid MAC address/);
    },
  );
});
