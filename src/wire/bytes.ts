// Byte copies and 32-bit stores for the frame paths. Buffer.copy and
// TypedArray.set build a view and validate their arguments on every call,
// which costs more than copying the few bytes of a header, an address or a
// request's payload; large copies still go to the builtin.

/** Below this many bytes a loop copies faster than TypedArray.prototype.set. */
const LOOP_MAX = 64;

/** Copies src[srcOff, srcOff+n) to dst at dstOff (the ranges must not overlap). */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, n: number): void {
  if (n <= LOOP_MAX) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
    return;
  }
  dst.set(src.subarray(srcOff, srcOff + n), dstOff);
}

/** Stores v (taken as uint32) big-endian at buf[off, off+4). */
export function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}
