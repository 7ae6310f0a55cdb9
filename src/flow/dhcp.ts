// DHCPv4 server, as passt's dhcp.c: one lease, the plan's address, for ever.
// DISCOVER gets an OFFER (an ACK with rapid commit, RFC 4039), REQUEST an
// ACK (a NAK if it asks for another address or the client is rebooting with
// an old one), INFORM an ACK without a lease; RELEASE and DECLINE are only
// logged. Replies go to the guest's MAC address, and to the IPv4 broadcast
// address when the client asked for it or has no address yet.
import type { FlowContext } from './context.js';
import {
  BOOTREPLY, BOOTREQUEST, DHCPACK, DHCPDECLINE, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST,
  DHCP_CLIENT_PORT, DHCP_DEFAULT_MAX_LEN, DHCP_FLAG_BROADCAST, DHCP_MIN_LEN, DHCP_SERVER_PORT,
  DhcpError, DhcpOptionWriter, OPT_CLASSLESS_ROUTE, OPT_DNS, OPT_DOMAIN_SEARCH, OPT_LEASE_TIME, OPT_MESSAGE, OPT_MSG_TYPE,
  OPT_MTU, OPT_RAPID_COMMIT, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK, encodeDomainNames, newDhcpView, parseDhcp,
  writeDhcpHeader,
} from '../wire/dhcp.js';
import { formatMac } from '../wire/ethernet.js';
import { IPPROTO_UDP, IPV4_HLEN, format4, mask4 } from '../wire/ip.js';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../wire/udp.js';

const BROADCAST4 = 0xffffffff;
const LEASE_INFINITE = 0xffffffff;

export interface DhcpOptions {
  /** pass DNS servers (option 6) */
  dns: boolean;
  /** pass the search list (option 119) */
  search: boolean;
}

export class DhcpServer {
  private readonly udp = newUdpView();
  private readonly msg = newDhcpView();
  /** option 119 data, computed once */
  private readonly searchData: Buffer;
  /** where replies are built: room for the largest message a client may accept */
  private readonly out = Buffer.alloc(1500);

  constructor(private readonly ctx: FlowContext, private readonly opts: DhcpOptions) {
    this.searchData = opts.search ? encodeDomainNames(ctx.plan.search, true) : Buffer.alloc(0);
  }

  /** A UDP datagram from the guest; true when it was for port 67 (answered or dropped here). */
  onDatagram(buf: Buffer, src4: number, dst4: number, l4Off: number, l4Len: number): boolean {
    const u = this.udp;
    if (l4Len < UDP_HLEN || ((buf[l4Off + 2] << 8) | buf[l4Off + 3]) !== DHCP_SERVER_PORT) return false;
    const ctx = this.ctx;
    if (!parseUdp(buf, l4Off, l4Len, u)) {
      ctx.counters.drop('dhcp_malformed');
      return true;
    }
    const m = this.msg;
    const e = parseDhcp(buf, u.dataOff, u.dataLen, m);
    if (e !== DhcpError.Ok || m.op !== BOOTREQUEST) {
      ctx.counters.drop(e === DhcpError.BadMagic ? 'dhcp_bad_magic' : 'dhcp_malformed');
      return true;
    }
    const plan = ctx.plan.v4!;
    const from = formatMac(buf, m.chaddrOff);
    let type: number;
    let ip = plan.addr;
    switch (m.msgType) {
      case DHCPDISCOVER:
        type = m.rapidCommit ? DHCPACK : DHCPOFFER;
        ctx.log.debug(`DHCP: ${m.rapidCommit ? 'ack to discover (rapid commit)' : 'offer to discover'} from ${from}`);
        break;
      case DHCPREQUEST: {
        // SELECTING: the server identifier says which offer was taken
        if (m.hasServerId && m.serverId !== plan.gateway) {
          ctx.log.debug(`DHCP: request from ${from} for server ${format4(m.serverId)}, not us`);
          return true;
        }
        const wanted = m.requestedIp || m.ciaddr;
        if (wanted !== 0 && wanted !== plan.addr) {
          ctx.log.debug(`DHCP: nak to request for ${format4(wanted)} from ${from}`);
          this.reply(buf, DHCPNAK, 0, BROADCAST4);
          return true;
        }
        type = DHCPACK;
        ctx.log.debug(`DHCP: ack to request from ${from}`);
        break;
      }
      case DHCPINFORM:
        type = DHCPACK;
        ip = 0;
        ctx.log.debug(`DHCP: ack to inform from ${from}`);
        break;
      case DHCPRELEASE:
      case DHCPDECLINE:
        ctx.log.debug(`DHCP: ${m.msgType === DHCPRELEASE ? 'release' : 'decline'} from ${from}`);
        return true;
      case 0:
        // plain BOOTP: answered like a request, as passt does
        type = DHCPACK;
        ctx.log.debug(`BOOTP: reply to ${from}`);
        break;
      default:
        ctx.counters.drop('dhcp_type');
        return true;
    }
    let dst: number;
    if ((m.flags & DHCP_FLAG_BROADCAST) !== 0 || m.ciaddr === 0) dst = BROADCAST4;
    else dst = m.ciaddr;
    this.reply(buf, type, ip, dst);
    return true;
  }

