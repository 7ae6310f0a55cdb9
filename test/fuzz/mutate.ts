// Generic byte-level mutations (in the manner of AFL's "havoc" stage and
// libFuzzer's mutators): bit flips, interesting values, arithmetic on 8/16/32-bit
// fields, deletion, insertion, duplication, truncation and crossover.
import type { Rng } from '../unit/helpers/rng.js';

const BYTES = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x10, 0x11, 0x14, 0x20, 0x28, 0x3a, 0x40, 0x45, 0x46, 0x4f,
  0x60, 0x7f, 0x80, 0x81, 0x86, 0xdd, 0xfe, 0xff];
const WORDS = [0, 1, 7, 8, 20, 28, 40, 60, 64, 67, 68, 255, 256, 546, 547, 576, 1280, 1500, 0x0800, 0x0806, 0x86dd,
  0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];
const DWORDS = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x63825363];

export function mutateBytes(input: Buffer, r: Rng, maxLen: number, pool: readonly Buffer[]): Buffer {
  let b: Buffer = Buffer.from(input);
  const n = 1 + r.int(r.next() < 0.5 ? 3 : 8);
  for (let i = 0; i < n; i++) b = mutateOnce(b, r, maxLen, pool);
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}

function mutateOnce(b: Buffer, r: Rng, maxLen: number, pool: readonly Buffer[]): Buffer {
  const len = b.length;
  const at = (): number => r.int(len);
  switch (r.int(len === 0 ? 1 : 14)) {
    case 0: // insert random bytes
      return insert(b, r.int(len + 1), r.bytes(1 + r.int(r.next() < 0.8 ? 8 : 256)), maxLen);
    case 1:
      b[at()] ^= 1 << r.int(8);
      return b;
    case 2:
      b[at()] = r.byte();
      return b;
    case 3:
      b[at()] = r.pick(BYTES);
      return b;
    case 4: {
      const p = at();
      b[p] = (b[p] + r.int(33) - 16) & 0xff;
      return b;
    }
    case 5:
      if (len >= 2) {
        const p = r.int(len - 1);
        const v = r.next() < 0.5 ? r.pick(WORDS) : (b.readUInt16BE(p) + r.int(65) - 32) & 0xffff;
        b.writeUInt16BE(v, p);
      }
      return b;
    case 6:
      if (len >= 4) b.writeUInt32BE(r.pick(DWORDS), r.int(len - 3));
      return b;
    case 7: { // delete a range
      const p = at();
      const n = 1 + r.int(Math.min(len - p, r.next() < 0.8 ? 8 : len));
      return Buffer.concat([b.subarray(0, p), b.subarray(p + n)]);
    }
    case 8: // truncate
      return b.subarray(0, r.int(len));
    case 9: { // duplicate a range in place
      const p = at();
      const n = 1 + r.int(Math.min(len - p, 64));
      return insert(b, r.int(len + 1), Buffer.from(b.subarray(p, p + n)), maxLen);
    }
    case 10: { // copy a range over another
      const p = at();
      const q = at();
      const n = 1 + r.int(Math.min(len - p, len - q, 32));
      b.copy(b, q, p, p + n);
      return b;
    }
    case 11: { // crossover: part of another pool entry
      const o = pool.length > 0 ? r.pick(pool) : undefined;
      if (!o || o.length === 0) return b;
      const p = r.int(o.length);
      const n = 1 + r.int(o.length - p);
      return r.next() < 0.5 ? insert(b, r.int(len + 1), o.subarray(p, p + n), maxLen) : Buffer.concat([b.subarray(0, r.int(len + 1)), o.subarray(p)]);
    }
    case 12: // fill a run with one value
    {
      const p = at();
      const n = 1 + r.int(Math.min(len - p, 16));
      b.fill(r.pick(BYTES), p, p + n);
      return b;
    }
    default: // grow with zeros or random bytes
      if (len >= maxLen) return b;
      return Buffer.concat([b, r.next() < 0.5 ? Buffer.alloc(1 + r.int(Math.min(64, maxLen - len))) : r.bytes(1 + r.int(Math.min(64, maxLen - len)))]);
  }
}

function insert(b: Buffer, p: number, ins: Uint8Array, maxLen: number): Buffer {
  if (b.length + ins.length > maxLen) return b;
  return Buffer.concat([b.subarray(0, p), ins, b.subarray(p)]);
}
