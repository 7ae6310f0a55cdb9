// The namespace agent: the launcher's child that stays in the target network
// namespace (network namespace membership is per thread, and Node's main
// thread never leaves the host's). On request it makes sockets bound there,
// for -T/-U and automatic forwarding, and passes their descriptors back over
// a SOCK_SEQPACKET socket; /proc/AGENT/net/ shows the namespace's listening
// ports. A few microseconds a request, so the calls are synchronous.
import { agentBind } from './sys.js';
import { listeningPorts } from './procnet.js';

export class NsAgent {
  constructor(private readonly fd: number, private readonly pid: number) {}

  /** A socket bound in the namespace ('tcp' also listening): its fd, or -errno. */
  async bind(kind: 'tcp' | 'udp', family: 4 | 6, addr: Uint8Array, port: number): Promise<number> {
    return agentBind(this.fd, kind, family, addr, port);
  }

  /** Ports listening (TCP) or bound (UDP) in the namespace. */
  async listening(kind: 'tcp' | 'udp'): Promise<number[]> {
    return listeningPorts(kind, `/proc/${this.pid}/net`);
  }

  close(): void {
    /* the agent exits when this process does (its socket closes, and PDEATHSIG) */
  }
}
