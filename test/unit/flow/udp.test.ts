import os from 'node:os';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FastIo, disableFastIoForTests, fastIo } from '../../../src/io/fastio.js';
import { UdpBatch, UdpTranslator } from '../../../src/flow/udp.js';
import { IPPROTO_UDP, format6, parse4, parse6 } from '../../../src/wire/ip.js';
import { l4Checksum, onesSum, pseudoHeader } from '../helpers/csum.js';
import { type Env, envFactory, GUEST4, GUEST6, GW4, GW6 } from '../helpers/env.js';
import { type Frame, GUEST_MAC, udpFrame } from '../helpers/frames.js';
import { rng } from '../helpers/rng.js';
import { UdpServer } from '../helpers/servers.js';

const newEnv = envFactory();
const servers: UdpServer[] = [];
async function server(type: 'udp4' | 'udp6' = 'udp4'): Promise<UdpServer> {
  const s = await UdpServer.bind(type);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const isUdp = (f: Frame): boolean => f.udp !== undefined;

/** Swaps in a UdpTranslator with other limits. */
function useUdp(env: Env, idleMs: number, maxFlows?: number): UdpTranslator {
  env.d.udp.closeAll();
  const u = new UdpTranslator(env.ctx, idleMs, maxFlows);
  (env.d as { udp: UdpTranslator }).udp = u;
  return u;
}

// Host sockets come from the fastio addon (native-shims/fastio.c) when it is
// built, else from Node's dgram: every test runs with each.
describe.each(['fastio', 'dgram'] as const)('UDP with %s sockets', (kind) => {
  beforeEach(() => disableFastIoForTests(kind === 'dgram'));
  afterAll(() => disableFastIoForTests(false));

  it.runIf(kind === 'fastio')('the addon is built and loads', () => {
    expect(fastIo()).not.toBeNull();
  });
  it('a datagram to the mapped gateway reaches 127.0.0.1; the reply comes back from the gateway, checksummed', async () => {
    const env = newEnv();
    const srv = await server();
    const payload = rng(768).bytes(1001);
    env.inject(udpFrame(GUEST4, GW4, 40000, srv.port, payload));
    const d = await srv.nth(0);
    expect(d.msg).toEqual(payload);
    expect(d.rinfo.address).toBe('127.0.0.1');
    expect(env.d.udp.count).toBe(1);

    await srv.reply(d, Buffer.from('pong!'));
    const f = await env.link.take(isUdp);
    expect(f.dstMac).toEqual(GUEST_MAC);
    expect(f.src).toBe('10.0.2.2');
    expect(f.dst).toBe('10.0.2.15');
    expect(f.ttl).toBe(64);
    expect(f.udp).toMatchObject({ srcPort: srv.port, dstPort: 40000, len: 13, csumOk: true });
    expect(f.udp!.data.toString()).toBe('pong!');
    const z = Buffer.from(f.l4!);
    z.writeUInt16BE(0, 6);
    expect(f.udp!.csum).toBe(l4Checksum(GW4, GUEST4, IPPROTO_UDP, z));
  });

  it('IPv6: a datagram to the mapped gateway reaches ::1 and the reply comes back from the gateway', async () => {
    const env = newEnv();
    const srv = await server('udp6');
    env.inject(udpFrame(GUEST6, GW6, 40001, srv.port, Buffer.from('hello over IPv6')));
    const d = await srv.nth(0);
    expect(d.msg.toString()).toBe('hello over IPv6');
    expect(d.rinfo.address).toBe('::1');
    await srv.reply(d, Buffer.from('odd'));
    const f = await env.link.take(isUdp);
    expect(f.src).toBe('2001:db8::2');
    expect(f.dst).toBe('2001:db8::15');
    expect(f.udp).toMatchObject({ srcPort: srv.port, dstPort: 40001, len: 11, csumOk: true });
    expect(f.udp!.data.toString()).toBe('odd');
    const z = Buffer.from(f.l4!);
    z.writeUInt16BE(0, 6);
    expect(f.udp!.csum).toBe(l4Checksum(GW6, GUEST6, IPPROTO_UDP, z));
  });

  it('a reply whose checksum computes to 0 is sent as 0xffff', async () => {
    const env = newEnv();
    const srv = await server();
    env.inject(udpFrame(GUEST4, GW4, 40002, srv.port, Buffer.from('q')));
    const d = await srv.nth(0);
    // choose the last word of the reply so that the one's-complement sum is 0xffff
    const msg = Buffer.from('zero checksum!');
    const hdr = Buffer.from([srv.port >> 8, srv.port & 0xff, 40002 >> 8, 40002 & 0xff, 0, 8 + msg.length, 0, 0]);
    msg.writeUInt16BE(0, msg.length - 2);
    const s = onesSum(Buffer.concat([hdr, msg]), onesSum(pseudoHeader(GW4, GUEST4, IPPROTO_UDP, 8 + msg.length)));
    msg.writeUInt16BE(0xffff - s, msg.length - 2);
    await srv.reply(d, msg);
    const f = await env.link.take(isUdp);
    expect(f.udp!.csum).toBe(0xffff);
    expect(f.udp!.csumOk).toBe(true);
  });

  it('one host socket per guest source: same source to two servers shares it, another source port does not', async () => {
    const env = newEnv();
    const a = await server();
    const b = await server();
    env.inject(udpFrame(GUEST4, GW4, 40000, a.port, Buffer.from('1')));
    env.inject(udpFrame(GUEST4, GW4, 40000, b.port, Buffer.from('2')));
    env.inject(udpFrame(GUEST4, GW4, 40003, a.port, Buffer.from('3')));
    const [a0, b0, a1] = await Promise.all([a.nth(0), b.nth(0), a.nth(1)]);
    expect(b0.rinfo.port).toBe(a0.rinfo.port);
    expect(a1.rinfo.port).not.toBe(a0.rinfo.port);
    expect([a0.msg.toString(), b0.msg.toString(), a1.msg.toString()]).toEqual(['1', '2', '3']);
    expect(env.d.udp.count).toBe(2);
    // any peer may answer on the shared socket; each reply shows its own source port
    await b.reply(b0, Buffer.from('from b'));
    const f = await env.link.take(isUdp);
    expect(f.udp).toMatchObject({ srcPort: b.port, dstPort: 40000 });
    await a.reply(a1, Buffer.from('from a to 40003'));
    const g = await env.link.take(isUdp);
    expect(g.udp).toMatchObject({ srcPort: a.port, dstPort: 40003 });
    expect(g.udp!.data.toString()).toBe('from a to 40003');
  });

  it('empty datagrams and Ethernet padding: the UDP length counts, not the frame', async () => {
    const env = newEnv();
    const srv = await server();
    env.inject(udpFrame(GUEST4, GW4, 40004, srv.port, Buffer.alloc(0), { pad: 18 }));
    env.inject(udpFrame(GUEST4, GW4, 40004, srv.port, Buffer.from('ab'), { pad: 16 }));
    expect((await srv.nth(0)).msg).toHaveLength(0);
    expect((await srv.nth(1)).msg.toString()).toBe('ab');
    await srv.reply(srv.got[0], Buffer.alloc(0));
    const f = await env.link.take(isUdp);
    expect(f.udp).toMatchObject({ len: 8, data: Buffer.alloc(0) });
  });

  it('flows time out when idle and are recreated on demand; traffic keeps them alive', async () => {
    const env = newEnv();
    const udp = useUdp(env, 120);
    const srv = await server();
    env.inject(udpFrame(GUEST4, GW4, 40005, srv.port, Buffer.from('a')));
    const first = await srv.nth(0);
    expect(udp.count).toBe(1);
    // keep it busy for several idle periods: still the same host socket
    for (let i = 1; i <= 6; i++) {
      await new Promise((r) => setTimeout(r, 40));
      env.inject(udpFrame(GUEST4, GW4, 40005, srv.port, Buffer.from(`k${i}`)));
      expect(udp.count).toBe(1);
    }
    const last = await srv.nth(6);
    expect(last.rinfo.port).toBe(first.rinfo.port);
    await vi.waitFor(() => expect(udp.count).toBe(0), { timeout: 2000, interval: 10 });
    env.inject(udpFrame(GUEST4, GW4, 40005, srv.port, Buffer.from('again')));
    expect(udp.count).toBe(1);
    const again = await srv.nth(7);
    expect(again.msg.toString()).toBe('again');
    await srv.reply(again, Buffer.from('back'));
    expect((await env.link.take(isUdp)).udp!.data.toString()).toBe('back');
  });

  it('the flow table has a limit', async () => {
    const env = newEnv();
    const udp = useUdp(env, 60_000, 2);
    const srv = await server();
    for (const port of [1000, 1001, 1002, 1000]) env.inject(udpFrame(GUEST4, GW4, port, srv.port, Buffer.from(String(port))));
    expect(udp.count).toBe(2);
    expect(env.drops('udp_table_full')).toBe(1);
    await srv.nth(2);
    // (datagrams from different host sockets may arrive in any order)
    expect(srv.got.map((d) => d.msg.toString()).sort()).toEqual(['1000', '1000', '1001']);
  });

  it('multicast and broadcast destinations are dropped and counted, with no socket opened', () => {
    const env = newEnv();
    for (const dst of ['224.0.0.251', '239.255.255.250', '255.255.255.255']) env.inject(udpFrame(GUEST4, parse4(dst), 5353, 5353, Buffer.from('m')));
    env.inject(udpFrame(GUEST6, parse6('ff02::fb'), 5353, 5353, Buffer.from('m')));
    expect(env.drops('udp_multicast')).toBe(4);
    expect(env.d.udp.count).toBe(0);
  });

  it('malformed datagrams are dropped and counted: short, length beyond the packet, destination port 0', () => {
    const env = newEnv();
    const good = udpFrame(GUEST4, GW4, 40006, 9, Buffer.from('abcd'));
    const long = Buffer.from(good);
    long.writeUInt16BE(13, 14 + 20 + 4); // UDP length 13 > 12
    env.inject(long);
    const tiny = Buffer.from(good);
    tiny.writeUInt16BE(7, 14 + 20 + 4);
    env.inject(tiny);
    env.inject(udpFrame(GUEST4, GW4, 40006, 0, Buffer.from('x')));
    // an IPv4 packet whose payload is only 7 bytes
    const short = udpFrame(GUEST4, GW4, 40006, 9, Buffer.alloc(0)).subarray(0, 14 + 20 + 7);
    short.writeUInt16BE(27, 14 + 2);
    short.writeUInt16BE(0, 14 + 10);
    short.writeUInt16BE(~onesSum(short.subarray(14, 34)) & 0xffff, 14 + 10);
    env.inject(short);
    expect(env.drops('udp_malformed')).toBe(4);
    expect(env.d.udp.count).toBe(0);
  });

  it('replies larger than the MTU are dropped and counted', async () => {
    const env = newEnv({ mtu: 1280 });
    const srv = await server();
    env.inject(udpFrame(GUEST4, GW4, 40007, srv.port, Buffer.from('x')));
    const d = await srv.nth(0);
    await srv.reply(d, Buffer.alloc(1280 - 28 + 1, 1)); // 1281 bytes of IP
    await srv.reply(d, Buffer.alloc(1280 - 28, 2)); // exactly the MTU
    const f = await env.link.take(isUdp);
    expect(f.udp!.data).toEqual(Buffer.alloc(1252, 2));
    expect(f.raw).toHaveLength(14 + 1280);
    expect(env.drops('udp_to_guest_over_mtu')).toBe(1);
  });

  it.for([4, 6] as const)('IPv%i: a reply comes from the address the guest sent to, even the host\'s own address', async (family, t) => {
    // pasta -a ADDR -g GW: the guest may talk to the host's real address;
    // replies from it must not be rewritten to the gateway (as replies from
    // the host are when the guest did not address it directly)
    const hostAddr = Object.values(os.networkInterfaces()).flat()
      .find((a) => a && !a.internal && a.family === `IPv${family}` && !a.address.startsWith('fe80:'))?.address;
    if (!hostAddr) {
      console.warn(`skipped: this host has no non-loopback IPv${family} address`);
      t.skip();
      return;
    }
    const v6 = family === 6;
    const host = v6 ? parse6(hostAddr) : parse4(hostAddr);
    const env = newEnv({ tweak: (p) => (v6 ? (p.v6!.hostAddr = host as Buffer) : (p.v4!.hostAddr = host as number)) });
    const srv = await UdpServer.bind(v6 ? 'udp6' : 'udp4', v6 ? '::' : '0.0.0.0');
    servers.push(srv);
    const [guest, gw] = v6 ? [GUEST6, GW6] : [GUEST4, GW4];
    env.inject(udpFrame(guest, host, 40009, srv.port, Buffer.from('to the host address')));
    env.inject(udpFrame(guest, gw, 40009, srv.port, Buffer.from('to the gateway')));
    const [a, b] = [await srv.nth(0), await srv.nth(1)];
    expect(a.rinfo.port).toBe(b.rinfo.port); // one flow
    await srv.reply(a, Buffer.from('1'));
    await srv.reply(b, Buffer.from('2'));
    const r1 = await env.link.take(isUdp);
    const r2 = await env.link.take(isUdp);
    const bySrc = Object.fromEntries([r1, r2].map((f) => [f.udp!.data.toString(), f.src]));
    // the server answers each from the address it was reached at: the host's address, and loopback for the gateway
    expect(bySrc).toEqual({ 1: v6 ? format6(host as Buffer) : hostAddr, 2: v6 ? '2001:db8::2' : '10.0.2.2' });
  });

  it('inbound: a datagram on a forwarded port reaches the guest; the reply leaves through the forwarded socket', async () => {
    const env = newEnv();
    const fwd = await server(); // stands for the socket on a -u forwarded port
    fwd.sock.on('message', (msg, rinfo) => env.d.udp.inbound(fwd.sock, rinfo.address, rinfo.port, false, GW4, 5353, msg));
    const client = await server();
    client.sock.send('query', fwd.port, '127.0.0.1');
    const f = await env.link.take(isUdp);
    expect([f.src, f.dst]).toEqual(['10.0.2.2', '10.0.2.15']);
    expect(f.udp).toMatchObject({ srcPort: client.port, dstPort: 5353, csumOk: true });
    expect(f.udp!.data.toString()).toBe('query');
    env.inject(udpFrame(GUEST4, GW4, 5353, client.port, Buffer.from('answer')));
    const d = await client.nth(0);
    expect(d.msg.toString()).toBe('answer');
    expect(d.rinfo.port).toBe(fwd.port);
    expect(env.d.udp.count).toBe(0); // no outbound flow was needed
  });

  it('service hooks consume datagrams first; with --no-udp nothing is forwarded', () => {
    const env = newEnv();
    const seen: number[] = [];
    env.d.hooks.udp4 = (buf, _s, _d, l4Off) => {
      seen.push(buf.readUInt16BE(l4Off + 2));
      return buf.readUInt16BE(l4Off + 2) === 67;
    };
    env.inject(udpFrame(GUEST4, GW4, 68, 67, Buffer.from('dhcp')));
    expect(env.d.udp.count).toBe(0);
    expect(seen).toEqual([67]);
    const off = newEnv({ udp: false });
    off.inject(udpFrame(GUEST4, GW4, 40008, 9, Buffer.from('x')));
    expect(off.d.udp.count).toBe(0);
  });
});

// A burst of guest datagrams (frames handled in one go, as one read of the
// tap gives them) leaves by one sendmsg() with UDP_SEGMENT per run of one
// flow, destination and size (src/flow/udp.ts, UdpBatch).
describe('UDP batches', () => {
  it('a burst of 130 datagrams of one flow arrives whole and in order: the first at once, the rest in batches of at most 64', async () => {
    const env = newEnv();
    const srv = await server();
    // (the server reads only after the burst: room for all of it)
    srv.sock.setRecvBufferSize(1 << 20);
    const r = rng(99);
    const sent = Array.from({ length: 130 }, (_, i) => (i === 129 ? r.bytes(333) : r.bytes(1000)));
    for (const p of sent) env.inject(udpFrame(GUEST4, GW4, 41000, srv.port, p));
    await srv.nth(129);
    expect(srv.got.map((d) => d.msg)).toEqual(sent);
    const b = env.d.udp.batch;
    expect(b.batches).toBe(2); // 1, then 64 + 64, then the last (shorter, and a batch was full)
    expect(b.batched).toBe(128);
  });

  it('IPv6; two destinations interleaved, sizes changing: every datagram, in order per destination', async () => {
    const env = newEnv();
    const a = await server('udp6');
    const c = await server('udp6');
    const r = rng(100);
    const toA: Buffer[] = [];
    const toC: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const p = r.bytes(i < 20 ? 900 : 500 + i);
      if (i % 5 === 4) toC.push(p);
      else toA.push(p);
      env.inject(udpFrame(GUEST6, GW6, 41001, i % 5 === 4 ? c.port : a.port, p));
    }
    await a.nth(toA.length - 1);
    await c.nth(toC.length - 1);
    expect(a.got.map((d) => d.msg)).toEqual(toA);
    expect(c.got.map((d) => d.msg)).toEqual(toC);
    expect(env.d.udp.batch.batches).toBeGreaterThan(0);
  });

  it('empty datagrams in a burst: each one arrives', async () => {
    const env = newEnv();
    const srv = await server();
    for (let i = 0; i < 5; i++) env.inject(udpFrame(GUEST4, GW4, 41002, srv.port, Buffer.alloc(0)));
    await srv.nth(4);
    expect(srv.got.map((d) => d.msg.length)).toEqual([0, 0, 0, 0, 0]);
  });

  it('a refused batch is sent again one by one, and that flow sends one by one from then on', async () => {
    const calls: Array<{ len: number; seg: number }> = [];
    const io = {
      sendTo4: (_fd: number, _b: Buffer, _o: number, len: number, _a: number, _p: number, seg: number) => {
        calls.push({ len, seg });
        return seg ? -5 : len; // EIO: no checksum offload on the way out
      },
    } as unknown as FastIo;
    const env = newEnv();
    const batch = new UdpBatch(io, env.ctx);
    const flow = { sock: { fd: 7 }, guestPort: 1, noBatch: false };
    const frame = Buffer.alloc(4000, 1);
    for (let i = 0; i < 4; i++) batch.add(flow as never, false, 0x7f000001, 53, frame, i * 1000, 1000);
    expect(calls).toEqual([{ len: 1000, seg: 0 }]); // the first at once; the rest wait for the end of the burst
    await Promise.resolve();
    expect(calls).toEqual([{ len: 1000, seg: 0 }, { len: 3000, seg: 1000 }, { len: 1000, seg: 0 }, { len: 1000, seg: 0 }, { len: 1000, seg: 0 }]);
    expect(flow.noBatch).toBe(true);
    expect(batch.batches).toBe(0);
    expect(env.ctx.counters.drops.get('udp_host_send')).toBeUndefined();
  });
});
