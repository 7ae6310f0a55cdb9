// Router solicitations and advertisements (parseRouterSolicit,
// parseRouterAdvert, the option readers) and the RA writers.
import {
  ND_OPT_DNSSL, ND_OPT_MTU, ND_OPT_PREFIX_INFO, ND_OPT_RDNSS, ND_OPT_SOURCE_LLADDR, ND_ROUTER_ADVERT, ND_ROUTER_SOLICIT,
  NdpError, RA_HLEN, RS_HLEN, dnsslSize, newRaView, newRsView, nextNdpOption, parseRouterAdvert, parseRouterSolicit,
  putDnssl, putLinkAddrOption, putMtuOption, putPrefixInfo, putRdnss, readDnssl, readMtuOption, readPrefixInfo, readRdnss,
  scanNdpOptions, writeRouterAdvert,
} from '../../../src/wire/ndp.js';
import { GUEST6, GW6 } from '../../unit/helpers/envcore.js';
import { GUEST_MAC, OUR_MAC } from '../../unit/helpers/frames.js';
import { type FuzzTarget, check, inside, sameOutsideBytes } from '../check.js';
import { checkNames, namesFrom } from './dhcp.js';

const rs = newRsView();
const ra = newRaView();

function raFrom(names: string[], dns: number, mtu: number): Buffer {
  const b = Buffer.alloc(1280, 0xee);
  let p = writeRouterAdvert(b, 0, { curHopLimit: 64, flags: 0x80, routerLifetime: 1800, reachable: 0, retrans: 0 });
  p = putPrefixInfo(b, p, GUEST6, 0, 64, 0xc0, 0xffffffff, 0xffffffff);
  p = putLinkAddrOption(b, p, ND_OPT_SOURCE_LLADDR, OUR_MAC);
  p = putMtuOption(b, p, mtu);
  if (dns > 0) p = putRdnss(b, p, 600, [GW6, GUEST6, GW6].slice(0, dns));
  p = putDnssl(b, p, 600, names);
  return b.subarray(0, p);
}

export const ndp: FuzzTarget = {
  name: 'ndp',
  maxLen: 1280,
  seeds() {
    const sol = Buffer.alloc(RS_HLEN + 8);
    sol[0] = ND_ROUTER_SOLICIT;
    putLinkAddrOption(sol, RS_HLEN, ND_OPT_SOURCE_LLADDR, GUEST_MAC);
    return [sol, sol.subarray(0, RS_HLEN), raFrom(['example.com', 'a.b'], 2, 1500), raFrom([], 0, 65520)];
  },
  run(data) {
    let sig = '';
    const s = sameOutsideBytes(data, (buf, off, len) => {
      const e = parseRouterSolicit(buf, off, len, rs);
      return { e, ll: e === NdpError.Ok && rs.srcLlOff >= 0 ? rs.srcLlOff - off : -1 };
    });
    if (s.e === NdpError.Ok) {
      check(data[0] === ND_ROUTER_SOLICIT && data[1] === 0 && data.length >= RS_HLEN, 'accepted a message that is not a router solicitation');
      if (s.ll >= 0) inside('source link-layer address', s.ll, 6, RS_HLEN + 2, data.length);
    }
    sig += `rs${s.e}${s.ll >= 0}`;
    const a = sameOutsideBytes(data, (buf, off, len) => {
      const e = parseRouterAdvert(buf, off, len, ra);
      if (e !== NdpError.Ok) return { e };
      const rel = (x: number): number => (x < 0 ? x : x - off);
      return { e, ...ra, optOff: rel(ra.optOff), optEnd: rel(ra.optEnd), prefixInfo: rel(ra.prefixInfo), mtu: rel(ra.mtu), srcLl: rel(ra.srcLl), rdnss: rel(ra.rdnss), dnssl: rel(ra.dnssl) };
    });
    sig += `:ra${a.e}`;
    if (a.e === NdpError.Ok) {
      const v = a as unknown as typeof ra;
      check(data[0] === ND_ROUTER_ADVERT && data.length >= RA_HLEN && v.optOff === RA_HLEN && v.optEnd === data.length, 'RA header');
      const b = Buffer.from(data);
      for (const [what, o, type] of [['prefix', v.prefixInfo, ND_OPT_PREFIX_INFO], ['mtu', v.mtu, ND_OPT_MTU], ['lladdr', v.srcLl, ND_OPT_SOURCE_LLADDR],
        ['rdnss', v.rdnss, ND_OPT_RDNSS], ['dnssl', v.dnssl, ND_OPT_DNSSL]] as const) {
        if (o < 0) continue;
        sig += `:${what}`;
        inside(what, o, b[o + 1] * 8, RA_HLEN, b.length);
        check(b[o] === type && nextNdpOption(b, o, b.length) === o + b[o + 1] * 8, `${what}: wrong option`);
      }
      if (v.prefixInfo >= 0) inside('prefix', readPrefixInfo(b, v.prefixInfo).prefixOff, 16, v.prefixInfo, v.prefixInfo + 32);
      if (v.mtu >= 0) readMtuOption(b, v.mtu);
      if (v.rdnss >= 0) for (const x of readRdnss(b, v.rdnss).addrOffs) inside('RDNSS address', x, 16, v.rdnss + 8, v.rdnss + b[v.rdnss + 1] * 8);
      if (v.dnssl >= 0) {
        const names = sameOutsideBytes(data.subarray(v.dnssl, v.dnssl + b[v.dnssl + 1] * 8), (buf, off) => readDnssl(buf, off).names);
        checkNames(names, 'DNSSL');
        sig += names ? ':names' : ':badnames';
      }
    }
    const scan = sameOutsideBytes(data, (buf, off, len) => {
      const r = scanNdpOptions(buf, off + Math.min(len, RS_HLEN), off + len, ND_OPT_SOURCE_LLADDR);
      return r < 0 ? r : r - off;
    });
    if (scan >= 0) inside('option', scan, 8, RS_HLEN, data.length);
    // writers: an RA built from the input reads back as written
    const names = namesFrom(data).filter((n) => n.length < 100 && n.split('.').every((l) => l.length > 0 && l.length < 64));
    const mtu = data.length >= 4 ? data.readUInt32BE(0) : 1280;
    const built = raFrom(names, data.length % 4, mtu);
    check(built.length % 8 === 0, 'RA options not a multiple of 8 bytes');
    check(parseRouterAdvert(built, 0, built.length, ra) === NdpError.Ok, 'written RA does not parse');
    check(ra.prefixInfo >= 0 && ra.srcLl >= 0 && ra.mtu >= 0 && readMtuOption(built, ra.mtu) === mtu, 'written RA options not found');
    check((data.length % 4 > 0) === (ra.rdnss >= 0), 'RDNSS option lost');
    const size = dnsslSize(names);
    check((size > 0) === (ra.dnssl >= 0) && (size === 0 || built[ra.dnssl + 1] * 8 === size), 'DNSSL size disagrees with dnsslSize');
    if (ra.dnssl >= 0) {
      const back = readDnssl(built, ra.dnssl).names;
      check(back !== undefined && back.join(' ').toLowerCase() === names.join(' ').toLowerCase(),
        () => `DNSSL ${JSON.stringify(names)} read back as ${JSON.stringify(back)}`);
    }
    return sig;
  },
};
