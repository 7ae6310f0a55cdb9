// pasta's "auto" port forwarding: every second, the ports listening in the
// namespace are forwarded from the host (-t auto, -u auto), and the ports
// listening on the host are forwarded from the namespace (-T auto, -U auto).
// Ports that pasta-ts itself bound for the other direction are left out, so
// that the two directions cannot chase each other.
import type { Forwards, PortSpec } from '../config.js';
import type { NsAgent } from '../ns/nsagent.js';
import { PortWatch } from '../ns/procnet.js';
import { sockDiagSocket } from '../ns/sys.js';
import type { Log } from './context.js';
import type { PortForwarder } from './forward.js';
import type { NsForwarder } from './splice.js';

export const AUTO_SCAN_MS = 1000;

type Kind = 'tcp' | 'udp';

export class AutoPorts {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** the host's listening ports (this thread's namespace) */
  private readonly hostPorts = new PortWatch(sockDiagSocket, '/proc/thread-self/net');
  /** ports forwarded automatically, per direction and protocol */
  private readonly auto = { in: { tcp: new Set<number>(), udp: new Set<number>() }, out: { tcp: new Set<number>(), udp: new Set<number>() } };

  constructor(
    private readonly fwd: Forwards,
    private readonly host: PortForwarder,
    private readonly nsSide: NsForwarder,
    private readonly ns: NsAgent,
    private readonly log: Log,
    private readonly ephemeral: [number, number],
  ) {}

  static wanted(f: Forwards): boolean {
    return [f.tcpIn, f.udpIn, f.tcpOut, f.udpOut].some((s) => s.kind === 'auto');
  }

  /** The first scan completes before this resolves: the command starts with its ports in place. */
  async start(): Promise<void> {
    await this.scan();
    this.log.debug(`auto: listening ports read by ${this.ns.portsVia} (namespace), ${this.hostPorts.via} (host)`);
    this.timer = setInterval(() => void this.scan(), AUTO_SCAN_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async scan(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const kind of ['tcp', 'udp'] as const) {
        const inSpec = kind === 'tcp' ? this.fwd.tcpIn : this.fwd.udpIn;
        const outSpec = kind === 'tcp' ? this.fwd.tcpOut : this.fwd.udpOut;
        if (inSpec.kind === 'auto') {
          const mine = kind === 'tcp' ? this.nsSide.tcpBound : this.nsSide.udpBound;
          const ports = (await this.ns.listening(kind)).filter((p) => !mine.has(p));
          await this.sync('in', kind, inSpec, ports);
        }
        if (outSpec.kind === 'auto') {
          const mine = kind === 'tcp' ? this.host.tcpBound : this.host.udpBound;
          const ports = this.hostPorts.ports(kind).filter((p) => !mine.has(p));
          await this.sync('out', kind, outSpec, ports);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async sync(dir: 'in' | 'out', kind: Kind, spec: PortSpec, listening: number[]): Promise<void> {
    const [eFirst, eLast] = this.ephemeral;
    const want = new Set(listening.filter((p) =>
      !spec.exclude.some((e) => p >= e.first && p <= e.last) && !(kind === 'udp' && p >= eFirst && p <= eLast)));
    const have = this.auto[dir][kind];
    for (const p of have) {
      if (want.has(p)) continue;
      if (dir === 'in') this.host.unbind(kind, p);
      else this.nsSide.unbind(kind, p);
      have.delete(p);
      this.log.debug(`auto: stopped forwarding ${kind.toUpperCase()} port ${p} ${dir === 'in' ? 'into' : 'out of'} the namespace`);
    }
    for (const p of want) {
      if (have.has(p)) continue;
      const explicit = dir === 'in' ? (kind === 'tcp' ? this.host.tcpBound : this.host.udpBound) : (kind === 'tcp' ? this.nsSide.tcpBound : this.nsSide.udpBound);
      if (explicit.has(p)) continue;
      let ok: boolean;
      if (dir === 'in') {
        const bind = kind === 'tcp' ? this.host.listenTcp({ port: p, to: p }) : this.host.bindUdp({ port: p, to: p });
        ok = await bind.then(() => true, () => false);
      } else {
        ok = await this.nsSide.bind(kind, { port: p, to: p }, false);
      }
      if (ok) {
        have.add(p);
        this.log.debug(`auto: forwarding ${kind.toUpperCase()} port ${p} ${dir === 'in' ? 'into' : 'out of'} the namespace`);
      }
    }
  }
}
