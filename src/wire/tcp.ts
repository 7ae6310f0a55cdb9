// TCP header (RFC 9293) with the options a translator needs: MSS, window scale.
import { put32 } from './bytes.js';

export const TCP_HLEN = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export interface TcpView {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  dataOff: number;
  dataLen: number;
  /** from options on SYN; 0 when absent */
  mss: number;
  /** window scale from options; -1 when absent */
  wscale: number;
}

export function newTcpView(): TcpView {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, dataOff: 0, dataLen: 0, mss: 0, wscale: -1 };
}

/** Parses a TCP segment occupying buf[off, off+len); false when malformed. */
export function parseTcp(buf: Buffer, off: number, len: number, v: TcpView): boolean {
  if (len < TCP_HLEN) return false;
  const doff = (buf[off + 12] >> 4) * 4;
  if (doff < TCP_HLEN || doff > len) return false;
  v.srcPort = (buf[off] << 8) | buf[off + 1];
  v.dstPort = (buf[off + 2] << 8) | buf[off + 3];
  v.seq = buf.readUInt32BE(off + 4);
  v.ack = buf.readUInt32BE(off + 8);
  v.flags = buf[off + 13];
  v.window = (buf[off + 14] << 8) | buf[off + 15];
  v.dataOff = off + doff;
  v.dataLen = len - doff;
  v.mss = 0;
  v.wscale = -1;
  if (doff > TCP_HLEN && (v.flags & SYN) !== 0) parseOptions(buf, off + TCP_HLEN, off + doff, v);
  return true;
}

function parseOptions(buf: Buffer, p: number, end: number, v: TcpView): void {
  while (p < end) {
    const kind = buf[p];
    if (kind === 0) return; // end of list
    if (kind === 1) { p++; continue; } // NOP
    if (p + 1 >= end) return;
    const olen = buf[p + 1];
    if (olen < 2 || p + olen > end) return; // malformed: ignore the rest
    if (kind === 2 && olen === 4) v.mss = (buf[p + 2] << 8) | buf[p + 3];
    else if (kind === 3 && olen === 3) v.wscale = Math.min(buf[p + 2], 14);
    p += olen;
  }
}

/**
 * Writes a TCP header (checksum field left 0). With mss > 0 (SYN segments)
 * MSS and, if wscale >= 0, window scale options follow. Returns the data offset.
 */
export function writeTcp(buf: Buffer, off: number, srcPort: number, dstPort: number, seq: number, ack: number,
  flags: number, window: number, mss = 0, wscale = -1): number {
  let hlen = TCP_HLEN;
  if (mss > 0) hlen += 4;
  if (wscale >= 0) hlen += 4;
  buf[off] = srcPort >>> 8;
  buf[off + 1] = srcPort & 0xff;
  buf[off + 2] = dstPort >>> 8;
  buf[off + 3] = dstPort & 0xff;
  put32(buf, off + 4, seq);
  put32(buf, off + 8, ack);
  buf[off + 12] = (hlen / 4) << 4;
  buf[off + 13] = flags;
  buf[off + 14] = window >>> 8;
  buf[off + 15] = window & 0xff;
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  buf[off + 18] = 0;
  buf[off + 19] = 0;
  let p = off + TCP_HLEN;
  if (mss > 0) {
    buf[p] = 2; buf[p + 1] = 4; buf[p + 2] = mss >>> 8; buf[p + 3] = mss & 0xff;
    p += 4;
  }
  if (wscale >= 0) {
    buf[p] = 1; buf[p + 1] = 3; buf[p + 2] = 3; buf[p + 3] = wscale;
    p += 4;
  }
  return p;
}

/** Sequence-number comparisons modulo 2^32. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
