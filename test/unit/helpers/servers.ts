// Host-side peers on the loopback: a TCP server that records every accepted
// connection and a UDP server, with event-driven waits.
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';

export class TcpPeer {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  ended = false;
  closed = false;
  error?: Error;
  private waiters: Array<() => void> = [];

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.bytes += d.length;
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('error', (e) => {
      this.error = e;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves once cond() holds, re-checked on every socket event. */
  until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server side: no ${what} within ${timeoutMs} ms (have ${this.bytes} bytes, ended ${this.ended}, closed ${this.closed})`)), timeoutMs);
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  waitBytes(n: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.bytes >= n, `${n} bytes`, timeoutMs);
  }

  waitEnd(): Promise<void> {
    return this.until(() => this.ended, 'end');
  }

  waitClose(): Promise<void> {
    return this.until(() => this.closed, 'close');
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export class TcpServer {
  readonly conns: TcpPeer[] = [];
  private pending: Array<(p: TcpPeer) => void> = [];
  port = 0;

  private constructor(readonly server: net.Server) {
    server.on('connection', (s) => {
      const p = new TcpPeer(s);
      this.conns.push(p);
      const w = this.pending.shift();
      if (w) w(p);
    });
  }

  static async listen(host = '127.0.0.1', opts: net.ServerOpts = {}): Promise<TcpServer> {
    const srv = net.createServer({ allowHalfOpen: true, ...opts });
    const t = new TcpServer(srv);
    srv.listen(0, host);
    await once(srv, 'listening');
    t.port = (srv.address() as net.AddressInfo).port;
    return t;
  }

  /** The next accepted connection not yet returned. */
  private taken = 0;
  accepted(timeoutMs = 3000): Promise<TcpPeer> {
    if (this.taken < this.conns.length) return Promise.resolve(this.conns[this.taken++]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection accepted')), timeoutMs);
      this.pending.push((p) => {
        clearTimeout(timer);
        this.taken++;
        resolve(p);
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.sock.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A port on host that nothing listens on (bound, then released). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  s.listen(0, host);
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Datagram {
  msg: Buffer;
  rinfo: dgram.RemoteInfo;
}

export class UdpServer {
  readonly got: Datagram[] = [];
  private waiters: Array<() => void> = [];
  port = 0;

  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (msg, rinfo) => {
      this.got.push({ msg, rinfo });
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    });
  }

  static async bind(type: 'udp4' | 'udp6' = 'udp4', host = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<UdpServer> {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    const u = new UdpServer(s);
    s.bind(0, host);
    await once(s, 'listening');
    u.port = s.address().port;
    return u;
  }

  /** Resolves with the n-th datagram (0-based) once it has arrived. */
  nth(n: number, timeoutMs = 3000): Promise<Datagram> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`UDP server: datagram #${n} did not arrive (have ${this.got.length})`)), timeoutMs);
      const check = (): void => {
        if (this.got.length > n) {
          clearTimeout(timer);
          resolve(this.got[n]);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  reply(d: Datagram, msg: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(msg, d.rinfo.port, d.rinfo.address, (e) => (e ? reject(e) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}
