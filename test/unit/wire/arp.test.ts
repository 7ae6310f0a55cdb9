import { describe, expect, it } from 'vitest';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, type ArpView, parseArp, writeArp } from '../../../src/wire/arp.js';
import { parse4 } from '../../../src/wire/ip.js';

const view = (): ArpView => ({ op: 0, senderMacOff: 0, senderIp: 0, targetMacOff: 0, targetIp: 0 });
const macA = Buffer.from('525400123456', 'hex');
const macB = Buffer.from('9a559a559a55', 'hex');

describe('ARP', () => {
  it('writeArp writes the RFC 826 layout for Ethernet/IPv4', () => {
    const b = Buffer.alloc(2 + ARP_LEN);
    expect(writeArp(b, 2, ARP_REPLY, macB, parse4('10.0.2.2'), macA, parse4('10.0.2.15'))).toBe(2 + 28);
    expect(b.subarray(2).toString('hex')).toBe(
      '0001' + '0800' + '06' + '04' + '0002' + '9a559a559a55' + '0a000202' + '525400123456' + '0a00020f',
    );
  });

  it('parseArp round trip at an offset, addresses above 127.x as unsigned', () => {
    const b = Buffer.alloc(5 + ARP_LEN + 18); // with Ethernet padding after it
    writeArp(b, 5, ARP_REQUEST, macA, parse4('192.168.1.10'), Buffer.alloc(6), parse4('255.255.255.254'));
    const v = parseArp(b, 5, ARP_LEN + 18, view());
    expect(v).not.toBeNull();
    expect(v!.op).toBe(ARP_REQUEST);
    expect(v!.senderIp).toBe(parse4('192.168.1.10'));
    expect(v!.targetIp).toBe(0xfffffffe);
    expect(b.subarray(v!.senderMacOff, v!.senderMacOff + 6)).toEqual(macA);
    expect(v!.targetMacOff).toBe(5 + 18);
  });

  it('rejects short packets and other hardware/protocol types or sizes', () => {
    const good = Buffer.alloc(ARP_LEN);
    writeArp(good, 0, ARP_REQUEST, macA, 1, macB, 2);
    expect(parseArp(good, 0, ARP_LEN, view())).not.toBeNull();
    expect(parseArp(good, 0, ARP_LEN - 1, view())).toBeNull();
    expect(parseArp(good, 0, 0, view())).toBeNull();
    for (const [off, val] of [[1, 6], [2, 0x86], [4, 8], [5, 16], [3, 0x06]] as const) {
      const b = Buffer.from(good);
      b[off] = val;
      expect(parseArp(b, 0, ARP_LEN, view()), `byte ${off} = ${val}`).toBeNull();
    }
  });
});
