// The one table of pasta/passt options: names, argument, help text, which mode
// accepts them, and what each does to the draft configuration. Handlers run
// in command-line order, so "the last one takes effect" as in pasta(1).
//
// Accepted for compatibility, validated, but stored nowhere (no Config field;
// nothing in pasta-ts acts on them): --runas (pasta-ts switches no user),
// --freebind, -H/--hostname, --fqdn, --host-lo-to-ns-lo,
// --no-copy-routes, --no-copy-addrs (both deprecated in pasta, need
// --config-net). Newer vhost-user-only options (--vhost-user, --repair-path,
// --migrate-*) and --stats/--no-splice/--splice-only are not accepted.

import type { Mode } from '../config.js';
import { DEFAULT_BUSY_POLL_US, type Draft } from './draft.js';
import { CliError } from './errors.js';
import { addPortSpec, type PortOption } from './ports.js';
import {
  ADDR_RULES,
  INT_MAX,
  invalid,
  parseAddr,
  parseCInt,
  parseDomain,
  parseIfname,
  parseMac,
  parseNetmask,
  parsePath,
  parsePrefixLen,
  type AddrRule,
} from './values.js';

export interface OptionDef {
  /** short and/or long names as commander takes them: "-t, --tcp-ports" */
  readonly names: string;
  /** argument placeholder shown in --help; the option takes a value iff set */
  readonly arg?: string;
  /** help text; further lines are indented under the first */
  readonly help: string;
  /** default shown in --help */
  readonly dflt?: string | ((mode: Mode) => string);
  /** accepted in this mode only (pasta: "--netns is for pasta mode only") */
  readonly only?: Mode;
  /** --help and --version end parsing */
  readonly terminal?: 'help' | 'version';
  /** value is '' for options without argument; label is the first name */
  readonly apply?: (d: Draft, value: string, label: string) => void;
}

/** Draft keys holding an optional string, e.g. address4. */
type StrKey = {
  [K in keyof Draft]-?: string extends Draft[K] ? (Draft[K] extends string | undefined ? K : never) : never;
}[keyof Draft];

/** Stores an address in the IPv4 or IPv6 field, by its family. */
function byFamily(rule: AddrRule, key4: StrKey, key6: StrKey) {
  return (d: Draft, value: string, label: string): void => {
    const ip = parseAddr(label, value, rule);
    d[ip.family === 4 ? key4 : key6] = ip.addr;
  };
}

/** --map-host-loopback / --map-guest-addr: an address, or 'none' for no mapping. */
function natMapping(key4: StrKey, key6: StrKey, noneImpliesNoMapGw: boolean) {
  const set = byFamily(ADDR_RULES.nat, key4, key6);
  return (d: Draft, value: string, label: string): void => {
    if (value !== 'none') return set(d, value, label);
    d[key4] = undefined;
    d[key6] = undefined;
    if (noneImpliesNoMapGw) d.noMapGw = true;
  };
}

function ports(opt: PortOption) {
  return (d: Draft, value: string): void => addPortSpec(d.ports[opt], opt, value, d.mode);
}

/** -a ADDR or -a ADDR/PREFIXLEN (the prefix length is kept for IPv4 only, as pasta does). */
function address(d: Draft, value: string, label: string): void {
  const [text = '', len] = value.split(/\/(.*)/s);
  const ip = parseAddr(label, text, ADDR_RULES.address, value);
  const prefixLen = len === undefined ? undefined : parsePrefixLen(len, ip.family === 4 ? 32 : 128);
  if (len !== undefined && prefixLen === undefined) throw invalid('prefix length', label, value);
  if (ip.family === 6) {
    d.address6 = ip.addr;
    return;
  }
  d.address4 = ip.addr;
  if (prefixLen === undefined) return;
  if (d.prefixFrom === '-n') throw new CliError(`redundant prefix length specification in ${label}: ${value}`);
  d.prefixLen4 = prefixLen;
  d.prefixFrom = '-a';
}

function netmask(d: Draft, value: string, label: string): void {
  if (d.prefixFrom === '-a') throw new CliError(`redundant prefix length specification in ${label}: ${value}`);
  d.prefixLen4 = parseNetmask(label, value);
  d.prefixFrom = '-n';
}

const MIN_MTU = 68; // ETH_MIN_MTU: the least IPv4 needs
const MAX_MTU = 65520; // 65535 minus the Ethernet header, rounded down to 32 bits

