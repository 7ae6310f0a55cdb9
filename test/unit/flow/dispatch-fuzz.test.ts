// Robustness: thousands of random, truncated and corrupted frames must never
// make the dispatcher throw, everything dropped is counted, whatever it sends
// back is well-formed, and the translator still works afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../../../src/wire/ethernet.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, writeIpv4, writeIpv6 } from '../../../src/wire/ip.js';
import { writeTcp } from '../../../src/wire/tcp.js';
import { inetChecksum, l4Checksum } from '../helpers/csum.js';
import { envFactory, GUEST4, GUEST6, GW4, GW6 } from '../helpers/env.js';
import { GUEST_MAC, OUR_MAC, ethFrame } from '../helpers/frames.js';
import { ACK, GuestTcp, PSH } from '../helpers/guesttcp.js';
import { type Rng, rng } from '../helpers/rng.js';
import { TcpServer, UdpServer, closedPort } from '../helpers/servers.js';

const newEnv = envFactory();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Targets {
  tcpPorts: number[];
  udpPorts: number[];
}

/** A TCP header with random flags, sequence numbers, data offset and option bytes. */
function fuzzTcp(r: Rng, t: Targets): Buffer {
  const optLen = r.pick([0, 0, 4, 8, 12, 20, 40]);
  const dataLen = r.pick([0, 0, 1, 10, 100, r.int(1400)]);
  const b = Buffer.alloc(20 + optLen + dataLen);
  const flags = r.next() < 0.3 ? 0x02 : r.byte(); // plenty of bare SYNs
  writeTcp(b, 0, 50000 + r.int(8), r.pick(t.tcpPorts), r.int(2 ** 32), r.int(2 ** 32), flags, r.int(0x10000));
  const opts = r.next() < 0.5
    ? r.bytes(optLen)
    : Buffer.from([2, 4, r.byte(), r.byte(), 1, 3, 3, r.byte(), ...r.bytes(Math.max(0, optLen - 8))]).subarray(0, optLen);
  opts.copy(b, 20);
  b[12] = r.next() < 0.7 ? ((20 + optLen) / 4) << 4 : r.int(16) << 4; // sometimes a wrong data offset
  r.bytes(dataLen).copy(b, 20 + optLen);
  return b;
}

function fuzzUdp(r: Rng, t: Targets): Buffer {
  const n = r.int(200);
  const b = Buffer.alloc(8 + n);
  b.writeUInt16BE(50000 + r.int(8), 0);
  b.writeUInt16BE(r.next() < 0.9 ? r.pick(t.udpPorts) : 0, 2);
  b.writeUInt16BE(r.next() < 0.7 ? 8 + n : r.int(0x10000), 4);
  return b;
}

function fuzzIcmp(r: Rng, v6: boolean): Buffer {
  const b = r.bytes(r.int(64));
  if (b.length > 0 && r.next() < 0.5) b[0] = v6 ? r.pick([128, 129, 133, 135, 136, 1]) : r.pick([0, 8, 3, 13]);
  return b;
}

function l4For(r: Rng, proto: number, t: Targets, v6: boolean): Buffer {
  if (proto === IPPROTO_TCP) return fuzzTcp(r, t);
  if (proto === IPPROTO_UDP) return fuzzUdp(r, t);
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return fuzzIcmp(r, v6);
  return r.bytes(r.int(100));
}

function fuzzIpv4(r: Rng, t: Targets): Buffer {
  const proto = r.pick([IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, r.byte()]);
  let l4 = l4For(r, proto, t, false);
  const ihl = r.next() < 0.8 ? 20 : r.int(16) * 4;
  if (proto === IPPROTO_TCP && r.next() < 0.5) {
    l4.writeUInt16BE(0, 16);
    l4.writeUInt16BE(l4Checksum(GUEST4, GW4, IPPROTO_TCP, l4), 16);
  }
  if (ihl > 20) l4 = Buffer.concat([r.bytes(ihl - 20), l4]);
  const b = Buffer.alloc(20 + l4.length);
  writeIpv4(b, 0, GUEST4, r.next() < 0.9 ? GW4 : GUEST4, proto, l4.length - Math.max(0, ihl - 20));
  b[0] = 0x40 | (ihl / 4);
  const total = 20 + l4.length;
  const c = r.next();
  b.writeUInt16BE(c < 0.7 ? total : c < 0.85 ? Math.max(0, total + r.int(64) - 32) : r.int(0x10000), 2);
  if (r.next() < 0.15) b.writeUInt16BE(r.int(0x10000), 6); // fragments
  if (r.next() < 0.05) b[0] = r.byte(); // version
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(inetChecksum(b.subarray(0, 20)), 10);
  l4.copy(b, 20);
  return b;
}

