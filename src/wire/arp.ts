// ARP for IPv4 over Ethernet (RFC 826).
export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpView {
  op: number;
  senderMacOff: number;
  senderIp: number;
  targetMacOff: number;
  targetIp: number;
}

/** Parses an Ethernet/IPv4 ARP packet at off; null when malformed. */
export function parseArp(buf: Buffer, off: number, len: number, out: ArpView): ArpView | null {
  if (len < ARP_LEN) return null;
  if (buf.readUInt16BE(off) !== 1 || buf.readUInt16BE(off + 2) !== 0x0800 || buf[off + 4] !== 6 || buf[off + 5] !== 4) return null;
  out.op = buf.readUInt16BE(off + 6);
  out.senderMacOff = off + 8;
  out.senderIp = buf.readUInt32BE(off + 14);
  out.targetMacOff = off + 18;
  out.targetIp = buf.readUInt32BE(off + 24);
  return out;
}

export function writeArp(buf: Buffer, off: number, op: number, senderMac: Uint8Array, senderIp: number, targetMac: Uint8Array, targetIp: number): number {
  buf.writeUInt16BE(1, off);
  buf.writeUInt16BE(0x0800, off + 2);
  buf[off + 4] = 6;
  buf[off + 5] = 4;
  buf.writeUInt16BE(op, off + 6);
  buf.set(senderMac, off + 8);
  buf.writeUInt32BE(senderIp >>> 0, off + 14);
  buf.set(targetMac, off + 18);
  buf.writeUInt32BE(targetIp >>> 0, off + 24);
  return off + ARP_LEN;
}
