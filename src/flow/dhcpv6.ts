// DHCPv6 server (RFC 8415), as passt's dhcpv6.c: one address, the plan's,
// with infinite lifetimes, in an IA_NA for whichever IAID the client asks
// with; DNS servers (option 23) and the domain search list (option 24).
// Replies come from our link-local address, port 547, to the client's
// address, port 546. Requests that are malformed or meant for another server
// are dropped.
import type { FlowContext } from './context.js';
import {
  ADVERTISE, CONFIRM, DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT, DUID_MAX_LEN, Dhcpv6Error, IA_NA_FIXED, INFINITY,
  INFORMATION_REQUEST, OPTION_DOMAIN_LIST, OPTION_PREFERENCE, OPTION_RAPID_COMMIT, OPTION_SERVERID, REBIND, RELEASE, RENEW, REPLY, REQUEST,
  SOLICIT, STATUS_NOT_ON_LINK, STATUS_NO_ADDRS_AVAIL, STATUS_SUCCESS, copyOption6, duidLlt, forEachIaAddr,
  newDhcpv6View, opt6Len, parseDhcpv6, putDnsServers6, putIaNa, putIaNaStatus, putOption6, putStatus6,
  sameOption6, writeDhcpv6Header,
} from '../wire/dhcpv6.js';
import { encodeDomainNames } from '../wire/dhcp.js';
import { IPPROTO_UDP, IPV6_HLEN, equal6, format6, isMulticast6 } from '../wire/ip.js';
import { UDP_HLEN, newUdpView, parseUdp, writeUdp } from '../wire/udp.js';

/** Seconds from the Unix epoch to 2000-01-01T00:00:00Z (the DUID-LLT epoch). */
const DUID_EPOCH = 946684800;
/** Largest reply: what fits in the IPv6 minimum MTU. */
const MAX_REPLY = 1280 - IPV6_HLEN - UDP_HLEN;

export interface Dhcpv6Options {
  dns: boolean;
  search: boolean;
  /** our link-local address, the source of replies */
  ourLinkLocal: Buffer;
}

export class Dhcpv6Server {
  /** Server Identifier option (code, length, DUID-LLT) as we send it and expect it back. */
  readonly serverIdOpt: Buffer;
  private readonly udp = newUdpView();
  private readonly msg = newDhcpv6View();
  private readonly out = Buffer.alloc(MAX_REPLY);

  constructor(private readonly ctx: FlowContext, private readonly opts: Dhcpv6Options, now = Date.now()) {
    const duid = duidLlt(ctx.plan.ourMac, Math.floor(now / 1000) - DUID_EPOCH);
    this.serverIdOpt = Buffer.alloc(4 + duid.length);
    putOption6(this.serverIdOpt, 0, OPTION_SERVERID, duid);
  }

  /** A UDP datagram from the guest; true when it was for port 547 (answered or dropped here). */
  onDatagram(buf: Buffer, srcOff: number, dstOff: number, l4Off: number, l4Len: number): boolean {
    if (l4Len < UDP_HLEN || ((buf[l4Off + 2] << 8) | buf[l4Off + 3]) !== DHCPV6_SERVER_PORT) return false;
    const ctx = this.ctx;
    const u = this.udp;
    const m = this.msg;
    // Clients send to All_DHCP_Relay_Agents_and_Servers (ff02::1:2); unicast is not offered.
    if (!isMulticast6(buf, dstOff) || !parseUdp(buf, l4Off, l4Len, u) || parseDhcpv6(buf, u.dataOff, u.dataLen, m) !== Dhcpv6Error.Ok) {
      ctx.counters.drop('dhcpv6_malformed');
      return true;
    }
    const plan = ctx.plan.v6!;
    const clientOk = m.clientId >= 0 && opt6Len(buf, m.clientId) > 0 && opt6Len(buf, m.clientId) <= DUID_MAX_LEN;
    const ours = m.serverId >= 0 && sameOption6(buf, m.serverId, this.serverIdOpt, 0);
    if (m.iaNa >= 0 && opt6Len(buf, m.iaNa) < IA_NA_FIXED) {
      ctx.counters.drop('dhcpv6_malformed');
      return true;
    }
    let type = REPLY;
    let what: string;
    let withIa = m.iaNa >= 0;
    let status = -1; // top-level status code, if any
    let rapid = false;
    switch (m.type) {
      case SOLICIT:
        if (!clientOk || m.serverId >= 0) return this.discard('solicit');
        rapid = m.rapidCommit;
        type = rapid ? REPLY : ADVERTISE;
        if (!withIa) status = STATUS_NO_ADDRS_AVAIL;
        what = rapid ? 'SOLICIT with rapid commit, sending REPLY' : 'SOLICIT, sending ADVERTISE';
        break;
      case REQUEST:
      case RENEW:
        if (!clientOk || !ours) return this.discard(m.type === REQUEST ? 'request' : 'renew');
        if (withIa && this.notOnLink(buf, m.iaNa, plan.addr)) {
          ctx.log.debug('DHCPv6: address in IA not ours, sending NotOnLink');
          this.send(buf, srcOff, REPLY, { notOnLink: true });
          return true;
        }
        what = `${m.type === REQUEST ? 'REQUEST' : 'RENEW'}, sending REPLY`;
        break;
      case REBIND:
        // RFC 8415 16.7: a Rebind carries no server identifier; accept ours too
        if (!clientOk || (m.serverId >= 0 && !ours)) return this.discard('rebind');
        if (withIa && this.notOnLink(buf, m.iaNa, plan.addr)) {
          this.send(buf, srcOff, REPLY, { notOnLink: true });
          return true;
        }
        what = 'REBIND, sending REPLY';
        break;
      case CONFIRM:
        if (!clientOk || m.serverId >= 0) return this.discard('confirm');
        status = (m.iaNa >= 0 && this.notOnLink(buf, m.iaNa, plan.addr)) || (m.iaTa >= 0 && this.notOnLink(buf, m.iaTa, plan.addr))
          ? STATUS_NOT_ON_LINK : STATUS_SUCCESS;
        withIa = false;
        what = `CONFIRM, sending REPLY (${status === STATUS_SUCCESS ? 'Success' : 'NotOnLink'})`;
        break;
      case INFORMATION_REQUEST:
        // RFC 8415 16.12: no IAs; the client identifier is optional here
        if ((m.clientId >= 0 && !clientOk) || (m.serverId >= 0 && !ours) || m.iaNa >= 0 || m.iaTa >= 0) {
          return this.discard('information-request');
        }
        withIa = false;
        what = 'INFORMATION-REQUEST, sending REPLY';
        break;
      case RELEASE:
        if (!clientOk || !ours) return this.discard('release');
        withIa = false;
        status = STATUS_SUCCESS;
        what = 'RELEASE, sending REPLY';
        break;
      default:
        ctx.counters.drop('dhcpv6_type');
        return true;
    }
    ctx.log.debug(`DHCPv6: received ${what}`);
    this.send(buf, srcOff, type, { withIa, status, rapid });
    return true;
  }

