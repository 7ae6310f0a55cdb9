import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fastIo } from '../../../src/io/fastio.js';
import { IPPROTO_TCP, parse4 } from '../../../src/wire/ip.js';
import { l4Checksum } from '../helpers/csum.js';
import { type Env, envFactory, GUEST4, GUEST6, GW4, GW6 } from '../helpers/env.js';
import { type Frame, GUEST_MAC, flagStr, tcpFrame } from '../helpers/frames.js';
import { ACK, FIN, GuestTcp, PSH, RST, SYN } from '../helpers/guesttcp.js';
import { rng } from '../helpers/rng.js';
import { TcpServer, closedPort } from '../helpers/servers.js';

const newEnv = envFactory();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(host = '127.0.0.1', opts: net.ServerOpts = {}): Promise<TcpServer> {
  const s = await TcpServer.listen(host, opts);
  cleanups.push(() => s.close());
  return s;
}

const add = (a: number, n: number): number => (a + n) >>> 0;
const flags = (f: Frame): string => flagStr(f.tcp!.flags);
const hasData = (f: Frame): boolean => f.tcp!.data.length > 0;

/** A connected guest and the server's end of the connection. */
async function connected(env: Env, srv: TcpServer, o: Partial<ConstructorParameters<typeof GuestTcp>[1]> = {}) {
  const g = new GuestTcp(env, { dstPort: srv.port, ...o });
  await g.connect();
  const peer = await srv.accepted();
  return { g, peer };
}

describe('TCP handshake', () => {
  it('SYN -> SYN-ACK with MSS and window scale when the guest offered it; the host socket is connected first', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port, mss: 1460, wscale: 7 });
    const sa = await g.syn();
    expect(srv.conns).toHaveLength(1); // connected before the SYN-ACK
    const t = sa.tcp!;
    expect(sa.dstMac).toEqual(GUEST_MAC);
    expect([sa.src, sa.dst]).toEqual(['10.0.2.2', '10.0.2.15']);
    expect(flags(sa)).toBe('SA');
    expect(t.srcPort).toBe(srv.port);
    expect(t.dstPort).toBe(g.srcPort);
    expect(t.ack).toBe(add(g.iss, 1));
    expect(t.window).toBe(65535); // never scaled in a SYN
    expect(t.hlen).toBe(28);
    expect(t.options.toString('hex')).toBe('0204ffc8' + '01030308'); // MSS 65480 (MTU 65520), NOP, WS 8
    expect(t.data).toHaveLength(0);
    const z = Buffer.from(sa.l4!);
    z.writeUInt16BE(0, 16);
    expect(t.csum).toBe(l4Checksum(GW4, GUEST4, IPPROTO_TCP, z));
    g.ack();
    expect(env.d.tcp.stats).toMatchObject({ conns: 1, opened: 1, refused: 0 });
  });

  it('no window scale option when the guest did not offer one; windows are then unscaled', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port, wscale: -1, mss: 1000 });
    const sa = await g.connect();
    expect(sa.tcp!.options.toString('hex')).toBe('0204ffc8');
    expect(sa.tcp!.wscale).toBeUndefined();
    g.send(ACK | PSH, { data: Buffer.from('x') });
    const a = await g.next();
    expect(flags(a)).toBe('A');
    expect(a.tcp!.window).toBe(65535);
    expect(a.tcp!.ack).toBe(g.sndNxt);
    expect(a.tcp!.seq).toBe(add(sa.tcp!.seq, 1));
  });

  it('IPv6: SYN-ACK from the gateway with MSS for a 40-byte header', async () => {
    const env = newEnv();
    const srv = await server('::1');
    const g = new GuestTcp(env, { dstPort: srv.port, v6: true });
    const sa = await g.connect();
    expect([sa.src, sa.dst]).toEqual(['2001:db8::2', '2001:db8::15']);
    expect(sa.tcp!.mss).toBe(65520 - 60);
    expect(sa.tcp!.wscale).toBe(8);
    const z = Buffer.from(sa.l4!);
    z.writeUInt16BE(0, 16);
    expect(sa.tcp!.csum).toBe(l4Checksum(GW6, GUEST6, IPPROTO_TCP, z));
    const peer = await srv.accepted();
    expect(peer.sock.remoteAddress).toBe('::1');
  });

  it('the MSS follows the MTU', async () => {
    const env = newEnv({ mtu: 1500 });
    const srv = await server();
    const sa = await new GuestTcp(env, { dstPort: srv.port }).syn();
    expect(sa.tcp!.mss).toBe(1460);
  });

  it('a retransmitted SYN gets the same SYN-ACK again', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    const sa = await g.syn();
    g.send(SYN, { seq: g.iss, mss: 1460, wscale: 7 });
    const again = await g.next();
    expect(flags(again)).toBe('SA');
    expect(again.tcp!.seq).toBe(sa.tcp!.seq);
    expect(again.tcp!.ack).toBe(add(g.iss, 1));
    expect(env.d.tcp.stats.opened).toBe(1);
  });

  it('the SYN-ACK is retransmitted when the guest does not complete the handshake', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    const sa = await g.syn();
    const t0 = Date.now();
    const again = await g.next(() => true, 2000, 'retransmitted SYN-ACK');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(flags(again)).toBe('SA');
    expect(again.tcp!.seq).toBe(sa.tcp!.seq);
  });

  it('a connect that takes 30 s is given up: RST|ACK to the guest, counted as refused; not before', async () => {
    const env = newEnv({ nodeTimers: true });
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // the fake clock runs before the event loop could report the connect done
    g.send(SYN, { mss: 1460, wscale: 7 });
    vi.advanceTimersByTime(29_999);
    expect(g.nextNow()).toBeUndefined();
    vi.advanceTimersByTime(1);
    const r = g.nextNow();
    expect(r && flags(r)).toBe('RA');
    expect(r!.tcp!.ack).toBe(add(g.iss, 1));
    expect(env.d.tcp.stats).toMatchObject({ conns: 0, refused: 1 });
    vi.useRealTimers();
    await new Promise((r) => setTimeout(r, 20)); // the late connect finds nothing to answer
    expect(g.nextNow()).toBeUndefined();
  });

  it('a closed port is refused at once with RST|ACK (seq 0, ack = ISN + 1)', async () => {
    const env = newEnv();
    const port = await closedPort();
    const g = new GuestTcp(env, { dstPort: port });
    const t0 = Date.now();
    g.send(SYN, { mss: 1460, wscale: 7 });
    const r = await g.next();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(flags(r)).toBe('RA');
    expect(r.tcp!.seq).toBe(0);
    expect(r.tcp!.ack).toBe(add(g.iss, 1));
    expect(r.tcp!.window).toBe(0);
    await vi.waitFor(() => expect(env.d.tcp.stats).toMatchObject({ conns: 0, refused: 1 }), { interval: 5 });
    // and a new SYN on the same ports opens a new connection attempt
    g.send(SYN, { seq: g.iss, mss: 1460 });
    expect(flags(await g.next())).toBe('RA');
    expect(env.d.tcp.stats.opened).toBe(2);
  });
});

