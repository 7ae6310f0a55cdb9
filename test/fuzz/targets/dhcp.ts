// DHCPv4 messages (parseDhcp, findDhcpOption, the option writer) and the
// domain-name lists of options 119 (DHCP), 24 (DHCPv6) and DNSSL (NDP).
import {
  DHCP_MAGIC, DHCP_OPT_OFF, DHCPDISCOVER, DHCPREQUEST, DhcpError, DhcpOptionWriter, OPT_CLIENT_ID, OPT_DOMAIN_SEARCH, OPT_END,
  OPT_HOSTNAME, OPT_MAX_MSG_SIZE, OPT_MSG_TYPE, OPT_PARAM_LIST, OPT_RAPID_COMMIT, OPT_REQUESTED_IP, OPT_SERVER_ID,
  decodeDomainNames, encodeDomainNames, findDhcpOption, newDhcpView, parseDhcp, writeDhcpHeader,
} from '../../../src/wire/dhcp.js';
import { GUEST_MAC } from '../../unit/helpers/frames.js';
import { type FuzzTarget, check, inside, sameOutsideBytes } from '../check.js';

const view = newDhcpView();

/** Decoded names must be encodable names: labels of 1-63 bytes, at most 255 bytes in wire form. */
export function checkNames(names: string[] | undefined, what: string): void {
  if (!names) return;
  for (const n of names) {
    // a label may hold any byte, '.' included, so only the total is checked here
    check(n.length > 0 && n.length + 2 <= 255, () => `${what}: decoded a bad name ${JSON.stringify(n)}`);
  }
  // names made only of what the encoder accepts survive a round trip
  const encodable = (n: string): boolean => /^[\x21-\x7e]+$/.test(n) && n.split('.').every((l) => l.length > 0 && l.length <= 63);
  if (names.every(encodable)) {
    for (const compress of [false, true]) {
      const enc = encodeDomainNames(names, compress);
      const dec = decodeDomainNames(enc, 0, enc.length, compress);
      check(dec !== undefined && dec.length === names.length && dec.every((d, i) => d.toLowerCase() === names[i].toLowerCase()),
        () => `${what}: encode(compress=${compress}) -> decode changed ${JSON.stringify(names)} into ${JSON.stringify(dec)}`);
    }
  }
}

/** Names from fuzz bytes: '.'-separated runs of printable characters. */
export function namesFrom(d: Uint8Array): string[] {
  const s = Buffer.from(d).toString('latin1').replace(/[^\x21-\x7e]/g, ' ');
  return s.split(' ').filter((x) => x.length > 0).slice(0, 8);
}

function message(type: number, opts: Array<[number, number[]]>, pad = 0): Buffer {
  const b = Buffer.alloc(600);
  writeDhcpHeader(b, 0, { op: 1, htype: 1, hlen: 6, xid: 0x1234, flags: 0x8000, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0 },
    Buffer.concat([GUEST_MAC, Buffer.alloc(10)]), 0);
  const w = new DhcpOptionWriter(b, DHCP_OPT_OFF, b.length);
  w.putU8(OPT_MSG_TYPE, type);
  for (const [c, d] of opts) w.put(c, Uint8Array.from(d));
  return b.subarray(0, w.end(300 + pad));
}