  /** Builds and sends a reply to the message in this.msg (still in buf). */
  private reply(buf: Buffer, type: number, yiaddr: number, dst: number): void {
    const ctx = this.ctx;
    const m = this.msg;
    const src = ctx.plan.v4!.gateway;
    // The message is built in a scratch buffer first: its length decides the headers'.
    const out = this.out;
    const maxLen = Math.min(out.length, Math.max(DHCP_DEFAULT_MAX_LEN, m.maxMsgSize - IPV4_HLEN - UDP_HLEN));
    const opts = writeDhcpHeader(out, 0, {
      op: BOOTREPLY, htype: m.htype, hlen: m.hlen, xid: m.xid, flags: m.flags,
      ciaddr: type === DHCPNAK ? 0 : m.ciaddr, yiaddr, siaddr: 0, giaddr: m.giaddr,
    }, buf, m.chaddrOff);
    const w = new DhcpOptionWriter(out, opts, maxLen);
    w.putU8(OPT_MSG_TYPE, type);
    w.putU32(OPT_SERVER_ID, src);
    if (type === DHCPNAK) w.put(OPT_MESSAGE, Buffer.from('requested address not available'));
    else this.putOptions(w, buf, yiaddr !== 0, type === DHCPACK && m.msgType === DHCPDISCOVER);
    const len = w.end(DHCP_MIN_LEN);
    const l4Len = UDP_HLEN + len;
    const l4 = ctx.begin4(src, dst, IPPROTO_UDP, l4Len);
    const tx = ctx.link.tx;
    out.copy(tx, writeUdp(tx, l4, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, len), 0, len);
    ctx.finish4(src, dst, IPPROTO_UDP, l4, l4Len, 6);
  }

  /** Configuration options, in the order of the client's parameter request list first, as passt orders them. */
  private putOptions(w: DhcpOptionWriter, buf: Buffer, lease: boolean, rapid: boolean): void {
    const ctx = this.ctx;
    const plan = ctx.plan.v4!;
    const m = this.msg;
    const mask = mask4(plan.prefix);
    const avail = new Map<number, Uint8Array>();
    const be = (...v: number[]): Buffer => {
      const b = Buffer.alloc(4 * v.length);
      v.forEach((x, i) => b.writeUInt32BE(x >>> 0, 4 * i));
      return b;
    };
    if (lease) avail.set(OPT_LEASE_TIME, be(LEASE_INFINITE));
    avail.set(OPT_SUBNET_MASK, be(mask));
    avail.set(OPT_ROUTER, be(plan.gateway));
    if ((plan.addr & mask) !== (plan.gateway & mask)) {
      // gateway off the subnet: a host route to it, then the default route (RFC 3442)
      const r = Buffer.alloc(14);
      r[0] = 32;
      r.writeUInt32BE(plan.gateway >>> 0, 1);
      r.writeUInt32BE(0, 5);
      r[9] = 0;
      r.writeUInt32BE(plan.gateway >>> 0, 10);
      avail.set(OPT_CLASSLESS_ROUTE, r);
    }
    if (ctx.plan.mtu > 0) avail.set(OPT_MTU, Uint8Array.of(Math.min(ctx.plan.mtu, 0xffff) >>> 8, ctx.plan.mtu & 0xff));
    if (this.opts.dns && plan.dns.length > 0) avail.set(OPT_DNS, be(...plan.dns));
    if (this.searchData.length > 0) avail.set(OPT_DOMAIN_SEARCH, this.searchData);
    if (rapid) avail.set(OPT_RAPID_COMMIT, new Uint8Array(0));
    for (let i = 0; i < m.paramLen; i++) {
      const code = buf[m.paramOff + i];
      const data = avail.get(code);
      if (data === undefined) continue;
      if (!w.put(code, data)) ctx.log.debug(`DHCP: option ${code} does not fit, skipped`);
      avail.delete(code);
    }
    for (const [code, data] of avail) {
      if (!w.put(code, data)) ctx.log.debug(`DHCP: option ${code} does not fit, skipped`);
    }
  }
}