describe('TCP segments for no connection', () => {
  it('an ACK segment gets RST with seq = its ack (RFC 9293 3.10.7.1)', () => {
    const env = newEnv();
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 1000, ack: 5000, flags: ACK, data: Buffer.from('abc') }));
    const r = env.link.takeNow()!;
    expect([r.src, r.dst]).toEqual(['10.0.2.2', '10.0.2.15']);
    expect(r.tcp).toMatchObject({ srcPort: 2222, dstPort: 1111, seq: 5000, flags: RST, window: 0 });
    expect(r.tcp!.data).toHaveLength(0);
  });

  it('a segment without ACK gets RST|ACK with seq 0 and ack = seq + length (SYN and FIN count)', () => {
    const env = newEnv();
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 0xfffffffe, flags: FIN, data: Buffer.from('abcd') }));
    const r = env.link.takeNow()!;
    expect(r.tcp).toMatchObject({ seq: 0, ack: 3, flags: RST | ACK });
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 77, flags: PSH }));
    expect(env.link.takeNow()!.tcp).toMatchObject({ seq: 0, ack: 77, flags: RST | ACK });
  });

  it('IPv6: addresses swapped', () => {
    const env = newEnv();
    env.inject(tcpFrame(GUEST6, GW6, { srcPort: 1111, dstPort: 2222, seq: 1, ack: 2, flags: ACK }));
    const r = env.link.takeNow()!;
    expect([r.src, r.dst]).toEqual(['2001:db8::2', '2001:db8::15']);
    expect(r.tcp).toMatchObject({ srcPort: 2222, dstPort: 1111, seq: 2, flags: RST });
  });

  it('a RST, a SYN|ACK or a SYN|RST for no connection opens nothing; a RST is not answered', () => {
    const env = newEnv();
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 1, ack: 2, flags: RST | ACK }));
    expect(env.link.sent).toHaveLength(0);
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 1, ack: 2, flags: SYN | ACK }));
    expect(env.link.takeNow()!.tcp).toMatchObject({ flags: RST, seq: 2 });
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1111, dstPort: 2222, seq: 1, flags: SYN | RST }));
    expect(env.link.sent).toHaveLength(1);
    expect(env.d.tcp.stats.opened).toBe(0);
  });

  it('malformed TCP headers are dropped and counted', () => {
    const env = newEnv();
    const f = tcpFrame(GUEST4, GW4, { srcPort: 1, dstPort: 2, seq: 1, flags: SYN });
    f[14 + 20 + 12] = 0x40; // data offset 16
    env.inject(f);
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 1, dstPort: 2, seq: 1, flags: SYN }).subarray(0, 14 + 20 + 19).fill(0x45, 14, 15));
    expect(env.drops('tcp_malformed')).toBe(1);
    expect(env.drops('ipv4_truncated')).toBe(1);
    expect(env.link.sent).toHaveLength(0);
  });

  it('Ethernet padding after a bare ACK is not taken for data', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    await g.syn();
    // the handshake's ACK in a minimum-size (60-byte) frame: 6 bytes of padding
    const f = tcpFrame(g.src, g.dst, { srcPort: g.srcPort, dstPort: g.dstPort, seq: g.sndNxt, ack: g.rcvNxt, flags: ACK }, { pad: 6 });
    expect(f).toHaveLength(60);
    env.inject(f);
    g.send(ACK | PSH, { data: Buffer.from('ok') });
    const peer = await srv.accepted();
    await peer.waitBytes(2);
    const a = await g.next((f) => f.tcp!.ack === g.sndNxt);
    expect(a.tcp!.ack).toBe(g.sndNxt);
    expect(peer.data().toString()).toBe('ok');
  });
});

