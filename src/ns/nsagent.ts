// The namespace agent: the launcher's child that stays in the target network
// namespace (network namespace membership is per thread, and Node's main
// thread never leaves the host's). On request it makes sockets bound there,
// for -T/-U and automatic forwarding, and passes their descriptors back over
// a SOCK_SEQPACKET socket; it also makes the sock_diag socket that lists the
// namespace's listening ports (/proc/AGENT/net/ where sock_diag cannot).
// A few microseconds a request, so the calls are synchronous.
import { agentBind, agentSockDiag } from './sys.js';
import { PortWatch } from './procnet.js';

export class NsAgent {
  private readonly watch: PortWatch;

  constructor(private readonly fd: number, pid: number) {
    this.watch = new PortWatch(() => agentSockDiag(this.fd), `/proc/${pid}/net`);
  }

  /** A socket bound in the namespace ('tcp' also listening): its fd, or -errno. */
  async bind(kind: 'tcp' | 'udp', family: 4 | 6, addr: Uint8Array, port: number): Promise<number> {
    return agentBind(this.fd, kind, family, addr, port);
  }

  /** Ports listening (TCP) or bound (UDP) in the namespace. */
  async listening(kind: 'tcp' | 'udp'): Promise<number[]> {
    return this.watch.ports(kind);
  }

  /** How the namespace's ports are read ('sock_diag', or the /proc directory) */
  get portsVia(): string {
    return this.watch.via;
  }

  close(): void {
    /* the agent exits when this process does (its socket closes, and PDEATHSIG) */
  }
}
