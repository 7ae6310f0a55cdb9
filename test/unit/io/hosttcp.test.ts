// NativeSocket (src/io/hosttcp.ts) against real TCP servers on loopback.
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FastIo, fastIo } from '../../../src/io/fastio.js';
import { NativeSocket, type SocketOwner } from '../../../src/io/hosttcp.js';
import { parse6 } from '../../../src/wire/ip.js';
import { rng } from '../helpers/rng.js';

const io = fastIo() as FastIo;
const LOOPBACK = 0x7f000001;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A server on 127.0.0.1 (or ::1); each accepted socket goes to onConn. */
async function server(onConn: (s: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, onConn);
  srv.listen(0, host);
  await once(srv, 'listening');
  cleanups.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

/**
 * A NativeSocket collecting what it reads; its owner's calls are re-emitted
 * as events on `ev` (connect, end, error, close, timer) to await them;
 * destroyed after the test.
 */
function client(addr: number | Buffer, port: number, readable = () => true) {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  const ev = new EventEmitter();
  const errors: string[] = [];
  const calls: string[] = [];
  const owner: SocketOwner = {
    onHostConnect: () => ev.emit('connect'),
    onHostRead: (n, b) => {
      chunks.push(Buffer.from(b.subarray(0, n)));
      return readable();
    },
    onHostReadsDone: () => undefined,
    onHostEnd: () => ev.emit('end'),
    onHostError: (e) => {
      errors.push(e.code ?? e.message);
      calls.push('error');
    },
    onHostClose: () => {
      calls.push('close');
      ev.emit('close');
    },
    onHostTimer: () => ev.emit('timer'),
  };
  const s = new NativeSocket(io, addr, port, buf, owner);
  cleanups.push(() => s.destroy());
  return { s, ev, chunks, errors, calls, data: () => Buffer.concat(chunks) };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('NativeSocket', () => {
  it('connects, and moves 4 MiB each way byte-exact; end() is a FIN after the data', async () => {
    const up = rng(11).bytes(4 << 20);
    const down = rng(12).bytes(4 << 20);
    let received: Buffer | undefined;
    const port = await server((s) => {
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.on('end', () => {
        received = Buffer.concat(parts);
        s.end(down);
      });
    });
    const c = client(LOOPBACK, port);
    await once(c.ev, 'connect');
    expect(c.s.fd).toBeGreaterThan(2);
    // larger than the socket buffer: most of it waits in the queue, callbacks in order
    const done: number[] = [];
    for (let i = 0; i < 4; i++) c.s.write(up.subarray(i << 20, (i + 1) << 20), () => done.push(i));
    expect(c.s.writableLength).toBeGreaterThan(0);
    c.s.end();
    await once(c.ev, 'end');
    expect(done).toEqual([0, 1, 2, 3]);
    expect(c.s.writableLength).toBe(0);
    expect(sha(received!)).toBe(sha(up));
    expect(sha(c.data())).toBe(sha(down));
    expect(c.errors).toEqual([]);
  });

  it('IPv6', async () => {
    const port = await server((s) => s.end('over six'), '::1');
    const c = client(parse6('::1'), port);
    await once(c.ev, 'end');
    expect(c.data().toString()).toBe('over six');
  });

  it('pause() stops reading (the peer\'s writes back up), resume() reads the rest', async () => {
    const big = rng(13).bytes(16 << 20);
    let peer: net.Socket | undefined;
    const port = await server((s) => {
      peer = s;
      s.write(big);
    });
    let open = false; // the first read pauses
    const c = client(LOOPBACK, port, () => open);
    await once(c.ev, 'connect');
    await vi.waitFor(() => expect(c.chunks.length).toBeGreaterThan(0));
    await vi.waitFor(() => expect(peer!.writableLength).toBeGreaterThan(0));
    const before = c.data().length;
    await new Promise((r) => setTimeout(r, 50));
    expect(c.data().length).toBe(before); // nothing read while paused
    expect(before).toBeLessThan(big.length);
    open = true;
    c.s.resume();
    await vi.waitFor(() => expect(c.data().length).toBe(big.length), { timeout: 5000 });
    expect(sha(c.data())).toBe(sha(big));
  });

  it('a refused connect: error ECONNREFUSED, then close', async () => {
    const port = await server(() => {});
    cleanups.pop()!(); // closed again: nothing listens there now
    const c = client(LOOPBACK, port);
    await once(c.ev, 'close');
    expect(c.errors).toEqual(['ECONNREFUSED']);
    expect(c.s.destroyed).toBe(true);
  });

  it('a peer that resets: error ECONNRESET; resetAndDestroy() resets the peer', async () => {
    const port = await server((s) => s.resetAndDestroy());
    const c = client(LOOPBACK, port);
    await once(c.ev, 'close');
    expect(c.errors).toEqual(['ECONNRESET']);

    const seen: string[] = [];
    const port2 = await server((s) => {
      s.on('error', (e: NodeJS.ErrnoException) => seen.push(e.code!));
      s.on('end', () => seen.push('end'));
    });
    const d = client(LOOPBACK, port2);
    await once(d.ev, 'connect');
    d.s.resetAndDestroy();
    await vi.waitFor(() => expect(seen).toEqual(['ECONNRESET']));
  });

  it('destroy() with writes queued hands their buffers back; writing afterwards is refused', async () => {
    const port = await server(() => {}); // never reads
    const c = client(LOOPBACK, port);
    await once(c.ev, 'connect');
    const released: number[] = [];
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 16; i++) c.s.write(chunk, () => released.push(i));
    await new Promise((r) => setTimeout(r, 20));
    expect(released.length).toBeLessThan(16);
    c.s.destroy();
    expect(released).toHaveLength(16);
    let late = false;
    expect(c.s.write(chunk, () => (late = true))).toBe(false);
    expect(late).toBe(true);
    await once(c.ev, 'close');
  });

  it('startTimer() calls onHostTimer once; starting again restarts it; 0 stops it; destroy() stops it', async () => {
    const port = await server(() => {});
    const c = client(LOOPBACK, port);
    let timers = 0;
    c.ev.on('timer', () => timers++);
    const t0 = performance.now();
    c.s.startTimer(20);
    await once(c.ev, 'timer');
    // (libuv counts from the loop's cached time, a little before the call)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    const t1 = performance.now();
    c.s.startTimer(10);
    await new Promise((r) => setTimeout(r, 5));
    c.s.startTimer(30); // from now: not at 10 ms
    await once(c.ev, 'timer');
    expect(performance.now() - t1).toBeGreaterThanOrEqual(28);
    c.s.startTimer(30);
    c.s.startTimer(0);
    const d = client(LOOPBACK, port);
    d.ev.on('timer', () => timers++);
    d.s.startTimer(10);
    d.s.destroy();
    await new Promise((r) => setTimeout(r, 60));
    expect(timers).toBe(2);
  });

  it('a failed connect() is told in a later tick: error, then close', async () => {
    const c = client(LOOPBACK, 0); // port 0: EADDRNOTAVAIL or ECONNREFUSED at once or later
    expect(c.calls).toEqual([]);
    await once(c.ev, 'close');
    expect(c.calls).toEqual(['error', 'close']);
    expect(c.errors).toHaveLength(1);
  });
});
