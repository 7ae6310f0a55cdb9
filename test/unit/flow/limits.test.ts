// Limits and host-side faults (issue 7), provoked with real sockets on the
// loopback: a full TCP table, idle UDP flows, a host peer that resets in the
// middle of a transfer, a write into a closed peer (EPIPE), a peer that
// stops reading while other connections keep moving, and descriptors that
// come back once flows end. Faults that need a fake host (ENETUNREACH,
// EMFILE, a bound port) are in test/integration/faults.test.ts.
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TcpTranslator } from '../../../src/flow/tcp.js';
import { UdpTranslator } from '../../../src/flow/udp.js';
import { type Env, envFactory, GUEST4, GW4 } from '../helpers/env.js';
import { flagStr, udpFrame } from '../helpers/frames.js';
import { ACK, GuestTcp, PSH, RST, SYN } from '../helpers/guesttcp.js';
import { rng } from '../helpers/rng.js';
import { TcpServer, UdpServer } from '../helpers/servers.js';

const newEnv = envFactory();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(opts: net.ServerOpts = {}): Promise<TcpServer> {
  const s = await TcpServer.listen('127.0.0.1', opts);
  cleanups.push(() => s.close());
  return s;
}

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Swaps in a TcpTranslator with another table size. */
function useTcp(env: Env, maxConns: number): TcpTranslator {
  env.d.tcp.closeAll();
  const t = new TcpTranslator(env.ctx, maxConns);
  (env.d as { tcp: TcpTranslator }).tcp = t;
  return t;
}

describe('TCP connection table', () => {
  it('when full, a new SYN gets RST|ACK at once and a warning; the table never grows past its size; a freed slot is usable again', async () => {
    const env = newEnv();
    const tcp = useTcp(env, 3);
    const srv = await server();
    const gs: GuestTcp[] = [];
    for (let i = 0; i < 3; i++) {
      const g = new GuestTcp(env, { dstPort: srv.port });
      await g.connect();
      gs.push(g);
    }
    expect(tcp.stats.conns).toBe(3);
    const extra = new GuestTcp(env, { dstPort: srv.port });
    extra.send(SYN, { mss: 1460, wscale: 7 });
    const r = await extra.next();
    expect(flagStr(r.tcp!.flags)).toBe('RA');
    expect(r.tcp!.seq).toBe(0);
    expect(r.tcp!.ack).toBe((extra.iss + 1) >>> 0);
    expect(env.drops('tcp_table_full')).toBe(1);
    expect(env.log.lines).toContain('warn: TCP connection table full (3), refusing a new connection');
    expect(tcp.stats.conns).toBe(3);
    expect(srv.conns.length).toBe(3); // no host connection was attempted
    // 50 more SYNs: each refused, nothing grows
    for (let i = 0; i < 50; i++) new GuestTcp(env, { dstPort: srv.port }).send(SYN, { mss: 1460 });
    expect(env.drops('tcp_table_full')).toBe(51);
    expect(tcp.stats.conns).toBe(3);
    // the guest resets one connection: its slot serves a new one
    gs[0].send(RST, { seq: gs[0].sndNxt });
    expect(tcp.stats.conns).toBe(2);
    const again = new GuestTcp(env, { dstPort: srv.port });
    await again.connect();
    again.send(ACK | PSH, { data: Buffer.from('in the freed slot') });
    const peer = srv.conns[3];
    await peer.waitBytes(17);
    expect(peer.data().toString()).toBe('in the freed slot');
  });
});

