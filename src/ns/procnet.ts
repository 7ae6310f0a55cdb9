// Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} (proc(5)), for the
// "auto" port forwarding mode: the ports that are bound in a namespace.
import fs from 'node:fs';
import { DiagScanner } from './sockdiag.js';

const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

/** Parses one /proc/net table; returns the local ports of listening (TCP) or bound, unconnected (UDP) sockets. */
export function parseProcNet(text: string, kind: 'tcp' | 'udp'): number[] {
  const want = kind === 'tcp' ? TCP_LISTEN : UDP_UNCONNECTED;
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const local = f[1];
    const state = f[3];
    if (state !== want) continue;
    const port = parseInt(local.slice(local.indexOf(':') + 1), 16);
    if (port > 0) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * The listening ports of one namespace: through sock_diag once openDiag()
 * gives a socket there and the kernel answers, else from procDir.
 */
export class PortWatch {
  /** undefined: not tried yet; null: /proc it is */
  private diag: DiagScanner | null | undefined;

  constructor(private readonly openDiag: () => number, private readonly procDir: string) {}

  ports(kind: 'tcp' | 'udp'): number[] {
    if (this.diag === undefined) {
      const fd = this.openDiag();
      this.diag = fd >= 0 ? new DiagScanner(fd) : null;
    }
    if (this.diag) {
      try {
        return this.diag.ports(kind);
      } catch {
        fs.closeSync(this.diag.fd);
        this.diag = null;
      }
    }
    return listeningPorts(kind, this.procDir);
  }

  /** Which way the ports are read, for the log. */
  get via(): string {
    return this.diag ? 'sock_diag' : this.diag === null ? this.procDir : 'not yet';
  }
}

export function listeningPorts(kind: 'tcp' | 'udp', dir: string): number[] {
  const all = new Set<number>();
  for (const f of kind === 'tcp' ? ['tcp', 'tcp6'] : ['udp', 'udp6']) {
    try {
      for (const p of parseProcNet(fs.readFileSync(`${dir}/${f}`, 'latin1'), kind)) all.add(p);
    } catch {
      /* no IPv6 in this namespace */
    }
  }
  return [...all].sort((a, b) => a - b);
}
