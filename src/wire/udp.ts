// UDP header (RFC 768).
export const UDP_HLEN = 8;

export interface UdpView {
  srcPort: number;
  dstPort: number;
  dataOff: number;
  dataLen: number;
}

export function newUdpView(): UdpView {
  return { srcPort: 0, dstPort: 0, dataOff: 0, dataLen: 0 };
}

export function parseUdp(buf: Buffer, off: number, len: number, v: UdpView): boolean {
  if (len < UDP_HLEN) return false;
  const ulen = (buf[off + 4] << 8) | buf[off + 5];
  if (ulen < UDP_HLEN || ulen > len) return false;
  v.srcPort = (buf[off] << 8) | buf[off + 1];
  v.dstPort = (buf[off + 2] << 8) | buf[off + 3];
  v.dataOff = off + UDP_HLEN;
  v.dataLen = ulen - UDP_HLEN;
  return true;
}

/** Writes a UDP header with checksum 0 (filled in by the link); returns the data offset. */
export function writeUdp(buf: Buffer, off: number, srcPort: number, dstPort: number, dataLen: number): number {
  const ulen = UDP_HLEN + dataLen;
  buf[off] = srcPort >>> 8;
  buf[off + 1] = srcPort & 0xff;
  buf[off + 2] = dstPort >>> 8;
  buf[off + 3] = dstPort & 0xff;
  buf[off + 4] = ulen >>> 8;
  buf[off + 5] = ulen & 0xff;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return off + UDP_HLEN;
}
