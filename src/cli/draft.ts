// The mutable state option handlers write into, before it is validated as a
// whole and frozen into a Config (see finalize.ts).

import type { Config, Mode } from '../config.js';
import { newPortBuilder, type PortBuilder, type PortOption } from './ports.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer E)[] ? E[] : T[K] };

/** Config fields computed by finalize() rather than set by a single option. */
type Derived = 'mode' | 'progName' | 'logLevel' | 'command' | 'targetPid' | 'ipv4' | 'ipv6' | 'forwards';

export interface Draft extends Writable<Omit<Config, Derived>> {
  readonly mode: Mode;
  debug: boolean;
  trace: boolean;
  ipv4Only: boolean;
  ipv6Only: boolean;
  /** which option gave the IPv4 prefix length: -a ADDR/LEN and -n exclude each other */
  prefixFrom?: '-a' | '-n';
  /** a deprecated option that needs --config-net (--no-copy-routes, --no-copy-addrs) */
  needsConfigNet?: string;
  ports: Record<PortOption, PortBuilder>;
}

/** --busy-poll's default: the longest the loop spins after an event (it adapts below that) */
export const DEFAULT_BUSY_POLL_US = 200;

export function newDraft(mode: Mode): Draft {
  return {
    mode,
    debug: false,
    trace: false,
    quiet: false,
    foreground: false,
    stderr: false,
    netnsOnly: false,
    noNetnsQuit: false,
    configNet: false,
    oneOff: false,
    ipv4Only: false,
    ipv6Only: false,
    noMapGw: false,
    slirpCompat: false,
    dhcp: true,
    ndp: true,
    dhcpv6: true,
    ra: true,
    // pasta passes DNS servers and search domains via DHCP/NDP only with
    // --dhcp-dns/--dhcp-search; passt does unless --no-dhcp-dns/--no-dhcp-search.
    dhcpDns: mode === 'passt',
    dhcpSearch: mode === 'passt',
    dns: [],
    dnsNone: false,
    search: [],
    noIcmp: false,
    noTcp: false,
    noUdp: false,
    busyPollUs: DEFAULT_BUSY_POLL_US,
    ports: { t: newPortBuilder(), u: newPortBuilder(), T: newPortBuilder(), U: newPortBuilder() },
  };
}
