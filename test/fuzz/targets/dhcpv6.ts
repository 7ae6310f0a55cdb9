// DHCPv6 messages: parseDhcpv6, option walking, IA addresses, the domain
// list option, and the option writers.
import {
  Dhcpv6Error, IA_NA_FIXED, INFORMATION_REQUEST, OPTION_CLIENTID, OPTION_DOMAIN_LIST, OPTION_ELAPSED_TIME, OPTION_IAADDR,
  OPTION_IA_NA, OPTION_IA_TA, OPTION_ORO, OPTION_RAPID_COMMIT, OPTION_SERVERID, REQUEST, SOLICIT, beginOption6, duidLlt,
  endOption6, findOption6, forEachIaAddr, newDhcpv6View, nextOption6, opt6Code, opt6Len, parseDhcpv6, putDnsServers6,
  putDomainList6, putIaNa, putIaNaStatus, putOption6, putStatus6, sameOption6, writeDhcpv6Header,
} from '../../../src/wire/dhcpv6.js';
import { decodeDomainNames } from '../../../src/wire/dhcp.js';
import { GUEST6 } from '../../unit/helpers/envcore.js';
import { GUEST_MAC, OUR_MAC } from '../../unit/helpers/frames.js';
import { type FuzzTarget, check, inside, sameOutsideBytes } from '../check.js';
import { checkNames, namesFrom } from './dhcp.js';

const view = newDhcpv6View();

function msg(type: number, build: (b: Buffer, p: number) => number): Buffer {
  const b = Buffer.alloc(1500);
  return b.subarray(0, build(b, writeDhcpv6Header(b, 0, type, 0xabcdef)));
}

export const dhcpv6: FuzzTarget = {
  name: 'dhcpv6',
  maxLen: 1500,
  seeds() {
    const client = duidLlt(GUEST_MAC, 1000);
    const server = duidLlt(OUR_MAC, 2000);
    return [
      msg(SOLICIT, (b, p) => {
        p = putOption6(b, p, OPTION_CLIENTID, client);
        p = putOption6(b, p, OPTION_ELAPSED_TIME, Buffer.alloc(2));
        p = putOption6(b, p, OPTION_ORO, Buffer.from([0, 23, 0, 24]));
        p = putOption6(b, p, OPTION_RAPID_COMMIT);
        const d = beginOption6(b, p, OPTION_IA_NA);
        b.writeUInt32BE(7, d);
        return endOption6(b, p, d + IA_NA_FIXED);
      }),
      msg(REQUEST, (b, p) => {
        p = putOption6(b, p, OPTION_CLIENTID, client);
        p = putOption6(b, p, OPTION_SERVERID, server);
        return putIaNa(b, p, 7, 0, 0, GUEST6, 0, 0);
      }),
      msg(INFORMATION_REQUEST, (b, p) => putOption6(b, p, OPTION_ORO, Buffer.from([0, 23, 0, 24]))),
      msg(4, (b, p) => {
        p = putOption6(b, p, OPTION_CLIENTID, client);
        const d = beginOption6(b, p, OPTION_IA_TA);
        b.writeUInt32BE(1, d);
        const a = putOption6(b, d + 4, OPTION_IAADDR, Buffer.alloc(24));
        return endOption6(b, p, a);
      }),
    ];
  },
  run(data) {
    dhcpv6Writers(data);
    const got = sameOutsideBytes(data, (buf, off, len) => {
      const e = parseDhcpv6(buf, off, len, view);
      if (e !== Dhcpv6Error.Ok) return { e };
      const rel = (x: number): number => (x < 0 ? x : x - off);
      return { e, type: view.type, xid: view.xid, optOff: rel(view.optOff), optEnd: rel(view.optEnd), clientId: rel(view.clientId),
        serverId: rel(view.serverId), iaNa: rel(view.iaNa), iaTa: rel(view.iaTa), oro: rel(view.oro), rapid: view.rapidCommit };
    });
    let sig = `d6:${got.e}`;
    if (data.length < 4) check(got.e === Dhcpv6Error.Truncated, 'short message not truncated');
    if (got.e !== Dhcpv6Error.Ok) return sig;
    const b = Buffer.from(data);
    for (const [what, o] of [['client id', got.clientId], ['server id', got.serverId], ['IA_NA', got.iaNa], ['IA_TA', got.iaTa], ['ORO', got.oro]] as const) {
      if ((o as number) < 0) continue;
      const at = o as number;
      inside(what, at, 4 + opt6Len(b, at), 4, b.length);
      check(nextOption6(b, at, b.length) === at + 4 + opt6Len(b, at), `${what}: nextOption6 disagrees with the length`);
      check(findOption6(b, 4, b.length, opt6Code(b, at)) === at, `${what}: not the first instance`);
      check(sameOption6(b, at, b, at), `${what}: sameOption6 is not reflexive`);
    }
    sig += `:${Math.min(got.type as number, 12)}:${got.clientId >= 0}:${got.serverId >= 0}:${got.iaNa >= 0}:${got.iaTa >= 0}`;
    for (const ia of [got.iaNa, got.iaTa] as number[]) {
      if (ia < 0 || (opt6Code(b, ia) === OPTION_IA_NA && opt6Len(b, ia) < IA_NA_FIXED)) continue;
      const end = ia + 4 + opt6Len(b, ia);
      let n = 0;
      const ok = sameOutsideBytes(data, (buf, off) => {
        const offs: number[] = [];
        const r = forEachIaAddr(buf, ia + off, (a) => offs.push(a - off));
        return { r, offs };
      });
      for (const a of ok.offs) {
        inside('IA address', a, 24, ia + 4, end);
        n++;
      }
      sig += `:ia${ok.r}${Math.min(n, 2)}`;
    }
    const dl = findOption6(b, 4, b.length, OPTION_DOMAIN_LIST);
    if (dl >= 0) {
      const names = sameOutsideBytes(data.subarray(dl + 4, dl + 4 + opt6Len(b, dl)), (buf, off, len) => decodeDomainNames(buf, off, len, false));
      checkNames(names, 'option 24');
      sig += `:dl${names === undefined ? 'bad' : 'ok'}`;
    }
    return sig;
  },
};

/** The writers: options built from the input parse back as written and never pass their space. */
export function dhcpv6Writers(data: Buffer): void {
  if (data.length < 8) return;
  const out = Buffer.alloc(1500, 0xee);
  let p = writeDhcpv6Header(out, 0, data[0], data.readUIntBE(1, 3));
  p = putIaNa(out, p, data.readUInt32BE(0), 1, 2, GUEST6, 3, 4);
  p = putIaNaStatus(out, p, data.readUInt32BE(4), data[1], Buffer.from(data.subarray(0, 40)).toString('latin1'));
  p = putStatus6(out, p, data.readUInt16BE(2), 'x'.repeat(data[3]));
  p = putDnsServers6(out, p, [GUEST6, GUEST6].slice(0, data[5] % 3));
  p = putDomainList6(out, p, namesFrom(data).filter((n) => n.length < 60 && n.split('.').every((l) => l.length > 0)));
  check(out.subarray(p).every((x) => x === 0xee), 'a DHCPv6 writer wrote past the end it returned');
  check(parseDhcpv6(out, 0, p, view) === Dhcpv6Error.Ok && view.iaNa === 4, 'writers -> parseDhcpv6 mismatch');
  let n = 0;
  check(forEachIaAddr(out, view.iaNa, () => n++) && n === 1, 'putIaNa: the address is not found again');
}
