// Ethernet II frames.
import { copyBytes } from './bytes.js';

export const ETH_HLEN = 14;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

export const ethDstOff = (off: number): number => off;
export const ethSrcOff = (off: number): number => off + 6;
export function ethType(buf: Buffer, off: number): number {
  return (buf[off + 12] << 8) | buf[off + 13];
}

/** Writes an Ethernet header; returns the payload offset. */
export function writeEth(buf: Buffer, off: number, dst: Uint8Array, src: Uint8Array, type: number): number {
  copyBytes(dst, 0, buf, off, 6);
  copyBytes(src, 0, buf, off + 6, 6);
  buf[off + 12] = type >>> 8;
  buf[off + 13] = type & 0xff;
  return off + ETH_HLEN;
}

export function isMulticastMac(buf: Uint8Array, off: number): boolean {
  return (buf[off] & 1) === 1;
}

export function parseMac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`invalid MAC address: ${s}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Uint8Array, off = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(b[off + i].toString(16).padStart(2, '0'));
  return out.join(':');
}