describe('UDP idle timeout', () => {
  it('an idle flow closes its host socket: the descriptor is returned and a late reply to its old port is not delivered', async () => {
    const env = newEnv();
    env.d.udp.closeAll();
    const udp = new UdpTranslator(env.ctx, 150);
    (env.d as { udp: UdpTranslator }).udp = udp;
    const srv = await UdpServer.bind('udp4');
    cleanups.push(() => srv.close());
    const before = openFds();
    for (let p = 0; p < 20; p++) env.inject(udpFrame(GUEST4, GW4, 41000 + p, srv.port, Buffer.from(`flow ${p}`)));
    const first = await srv.nth(0);
    await srv.nth(19);
    expect(udp.count).toBe(20);
    expect(openFds()).toBe(before + 20);
    await vi.waitFor(() => expect(udp.count).toBe(0), { timeout: 3000, interval: 20 });
    await vi.waitFor(() => expect(openFds()).toBe(before), { timeout: 1000, interval: 10 });
    env.link.drain();
    await srv.reply(first, Buffer.from('too late'));
    await tick(100);
    expect(env.link.drain((f) => f.udp !== undefined)).toEqual([]);
  });
});

/** A connected guest, its server side, and a well-acknowledging receive loop. */
async function connected(env: Env, srv: TcpServer) {
  const g = new GuestTcp(env, { dstPort: srv.port });
  await g.connect();
  const peer = await srv.accepted();
  return { g, peer };
}

describe('host-side faults end in a RST to the guest, and free what the connection held', () => {
  it('ECONNRESET in the middle of a download the guest keeps up with: RST|ACK to the guest, buffers released, the table empty', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    const data = rng(3).bytes(2 << 20);
    peer.sock.write(data);
    expect((await g.recv(data.length, { ackEvery: 8, timeoutMs: 5000 })).equals(data)).toBe(true);
    await g.waitAcked();
    peer.sock.resetAndDestroy();
    const r = await g.next((f) => (f.tcp!.flags & RST) !== 0, 3000, 'RST');
    expect(flagStr(r.tcp!.flags)).toBe('RA');
    expect(r.tcp!.seq).toBe(g.rcvNxt);
    await vi.waitFor(() => expect(env.d.tcp.stats.conns).toBe(0), { interval: 5 });
    expect(env.d.tcp.queuedAll).toBe(0);
    expect(env.d.tcp.unflushedAll).toBe(0);
    expect(env.d.tcp.paused.size).toBe(0);
    expect(env.log.lines.some((l) => /host socket error ECONNRESET/.test(l)), env.log.lines.join(' / ')).toBe(true);
  });

  // Regression (was a bug in src/flow/tcp.ts, TcpConn: 'end' -> onHostEnd -> FIN): when the host
  // peer resets while data is still queued (the translator paused its reads
  // because the guest has not acknowledged SND_LIMIT bytes yet), Node reports
  // the socket as ended, not reset: libuv takes EPOLLRDHUP after a short read
  // for end of file and never reads the ECONNRESET. The guest then gets the
  // data read so far and a FIN: a download the server aborted looks complete.
  // pasta answers EPOLLERR with a RST. The kernel knows: on 'end',
  // getsockopt(fd, IPPROTO_TCP, TCP_INFO) gives tcpi_state TCP_CLOSE (7) after
  // a reset and TCP_CLOSE_WAIT (8) after a FIN (checked with ffi-rs on this
  // kernel), so onHostEnd could tell the two apart and reset the guest side.
  // Fails with: after 576512 of 4194304 bytes: expected 'FA' to be 'RA'
  it('ECONNRESET while the translator holds unacknowledged data: RST|ACK to the guest, not a FIN', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    // the guest does not acknowledge: the translator fills its queue and stops reading
    peer.sock.write(rng(3).bytes(16 << 20));
    await vi.waitFor(() => expect(env.d.tcp.paused.size).toBe(1), { timeout: 3000, interval: 5 });
    peer.sock.resetAndDestroy();
    await tick(50);
    // now the guest takes what was read before the reset: the end must be a RST
    let end;
    while (!end) {
      const f = await g.next((x) => x.tcp!.data.length > 0 || (x.tcp!.flags & (RST | 1)) !== 0, 3000, 'data, FIN or RST');
      if (f.tcp!.flags & RST) end = f;
      else {
        g.accept(f);
        g.ack();
        if (f.tcp!.flags & 1) end = f;
      }
    }
    expect(flagStr(end.tcp!.flags), `after ${g.receivedLen} of ${16 << 20} bytes`).toBe('RA');
  });

  it('EPIPE: the host peer closed, the guest keeps sending: RST|ACK to the guest, nothing left buffered', async () => {
    const env = newEnv();
    const srv = await server();
    const { g, peer } = await connected(env, srv);
    peer.sock.destroy(); // FIN to us; our next writes meet a closed socket
    const fin = await g.next((f) => (f.tcp!.flags & 1) !== 0, 3000, 'FIN');
    g.accept(fin);
    g.ack();
    const chunk = Buffer.alloc(60000, 0x42);
    let rst;
    for (let i = 0; i < 200 && !rst; i++) {
      g.send(ACK | PSH, { data: chunk });
      await tick(2);
      rst = g.drain().find((f) => (f.tcp!.flags & RST) !== 0);
    }
    rst ??= await g.next((f) => (f.tcp!.flags & RST) !== 0, 3000, 'RST');
    expect(flagStr(rst.tcp!.flags)).toBe('RA');
    await vi.waitFor(() => expect(env.d.tcp.stats.conns).toBe(0), { interval: 5 });
    expect(env.d.tcp.unflushedAll).toBe(0);
    expect(env.log.lines.some((l) => /host socket error (EPIPE|ECONNRESET)/.test(l)), env.log.lines.join('\n')).toBe(true);
  });
});