function fuzzIpv6(r: Rng, t: Targets): Buffer {
  const proto = r.pick([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_ICMPV6, r.byte()]);
  const chain: Buffer[] = [];
  const kinds: number[] = [];
  const n = r.pick([0, 0, 1, 2, 4]);
  for (let i = 0; i < n; i++) {
    const kind = r.pick([0, 43, 60, 44, 60]);
    const hl = r.int(4);
    const e = r.bytes(8 * (hl + 1));
    e[1] = r.next() < 0.85 ? hl : r.byte();
    chain.push(e);
    kinds.push(kind);
  }
  chain.forEach((e, i) => (e[0] = i + 1 < chain.length ? kinds[i + 1] : proto));
  const l4 = l4For(r, proto, t, true);
  const body = Buffer.concat([...chain, l4]);
  const b = Buffer.alloc(40 + body.length);
  writeIpv6(b, 0, GUEST6, GW6, n > 0 ? kinds[0] : proto, body.length, r.pick([255, 64, 1]));
  const c = r.next();
  if (c < 0.15) b.writeUInt16BE(r.int(0x10000), 4);
  else if (c < 0.25) b.writeUInt16BE(Math.max(0, body.length - r.int(16)), 4);
  if (r.next() < 0.03) b[0] = r.byte();
  body.copy(b, 40);
  return b;
}

function fuzzArp(r: Rng): Buffer {
  const b = Buffer.alloc(r.next() < 0.7 ? 28 : r.int(60));
  const full = Buffer.from([0, 1, 8, 0, 6, 4, 0, r.pick([1, 1, 2, r.byte()]), ...GUEST_MAC, 10, 0, 2, 15, ...r.bytes(6), ...r.bytes(4)]);
  full.copy(b, 0, 0, Math.min(b.length, full.length));
  if (r.next() < 0.2 && b.length > 0) b[r.int(b.length)] = r.byte();
  return b;
}

function fuzzFrame(r: Rng, t: Targets): Buffer {
  const srcMac = r.next() < 0.9 ? GUEST_MAC : r.bytes(6);
  const k = r.next();
  let f: Buffer;
  if (k < 0.3) f = ethFrame(OUR_MAC, srcMac, ETH_P_IP, fuzzIpv4(r, t));
  else if (k < 0.6) f = ethFrame(OUR_MAC, srcMac, ETH_P_IPV6, fuzzIpv6(r, t));
  else if (k < 0.7) f = ethFrame(OUR_MAC, srcMac, ETH_P_ARP, fuzzArp(r));
  else {
    // random bytes behind any ethertype; never a valid IP version, so that
    // nothing random is ever sent to a random address on the host's network
    const type = r.pick([ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, 0x8100, 0x88cc, r.int(0x10000)]);
    const p = r.bytes(r.int(2001));
    if (p.length > 0 && (type === ETH_P_IP || type === ETH_P_IPV6)) p[0] = (p[0] & 0x0f) | 0x70;
    f = ethFrame(OUR_MAC, srcMac, type, p);
  }
  // a fifth of all frames are cut short anywhere, Ethernet header included
  if (r.next() < 0.2) f = f.subarray(0, r.int(f.length + 1));
  return f;
}

describe('Dispatcher robustness', () => {
  it('6000 random, truncated and corrupted frames: no throw, drops counted, replies well-formed, TCP still works', async () => {
    const env = newEnv();
    const tcp = await TcpServer.listen();
    const udp = await UdpServer.bind('udp4');
    const udp6 = await UdpServer.bind('udp6');
    cleanups.push(() => tcp.close(), () => udp.close(), () => udp6.close());
    const closed = await closedPort();
    const t: Targets = { tcpPorts: [tcp.port, closed], udpPorts: [udp.port, udp6.port] };
    const r = rng(0xf022);
    const N = 6000;
    for (let i = 0; i < N; i++) {
      const f = fuzzFrame(r, t);
      expect(() => env.inject(f), `frame ${i}: ${f.toString('hex')}`).not.toThrow();
      if (i % 500 === 0) await new Promise((res) => setImmediate(res)); // let socket events interleave
    }
    await new Promise((res) => setTimeout(res, 50));
    const c = env.ctx.counters;
    expect(c.framesIn).toBe(N);
    const expected = ['eth_short', 'ethertype', 'ipv4_truncated', 'ipv4_bad_header', 'ipv4_fragment', 'ipv4_protocol',
      'ipv6_truncated', 'ipv6_bad_header', 'ipv6_fragment', 'ipv6_protocol', 'tcp_malformed', 'udp_malformed', 'arp_malformed',
      'icmp_not_echo', 'icmpv6_type', 'ndp_invalid'];
    for (const k of expected) expect(env.drops(k), `${k} (${c.summary()})`).toBeGreaterThan(0);
    expect(c.framesOut).toBeGreaterThan(0); // ARP replies, SYN-ACKs, resets...
    expect(env.link.errors).toEqual([]);

    // afterwards a normal exchange still works
    env.link.drain();
    const g = new GuestTcp(env, { dstPort: tcp.port, srcPort: 40123 });
    await g.connect();
    const peer = tcp.conns[tcp.conns.length - 1];
    await peer.until(() => true, 'connection');
    g.send(ACK | PSH, { data: Buffer.from('still alive?') });
    await peer.waitBytes(12);
    expect(peer.data().toString()).toBe('still alive?');
    peer.sock.write('yes');
    expect((await g.recv(3)).toString()).toBe('yes');
  });
});
