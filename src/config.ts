// The one validated, immutable configuration object. src/cli/ builds it from
// argv and the environment; nothing below src/cli/ reads either.
//
// Addresses are kept as canonical strings ("192.0.2.2", "fd00::2"); the
// translation code converts them once at start-up.

export type Mode = 'pasta' | 'passt';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One forwarding rule: host ports [first..last] go to guest ports [to..to+last-first]. */
export interface PortRange {
  first: number;
  last: number;
  /** first destination port; equals `first` when there is no remapping */
  to: number;
  /** bind address on the listening side, undefined = any */
  addr?: string;
  /** bind interface (addr%iface), undefined = any */
  iface?: string;
}

export interface PortSpec {
  /** 'none': nothing; 'auto': follow listening ports; 'all': every unbound port; 'ports': ranges below */
  kind: 'none' | 'auto' | 'all' | 'ports';
  ranges: PortRange[];
  /** excluded ports (~N or ~N-M), as inclusive ranges on the listening side */
  exclude: Array<{ first: number; last: number }>;
}

export interface Forwards {
  /** -t: TCP from host into the namespace/guest */
  tcpIn: PortSpec;
  /** -u: UDP from host into the namespace/guest */
  udpIn: PortSpec;
  /** -T: TCP from the namespace to the host's loopback (pasta only) */
  tcpOut: PortSpec;
  /** -U: UDP from the namespace to the host's loopback (pasta only) */
  udpOut: PortSpec;
}

export interface Config {
  readonly mode: Mode;
  /** program name the user called, for messages */
  readonly progName: string;

  // logging
  readonly logLevel: LogLevel; // -d → debug, --trace → trace, -q → error, default info
  readonly quiet: boolean;
  readonly logFile?: string; // -l/--log-file
  readonly logSize?: number; // --log-size (bytes)
  readonly foreground: boolean; // -f/--foreground (pasta command mode is always foreground)
  readonly pidFile?: string; // -P/--pid
  readonly stderr: boolean; // -e/--stderr (deprecated in pasta, accepted)

  // what to attach to (pasta mode)
  /** COMMAND and ARGs after options ("--" optional); empty = none given */
  readonly command: readonly string[];
  /** PID of a process whose namespaces to join (positional PID in attach mode) */
  readonly targetPid?: number;
  /** --netns PATH|NAME: NAME is resolved to /run/netns/NAME by cli */
  readonly netns?: string;
  /** --userns PATH */
  readonly userns?: string;
  readonly netnsOnly: boolean; // --netns-only
  readonly noNetnsQuit: boolean; // --no-netns-quit
  readonly configNet: boolean; // --config-net
  readonly nsIfname?: string; // -I/--ns-ifname
  readonly nsMacAddr?: string; // --ns-mac-addr

  // passt mode
  readonly socketPath?: string; // -s/--socket
  readonly fd?: number; // -F/--fd
  readonly oneOff: boolean; // -1/--one-off

  // addressing
  readonly ipv4: boolean; // false with -6
  readonly ipv6: boolean; // false with -4
  readonly mtu?: number; // -m/--mtu, undefined = default (65520)
  readonly address4?: string; // -a (IPv4)
  readonly address6?: string; // -a (IPv6)
  readonly prefixLen4?: number; // -n/--netmask (as prefix length)
  readonly gateway4?: string; // -g (IPv4)
  readonly gateway6?: string; // -g (IPv6)
  readonly iface?: string; // -i/--interface (template for both)
  readonly outboundIf4?: string; // --outbound-if4 / -o
  readonly outboundIf6?: string;
  readonly outboundAddr4?: string; // -o/--outbound ADDR
  readonly outboundAddr6?: string;
  readonly macAddr?: string; // -M/--mac-addr: our MAC address, the source of frames to the guest
  /** --slirp-compat: the guest environment of QEMU's user networking (10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3) */
  readonly slirpCompat: boolean;
  readonly noMapGw: boolean; // --no-map-gw
  readonly mapHostLoopback4?: string; // --map-host-loopback ADDR (IPv4)
  readonly mapHostLoopback6?: string;
  readonly mapGuestAddr4?: string; // --map-guest-addr ADDR
  readonly mapGuestAddr6?: string;

  // services
  readonly dhcp: boolean; // false with --no-dhcp
  readonly ndp: boolean; // --no-ndp
  readonly dhcpv6: boolean; // --no-dhcpv6
  readonly ra: boolean; // --no-ra
  readonly dhcpDns: boolean; // --no-dhcp-dns
  readonly dhcpSearch: boolean; // --no-dhcp-search
  readonly dns: readonly string[]; // -D/--dns (addresses); 'none' gives []
  readonly dnsNone: boolean; // -D none
  readonly dnsForward4?: string; // --dns-forward ADDR
  readonly dnsForward6?: string;
  readonly dnsHost4?: string; // --dns-host ADDR
  readonly dnsHost6?: string;
  readonly search: readonly string[]; // -S/--search
  readonly noIcmp: boolean; // --no-icmp
  readonly noTcp: boolean; // --no-tcp
  readonly noUdp: boolean; // --no-udp
  readonly pcapFile?: string; // -p/--pcap
  /**
   * --busy-poll USEC (pasta-ts's own): after an event the event loop polls
   * on without sleeping for up to this long (the time adapts to the gaps
   * between events), so that the answer to a request is picked up without a
   * wakeup; 0 turns it off
   */
  readonly busyPollUs: number;

  readonly forwards: Forwards;

  /** slirp4netns compatibility (the slirp4netns-ts entry): what pasta has no option for */
  readonly slirp?: SlirpExtras;
}

export interface SlirpExtras {
  /** -r: write "1" here once the namespace is configured */
  readonly readyFd?: number;
  /** -e: exit when this descriptor is closed */
  readonly exitFd?: number;
  /** -a: the JSON API socket (add_hostfwd, list_hostfwd, remove_hostfwd) */
  readonly apiSocket?: string;
}

/** -T/-U and "auto" forwarding need sockets inside the namespace (the launcher's agent makes them). */
export function needsNsSockets(f: Forwards): boolean {
  return [f.tcpIn, f.udpIn, f.tcpOut, f.udpOut].some((s) => s.kind === 'auto') || f.tcpOut.kind !== 'none' || f.udpOut.kind !== 'none';
}
