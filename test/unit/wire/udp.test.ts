import { describe, expect, it } from 'vitest';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../../../src/wire/udp.js';

describe('UDP header', () => {
  it('writeUdp: ports, length, checksum 0; returns the data offset', () => {
    const b = Buffer.alloc(2 + 8 + 3, 0xee);
    expect(writeUdp(b, 2, 53, 0xfffe, 3)).toBe(10);
    expect(b.subarray(2, 10).toString('hex')).toBe('0035' + 'fffe' + '000b' + '0000');
  });

  it('parseUdp round trip; the length field, not the buffer, bounds the data (padding ignored)', () => {
    const b = Buffer.alloc(4 + 8 + 5 + 20, 0x55);
    writeUdp(b, 4, 40000, 53, 5);
    const v = newUdpView();
    expect(parseUdp(b, 4, b.length - 4, v)).toBe(true);
    expect(v).toEqual({ srcPort: 40000, dstPort: 53, dataOff: 12, dataLen: 5 });
  });

  it('an empty datagram', () => {
    const b = Buffer.alloc(8);
    writeUdp(b, 0, 1, 2, 0);
    const v = newUdpView();
    expect(parseUdp(b, 0, 8, v)).toBe(true);
    expect(v.dataLen).toBe(0);
  });

  it('rejects short headers, lengths below 8 and lengths beyond the buffer', () => {
    const b = Buffer.alloc(20);
    writeUdp(b, 0, 1, 2, 12);
    const v = newUdpView();
    expect(parseUdp(b, 0, 7, v)).toBe(false);
    expect(parseUdp(b, 0, 19, v)).toBe(false);
    expect(parseUdp(b, 0, 20, v)).toBe(true);
    for (const len of [0, 1, 7]) {
      b.writeUInt16BE(len, 4);
      expect(parseUdp(b, 0, 20, v), `length ${len}`).toBe(false);
    }
    expect(UDP_HLEN).toBe(8);
  });
});