describe('TCP data', () => {
  it('guest -> host: 1 MiB of random data arrives byte-exact; every ACK is cumulative and windows stay in range', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    const data = rng(1).bytes(1 << 20);
    const windows: number[] = [];
    await g.sendStream(data, 1460, { onWindow: (w) => windows.push(w) });
    await g.waitAcked();
    await peer.waitBytes(data.length);
    expect(peer.bytes).toBe(data.length);
    expect(peer.data().equals(data)).toBe(true);
    expect(g.peerAck).toBe(g.sndNxt);
    // with the fastio addon most of it goes from the frame to the kernel directly
    const { directBytes, streamBytes } = env.d.tcp.stats;
    expect(directBytes + streamBytes).toBe(data.length);
    if (fastIo()) expect(directBytes).toBeGreaterThan(data.length / 2);
    else expect(directBytes).toBe(0);
    expect(windows.length).toBeGreaterThan(0);
    const max = Math.max(...windows);
    expect(max).toBeGreaterThanOrEqual(64 << 10);
    expect(max).toBeLessThanOrEqual(16 << 20); // what window scale 8 can express
    // once the host socket has taken everything, the window is back to its full size
    await peer.waitBytes(data.length);
    await new Promise((r) => setImmediate(r));
    g.send(ACK | PSH, { data: Buffer.from('!') });
    const last = await g.next((f) => f.tcp!.ack === g.sndNxt);
    expect(last.tcp!.window << 8).toBeGreaterThanOrEqual(max);
  });

  // Reads from several host sockets once shared a buffer that one connection
  // had also put in its queue, so another's read could overwrite queued data
  // (the half-close integration tests saw it as wrong checksums).
  // 64 KiB host reads against a 65480-byte MSS: sent one by one, each read
  // would leave a 56-byte frame behind its full one (twice the frames).
  it('host -> guest, 8 MiB: the reads of one wakeup go out together, not a small frame per read', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv, { mss: 65480, wscale: 7 });
    const data = rng(77).bytes(8 << 20);
    peer.sock.write(data);
    expect((await g.recv(data.length, { timeoutMs: 5000 })).equals(data)).toBe(true);
    const sizes = env.link.sent.map((f) => f.tcp?.data.length ?? 0).filter((n) => n > 0);
    const full = sizes.filter((n) => n === 65480).length;
    const small = sizes.filter((n) => n < 4096).length;
    expect(full).toBeGreaterThan(50);
    if (fastIo()) expect(small, `${small} small frames against ${full} full ones`).toBeLessThan(full / 4);
  });

  it('host -> guest on four connections at once: each 1 MiB arrives byte-exact', async () => {
    const env = newEnv();
    const srv = await server();
    const conns = [];
    for (let i = 0; i < 4; i++) conns.push(await connected(env, srv, { mss: 1460 }));
    const datas = conns.map((_, i) => rng(40 + i).bytes(1 << 20));
    conns.forEach(({ peer }, i) => peer.sock.write(datas[i]));
    // let all four read while their data waits, unacknowledged, in their queues
    await new Promise((r) => setTimeout(r, 100)); // (less than the 200 ms RTO)
    const got = await Promise.all(conns.map(({ g }) => g.recv(1 << 20, { maxSeg: 1460, timeoutMs: 5000 })));
    got.forEach((b, i) => expect(b.equals(datas[i]), `connection ${i}`).toBe(true));
  });

  it('host -> guest: 1 MiB arrives byte-exact, in order, in segments of at most the guest MSS', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv, { mss: 1460 });
    const data = rng(2).bytes(1 << 20);
    peer.sock.write(data);
    const got = await g.recv(data.length, { maxSeg: 1460 });
    expect(got.equals(data)).toBe(true);
    expect(g.rcvNxt).toBe(add(g.peerIss, 1 + data.length));
  });

  it('both directions at once, IPv6, guest MSS 1000 and ACKs every other segment', async () => {
    const env = newEnv();
    const srv = await server('::1');
    const { g, peer } = await connected(env, srv, { v6: true, mss: 1000 });
    const up = rng(3).bytes(300_000);
    const down = rng(4).bytes(300_000);
    peer.sock.write(down);
    const sending = g.sendStream(up, 1200);
    const got = await g.recv(down.length, { maxSeg: 1000, ackEvery: 2 });
    await sending;
    await peer.waitBytes(up.length);
    expect(got.equals(down)).toBe(true);
    expect(peer.data().equals(up)).toBe(true);
  });

  it('data segments carry ACK|PSH, the current ack, and never exceed the guest window', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv, { wscale: 0, window: 3000, mss: 1000 });
    peer.sock.write(rng(5).bytes(10_000));
    const burst: Frame[] = [];
    for (let i = 0; i < 3; i++) burst.push(await g.next(hasData));
    for (const f of burst) {
      expect(flags(f)).toBe('PA');
      expect(f.tcp!.ack).toBe(g.sndNxt);
      expect(f.tcp!.data).toHaveLength(1000);
    }
    await new Promise((r) => setImmediate(r));
    expect(g.nextNow(hasData)).toBeUndefined(); // the window is full
    burst.forEach((f) => g.accept(f));
    g.ack({ ack: add(g.peerIss, 1001) }); // one segment acknowledged: room for one more
    const more = await g.next(hasData);
    expect(more.tcp!.seq).toBe(add(g.peerIss, 3001));
    expect(more.tcp!.data).toHaveLength(1000);
    expect(g.nextNow(hasData)).toBeUndefined();
  });
});

