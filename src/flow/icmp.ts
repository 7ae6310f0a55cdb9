// ICMP and ICMPv6 echo through "ping" sockets (SOCK_DGRAM, IPPROTO_ICMP),
// which an unprivileged user may open where net.ipv4.ping_group_range allows.
// One socket per (guest source, destination, echo id); the kernel picks its
// own id on the socket, and replies get the guest's id back.
import fs from 'node:fs';
import type net from 'node:net';
import type { FlowContext } from './context.js';
import { fdReader } from '../io/pollfd.js';
import { pingSocket } from '../ns/sys.js';
import { checksum } from '../wire/checksum.js';
import { ICMP_ECHO, ICMP_ECHOREPLY, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, icmpEchoId, setIcmpEchoId } from '../wire/icmp.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPV4_HLEN, IPV6_HLEN, bytes4 } from '../wire/ip.js';

export const ICMP_IDLE_MS = 60_000;

class EchoFlow {
  lastUse = Date.now();
  private readonly sock: net.Socket;

  constructor(
    private readonly t: IcmpTranslator,
    readonly key: string,
    readonly v6: boolean,
    readonly fd: number,
    readonly guest4: number,
    readonly guest6: Buffer | undefined,
    readonly remote4: number,
    readonly remote6: Buffer | undefined,
    readonly id: number,
  ) {
    this.sock = fdReader(fd);
    this.sock.on('data', (d: Buffer) => this.onReply(d));
    this.sock.on('error', () => this.close());
  }

  send(buf: Buffer, off: number, len: number): void {
    this.lastUse = Date.now();
    try {
      fs.writeSync(this.fd, buf, off, len);
    } catch (e) {
      this.t.ctx.log.debug(`ICMP echo send failed: ${(e as Error).message}`);
    }
  }

  private onReply(d: Buffer): void {
    const ctx = this.t.ctx;
    if (d.length < 8) return;
    const type = d[0];
    if (type !== (this.v6 ? ICMPV6_ECHO_REPLY : ICMP_ECHOREPLY)) return;
    this.lastUse = Date.now();
    // A reply is as long as the request; a guest that sent more than its MTU
    // (it never should) gets no frame larger than the MTU back.
    if ((this.v6 ? IPV6_HLEN : IPV4_HLEN) + d.length > ctx.plan.mtu) {
      ctx.counters.drop('icmp_to_guest_over_mtu');
      return;
    }
    setIcmpEchoId(d, 0, this.id);
    d[2] = 0;
    d[3] = 0;
    const tx = ctx.link.tx;
    if (this.v6) {
      const l4 = ctx.begin6(this.remote6!, this.guest6!, IPPROTO_ICMPV6, d.length);
      d.copy(tx, l4);
      ctx.finish6(IPPROTO_ICMPV6, l4, d.length, 2);
    } else {
      const l4 = ctx.begin4(this.remote4, this.guest4, IPPROTO_ICMP, d.length);
      d.copy(tx, l4);
      const c = checksum(tx, l4, d.length);
      tx[l4 + 2] = c >>> 8;
      tx[l4 + 3] = c & 0xff;
      ctx.sendComplete(l4 + d.length - ctx.link.ethOff);
    }
  }

  close(): void {
    this.sock.destroy(); // closes the fd with the handle
    this.t.remove(this);
  }
}

export class IcmpTranslator {
  private readonly flows = new Map<string, EchoFlow>();
  private readonly sweeper: NodeJS.Timeout;
  private warned = false;

  constructor(readonly ctx: FlowContext, private readonly idleMs = ICMP_IDLE_MS, private readonly maxFlows = 1024) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, idleMs / 2));
    this.sweeper.unref();
  }

  /** An ICMP(v6) message from the guest; only echo requests are forwarded. */
  onGuestIcmp(buf: Buffer, v6: boolean, srcOff: number, dstOff: number, src4: number, dst4: number, l4Off: number, l4Len: number): void {
    const ctx = this.ctx;
    if (l4Len < 8 || buf[l4Off] !== (v6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO)) {
      ctx.counters.drop('icmp_not_echo');
      return;
    }
    const id = icmpEchoId(buf, l4Off);
    const key = v6
      ? `6:${buf.toString('hex', srcOff, srcOff + 16)}:${buf.toString('hex', dstOff, dstOff + 16)}:${id}`
      : `4:${src4}:${dst4}:${id}`;
    let f = this.flows.get(key);
    if (!f) {
      if (this.flows.size >= this.maxFlows) {
        ctx.counters.drop('icmp_table_full');
        return;
      }
      const hostDst = v6 ? ctx.hostDst6(buf, dstOff, 0) : bytes4(ctx.hostDst4(dst4, 0));
      const fd = pingSocket(v6 ? 6 : 4, hostDst);
      if (fd < 0) {
        if (!this.warned) ctx.log.warn(`cannot open ICMP echo socket (errno ${-fd}); is ping_group_range set?`);
        this.warned = true;
        ctx.counters.drop('icmp_no_socket');
        return;
      }
      f = new EchoFlow(this, key, v6, fd, src4, v6 ? Buffer.from(buf.subarray(srcOff, srcOff + 16)) : undefined,
        dst4, v6 ? Buffer.from(buf.subarray(dstOff, dstOff + 16)) : undefined, id);
      this.flows.set(key, f);
    }
    f.send(buf, l4Off, l4Len);
  }

  remove(f: EchoFlow): void {
    if (this.flows.get(f.key) === f) this.flows.delete(f.key);
  }

  private sweep(): void {
    const now = Date.now();
    for (const f of [...this.flows.values()]) if (now - f.lastUse > this.idleMs) f.close();
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const f of [...this.flows.values()]) f.close();
  }
}


