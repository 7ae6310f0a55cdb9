import { describe, expect, it } from 'vitest';
import { copyBytes, put32 } from '../../../src/wire/bytes.js';
import { rng } from '../helpers/rng.js';

describe('copyBytes', () => {
  it('copies exactly the range, by loop (short) and by set (long), leaving the rest alone', () => {
    const r = rng(7);
    for (const n of [0, 1, 13, 64, 65, 1000, 70000]) {
      const src = r.bytes(n + 9);
      const dst = Buffer.alloc(n + 20, 0xee);
      copyBytes(src, 5, dst, 11, n);
      expect(dst.subarray(11, 11 + n)).toEqual(src.subarray(5, 5 + n));
      expect(dst.subarray(0, 11)).toEqual(Buffer.alloc(11, 0xee));
      expect(dst.subarray(11 + n)).toEqual(Buffer.alloc(9, 0xee));
    }
  });
});

describe('put32', () => {
  it('stores big-endian, taking the value as uint32 (numbers above 2^31, negative int32)', () => {
    const b = Buffer.alloc(6);
    for (const v of [0, 1, 0x7fffffff, 0x80000000, 0xfedcba98, 0xffffffff, -1, -2]) {
      put32(b, 1, v);
      expect(b.readUInt32BE(1)).toBe(v >>> 0);
      expect(b[0]).toBe(0);
      expect(b[5]).toBe(0);
    }
  });
});