function mtu(d: Draft, value: string, label: string): void {
  const n = parseCInt(value);
  if (n === undefined || (n !== 0 && (n < MIN_MTU || n > MAX_MTU))) {
    throw invalid('MTU', label, value, `0 or ${MIN_MTU}-${MAX_MTU}`);
  }
  d.mtu = n;
}

const MAX_BUSY_POLL_US = 1_000_000;

function busyPoll(d: Draft, value: string, label: string): void {
  const n = parseCInt(value);
  if (n === undefined || n < 0 || n > MAX_BUSY_POLL_US) throw invalid('time', label, value, `0-${MAX_BUSY_POLL_US} microseconds`);
  d.busyPollUs = n;
}

const LOG_SIZE_MIN = 5 * 8192; // LOGFILE_SIZE_MIN: 5 * MAX(BUFSIZ, PAGE_SIZE)

function logSize(d: Draft, value: string, label: string): void {
  const n = parseCInt(value);
  if (n === undefined || n < LOG_SIZE_MIN || !Number.isSafeInteger(n)) {
    throw invalid('size', label, value, `at least ${LOG_SIZE_MIN} bytes`);
  }
  d.logSize = n;
}

/** -F: 0 (stdin) or a descriptor above stderr; implies --one-off, replaces -s. */
function fd(d: Draft, value: string, label: string): void {
  const n = parseCInt(value);
  if (n === undefined || (n !== 0 && n <= 2) || n > INT_MAX) throw invalid('file descriptor', label, value);
  d.fd = n;
  d.oneOff = true;
  d.socketPath = undefined;
}

/** --netns PATH|NAME: a NAME (no slash) is resolved as ip-netns(8) does. */
function netns(d: Draft, value: string, label: string): void {
  const path = parsePath(label, value);
  d.netns = path.includes('/') ? path : parsePath(label, `/run/netns/${path}`);
}

function dns(d: Draft, value: string, label: string): void {
  if (value === 'none') {
    // as in pasta, 'none' also drops the DNS forwarding and host addresses
    d.dns = [];
    d.dnsNone = true;
    d.dnsForward4 = d.dnsForward6 = d.dnsHost4 = d.dnsHost6 = undefined;
    return;
  }
  d.dns.push(parseAddr(label, value, ADDR_RULES.any).addr);
  d.dnsNone = false;
}

/** -S: space-separated domains, repeatable; 'none' clears the list. */
function search(d: Draft, value: string, label: string): void {
  if (value === 'none') {
    d.search = [];
    return;
  }
  const domains = value.split(/\s+/).filter(Boolean);
  if (domains.length === 0) throw invalid('search domain', label, value);
  d.search.push(...domains.map((name) => parseDomain(label, name)));
}

/** For options accepted only for compatibility: validate the value, store nothing. */
function ignoreValue(check: (label: string, value: string) => unknown) {
  return (_d: Draft, value: string, label: string): void => void check(label, value);
}

const nonEmpty = (label: string, value: string): void => {
  if (value === '') throw invalid('value', label, value);
};

const PORT_SPEC_HELP = [
  "SPEC can be 'none', 'auto' (pasta: follow ports bound in the namespace),",
  "'all' (passt: all unbound, non-ephemeral ports), or a comma-separated",
  "list of ports, optionally ranged with '-', with optional target ports",
  "after ':', an optional bind address before '/' and interface after '%',",
  "and ports or ranges excluded with a '~' prefix. Repeatable. Examples:",
  '  -t 22  -t 22:23  -t 22,25  -t 22-80:32-90  -t 192.0.2.1/22',
  '  -t 192.0.2.1%eth0/22  -t %eth0/22  -t 2000-5000,~3000-3010  -t ~25',
].join('\n');

