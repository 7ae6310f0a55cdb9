// Validators for option values: IP addresses, prefix lengths, MAC addresses,
// integers, interface names and paths. Every function either returns the
// canonical value or throws a CliError naming the option and the bad value.

import { SocketAddress } from 'node:net';
import { ipFamily, isIp4 } from '../wire/ip.js';
import { CliError } from './errors.js';

export type Family = 4 | 6;

export interface IpAddr {
  readonly family: Family;
  /** canonical text form ("192.0.2.1", "fd00::2") */
  readonly addr: string;
}

/** Address classes that some options refuse (see conf.c's checks per option). */
export type AddrClass = 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'v4mapped' | 'v4compat';

/** Which classes an option refuses, per address family. */
export type AddrRule = Readonly<Record<Family, readonly AddrClass[]>>;

/** The per-option rules from pasta's conf.c, in one place. */
export const ADDR_RULES = {
  any: { 4: [], 6: [] },
  address: {
    4: ['unspecified', 'broadcast', 'loopback', 'multicast'],
    6: ['unspecified', 'loopback', 'v4mapped', 'v4compat', 'multicast'],
  },
  gateway: { 4: ['unspecified', 'broadcast', 'loopback'], 6: ['unspecified', 'loopback'] },
  outbound: {
    4: ['unspecified', 'broadcast', 'multicast'],
    6: ['unspecified', 'loopback', 'v4mapped', 'v4compat', 'multicast'],
  },
  dnsForward: { 4: ['unspecified', 'broadcast', 'loopback'], 6: ['unspecified', 'loopback'] },
  dnsHost: { 4: ['unspecified', 'broadcast'], 6: ['unspecified'] },
  nat: { 4: ['unspecified', 'loopback', 'multicast'], 6: ['unspecified', 'loopback', 'multicast'] },
} as const satisfies Record<string, AddrRule>;

export const IFNAMSIZ = 16;
export const PATH_MAX = 4096;
export const INT_MAX = 2 ** 31 - 1;
/** longest DNS name pasta stores (PASST_MAXDNAME minus the terminator) */
export const MAX_DNAME = 253;

export function invalid(what: string, label: string, value: string, hint?: string): CliError {
  return new CliError(`invalid ${what} in ${label}: ${value}${hint ? ` (${hint})` : ''}`);
}

/** Parses a literal IPv4 or IPv6 address (as inet_pton would: no zone, no prefix). */
export function parseIp(text: string): IpAddr | undefined {
  if (text.includes('%')) return undefined; // node accepts zone ids, inet_pton does not
  const family = ipFamily(text);
  if (family === 0) return undefined;
  try {
    // inet_pton has the last word, and gives the canonical form
    const { address } = new SocketAddress({ address: text, family: family === 4 ? 'ipv4' : 'ipv6' });
    return { family, addr: address };
  } catch {
    return undefined;
  }
}

/** Parses an address for option `label` and refuses the classes `rule` lists. */
export function parseAddr(label: string, text: string, rule: AddrRule, shown = text): IpAddr {
  const ip = parseIp(text);
  if (!ip || rule[ip.family].some((cls) => addrClasses(ip).has(cls))) {
    throw invalid('address', label, shown);
  }
  return ip;
}

export function addrClasses(ip: IpAddr): Set<AddrClass> {
  return ip.family === 4 ? ipv4Classes(ipv4Octets(ip.addr)) : ipv6Classes(ipv6Groups(ip.addr));
}

function ipv4Octets(addr: string): number[] {
  return addr.split('.').map(Number);
}

function ipv4Classes([a = 0, b = 0, c = 0, d = 0]: number[]): Set<AddrClass> {
  const classes = new Set<AddrClass>();
  if (a === 0 && b === 0 && c === 0 && d === 0) classes.add('unspecified');
  if (a === 127) classes.add('loopback');
  if (a >= 224 && a <= 239) classes.add('multicast');
  if (a === 255 && b === 255 && c === 255 && d === 255) classes.add('broadcast');
  return classes;
}

/** Expands a valid IPv6 address into its eight 16-bit groups. */
function ipv6Groups(addr: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  let text = addr;
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${addr.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16));
}

function ipv6Classes(g: number[]): Set<AddrClass> {
  const classes = new Set<AddrClass>();
  const first96Zero = g.slice(0, 6).every((x) => x === 0);
  const last32 = (g[6] ?? 0) * 0x10000 + (g[7] ?? 0);
  if (first96Zero && last32 === 0) classes.add('unspecified');
  if (first96Zero && last32 === 1) classes.add('loopback');
  if (first96Zero && last32 > 1) classes.add('v4compat');
  if (((g[0] ?? 0) & 0xff00) === 0xff00) classes.add('multicast');
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) classes.add('v4mapped');
  return classes;
}

/** Prefix length as decimal digits, 0..max. */
export function parsePrefixLen(text: string, max: number): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const len = Number(text);
  return len <= max ? len : undefined;
}

/** -n/--netmask: dotted-decimal contiguous mask or a prefix length, 1..32. */
export function parseNetmask(label: string, text: string): number {
  const len = isIp4(text) ? maskToPrefix(ipv4Octets(text)) : parsePrefixLen(text, 32);
  if (len === undefined || len === 0) throw invalid('netmask', label, text);
  return len;
}

function maskToPrefix(octets: number[]): number | undefined {
  const bits = octets.map((o) => o.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.replace(/0+$/, '').length : undefined;
}

/** MAC address as six colon-separated hex octets, returned in lower case. */
export function parseMac(label: string, text: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw invalid('MAC address', label, text);
  return text.toLowerCase();
}

/** An integer as strtol(..., 0) reads it: decimal, 0x-hex or 0-octal; no sign. */
export function parseCInt(text: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[0-7]*$/.test(text)) return parseInt(text, 8);
  if (/^[1-9]\d*$/.test(text)) return Number(text);
  return undefined;
}

/** Interface names: 1..IFNAMSIZ-1 bytes, no '/', ':' or whitespace (as the kernel requires). */
export function isIfname(text: string): boolean {
  return (
    text.length > 0 &&
    Buffer.byteLength(text) < IFNAMSIZ &&
    !/[\s/:]/.test(text) &&
    text !== '.' &&
    text !== '..'
  );
}

export function parseIfname(label: string, text: string): string {
  if (!isIfname(text)) throw invalid('interface name', label, text);
  return text;
}

export function parsePath(label: string, text: string): string {
  if (text.length === 0 || Buffer.byteLength(text) >= PATH_MAX) throw invalid('path', label, text);
  return text;
}

export function parseDomain(label: string, text: string): string {
  if (text.length === 0 || text.length > MAX_DNAME || /\s/.test(text)) throw invalid('name', label, text);
  return text;
}
