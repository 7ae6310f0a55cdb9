// Inbound port forwarding (-t, -u): listening sockets on the host whose
// connections and datagrams are delivered into the guest, keeping the peer's
// real address (no NAT), except for the host's own loopback and addresses,
// which the guest sees as the mapped gateway addresses.
import dgram from 'node:dgram';
import net from 'node:net';
import type { PortSpec } from '../config.js';
import type { FlowContext } from './context.js';
import type { TcpTranslator } from './tcp.js';
import type { UdpTranslator } from './udp.js';
import { ipFamily, isIp4, parse4, parse6 } from '../wire/ip.js';

/** One forwarded port: listen on host port `port` (at `addr`), deliver to guest port `to`. */
export interface PortMap {
  port: number;
  to: number;
  addr?: string;
}

/** Expands a port spec into individual ports, skipping exclusions. */
export function expandPorts(spec: PortSpec): PortMap[] {
  if (spec.kind !== 'ports' && spec.kind !== 'all') return [];
  const excluded = (p: number): boolean => spec.exclude.some((e) => p >= e.first && p <= e.last);
  const out: PortMap[] = [];
  for (const r of spec.ranges) {
    for (let p = r.first; p <= r.last; p++) {
      if (!excluded(p)) out.push({ port: p, to: r.to + (p - r.first), addr: r.addr });
    }
  }
  return out;
}

export class BindError extends Error {}

/** Splits a host socket's peer address into family and the guest's view of it. */
export function peerView(ctx: FlowContext, address: string, port: number): { v6: boolean; remote: number | Buffer } | undefined {
  // per datagram: a pattern test, and an IPv6 address is parsed once, below
  const v4 = address.startsWith('::ffff:') && isIp4(address.slice(7)) ? address.slice(7) : isIp4(address) ? address : undefined;
  if (v4 !== undefined) {
    if (!ctx.plan.v4) return undefined;
    return { v6: false, remote: ctx.guestSrc4(parse4(v4), port) };
  }
  if (!ctx.plan.v6) return undefined;
  return { v6: true, remote: ctx.guestSrc6(parse6(address), port) };
}

export class PortForwarder {
  /** bound host ports, by protocol */
  readonly tcpBound = new Map<number, net.Server>();
  readonly udpBound = new Map<number, dgram.Socket>();

  constructor(private readonly ctx: FlowContext, private readonly tcp: TcpTranslator, private readonly udp: UdpTranslator) {}

  /** Binds every forwarded port; rejects with a message naming the first port that cannot be bound. */
  async start(tcpIn: PortSpec, udpIn: PortSpec): Promise<void> {
    const binds: Array<Promise<void>> = [];
    for (const m of expandPorts(tcpIn)) binds.push(this.listenTcp(m));
    for (const m of expandPorts(udpIn)) binds.push(this.bindUdp(m));
    await Promise.all(binds);
  }

  /** Where to listen: the spec's address, or every address of the enabled families. */
  private bindAddress(addr?: string): { host: string; ipv6Only: boolean } {
    if (addr) return { host: addr, ipv6Only: ipFamily(addr) === 6 };
    if (this.ctx.plan.v6) return { host: '::', ipv6Only: !this.ctx.plan.v4 };
    return { host: '0.0.0.0', ipv6Only: false };
  }

  listenTcp(m: PortMap): Promise<void> {
    const { host, ipv6Only } = this.bindAddress(m.addr);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (sock) => {
      const peer = peerView(this.ctx, sock.remoteAddress ?? '', sock.remotePort ?? 0);
      if (!peer) {
        sock.resetAndDestroy();
        return;
      }
      this.tcp.inbound(sock, peer.v6, peer.remote, sock.remotePort ?? 0, m.to);
    });
    this.tcpBound.set(m.port, server);
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        this.tcpBound.delete(m.port);
        reject(new BindError(`cannot bind TCP port ${m.port}${m.addr ? ` on ${m.addr}` : ''}: ${e.code ?? e.message}`));
      });
      server.listen({ host, port: m.port, ipv6Only, backlog: 511 }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.ctx.log.warn(`TCP port ${m.port}: ${e.message}`));
        resolve();
      });
    });
  }

  bindUdp(m: PortMap): Promise<void> {
    const { host, ipv6Only } = this.bindAddress(m.addr);
    const sock = dgram.createSocket({ type: ipFamily(host) === 6 ? 'udp6' : 'udp4', ipv6Only, recvBufferSize: 1 << 21 });
    sock.on('message', (msg, rinfo) => {
      const peer = peerView(this.ctx, rinfo.address, rinfo.port);
      if (peer) this.udp.inbound(sock, rinfo.address, rinfo.port, peer.v6, peer.remote, m.to, msg);
    });
    this.udpBound.set(m.port, sock);
    return new Promise((resolve, reject) => {
      sock.once('error', (e: NodeJS.ErrnoException) => {
        this.udpBound.delete(m.port);
        reject(new BindError(`cannot bind UDP port ${m.port}${m.addr ? ` on ${m.addr}` : ''}: ${e.code ?? e.message}`));
      });
      sock.bind({ address: host, port: m.port }, () => {
        sock.removeAllListeners('error');
        sock.on('error', (e) => this.ctx.log.warn(`UDP port ${m.port}: ${e.message}`));
        resolve();
      });
    });
  }

  unbind(kind: 'tcp' | 'udp', port: number): void {
    if (kind === 'tcp') this.tcpBound.get(port)?.close();
    else this.udpBound.get(port)?.close();
    (kind === 'tcp' ? this.tcpBound : this.udpBound).delete(port);
  }

  close(): void {
    for (const s of this.tcpBound.values()) s.close();
    for (const s of this.udpBound.values()) s.close();
    this.tcpBound.clear();
    this.udpBound.clear();
  }
}