describe('a host peer that stops reading', () => {
  it('closes that connection\'s window with bounded memory, while another connection moves 8 MiB both ways', async () => {
    const env = newEnv();
    const stalled = await server({ pauseOnConnect: true });
    const busy = await server();
    const a = await connected(env, stalled);
    const b = await connected(env, busy);
    // the stalled one: send until the window closes
    const chunk = Buffer.alloc(65000, 0x53);
    for (;;) {
      const room = a.g.peerWnd - ((a.g.sndNxt - a.g.peerAck) | 0);
      if (room > 0) {
        a.g.send(ACK | PSH, { data: chunk.subarray(0, Math.min(room, chunk.length)) });
        continue;
      }
      if (a.g.peerWnd === 0 && a.g.peerAck === a.g.sndNxt) break;
      await a.g.next((f) => (f.tcp!.flags & ACK) !== 0, 3000, 'ACK');
    }
    // what the translator holds for it is bounded by its per-connection limit (1 MiB)
    expect(env.d.tcp.unflushedAll).toBeLessThanOrEqual(1 << 20);
    // the other connection is unaffected: 8 MiB up, 8 MiB down
    const up = rng(8).bytes(8 << 20);
    const t0 = Date.now();
    await b.g.sendStream(up, 65000, { timeoutMs: 5000 });
    await b.peer.waitBytes(up.length, 10_000);
    expect(b.peer.data().equals(up)).toBe(true);
    const down = rng(9).bytes(8 << 20);
    b.peer.sock.write(down);
    b.g.env.link.drain((f) => f.tcp !== undefined && f.tcp.data.length === 0 && b.g.mine(f));
    expect((await b.g.recv(down.length, { ackEvery: 4, timeoutMs: 5000 })).equals(down)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // and the stalled window is still closed, its peer still has nothing beyond its socket buffer
    expect(a.g.peerWnd).toBe(0);
    a.peer.sock.resume();
    await a.peer.waitBytes(1, 3000);
  });
});

describe('peers that stop reading must not starve the others', () => {
  // Regression (was a bug in src/flow/tcp.ts, TcpConn.window): the receive window of every
  // connection is min(RCV_LIMIT - its own unflushed bytes, RCV_LIMIT_ALL -
  // everyone's). A peer that stops reading keeps RCV_LIMIT (1 MiB) unflushed
  // for as long as it likes, so RCV_LIMIT_ALL / RCV_LIMIT such peers (4 since
  // 9ea1edb made RCV_LIMIT_ALL 4 MiB; 8 before) use up the shared budget and
  // every other connection, new or old, gets a zero window: no upload from
  // the guest moves until one of them reads again. Seen with the real helper
  // too (test/integration/faults.test.ts with 4 stalled peers: a 32 MiB upload
  // timed out with nothing received). A guaranteed share per connection (say
  // 64 KiB that the shared budget cannot take away), or a per-connection cap
  // that shrinks with the number of connections holding data, would keep the
  // others moving with memory still bounded.
  // Fails with: no an ACK opening the window (sent 65535 of 4194304, ack ..., window 0) within 3000 ms
  it('with 8 peers that stopped reading, another connection still uploads 4 MiB', async () => {
    const env = newEnv();
    const stalled = await server({ pauseOnConnect: true });
    const busy = await server();
    const chunk = Buffer.alloc(65000, 0x53);
    for (let i = 0; i < 8; i++) {
      const { g } = await connected(env, stalled);
      for (;;) {
        const room = g.peerWnd - ((g.sndNxt - g.peerAck) | 0);
        if (room > 0) g.send(ACK | PSH, { data: chunk.subarray(0, Math.min(room, chunk.length)) });
        else if (g.peerWnd === 0 && g.peerAck === g.sndNxt) break;
        else if (!(await g.next((f) => (f.tcp!.flags & ACK) !== 0, 500, 'ACK').catch(() => undefined))) break; // no room left at all
      }
    }
    const b = await connected(env, busy);
    const up = rng(8).bytes(4 << 20);
    await b.g.sendStream(up, 65000, { timeoutMs: 3000 });
    await b.peer.waitBytes(up.length, 10_000);
    expect(b.peer.data().equals(up)).toBe(true);
  });
});

describe('descriptors come back', () => {
  it('200 TCP connections opened, used and closed by either side leave no descriptor, timer or flow behind', async () => {
    const env = newEnv();
    const srv = await server();
    const before = openFds();
    const resources = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    const timersBefore = resources('Timeout');
    const socketsBefore = resources('TCPSocketWrap');
    for (let round = 0; round < 4; round++) {
      const conns: Array<Awaited<ReturnType<typeof connected>>> = [];
      for (let i = 0; i < 50; i++) conns.push(await connected(env, srv));
      expect(env.d.tcp.stats.conns).toBe(50);
      for (const [i, { g, peer }] of conns.entries()) {
        g.send(ACK | PSH, { data: Buffer.from('x') });
        if (i % 3 === 0) g.send(RST, { seq: g.sndNxt });
        else if (i % 3 === 1) peer.sock.resetAndDestroy();
        else peer.sock.destroy();
      }
      // the guest answers whatever FIN it gets, so that the third kind closes too
      await vi.waitFor(() => {
        for (const { g } of conns) {
          for (const f of g.drain()) {
            if (f.tcp!.flags & 1) {
              g.accept(f);
              g.send(ACK | 1, { seq: g.sndNxt });
            }
          }
        }
        expect(env.d.tcp.stats.conns).toBe(0);
      }, { timeout: 5000, interval: 20 });
    }
    for (const p of srv.conns) p.sock.destroy();
    await vi.waitFor(() => expect(openFds()).toBeLessThanOrEqual(before), { timeout: 3000, interval: 20 });
    await vi.waitFor(() => expect(resources('TCPSocketWrap')).toBeLessThanOrEqual(socketsBefore), { timeout: 3000, interval: 20 });
    // no retransmission or delayed-ACK timer of a closed connection is left running
    await vi.waitFor(() => expect(resources('Timeout')).toBeLessThanOrEqual(timersBefore), { timeout: 1000, interval: 20 });
    expect(env.d.tcp.queuedAll).toBe(0);
    expect(env.d.tcp.unflushedAll).toBe(0);
  });
});