describe('TCP data around the handshake', () => {
  it('a server that speaks first: its banner is held until the handshake completes, then sent', async () => {
    const env = newEnv();
    const srv = await server();
    srv.server.on('connection', (s) => s.write('220 ready\r\n'));
    const g = new GuestTcp(env, { dstPort: srv.port });
    await g.syn();
    await srv.accepted();
    await new Promise((r) => setTimeout(r, 20)); // the banner has reached the translator by now
    expect(g.nextNow(hasData)).toBeUndefined();
    g.ack();
    const d = await g.next(hasData);
    expect(d.tcp!.seq).toBe(add(g.peerIss, 1));
    expect(d.tcp!.data.toString()).toBe('220 ready\r\n');
  });

  it('data in the segment that completes the handshake is delivered', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    await g.syn();
    g.send(ACK | PSH, { data: Buffer.from('GET / HTTP/1.0\r\n\r\n') });
    const peer = await srv.accepted();
    await peer.waitBytes(18);
    expect(peer.data().toString()).toBe('GET / HTTP/1.0\r\n\r\n');
    expect((await g.next()).tcp!.ack).toBe(g.sndNxt);
  });

  it('the guest window is scaled by the shift it offered (not in the SYN itself)', async () => {
    const env = newEnv();
    const srv = await server();
    // SYN window 65535 (unscaled); afterwards 1000 << 2 = 4000 bytes
    const { g, peer } = await connected(env, srv, { wscale: 2, mss: 1000 });
    g.window = 1000;
    g.ack();
    peer.sock.write(rng(11).bytes(10_000));
    const segs: Frame[] = [];
    for (let i = 0; i < 4; i++) segs.push(await g.next(hasData));
    await new Promise((r) => setTimeout(r, 20));
    expect(g.nextNow(hasData)).toBeUndefined();
    expect(segs.map((f) => f.tcp!.seq - g.peerIss - 1)).toEqual([0, 1000, 2000, 3000]);
  });
});

describe('TCP sequence handling', () => {
  it('an out-of-order segment is dropped and re-ACKed with the expected sequence number', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    const base = g.sndNxt;
    g.send(ACK | PSH, { seq: add(base, 5), data: Buffer.from('world') });
    const dup = await g.next();
    expect(flags(dup)).toBe('A');
    expect(dup.tcp!.ack).toBe(base);
    g.send(ACK | PSH, { seq: base, data: Buffer.from('hello') });
    expect((await g.next()).tcp!.ack).toBe(add(base, 5));
    g.send(ACK | PSH, { seq: add(base, 5), data: Buffer.from('world') });
    g.sndNxt = add(base, 10);
    expect((await g.next()).tcp!.ack).toBe(add(base, 10));
    await peer.waitBytes(10);
    expect(peer.data().toString()).toBe('helloworld');
  });

  it('retransmitted data is not written twice; a partial overlap delivers only the new part', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    const base = g.sndNxt;
    g.send(ACK | PSH, { data: Buffer.from('hello') });
    await g.next((f) => f.tcp!.ack === add(base, 5));
    g.send(ACK | PSH, { seq: base, data: Buffer.from('hello') }); // exact duplicate
    g.send(ACK | PSH, { seq: add(base, 2), data: Buffer.from('llo, world') }); // overlaps by 3
    g.sndNxt = add(base, 12);
    await g.next((f) => f.tcp!.ack === add(base, 12));
    await peer.waitBytes(12);
    g.send(ACK | PSH, { data: Buffer.from('!') });
    await peer.waitBytes(13);
    expect(peer.data().toString()).toBe('hello, world!');
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onSegment): a retransmission that ends
  // exactly at rcvNxt (the usual case: our ACK was lost) leaves len = 0 after
  // trimming, and the "wholly old" branch only runs for d > seg.dataLen, so
  // no ACK is sent. The guest retransmits with backoff and never hears back.
  // Fails with: "no re-ACK of a duplicate segment within 1000 ms".
  it('an exact duplicate of acknowledged data is re-ACKed', async () => {
    const env = newEnv();
    const srv = await server();
    const { g } = await connected(env, srv);
    const base = g.sndNxt;
    g.send(ACK | PSH, { data: Buffer.from('hello') });
    await g.next((f) => f.tcp!.ack === add(base, 5));
    g.send(ACK | PSH, { seq: base, data: Buffer.from('hello') });
    const a = await g.next(() => true, 1000, 're-ACK of a duplicate segment');
    expect(a.tcp!.ack).toBe(add(base, 5));
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onSegment): a segment with no data whose
  // sequence number is below rcvNxt (a keepalive probe: seq = rcvNxt - 1, as
  // Linux sends with SO_KEEPALIVE) must be answered with an ACK (RFC 9293
  // 3.10.7.4); onSegment ignores every zero-length segment without FIN, so
  // the guest's keepalive fails and it drops a healthy connection.
  // Fails with: "no ACK to a keepalive probe within 1000 ms".
  it('a keepalive probe (seq = rcvNxt - 1, no data) is ACKed', async () => {
    const env = newEnv();
    const srv = await server();
    const { g } = await connected(env, srv);
    g.send(ACK, { seq: add(g.sndNxt, -1 >>> 0) });
    const a = await g.next(() => true, 1000, 'ACK to a keepalive probe');
    expect(flags(a)).toBe('A');
    expect(a.tcp!.ack).toBe(g.sndNxt);
  });
});

