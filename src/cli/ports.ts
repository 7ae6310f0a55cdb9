// Port forwarding specs for -t/-u/-T/-U, in pasta's syntax (conf_ports() in
// pasta's conf.c):
//
//   none | auto | all | [ADDR[%IFACE]/]ITEM[,ITEM]...
//   ITEM: FIRST[-LAST][:TOFIRST[-TOLAST]]  or  ~FIRST[-LAST] (exclusion)
//   ADDR may be bracketed ("[::1]/22"); "%IFACE/22" binds an interface only;
//   "ADDR/all" forwards every port on ADDR (newer passt syntax, used by libvirt).
//
// How the result maps onto PortSpec:
//   - options repeat and accumulate; none/auto/all are keywords that cannot be
//     mixed with anything else (pasta: "conflicts with previous mode");
//   - exclusions apply to the spec they appear in, so they are already cut out
//     of `ranges`; `exclude` lists them all for information;
//   - a spec made only of exclusions ("~25"), and "all" / "ADDR/all", forward
//     every port: kind is 'all' and `ranges` holds the bound scope
//     (1-65535 with its addr/iface) minus exclusions. For kind 'all' the
//     forwarder skips ephemeral ports and tolerates ports it cannot bind,
//     as pasta does; for kind 'ports' every range must bind.
//   - ports are 1..65535: pasta's parser lets 0 through, but binding port 0
//     means "any port", which no forwarding rule can mean, so it is refused.

import type { Mode, PortRange, PortSpec } from '../config.js';
import { CliError } from './errors.js';
import { invalid, isIfname, parseIp } from './values.js';

export type PortOption = 't' | 'u' | 'T' | 'U';

interface Interval {
  first: number;
  last: number;
}

/** What repeated -t (or -u, -T, -U) options have built so far. */
export interface PortBuilder {
  mode: 'unset' | 'none' | 'auto' | 'all' | 'spec';
  /** some spec forwards every port (keyword all, ADDR/all, exclusions only) */
  everyPort: boolean;
  ranges: PortRange[];
  exclude: Interval[];
}

type Scope = Pick<PortRange, 'addr' | 'iface'>;

const MAX_PORT = 65535;
const EVERY_PORT: Interval = { first: 1, last: MAX_PORT };
/** keyword → the only mode allowing it (undefined: both) */
const KEYWORDS: Readonly<Record<string, Mode | undefined>> = { none: undefined, auto: 'pasta', all: 'passt' };

export function newPortBuilder(): PortBuilder {
  return { mode: 'unset', everyPort: false, ranges: [], exclude: [] };
}

/** True if the option was given with anything but 'none'. */
export function forwardsSomething(b: PortBuilder): boolean {
  return b.mode !== 'unset' && b.mode !== 'none';
}

export function addPortSpec(b: PortBuilder, opt: PortOption, spec: string, mode: Mode): void {
  const label = `-${opt}`;
  if (Object.hasOwn(KEYWORDS, spec)) {
    addKeyword(b, label, spec as 'none' | 'auto' | 'all', mode);
    return;
  }
  if (b.mode !== 'unset' && b.mode !== 'spec') {
    throw new CliError(`specific ports cannot be given together with all/none/auto in ${label}: ${spec}`);
  }
  const { scope, list } = splitScope(label, opt, spec);
  b.mode = 'spec';
  if (list === 'all') {
    requireMode(label, 'all', mode);
    addEveryPort(b, scope, []);
    return;
  }
  const { bases, excludes } = parseList(label, list, spec);
  b.exclude.push(...excludes);
  if (bases.length === 0) {
    addEveryPort(b, scope, excludes);
    return;
  }
  for (const base of bases) b.ranges.push(...subtract({ ...base, ...scope }, excludes));
}

export function finishPortSpec(b: PortBuilder, fallback: 'none' | 'auto'): PortSpec {
  if (b.mode === 'unset') return { kind: fallback, ranges: [], exclude: [] };
  if (b.mode === 'none' || b.mode === 'auto') return { kind: b.mode, ranges: [], exclude: [] };
  return { kind: b.everyPort ? 'all' : 'ports', ranges: b.ranges, exclude: b.exclude };
}