  private discard(what: string): true {
    this.ctx.counters.drop('dhcpv6_invalid');
    this.ctx.log.debug(`DHCPv6: invalid ${what}, dropped`);
    return true;
  }

  /** True when the IA at header offset ia holds an address other than ours (or is malformed). */
  private notOnLink(buf: Buffer, ia: number, addr: Buffer): boolean {
    let bad = false;
    const ok = forEachIaAddr(buf, ia, (a) => {
      if (!equal6(buf, a, addr, 0)) {
        bad = true;
        this.ctx.log.debug(`DHCPv6: requested address ${format6(buf, a)} not on link`);
      }
    });
    return bad || !ok;
  }

  private send(buf: Buffer, srcOff: number, type: number,
    o: { withIa?: boolean; status?: number; rapid?: boolean; notOnLink?: boolean }): void {
    const ctx = this.ctx;
    const m = this.msg;
    const plan = ctx.plan.v6!;
    const out = this.out;
    let p = writeDhcpv6Header(out, 0, type, m.xid);
    p += this.serverIdOpt.copy(out, p);
    if (m.clientId >= 0) p = copyOption6(out, p, buf, m.clientId);
    const iaid = m.iaNa >= 0 ? buf.readUInt32BE(m.iaNa + 4) : 0;
    if (o.notOnLink) {
      p = putIaNaStatus(out, p, iaid, STATUS_NOT_ON_LINK, 'Prefix not appropriate for link.');
    } else {
      if (o.status !== undefined && o.status >= 0) {
        p = putStatus6(out, p, o.status, o.status === STATUS_SUCCESS ? 'Success' : o.status === STATUS_NO_ADDRS_AVAIL
          ? 'No addresses available' : 'Prefix not appropriate for link.');
      }
      if (o.withIa) p = putIaNa(out, p, iaid, INFINITY, INFINITY, plan.addr, INFINITY, INFINITY);
      if (o.rapid) p = putOption6(out, p, OPTION_RAPID_COMMIT);
      if (type === ADVERTISE) p = putOption6(out, p, OPTION_PREFERENCE, Uint8Array.of(255));
      if (this.opts.dns && plan.dns.length > 0) {
        const n = Math.min(plan.dns.length, Math.floor((MAX_REPLY - p - 4) / 16));
        if (n > 0) p = putDnsServers6(out, p, plan.dns.slice(0, n));
      }
      if (this.opts.search && ctx.plan.search.length > 0) p = this.putSearch(out, p);
    }
    const l4Len = UDP_HLEN + p;
    const dst = Buffer.from(buf.subarray(srcOff, srcOff + 16));
    const l4 = ctx.begin6(this.opts.ourLinkLocal, dst, IPPROTO_UDP, l4Len);
    const tx = ctx.link.tx;
    out.copy(tx, writeUdp(tx, l4, DHCPV6_SERVER_PORT, DHCPV6_CLIENT_PORT, p), 0, p);
    ctx.finish6(IPPROTO_UDP, l4, l4Len, 6);
  }

  /** The domain list (option 24), with as many names as fit. */
  private putSearch(out: Buffer, p: number): number {
    const names = [...this.ctx.plan.search];
    for (; names.length > 0; names.pop()) {
      const data = encodeDomainNames(names, false);
      if (data.length === 0) return p; // nothing encodable
      if (p + 4 + data.length <= MAX_REPLY) return putOption6(out, p, OPTION_DOMAIN_LIST, data);
    }
    return p;
  }
}