describe('TCP segments that do not fit the connection state', () => {
  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onSegment): a SYN on a synchronized
  // connection is silently ignored. When the guest has forgotten a connection
  // the host side still holds (guest FIN, server never closes; the guest's
  // FIN-WAIT-2 times out) and reuses the port, its SYNs go unanswered until
  // the host closes. RFC 9293 3.10.7.4 / RFC 5961 4: answer with a challenge
  // ACK, whose unacceptable ack makes the guest send a RST that clears the
  // old connection; the next SYN then opens a new one.
  // Fails with: "answer to a SYN on an established connection within 1000 ms".
  it('a new SYN on the ports of a half-closed connection gets a challenge ACK, and the connection can be reopened', async () => {
    const env = newEnv();
    const srv = await server();
    const { g } = await connected(env, srv);
    g.send(ACK | FIN);
    await g.next((f) => f.tcp!.ack === g.sndNxt);
    // the guest forgot the connection: same ports, new ISN
    const g2 = new GuestTcp(env, { dstPort: srv.port, srcPort: g.srcPort, iss: add(g.iss, 0x40000000) });
    g2.send(SYN, { mss: 1460, wscale: 7 });
    const ch = await g2.next(() => true, 1000, 'answer to a SYN on an established connection');
    expect(flags(ch)).toBe('A');
    expect(ch.tcp!.ack).toBe(g.sndNxt); // the old connection's ack: unacceptable to the new SYN-SENT guest
    g2.send(RST, { seq: ch.tcp!.ack });
    g2.sndNxt = g2.iss; // the SYN again, as the guest retransmits it
    const sa = await g2.syn();
    expect(flags(sa)).toBe('SA');
    expect(env.d.tcp.stats.opened).toBe(2);
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onAck/onSegment): during the handshake
  // (SYN-ACK sent) a segment whose ACK does not acknowledge our SYN is not
  // rejected: onAck returns early but onSegment goes on and writes the
  // segment's data to the host socket. RFC 9293 3.10.7.4 (SYN-RECEIVED):
  // an unacceptable ACK gets a RST and its data is dropped.
  // Fails with: expected 'evil' to be 'good'.
  it('data on a segment with an unacceptable ACK during the handshake is not delivered', async () => {
    const env = newEnv();
    const srv = await server();
    const g = new GuestTcp(env, { dstPort: srv.port });
    await g.syn();
    const peer = await srv.accepted();
    const seq = g.sndNxt;
    g.send(ACK | PSH, { seq, ack: add(g.rcvNxt, 12345), data: Buffer.from('evil') });
    g.send(ACK, { seq });
    g.send(ACK | PSH, { seq, data: Buffer.from('good') });
    g.sndNxt = add(seq, 4);
    await peer.waitBytes(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.data().toString()).toBe('good');
  });
});

