// Internet checksum (RFC 1071) over Buffer ranges. Sums are carried unfolded
// in a JS number (exact up to 2^53), folded once at the end.

/** Adds the 16-bit big-endian words of buf[off, off+len) to acc. */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  const end = off + (len & ~1);
  let s = acc;
  let i = off;
  // Unrolled by 8 bytes: this loop is the only per-byte work on the paths
  // that cannot hand checksums to the kernel.
  const end8 = off + (len & ~7);
  for (; i < end8; i += 8) {
    s += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (len & 1) s += buf[off + len - 1] << 8;
  return s;
}

/** Folds a sum to 16 bits (no complement). */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Final checksum value: folded, complemented; 0 becomes 0xffff only for UDP (caller's choice). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Pseudo-header sum for IPv4 (addresses as uint32). */
export function pseudo4(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/** Pseudo-header sum for IPv6: the two addresses are read from buf at srcOff/dstOff. */
export function pseudo6(buf: Uint8Array, srcOff: number, dstOff: number, proto: number, len: number): number {
  return sum16(buf, srcOff, 16, sum16(buf, dstOff, 16, proto + (len >>> 16) + (len & 0xffff)));
}

/** Checksum of a complete range, e.g. an IPv4 header with its checksum field zeroed. */
export function checksum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  return finish(sum16(buf, off, len, acc));
}