export const dhcp: FuzzTarget = {
  name: 'dhcp',
  maxLen: 1500,
  seeds() {
    const search = [...encodeDomainNames(['example.com', 'lab.example.com', 'a.b'], true)];
    return [
      message(DHCPDISCOVER, [[OPT_PARAM_LIST, [1, 3, 6, 15, 26, 119, 121]], [OPT_MAX_MSG_SIZE, [5, 0xdc]], [OPT_CLIENT_ID, [1, ...GUEST_MAC]]]),
      message(DHCPDISCOVER, [[OPT_RAPID_COMMIT, []], [OPT_HOSTNAME, [...Buffer.from('guest')]]]),
      message(DHCPREQUEST, [[OPT_REQUESTED_IP, [10, 0, 2, 15]], [OPT_SERVER_ID, [10, 0, 2, 2]], [OPT_PARAM_LIST, [1, 3]]]),
      message(8, [[OPT_DOMAIN_SEARCH, search]]),
      message(0, [], 60),
    ];
  },
  run(data) {
    const got = sameOutsideBytes(data, (buf, off, len) => {
      const e = parseDhcp(buf, off, len, view);
      if (e !== DhcpError.Ok) return { e };
      return { e, ...view, chaddrOff: view.chaddrOff - off, optOff: view.optOff - off, optEnd: view.optEnd - off, paramOff: view.paramLen ? view.paramOff - off : 0 };
    });
    if (data.length < 240) check(got.e === DhcpError.Truncated, `parseDhcp: ${got.e} for a ${data.length}-byte message`);
    else if (data.readUInt32BE(236) !== DHCP_MAGIC) check(got.e === DhcpError.BadMagic, `parseDhcp: ${got.e} without the magic cookie`);
    let sig = `dhcp:${got.e}`;
    if (got.e === DhcpError.Ok) {
      const v = got as unknown as typeof view;
      check(v.chaddrOff === 28 && v.optOff === 240 && v.optEnd === data.length, 'fixed offsets');
      if (v.paramLen > 0) inside('parameter request list', v.paramOff, v.paramLen, 240, data.length);
      check(v.msgType >= 0 && v.msgType <= 255 && v.maxMsgSize >= 0 && v.maxMsgSize <= 0xffff, 'option value out of range');
      sig += `:${Math.min(v.msgType, 9)}:${v.paramLen > 0}:${v.rapidCommit}:${v.hasServerId}`;
    }
    if (data.length >= 240) {
      for (const code of [OPT_MSG_TYPE, OPT_PARAM_LIST, OPT_DOMAIN_SEARCH, OPT_CLIENT_ID, OPT_END, 0]) {
        const p = sameOutsideBytes(data, (buf, off, len) => {
          const r = findDhcpOption(buf, off + 240, off + len, code);
          return r < 0 ? r : r - off;
        });
        if (p >= 0) {
          inside(`option ${code}`, p, data[p - 1], 242, data.length);
          check(data[p - 2] === code, `findDhcpOption(${code}) points at option ${data[p - 2]}`);
          if (code === OPT_DOMAIN_SEARCH) {
            const names = sameOutsideBytes(data.subarray(p, p + data[p - 1]), (buf, off, len) => decodeDomainNames(buf, off, len, true));
            checkNames(names, 'option 119');
            sig += `:dn${names === undefined ? 'bad' : names.length}`;
          }
        }
      }
    }
    // domain lists: decode raw input both ways; encode names made from it
    for (const compress of [true, false]) {
      const names = sameOutsideBytes(data.subarray(0, 300), (buf, off, len) => decodeDomainNames(buf, off, len, compress, !compress));
      checkNames(names, `decodeDomainNames(compress=${compress})`);
    }
    checkNames(namesFrom(data.subarray(0, 200)).filter((n) => !n.split('.').some((l) => l.length === 0 || l.length > 63)
      && n.length <= 250 && !n.endsWith('.')), 'names from the input');
    // the option writer: whatever fits is found again intact, nothing passes the limit
    if (data.length >= 4) {
      const limit = DHCP_OPT_OFF + 1 + (data.readUInt16BE(0) % 700); // room for the end option at least
      const b = Buffer.alloc(limit + 64, 0xee);
      const w = new DhcpOptionWriter(b, DHCP_OPT_OFF, limit);
      const put: Array<[number, Buffer]> = [];
      for (let p = 2; p + 2 <= Math.min(data.length, 64); p += 2) {
        const code = 1 + (data[p] % 254);
        const d = Buffer.alloc((data[p + 1] * 3) % 600, code);
        if (w.put(code, d) && !put.some(([c]) => c === code)) put.push([code, d]);
      }
      const end = w.end();
      check(end <= limit && b.subarray(limit).every((x) => x === 0xee), () => `DhcpOptionWriter wrote past its limit (${end} > ${limit})`);
      for (const [code, d] of put) {
        const p = findDhcpOption(b, DHCP_OPT_OFF, end, code);
        const first = Math.min(d.length, 255);
        check(p >= 0 && b[p - 1] === first && b.subarray(p, p + first).equals(d.subarray(0, first)), `option ${code} (${d.length} bytes) not found intact`);
      }
    }
    return sig;
  },
};