describe('TCP retransmission', () => {
  it('unacknowledged data is sent again after the RTO (200 ms), then with backoff', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv, { mss: 1460 });
    const data = rng(6).bytes(1000);
    peer.sock.write(data);
    const first = await g.next(hasData);
    const t0 = Date.now();
    const again = await g.next(hasData, 2000, 'retransmission');
    const t1 = Date.now();
    expect(t1 - t0).toBeGreaterThanOrEqual(180);
    expect(again.tcp!.seq).toBe(first.tcp!.seq);
    expect(again.tcp!.data.equals(data)).toBe(true);
    const third = await g.next(hasData, 2000, 'second retransmission');
    expect(Date.now() - t1).toBeGreaterThanOrEqual(360); // doubled
    expect(third.tcp!.seq).toBe(first.tcp!.seq);
    expect(env.d.tcp.stats.retransmits).toBe(2);
    g.accept(first);
    g.ack();
    peer.sock.write(Buffer.from('next'));
    const next = await g.next(hasData);
    expect(next.tcp!.seq).toBe(add(first.tcp!.seq, 1000));
    expect(next.tcp!.data.toString()).toBe('next');
  });

  // The RTO is disarmed lazily when everything is acknowledged (no timer per
  // round trip): the pending timeout must then do nothing, and data sent
  // after it was disarmed must still be retransmitted, never before one RTO.
  it('request/response traffic: acknowledged data is never sent again; the next unacknowledged data is, after one to two RTOs', async () => {
    const env = newEnv({ nodeTimers: true });
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (let i = 0; i < 5; i++) {
      peer.sock.write(Buffer.from(`reply ${i}`));
      const d = await g.next(hasData);
      g.accept(d);
      g.ack();
    }
    expect(vi.getTimerCount()).toBeLessThanOrEqual(1); // not one per round trip
    vi.advanceTimersByTime(1000);
    expect(g.nextNow(hasData)).toBeUndefined(); // all acknowledged: nothing again
    expect(env.d.tcp.stats.retransmits).toBe(0);
    // armed again while an old timeout is pending, and unacknowledged
    peer.sock.write(Buffer.from('first'));
    g.accept(await g.next(hasData));
    g.ack();
    peer.sock.write(Buffer.from('lost'));
    const lost = await g.next(hasData);
    vi.advanceTimersByTime(199);
    expect(g.nextNow(hasData)).toBeUndefined(); // not before the RTO
    vi.advanceTimersByTime(201);
    const again = g.nextNow(hasData); // by two RTOs
    expect(again).toBeDefined();
    expect(again!.tcp!.seq).toBe(lost.tcp!.seq);
    expect(again!.tcp!.data.toString()).toBe('lost');
    expect(env.d.tcp.stats.retransmits).toBe(1);
  });

  it('a small pushed request gets its ACK with the answer; unanswered, after one to two 1 ms ticks, never early for a newer request', async () => {
    const env = newEnv({ nodeTimers: true });
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const isAck = (f: Frame): boolean => !hasData(f) && flags(f) === 'A';
    // (vi.waitFor would advance the fake clock)
    const until = async (cond: () => boolean): Promise<void> => {
      for (let i = 0; !cond(); i++) {
        if (i > 100_000) throw new Error('timed out');
        await new Promise((r) => setImmediate(r));
      }
    };
    // answered at once: no pure ACK, the answer carries it (after the first
    // exchange: Node's streams open the window from the SYN-ACK's 64 KiB
    // with an update once the first write is flushed)
    for (let i = 0; i < 3; i++) {
      if (i === 1) g.drain();
      g.send(ACK | PSH, { data: Buffer.from(`request ${i}`) });
      await until(() => peer.bytes === (i + 1) * 9);
      peer.sock.write(Buffer.from(`answer ${i}`));
      const a = await g.next(hasData);
      expect(a.tcp!.ack).toBe(g.sndNxt);
      g.accept(a);
      g.ack();
    }
    expect(g.nextNow(isAck)).toBeUndefined();
    // the next request goes out while the tick armed by the first is still pending:
    // that tick finds it younger than a tick and leaves it for the next one
    g.send(ACK | PSH, { data: Buffer.from('request 3') });
    await until(() => peer.bytes === 36);
    vi.advanceTimersByTime(1);
    expect(g.nextNow(isAck)).toBeUndefined();
    vi.advanceTimersByTime(1);
    const late = g.nextNow(isAck);
    expect(late).toBeDefined();
    expect(late!.tcp!.ack).toBe(g.sndNxt);
    vi.advanceTimersByTime(5);
    expect(g.nextNow(isAck)).toBeUndefined(); // once
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2); // the RTO and the tick, not one per request
  });

  it('three duplicate ACKs trigger an immediate retransmission from the first unacknowledged byte', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv, { mss: 1000 });
    const data = rng(7).bytes(4000);
    peer.sock.write(data);
    const segs: Frame[] = [];
    while (segs.reduce((n, f) => n + f.tcp!.data.length, 0) < 4000) segs.push(await g.next(hasData));
    const s0 = segs[0].tcp!.seq;
    // the first segment arrived, the second was lost
    g.accept(segs[0]);
    g.ack();
    expect(g.nextNow(hasData)).toBeUndefined();
    g.ack();
    g.ack();
    expect(g.nextNow(hasData)).toBeUndefined(); // two duplicates are not enough
    g.ack();
    const re = g.nextNow(hasData); // sent synchronously, long before the RTO
    expect(re).toBeDefined();
    expect(re!.tcp!.seq).toBe(add(s0, 1000));
    expect(re!.tcp!.data.equals(data.subarray(1000, 2000))).toBe(true);
    expect(env.d.tcp.stats.retransmits).toBe(1);
    // the rest follows; everything arrives once acknowledged in order
    g.accept(re!);
    const rest = await g.recv(4000);
    expect(rest.equals(data)).toBe(true);
  });

  it('a zero window from the guest stops data (probes only); a window update resumes it', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.ack({ window: 0 });
    const data = rng(8).bytes(5000);
    peer.sock.write(data);
    const probe = await g.next(() => true, 2000, 'window probe');
    expect(flags(probe)).toBe('A');
    expect(probe.tcp!.data).toHaveLength(0);
    expect(probe.tcp!.seq).toBe(g.peerIss); // snd.una - 1
    g.ack({ window: 0 });
    expect(g.nextNow(hasData)).toBeUndefined();
    g.ack({ window: 0xffff });
    const got = await g.recv(5000);
    expect(got.equals(data)).toBe(true);
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onTimeout): window probes count as
  // retries, and `retries` is only reset by an ACK that acknowledges new
  // data, so after MAX_RETRIES (12) probes, about 72 s of zero window, the
  // connection is reset although the guest answers every probe. RFC 1122
  // 4.2.2.17: as long as the receiver keeps acknowledging the probes, the
  // sender MUST keep the connection open.
  // Fails with: probe 13: expected 'RA' not to be 'RA' (RST|ACK instead of the 13th probe).
  it('a zero window answered by the guest is probed indefinitely, never reset', async () => {
    const env = newEnv({ nodeTimers: true });
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.ack({ window: 0 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    peer.sock.write(Buffer.from('data for a closed window'));
    for (let i = 0; i < 1000 && vi.getTimerCount() === 0; i++) await new Promise((r) => setImmediate(r));
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersToNextTimer();
      const f = g.nextNow();
      expect(f, `probe ${i + 1}`).toBeDefined();
      expect(flags(f!), `probe ${i + 1}`).not.toBe('RA');
      expect(f!.tcp!.data).toHaveLength(0);
      g.ack({ window: 0 });
    }
    vi.useRealTimers();
    g.ack({ window: 0xffff });
    expect((await g.recv(24)).toString()).toBe('data for a closed window');
  });
});

