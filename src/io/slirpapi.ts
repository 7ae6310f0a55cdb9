// slirp4netns's API socket: one JSON request per connection, one JSON answer.
//   {"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8081,"guest_addr":"","guest_port":80}}
//   {"execute":"list_hostfwd"}   {"execute":"remove_hostfwd","arguments":{"id":1}}
// Forwards go through the same PortForwarder as -t and -u.
import fs from 'node:fs';
import net from 'node:net';
import type { PortForwarder } from '../flow/forward.js';
import { ipFamily } from '../wire/ip.js';

const MAX_REQUEST = 64 * 1024;

interface HostFwd {
  id: number;
  proto: 'tcp' | 'udp';
  host_addr: string;
  host_port: number;
  guest_addr: string;
  guest_port: number;
}

type Answer = { return: unknown } | { error: { desc: string } };

export class SlirpApi {
  private readonly entries = new Map<number, HostFwd>();
  private nextId = 1;
  private server?: net.Server;

  constructor(private readonly fwd: PortForwarder, private readonly guestAddr: string) {}

  async handle(text: string): Promise<Answer> {
    let req: { execute?: unknown; arguments?: Record<string, unknown> };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return { error: { desc: 'bad request: not JSON' } };
    }
    const a = req.arguments ?? {};
    switch (req.execute) {
      case 'add_hostfwd': {
        const proto = a.proto === 'udp' ? 'udp' : a.proto === 'tcp' || a.proto === undefined ? 'tcp' : undefined;
        const hostPort = Number(a.host_port);
        const guestPort = Number(a.guest_port);
        const hostAddr = typeof a.host_addr === 'string' && a.host_addr !== '' ? a.host_addr : '0.0.0.0';
        if (!proto) return { error: { desc: `bad request: unknown proto ${String(a.proto)}` } };
        if (!valid(hostPort) || !valid(guestPort)) return { error: { desc: 'bad request: port out of range' } };
        if (!ipFamily(hostAddr)) return { error: { desc: `bad request: bad host_addr ${hostAddr}` } };
        const addr = hostAddr === '0.0.0.0' || hostAddr === '::' ? undefined : hostAddr;
        try {
          if (proto === 'tcp') await this.fwd.listenTcp({ port: hostPort, to: guestPort, addr });
          else await this.fwd.bindUdp({ port: hostPort, to: guestPort, addr });
        } catch (e) {
          return { error: { desc: (e as Error).message } };
        }
        const id = this.nextId++;
        const guest = typeof a.guest_addr === 'string' && a.guest_addr !== '' ? a.guest_addr : this.guestAddr;
        this.entries.set(id, { id, proto, host_addr: hostAddr, host_port: hostPort, guest_addr: guest, guest_port: guestPort });
        return { return: { id } };
      }
      case 'list_hostfwd':
        return { return: { entries: [...this.entries.values()] } };
      case 'remove_hostfwd': {
        const e = this.entries.get(Number(a.id));
        if (!e) return { error: { desc: `bad request: no entry ${String(a.id)}` } };
        this.fwd.unbind(e.proto, e.host_port);
        this.entries.delete(e.id);
        return { return: {} };
      }
      default:
        return { error: { desc: `bad request: unknown command ${String(req.execute)}` } };
    }
  }

  listen(path: string): Promise<void> {
    fs.rmSync(path, { force: true });
    this.server = net.createServer({ allowHalfOpen: true }, (sock) => {
      let text = '';
      let answered = false;
      const answer = (): void => {
        if (answered) return;
        answered = true;
        void this.handle(text).then((a) => sock.end(JSON.stringify(a)));
      };
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        text += d;
        if (text.length > MAX_REQUEST) {
          answered = true;
          sock.end(JSON.stringify({ error: { desc: 'bad request: too large' } }));
          return;
        }
        // a complete JSON object answers at once; clients need not half-close
        try {
          JSON.parse(text);
          answer();
        } catch {
          /* not complete yet */
        }
      });
      sock.on('end', answer);
      sock.on('error', () => sock.destroy());
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => resolve());
    });
  }

  close(): void {
    this.server?.close();
  }
}

function valid(p: number): boolean {
  return Number.isInteger(p) && p > 0 && p < 65536;
}
