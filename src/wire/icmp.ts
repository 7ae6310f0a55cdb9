// ICMP (RFC 792) and ICMPv6 (RFC 4443) echo and error messages.
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_PORT_UNREACH = 3; // code
export const ICMP_HOST_UNREACH = 1; // code
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_ROUTER_SOLICIT = 133;
export const ICMPV6_ROUTER_ADVERT = 134;
export const ICMPV6_NEIGH_SOLICIT = 135;
export const ICMPV6_NEIGH_ADVERT = 136;
export const ICMP_HLEN = 8;

export const icmpType = (buf: Buffer, off: number): number => buf[off];
export const icmpCode = (buf: Buffer, off: number): number => buf[off + 1];
export const icmpEchoId = (buf: Buffer, off: number): number => (buf[off + 4] << 8) | buf[off + 5];
export const icmpEchoSeq = (buf: Buffer, off: number): number => (buf[off + 6] << 8) | buf[off + 7];

export function setIcmpEchoId(buf: Buffer, off: number, id: number): void {
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id & 0xff;
}