describe('TCP close', () => {
  it('guest FIN first (half-close): the server sees the end, keeps sending, every byte and the FIN arrive', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.send(ACK | PSH | FIN, { data: Buffer.from('request') });
    const a = await g.next((f) => f.tcp!.ack === g.sndNxt);
    expect(a.tcp!.ack).toBe(g.sndNxt); // data and FIN acknowledged
    await peer.waitEnd();
    expect(peer.data().toString()).toBe('request');
    const reply = rng(9).bytes(200_000);
    peer.sock.end(reply);
    const got = await g.recv(reply.length, { fin: true });
    expect(got.equals(reply)).toBe(true);
    expect(g.finReceived).toBe(true);
    await vi.waitFor(() => expect(env.d.tcp.stats.conns).toBe(0), { interval: 5 });
    await peer.waitClose();
    expect(peer.error).toBeUndefined();
  });

  it('host FIN first: data then FIN reach the guest; the guest\'s FIN closes the connection', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    peer.sock.end('bye');
    const got = await g.recv(3, { fin: true });
    expect(got.toString()).toBe('bye');
    const finSeq = g.rcvNxt;
    g.send(ACK | FIN);
    await vi.waitFor(() => expect(env.d.tcp.stats.conns).toBe(0), { interval: 5 });
    await peer.waitClose();
    expect(peer.ended).toBe(true);
    expect(finSeq).toBe(add(g.peerIss, 1 + 3 + 1));
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onSegment/maybeDone): when the guest's FIN
  // arrives after our FIN was acknowledged, onSegment schedules the ACK of
  // the FIN and then maybeDone() closes the connection at once; close() ->
  // TcpTranslator.remove() deletes it from the dirty set, so the ACK is never
  // sent. The guest stays in LAST-ACK, retransmits its FIN and gets a RST.
  // Fails with: "no ACK of the guest's FIN within 1000 ms".
  it('the guest\'s FIN after the host closed first is acknowledged', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    peer.sock.end('bye');
    await g.recv(3, { fin: true });
    g.send(ACK | FIN);
    const a = await g.next(() => true, 1000, 'ACK of the guest\'s FIN');
    expect(flags(a)).toBe('A');
    expect(a.tcp!.ack).toBe(g.sndNxt);
  });

  it('a RST from the guest resets the host socket', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.send(ACK | PSH, { data: Buffer.from('partial') });
    await peer.waitBytes(7);
    await g.waitAcked();
    g.send(RST, { seq: g.sndNxt });
    await peer.waitClose();
    expect((peer.error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    expect(env.d.tcp.stats.conns).toBe(0);
    expect(g.nextNow()).toBeUndefined();
  });

  it('a reset from the host (resetAndDestroy) becomes RST|ACK to the guest', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.send(ACK | PSH, { data: Buffer.from('abc') });
    await peer.waitBytes(3);
    await g.waitAcked();
    peer.sock.resetAndDestroy();
    const r = await g.next((f) => (f.tcp!.flags & RST) !== 0, 2000, 'RST');
    expect(flags(r)).toBe('RA');
    expect(r.tcp!.seq).toBe(add(g.peerIss, 1));
    expect(r.tcp!.ack).toBe(g.sndNxt);
    await vi.waitFor(() => expect(env.d.tcp.stats.conns).toBe(0), { interval: 5 });
    // the ports are free again: a stray ACK now gets a RST from the table, not from the old connection
    g.ack();
    expect((await g.next()).tcp!.flags).toBe(RST);
  });
});

describe('TCP backpressure', () => {
  it('a server that stops reading closes the advertised window; reading again reopens it and every byte arrives', async () => {
    const env = newEnv();
    const srv = await server('127.0.0.1', { pauseOnConnect: true });
    const { g, peer } = await connected(env, srv);
    const limit = 48 << 20;
    const data = rng(10).bytes(limit);
    let sent = 0;
    let zeroAt = -1;
    // send in 64 KiB segments as long as the window allows
    while (sent < limit) {
      const room = g.peerWnd - ((g.sndNxt - g.peerAck) | 0);
      if (room <= 0) {
        if (g.peerWnd === 0 && g.peerAck === g.sndNxt) {
          zeroAt = sent;
          break;
        }
        await g.next((f) => (f.tcp!.flags & ACK) !== 0, 3000, `ACK (sent ${sent})`);
        continue;
      }
      const n = Math.min(65000, room, limit - sent);
      g.send(ACK | PSH, { data: data.subarray(sent, sent + n) });
      sent += n;
    }
    expect(zeroAt, 'the window never closed').toBeGreaterThan(0);
    // bounded: what the translator holds (4 MiB) plus the kernel's socket buffers
    expect(zeroAt).toBeLessThan(40 << 20);
    expect(peer.bytes).toBe(0);
    const rest = sent;
    peer.sock.resume();
    const tail = data.subarray(rest, rest + (1 << 20));
    await g.sendStream(tail, 65000); // waits for the window update
    await peer.waitBytes(rest + tail.length, 10_000);
    expect(peer.data().equals(data.subarray(0, rest + tail.length))).toBe(true);
  });

  // Regression (was a bug in src/flow/tcp.ts since 91c50c1, pooled data buffers: net.connect onread
  // with `buffer: () => this.spare ??= t.pool.get()`): every host read lands
  // in its own 64 KiB pooled buffer, which stays queued until the guest
  // acknowledges it, while SND_LIMIT counts only the bytes read. Small writes
  // from the host peer (one read each) with a guest that does not acknowledge
  // (zero window, slow reader) pin 64 KiB per read: 512 KiB of 10-byte reads
  // would hold 3.3 GB before the socket is paused.
  // Fails with: buffer memory held for 20000 bytes of data: expected 130989431 to be less than 16777216
  // (2000 reads, pool.allocated 2000). Passes with tcp.ts of 1c6f61f, before the pool.
  it('small reads from the host while the guest window is closed hold memory in proportion to the data', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    g.ack({ window: 0 });
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 2000; i++) {
      peer.sock.write('0123456789');
      await new Promise((r) => setImmediate(r)); // one read each
    }
    await new Promise((r) => setTimeout(r, 50));
    const held = process.memoryUsage().arrayBuffers - before;
    expect(held, 'buffer memory held for 20000 bytes of data').toBeLessThan(16 << 20);
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn.onSegment): data beyond the window we
  // advertised is written to the host socket anyway (nothing checks
  // seq + len against rcvNxt + window), so a guest that ignores a closed
  // window makes the translator buffer without limit. RFC 9293 3.10.7.4:
  // trim to the window, ACK, drop the rest.
  // Fails with: bytes accepted beyond a zero window: expected 2080000 to be less than 256
  // (all 32 segments of 65000 bytes sent into the closed window were taken).
  it('data sent into a zero window is not accepted', async () => {
    const env = newEnv();
    const srv = await server('127.0.0.1', { pauseOnConnect: true });
    const { g } = await connected(env, srv);
    const chunk = Buffer.alloc(65000, 1);
    while (!(g.peerWnd === 0 && g.peerAck === g.sndNxt)) {
      const room = g.peerWnd - ((g.sndNxt - g.peerAck) | 0);
      if (room <= 0) await g.next((f) => (f.tcp!.flags & ACK) !== 0);
      else g.send(ACK | PSH, { data: chunk.subarray(0, Math.min(room, chunk.length)) });
    }
    const edge = g.sndNxt;
    for (let i = 0; i < 32; i++) g.send(ACK | PSH, { data: chunk });
    const a = await g.next((f) => (f.tcp!.flags & ACK) !== 0);
    // at most what the scaled zero hides (< 256 bytes) may be taken beyond it
    expect(((a.tcp!.ack - edge) | 0), 'bytes accepted beyond a zero window').toBeLessThan(256);
  });
});