function addKeyword(b: PortBuilder, label: string, keyword: 'none' | 'auto' | 'all', mode: Mode): void {
  if (b.mode !== 'unset') {
    throw new CliError(`port forwarding mode '${keyword}' conflicts with previous mode in ${label}`);
  }
  requireMode(label, keyword, mode);
  b.mode = keyword;
  if (keyword === 'all') addEveryPort(b, {}, []);
}

function requireMode(label: string, keyword: string, mode: Mode): void {
  const only = KEYWORDS[keyword];
  if (only && only !== mode) {
    throw new CliError(`'${keyword}' port forwarding is only allowed for ${only} in ${label}`);
  }
}

function addEveryPort(b: PortBuilder, scope: Scope, excludes: readonly Interval[]): void {
  b.everyPort = true;
  b.ranges.push(...subtract({ ...EVERY_PORT, to: EVERY_PORT.first, ...scope }, excludes));
}

/** Splits "ADDR%IFACE/LIST" into its bind scope and the port list. */
function splitScope(label: string, opt: PortOption, spec: string): { scope: Scope; list: string } {
  const slash = spec.indexOf('/');
  if (slash < 0) return { scope: {}, list: spec };
  if (opt === 'T' || opt === 'U') throw new CliError(`bind addresses are not allowed in ${label}: ${spec}`);
  const [addrText = '', iface] = spec.slice(0, slash).split(/%(.*)/s);
  if (iface !== undefined && !isIfname(iface)) throw invalid('interface name', label, spec);
  if (addrText === '' && iface === undefined) throw invalid('address', label, spec);
  const scope: Scope = iface === undefined ? {} : { iface };
  if (addrText !== '') {
    const ip = parseIp(addrText.replace(/^\[(.*)\]$/s, '$1'));
    if (!ip) throw invalid('address', label, spec);
    scope.addr = ip.addr;
  }
  return { scope, list: spec.slice(slash + 1) };
}

/** Parses "22,80-90:8080-8090,~85" into forwarded ranges and exclusions. */
function parseList(label: string, list: string, spec: string): { bases: PortRange[]; excludes: Interval[] } {
  const bases: PortRange[] = [];
  const excludes: Interval[] = [];
  for (const item of list.split(',')) {
    if (item.startsWith('~')) excludes.push(parseRange(label, item.slice(1), spec));
    else bases.push(parseMapping(label, item, spec));
  }
  if (excludes.some((x, i) => excludes.slice(i + 1).some((y) => x.first <= y.last && y.first <= x.last))) {
    throw new CliError(`overlapping excluded ranges in ${label}: ${spec}`);
  }
  return { bases, excludes };
}

/** "FIRST[-LAST][:TOFIRST[-TOLAST]]" */
function parseMapping(label: string, item: string, spec: string): PortRange {
  const [from = '', to, extra] = item.split(':');
  if (extra !== undefined) throw invalid('port specifier', label, spec);
  const src = parseRange(label, from, spec);
  if (to === undefined) return { ...src, to: src.first };
  const dst = parseRange(label, to, spec);
  if (dst.last - dst.first !== src.last - src.first) {
    throw new CliError(`mapped port range has a different size in ${label}: ${item}`);
  }
  return { ...src, to: dst.first };
}

/** "FIRST[-LAST]" */
function parseRange(label: string, text: string, spec: string): Interval {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw invalid('port specifier', label, spec);
  const first = parsePort(label, m[1] ?? '');
  const last = m[2] === undefined ? first : parsePort(label, m[2]);
  if (last < first) throw invalid('port range', label, text);
  return { first, last };
}

function parsePort(label: string, digits: string): number {
  const port = Number(digits);
  if (port < 1 || port > MAX_PORT) throw invalid('port', label, digits);
  return port;
}

/** Cuts the exclusions out of a range, keeping each piece's remapping offset. */
function subtract(range: PortRange, excludes: readonly Interval[]): PortRange[] {
  let pieces = [range];
  for (const x of excludes) pieces = pieces.flatMap((p) => cut(p, x));
  return pieces;
}

function cut(p: PortRange, x: Interval): PortRange[] {
  if (x.last < p.first || x.first > p.last) return [p];
  const out: PortRange[] = [];
  if (x.first > p.first) out.push({ ...p, last: x.first - 1 });
  if (x.last < p.last) out.push({ ...p, first: x.last + 1, to: p.to + (x.last + 1 - p.first) });
  return out;
}