export const OPTIONS: readonly OptionDef[] = [
  {
    names: '-d, --debug',
    help: 'Be verbose',
    apply: (d) => Object.assign(d, { debug: true, quiet: false }),
  },
  {
    names: '--trace',
    help: 'Be extra verbose, implies --debug',
    apply: (d) => Object.assign(d, { debug: true, trace: true, quiet: false }),
  },
  {
    names: '-q, --quiet',
    help: "Don't print informational messages",
    apply: (d) => Object.assign(d, { quiet: true, debug: false, trace: false }),
  },
  {
    names: '-f, --foreground',
    help: "Don't run in background",
    dflt: (m) => (m === 'pasta' ? 'run in background, foreground when running a command' : 'run in background'),
    apply: (d) => void (d.foreground = true),
  },
  {
    names: '-e, --stderr',
    help: 'DEPRECATED: no effect, kept for compatibility',
    apply: (d) => void (d.stderr = true),
  },
  {
    names: '-l, --log-file',
    arg: 'PATH',
    help: 'Log (only) to given file',
    apply: (d, v, l) => void (d.logFile = parsePath(l, v)),
  },
  { names: '--log-size', arg: 'BYTES', help: 'Maximum size of log file', dflt: '1 MiB', apply: logSize },
  {
    names: '--runas',
    arg: 'UID|UID:GID',
    help: 'Accepted for compatibility and ignored: pasta-ts drops no privileges',
    apply: ignoreValue(nonEmpty),
  },
  { names: '-h, --help', help: 'Display this help message and exit', terminal: 'help' },
  { names: '--version', help: 'Show version and exit', terminal: 'version' },
  {
    names: '-I, --ns-ifname',
    arg: 'NAME',
    help: 'Namespace interface name',
    dflt: 'same interface name as external one',
    only: 'pasta',
    apply: (d, v, l) => void (d.nsIfname = parseIfname(l, v)),
  },
  {
    names: '-s, --socket',
    arg: 'PATH',
    help: 'UNIX domain socket path',
    dflt: 'probe free path starting from /tmp/passt_1.socket',
    only: 'passt',
    apply: (d, v, l) => Object.assign(d, { socketPath: parsePath(l, v), fd: undefined }),
  },
  { names: '-F, --fd', arg: 'FD', help: 'Use FD as pre-opened connected socket, implies --one-off', apply: fd },
  {
    names: '-p, --pcap',
    arg: 'FILE',
    help: 'Log tap-facing traffic to pcap file',
    apply: (d, v, l) => void (d.pcapFile = parsePath(l, v)),
  },
  {
    names: '--busy-poll',
    arg: 'USEC',
    help: `Poll on without sleeping for up to USEC microseconds after an event,\nadapting to the gaps between events (pasta-ts only)\ndefault: ${DEFAULT_BUSY_POLL_US}; 0 turns it off`,
    apply: busyPoll,
  },
  {
    names: '-P, --pid',
    arg: 'FILE',
    help: 'Write own PID to the given file',
    apply: (d, v, l) => void (d.pidFile = parsePath(l, v)),
  },
  {
    names: '-m, --mtu',
    arg: 'MTU',
    help: 'Assign MTU via DHCP/NDP\na zero value disables assignment',
    dflt: `${MAX_MTU}: maximum 802.3 MTU minus 802.3 header length, rounded to 32 bits`,
    apply: mtu,
  },
  {
    names: '-a, --address',
    arg: 'ADDR',
    help: 'Assign IPv4 or IPv6 address ADDR[/PREFIXLEN]\ncan be specified zero to two times (for IPv4 and IPv6)',
    dflt: 'use addresses from interface with default route',
    apply: address,
  },
  {
    names: '-n, --netmask',
    arg: 'MASK',
    help: 'Assign IPv4 MASK, dot-decimal or bits',
    dflt: 'netmask from matching address on the host',
    apply: netmask,
  },
  {
    names: '-M, --mac-addr',
    arg: 'ADDR',
    help: 'Use source MAC address ADDR',
    dflt: '9a:55:9a:55:9a:55 (locally administered)',
    apply: (d, v, l) => void (d.macAddr = parseMac(l, v)),
  },
  {
    names: '-g, --gateway',
    arg: 'ADDR',
    help: 'Pass IPv4 or IPv6 address as gateway\ncan be specified zero to two times (for IPv4 and IPv6)',
    dflt: 'gateway from interface with default route',
    apply: byFamily(ADDR_RULES.gateway, 'gateway4', 'gateway6'),
  },
  {
    names: '-i, --interface',
    arg: 'NAME',
    help: 'Interface for addresses and routes',
    dflt: 'from --outbound-if4 and --outbound-if6, if any, otherwise interface with first default route',
    apply: (d, v, l) => void (d.iface = parseIfname(l, v)),
  },
  {
    names: '-o, --outbound',
    arg: 'ADDR',
    help: 'Bind to address as outbound source\ncan be specified zero to two times (for IPv4 and IPv6)',
    dflt: 'use source address from routing tables',
    apply: byFamily(ADDR_RULES.outbound, 'outboundAddr4', 'outboundAddr6'),
  },
  {
    names: '--outbound-if4',
    arg: 'NAME',
    help: 'Bind to outbound interface for IPv4',
    dflt: 'use interface from default route',
    apply: (d, v, l) => void (d.outboundIf4 = parseIfname(l, v)),
  },
  {
    names: '--outbound-if6',
    arg: 'NAME',
    help: 'Bind to outbound interface for IPv6',
    dflt: 'use interface from default route',
    apply: (d, v, l) => void (d.outboundIf6 = parseIfname(l, v)),
  },
  {
    names: '-D, --dns',
    arg: 'ADDR',
    help: "Use IPv4 or IPv6 address as DNS\ncan be specified multiple times\n'none' disables DNS information",
    dflt: (m) => (m === 'pasta' ? "don't use any addresses" : 'use addresses from /etc/resolv.conf'),
    apply: dns,
  },
  {
    names: '-S, --search',
    arg: 'LIST',
    help: "Space-separated list, search domains\n'none' disables the DNS search list",
    dflt: (m) => (m === 'pasta' ? "don't use any search list" : 'use search list from /etc/resolv.conf'),
    apply: search,
  },
  {
    names: '-H, --hostname',
    arg: 'NAME',
    help: 'Hostname to configure client with (accepted, ignored)',
    apply: ignoreValue(parseDomain),
  },
  {
    names: '--fqdn',
    arg: 'NAME',
    help: 'FQDN to configure client with (accepted, ignored)',
    apply: ignoreValue(parseDomain),
  },
  {
    names: '--dhcp-dns',
    help: 'Pass DNS list via DHCP/DHCPv6/NDP',
    only: 'pasta',
    apply: (d) => void (d.dhcpDns = true),
  },
  {
    names: '--no-dhcp-dns',
    help: 'No DNS list in DHCP/DHCPv6/NDP',
    only: 'passt',
    apply: (d) => void (d.dhcpDns = false),
  },
  {
    names: '--dhcp-search',
    help: 'Pass list via DHCP/DHCPv6/NDP',
    only: 'pasta',
    apply: (d) => void (d.dhcpSearch = true),
  },
  {
    names: '--no-dhcp-search',
    help: 'No list in DHCP/DHCPv6/NDP',
    only: 'passt',
    apply: (d) => void (d.dhcpSearch = false),
  },
  {
    names: '--map-host-loopback',
    arg: 'ADDR',
    help: [
      'Translate ADDR to refer to host',
      'can be specified zero to two times (for IPv4 and IPv6)',
      "'none' maps nothing, implies --no-map-gw",
    ].join('\n'),
    dflt: 'gateway address',
    apply: natMapping('mapHostLoopback4', 'mapHostLoopback6', true),
  },
  {
    names: '--map-guest-addr',
    arg: 'ADDR',
    help: "Translate ADDR to guest's address\ncan be specified zero to two times (for IPv4 and IPv6)",
    dflt: 'none',
    apply: natMapping('mapGuestAddr4', 'mapGuestAddr6', false),
  },
  {
    names: '--dns-forward',
    arg: 'ADDR',
    help: 'Forward DNS queries sent to ADDR\ncan be specified zero to two times (for IPv4 and IPv6)',
    dflt: "don't forward DNS queries",
    apply: byFamily(ADDR_RULES.dnsForward, 'dnsForward4', 'dnsForward6'),
  },
  {
    names: '--dns-host',
    arg: 'ADDR',
    help: 'Host nameserver to direct queries to\ncan be specified zero to two times (for IPv4 and IPv6)',
    dflt: "first nameserver from host's /etc/resolv.conf",
    apply: byFamily(ADDR_RULES.dnsHost, 'dnsHost4', 'dnsHost6'),
  },
  { names: '--no-tcp', help: 'Disable TCP protocol handler', apply: (d) => void (d.noTcp = true) },
  { names: '--no-udp', help: 'Disable UDP protocol handler', apply: (d) => void (d.noUdp = true) },
  { names: '--no-icmp', help: 'Disable ICMP/ICMPv6 protocol handler', apply: (d) => void (d.noIcmp = true) },
  { names: '--no-dhcp', help: 'Disable DHCP server', apply: (d) => void (d.dhcp = false) },
  { names: '--no-ndp', help: 'Disable NDP responses', apply: (d) => void (d.ndp = false) },
  { names: '--no-dhcpv6', help: 'Disable DHCPv6 server', apply: (d) => void (d.dhcpv6 = false) },
  { names: '--no-ra', help: 'Disable router advertisements', apply: (d) => void (d.ra = false) },
  { names: '--freebind', help: 'Bind to any address for forwarding (accepted, ignored)' },
  { names: '--no-map-gw', help: "Don't map gateway address to host", apply: (d) => void (d.noMapGw = true) },
  {
    names: '--slirp-compat',
    help: [
      "QEMU user networking's guest environment (pasta-ts extension):",
      'guest 10.0.2.15/24, gateway and host 10.0.2.2 (host loopback),',
      'DNS 10.0.2.3, gateway MAC 52:56:00:00:00:02, IPv6 fec0::/64',
    ].join('\n'),
    apply: (d) => void (d.slirpCompat = true),
  },
  { names: '-4, --ipv4-only', help: 'Enable IPv4 operation only', apply: (d) => void (d.ipv4Only = true) },
  { names: '-6, --ipv6-only', help: 'Enable IPv6 operation only', apply: (d) => void (d.ipv6Only = true) },
  {
    names: '-t, --tcp-ports',
    arg: 'SPEC',
    help: `TCP port forwarding to guest or namespace\n${PORT_SPEC_HELP}`,
    dflt: (m) => (m === 'pasta' ? 'auto' : 'none'),
    apply: ports('t'),
  },
  {
    names: '-u, --udp-ports',
    arg: 'SPEC',
    help: 'UDP port forwarding to guest or namespace\nSPEC is as described for TCP above',
    dflt: (m) => (m === 'pasta' ? 'auto' : 'none'),
    apply: ports('u'),
  },
  {
    names: '-1, --one-off',
    help: 'Quit after handling one single client',
    only: 'passt',
    apply: (d) => void (d.oneOff = true),
  },
  {
    names: '-T, --tcp-ns',
    arg: 'SPEC',
    help: 'TCP port forwarding to init namespace\nSPEC is as described above, without addresses',
    dflt: 'auto',
    only: 'pasta',
    apply: ports('T'),
  },
  {
    names: '-U, --udp-ns',
    arg: 'SPEC',
    help: 'UDP port forwarding to init namespace\nSPEC is as described above, without addresses',
    dflt: 'auto',
    only: 'pasta',
    apply: ports('U'),
  },
  {
    names: '--host-lo-to-ns-lo',
    help: 'DEPRECATED: translate host-loopback forwards to namespace loopback (accepted, ignored)',
    only: 'pasta',
  },
  {
    names: '--userns',
    arg: 'NSPATH',
    help: 'Target user namespace to join',
    only: 'pasta',
    apply: (d, v, l) => Object.assign(d, { userns: parsePath(l, v), netnsOnly: false }),
  },
  {
    names: '--netns',
    arg: 'PATH|NAME',
    help: 'Target network namespace to join\na NAME (no slash) means /run/netns/NAME',
    only: 'pasta',
    apply: netns,
  },
  {
    names: '--netns-only',
    help: "Don't join existing user namespace\nimplied if PATH or NAME are given without --userns",
    only: 'pasta',
    apply: (d) => Object.assign(d, { netnsOnly: true, userns: undefined }),
  },
  {
    names: '--no-netns-quit',
    help: "Don't quit if filesystem-bound target network namespace is deleted",
    only: 'pasta',
    apply: (d) => void (d.noNetnsQuit = true),
  },
  {
    names: '--config-net',
    help: 'Configure tap interface in namespace',
    only: 'pasta',
    apply: (d) => void (d.configNet = true),
  },
  {
    names: '--no-copy-routes',
    help: "DEPRECATED: don't copy all routes to namespace (accepted, ignored)",
    only: 'pasta',
    apply: (d) => void (d.needsConfigNet = '--no-copy-routes'),
  },
  {
    names: '--no-copy-addrs',
    help: "DEPRECATED: don't copy all addresses to namespace (accepted, ignored)",
    only: 'pasta',
    apply: (d) => void (d.needsConfigNet = '--no-copy-addrs'),
  },
  {
    names: '--ns-mac-addr',
    arg: 'ADDR',
    help: 'Set MAC address on tap interface',
    only: 'pasta',
    apply: (d, v, l) => void (d.nsMacAddr = parseMac(l, v)),
  },
];

/** "-t" from "-t, --tcp-ports": the name used in messages. */
export function optionLabel(def: OptionDef): string {
  return def.names.split(',')[0] ?? def.names;
}

export function checkMode(def: OptionDef, mode: Mode): void {
  if (def.only && def.only !== mode) {
    throw new CliError(`${optionLabel(def)} is for ${def.only} mode only`);
  }
}
