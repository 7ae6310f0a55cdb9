// Outbound port forwarding (-T, -U): sockets bound inside the namespace (made
// by the namespace worker thread, driven here by descriptor) whose traffic is
// spliced to the host's loopback. No frames are involved: both ends are
// ordinary sockets, as in pasta's splice path.
import dgram from 'node:dgram';
import net from 'node:net';
import type { PortSpec } from '../config.js';
import type { NsAgent } from '../ns/nsagent.js';
import type { Log } from './context.js';
import { BindError, type PortMap, expandPorts } from './forward.js';
import { bytes4, ipFamily, parse4, parse6 } from '../wire/ip.js';

const UDP_SPLICE_IDLE_MS = 180_000;

interface NsBinding {
  close(): void;
}

export class NsForwarder {
  /** ports bound in the namespace, by protocol */
  readonly tcpBound = new Map<number, NsBinding[]>();
  readonly udpBound = new Map<number, NsBinding[]>();

  constructor(private readonly ns: NsAgent, private readonly log: Log, private readonly v4: boolean, private readonly v6: boolean) {}

  async start(tcpOut: PortSpec, udpOut: PortSpec): Promise<void> {
    for (const m of expandPorts(tcpOut)) await this.bind('tcp', m, true);
    for (const m of expandPorts(udpOut)) await this.bind('udp', m, true);
  }

  /** Binds port m.port in the namespace (loopback of each family, or m.addr). */
  async bind(kind: 'tcp' | 'udp', m: PortMap, strict: boolean): Promise<boolean> {
    const addrs: Array<{ family: 4 | 6; addr: string }> = m.addr
      ? [{ family: ipFamily(m.addr) === 6 ? 6 : 4, addr: m.addr }]
      : [...(this.v4 ? [{ family: 4 as const, addr: '127.0.0.1' }] : []), ...(this.v6 ? [{ family: 6 as const, addr: '::1' }] : [])];
    const bound: NsBinding[] = [];
    for (const { family, addr } of addrs) {
      const fd = await this.ns.bind(kind, family, family === 4 ? bytes4(parse4(addr)) : parse6(addr), m.port);
      if (fd < 0) {
        for (const b of bound) b.close();
        if (strict) throw new BindError(`cannot bind ${kind.toUpperCase()} port ${m.port} on ${addr} in the namespace: errno ${-fd}`);
        return false;
      }
      bound.push(kind === 'tcp' ? this.spliceTcp(fd, family, m.to) : this.spliceUdp(fd, family, m.to));
    }
    (kind === 'tcp' ? this.tcpBound : this.udpBound).set(m.port, bound);
    return true;
  }

  unbind(kind: 'tcp' | 'udp', port: number): void {
    const map = kind === 'tcp' ? this.tcpBound : this.udpBound;
    for (const b of map.get(port) ?? []) b.close();
    map.delete(port);
  }

  private spliceTcp(fd: number, family: 4 | 6, to: number): NsBinding {
    const host = family === 4 ? '127.0.0.1' : '::1';
    const server = net.createServer({ allowHalfOpen: true }, (inner) => {
      const outer = net.connect({ host, port: to, allowHalfOpen: true, noDelay: true });
      inner.setNoDelay(true);
      // pipe() carries backpressure both ways and half-closes with end()
      inner.pipe(outer);
      outer.pipe(inner);
      const reset = (): void => {
        if (!inner.destroyed) inner.resetAndDestroy();
        if (!outer.destroyed) outer.resetAndDestroy();
      };
      inner.on('error', reset);
      outer.on('error', reset);
      inner.on('close', () => outer.destroyed || outer.end());
    });
    server.on('error', (e) => this.log.warn(`namespace TCP port: ${e.message}`));
    server.listen({ fd });
    return { close: () => server.close() };
  }

  private spliceUdp(fd: number, family: 4 | 6, to: number): NsBinding {
    const host = family === 4 ? '127.0.0.1' : '::1';
    const type = family === 4 ? 'udp4' : 'udp6';
    const inner = dgram.createSocket(type);
    inner.bind({ fd } as dgram.BindOptions);
    // one host socket per namespace peer, so replies find their way back
    const peers = new Map<string, { sock: dgram.Socket; last: number }>();
    inner.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      let p = peers.get(key);
      if (!p) {
        const sock = dgram.createSocket(type);
        sock.on('message', (reply) => {
          p!.last = Date.now();
          inner.send(reply, rinfo.port, rinfo.address);
        });
        sock.on('error', () => undefined);
        p = { sock, last: Date.now() };
        peers.set(key, p);
      }
      p.last = Date.now();
      p.sock.send(msg, to, host);
    });
    inner.on('error', (e) => this.log.warn(`namespace UDP port: ${e.message}`));
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, p] of peers) {
        if (now - p.last > UDP_SPLICE_IDLE_MS) {
          p.sock.close();
          peers.delete(k);
        }
      }
    }, 10_000);
    sweep.unref();
    return {
      close: () => {
        clearInterval(sweep);
        for (const p of peers.values()) p.sock.close();
        inner.close();
      },
    };
  }

  close(): void {
    for (const port of [...this.tcpBound.keys()]) this.unbind('tcp', port);
    for (const port of [...this.udpBound.keys()]) this.unbind('udp', port);
  }
}