describe('TCP inbound (forwarded port)', () => {
  it('a host peer on a forwarded port becomes a SYN to the guest; data flows both ways', async () => {
    const env = newEnv();
    const fwd = net.createServer({ allowHalfOpen: true }, (sock) => {
      env.d.tcp.inbound(sock, false, GW4, sock.remotePort!, 8080);
    });
    fwd.listen(0, '127.0.0.1');
    await once(fwd, 'listening');
    cleanups.push(() => {
      env.close(); // the translator owns the accepted socket; the server closes once it is gone
      return new Promise<void>((r) => fwd.close(() => r()));
    });
    const client = net.connect((fwd.address() as net.AddressInfo).port, '127.0.0.1');
    cleanups.push(() => void client.destroy());
    await once(client, 'connect');
    const syn = await env.link.take((f) => f.tcp?.dstPort === 8080);
    expect([syn.src, syn.dst]).toEqual(['10.0.2.2', '10.0.2.15']);
    expect(flags(syn)).toBe('S');
    expect(syn.tcp).toMatchObject({ srcPort: client.localPort, ack: 0, window: 65535, mss: 65480, wscale: 8 });
    const g = new GuestTcp(env, { dstPort: client.localPort!, srcPort: 8080, wscale: 7 });
    g.rcvNxt = add(syn.tcp!.seq, 1);
    g.peerIss = syn.tcp!.seq;
    g.peerShift = 8;
    g.send(SYN | ACK, { mss: 1460, wscale: 7 });
    const ack = await g.next();
    expect(flags(ack)).toBe('A');
    expect(ack.tcp!.seq).toBe(add(syn.tcp!.seq, 1));
    expect(ack.tcp!.ack).toBe(g.sndNxt);
    client.write('from the host');
    expect((await g.recv(13)).toString()).toBe('from the host');
    g.send(ACK | PSH, { data: Buffer.from('from the guest') });
    const [d] = (await once(client, 'data')) as [Buffer];
    expect(d.toString()).toBe('from the guest');
  });
});

describe('TCP inbound refused by the guest', () => {
  it('a RST from the guest to our SYN resets the host peer', async () => {
    const env = newEnv();
    const fwd = net.createServer({ allowHalfOpen: true }, (sock) => env.d.tcp.inbound(sock, false, GW4, sock.remotePort!, 8081));
    fwd.listen(0, '127.0.0.1');
    await once(fwd, 'listening');
    cleanups.push(() => {
      env.close();
      return new Promise<void>((r) => fwd.close(() => r()));
    });
    const client = net.connect((fwd.address() as net.AddressInfo).port, '127.0.0.1');
    const closed = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      let err: NodeJS.ErrnoException | undefined;
      client.on('error', (e) => (err = e));
      client.on('close', () => resolve(err));
    });
    const syn = await env.link.take((f) => f.tcp?.dstPort === 8081);
    env.inject(tcpFrame(GUEST4, GW4, { srcPort: 8081, dstPort: syn.tcp!.srcPort, seq: 0, ack: add(syn.tcp!.seq, 1), flags: RST | ACK }));
    expect((await closed)?.code).toBe('ECONNRESET');
    expect(env.d.tcp.stats.conns).toBe(0);
  });
});

describe('TCP with several connections', () => {
  it('connections on the same guest port to different servers, and v4/v6 on the same ports, stay apart', async () => {
    const env = newEnv();
    const a = await server();
    const b = await server();
    const ga = new GuestTcp(env, { dstPort: a.port, srcPort: 45000 });
    const gb = new GuestTcp(env, { dstPort: b.port, srcPort: 45000 });
    await ga.connect();
    await gb.connect();
    const pa = await a.accepted();
    const pb = await b.accepted();
    ga.send(ACK | PSH, { data: Buffer.from('to a') });
    gb.send(ACK | PSH, { data: Buffer.from('to b') });
    pa.sock.write('from a');
    pb.sock.write('from b');
    expect((await ga.recv(6)).toString()).toBe('from a');
    expect((await gb.recv(6)).toString()).toBe('from b');
    await pa.waitBytes(4);
    await pb.waitBytes(4);
    expect([pa.data().toString(), pb.data().toString()]).toEqual(['to a', 'to b']);
    expect(env.d.tcp.stats.conns).toBe(2);
  });

  it('the guest address is part of the key: another source address is another connection', async () => {
    const env = newEnv();
    const srv = await server();
    const g1 = new GuestTcp(env, { dstPort: srv.port, srcPort: 45001 });
    const g2 = new GuestTcp(env, { dstPort: srv.port, srcPort: 45001, src: parse4('10.0.2.16') });
    await g1.connect();
    await g2.connect();
    expect(env.d.tcp.stats.conns).toBe(2);
    g2.send(ACK | PSH, { data: Buffer.from('two') });
    const p1 = await srv.accepted();
    const p2 = await srv.accepted();
    await vi.waitFor(() => expect(p1.bytes + p2.bytes).toBe(3), { interval: 5 });
  });
});
