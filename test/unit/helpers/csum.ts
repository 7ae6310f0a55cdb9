// A deliberately naive Internet checksum (RFC 1071), independent of
// src/wire/checksum.ts: one 16-bit word at a time, end-around carry after
// every addition, pseudo-headers built as real bytes.

/** One's-complement sum of data (big-endian words, odd byte padded with zero), continuing from init. */
export function onesSum(data: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i < data.length; i += 2) {
    const w = (data[i] << 8) | (i + 1 < data.length ? data[i + 1] : 0);
    s += w;
    if (s > 0xffff) s = (s & 0xffff) + 1;
  }
  return s;
}

/** The checksum to store for data whose checksum field is zero. */
export function inetChecksum(data: Uint8Array, init = 0): number {
  return ~onesSum(data, init) & 0xffff;
}

/** IPv4 pseudo-header (RFC 793 / 768) as 12 bytes. */
export function pseudoHeader4(src: number, dst: number, proto: number, len: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(src >>> 0, 0);
  b.writeUInt32BE(dst >>> 0, 4);
  b[8] = 0;
  b[9] = proto;
  b.writeUInt16BE(len, 10);
  return b;
}

/** IPv6 pseudo-header (RFC 8200 8.1) as 40 bytes. */
export function pseudoHeader6(src: Uint8Array, dst: Uint8Array, proto: number, len: number): Buffer {
  const b = Buffer.alloc(40);
  b.set(src.subarray(0, 16), 0);
  b.set(dst.subarray(0, 16), 16);
  b.writeUInt32BE(len, 32);
  b[39] = proto;
  return b;
}

export type Addr = number | Uint8Array;

export function pseudoHeader(src: Addr, dst: Addr, proto: number, len: number): Buffer {
  if (typeof src === 'number' && typeof dst === 'number') return pseudoHeader4(src, dst, proto, len);
  if (typeof src !== 'number' && typeof dst !== 'number') return pseudoHeader6(src, dst, proto, len);
  throw new Error('mixed address families');
}

/** Checksum for a transport segment whose checksum field is zero. */
export function l4Checksum(src: Addr, dst: Addr, proto: number, l4: Uint8Array): number {
  return inetChecksum(l4, onesSum(pseudoHeader(src, dst, proto, l4.length)));
}

/** True when a transport segment (checksum field included) verifies. */
export function l4Verifies(src: Addr, dst: Addr, proto: number, l4: Uint8Array): boolean {
  return onesSum(l4, onesSum(pseudoHeader(src, dst, proto, l4.length))) === 0xffff;
}

/** True when a byte range including its checksum verifies (IPv4 header, ICMPv4). */
export function verifies(data: Uint8Array): boolean {
  return onesSum(data) === 0xffff;
}
