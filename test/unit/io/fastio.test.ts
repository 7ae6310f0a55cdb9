// The fastio addon (native-shims/fastio.c) against real descriptors: pipes,
// datagram socket pairs and UDP sockets on loopback.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EV_READABLE, type FastIo, POLL_READ, POLL_RECV4, POLL_RECV6, POLL_STREAM, busyPollTime, fastIo } from '../../../src/io/fastio.js';
import { parse6 } from '../../../src/wire/ip.js';
import { readHostConfig } from '../../../src/ns/hostconf.js';
import { Netlink } from '../../../src/ns/netlink.js';

const io = fastIo() as FastIo;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A pipe as [read end, write end], non-blocking, closed after the test. */
function pipe(): [number, number] {
  const fds = pipeFds();
  cleanups.push(() => fds.forEach((fd) => fs.closeSync(fd)));
  return fds;
}

function pipeFds(): [number, number] {
  // Node has no pipe(2); a FIFO in a temporary directory gives the same two ends
  const dir = fs.mkdtempSync('/tmp/fastio-');
  const p = path.join(dir, 'fifo');
  execFileSync('mkfifo', [p]);
  const r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.rmSync(dir, { recursive: true });
  return [r, w];
}

/** io.poll, stopped after the test (before its descriptor is closed: libuv must forget it first). */
function poll(...args: Parameters<FastIo['poll']>): ReturnType<FastIo['poll']> {
  const h = io.poll(...args);
  cleanups.push(() => io.stop(h));
  return h;
}

async function bound(type: 'udp4' | 'udp6'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
  await once(s, 'listening');
  cleanups.push(() => s.close());
  return s;
}

/** A TCP server on 127.0.0.1, closed after the test: its port, and its first connection. */
async function listener(): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => srv.close());
  const accepted = once(srv, 'connection').then(([sock]) => sock as net.Socket);
  return { port: (srv.address() as net.AddressInfo).port, accepted };
}

describe('fastio', () => {
  it('is built', () => {
    expect(io).not.toBeNull();
  });

  it('write() returns the bytes written, or -errno (never throws)', () => {
    const [r, w] = pipe();
    expect(io.write(w, Buffer.from('xhello'), 1, 5)).toBe(5);
    const got = Buffer.alloc(16);
    expect(fs.readSync(r, got)).toBe(5);
    expect(got.subarray(0, 5).toString()).toBe('hello');
    expect(io.write(r, Buffer.from('x'), 0, 1)).toBe(-9); // EBADF: the read end
    expect(io.write(987654, Buffer.from('x'), 0, 1)).toBe(-9);
  });

  it('refuses spans outside the buffer and wrong arguments', () => {
    const [, w] = pipe();
    expect(() => io.write(w, Buffer.alloc(4), 2, 3)).toThrow(TypeError);
    expect(() => io.write(w, Buffer.alloc(4), -1, 1)).toThrow(TypeError);
    expect(() => io.write(w, 'abc' as never, 0, 1)).toThrow(TypeError);
    expect(() => io.sendTo6(w, Buffer.alloc(4), 0, 4, Buffer.alloc(15), 0, 1)).toThrow(TypeError);
    expect(() => io.poll(w, 7, Buffer.alloc(4), 0, 4, null, () => {})).toThrow(TypeError);
    expect(() => io.poll(w, POLL_RECV6, Buffer.alloc(4), 0, 4, Buffer.alloc(4), () => {})).toThrow(TypeError);
    expect(() => io.poll(w, POLL_READ, Buffer.alloc(4), 0, 0, null, () => {})).toThrow(TypeError);
  });

  it('poll, read mode: each wakeup reads until empty, one call per read, into the given span', async () => {
    const [r, w] = pipe();
    const buf = Buffer.alloc(8);
    const got: string[] = [];
    const h = poll(r, POLL_READ, buf, 2, 4, null, (n) => got.push(buf.toString('latin1', 2, 2 + n)));
    fs.writeSync(w, 'abcdefghij');
    await vi.waitFor(() => expect(got).toEqual(['abcd', 'efgh', 'ij']));
    expect(buf.subarray(0, 2)).toEqual(Buffer.alloc(2)); // nothing before the span
    io.stop(h);
    io.stop(h); // twice: nothing happens
    fs.writeSync(w, 'more');
    await new Promise((res) => setTimeout(res, 30));
    expect(got).toHaveLength(3);
  });

  it('poll, read mode: end of file calls back with 0 once and stops', async () => {
    const [r, w] = pipe();
    const calls: number[] = [];
    poll(r, POLL_READ, Buffer.alloc(64), 0, 64, null, (n) => calls.push(n));
    fs.writeSync(w, 'last');
    await vi.waitFor(() => expect(calls).toEqual([4]));
    // closing the only write end: EOF
    fs.closeSync(w);
    cleanups.splice(0); // w is closed now; r below
    cleanups.push(() => fs.closeSync(r));
    await vi.waitFor(() => expect(calls).toEqual([4, 0]));
    await new Promise((res) => setTimeout(res, 30));
    expect(calls).toEqual([4, 0]);
  });

  it('UDP over IPv4: send to a peer, receive its replies with their source, oversized ones flagged', async () => {
    const fd = io.udpSocket(false, 1 << 20, 1 << 20);
    expect(fd).toBeGreaterThan(2);
    cleanups.push(() => io.close(fd));
    const peer = await bound('udp4');
    const msgs: { msg: Buffer; port: number }[] = [];
    peer.on('message', (msg, rinfo) => msgs.push({ msg, port: rinfo.port }));
    const frame = Buffer.from('..ping..');
    expect(io.sendTo4(fd, frame, 2, 4, 0x7f000001, peer.address().port)).toBe(4);
    await vi.waitFor(() => expect(msgs).toHaveLength(1));
    expect(msgs[0].msg.toString()).toBe('ping');

    const buf = Buffer.alloc(32);
    const src = Buffer.alloc(4);
    const got: { n: number; port: number; text: string; src: string }[] = [];
    poll(fd, POLL_RECV4, buf, 10, 8, src, (n, port) =>
      got.push({ n, port, text: buf.toString('latin1', 10, 10 + Math.min(n, 8)), src: [...src].join('.') }),
    );
    const back = msgs[0].port;
    peer.send('pong', back, '127.0.0.1');
    peer.send('too long for 8', back, '127.0.0.1');
    peer.send('', back, '127.0.0.1');
    const me = peer.address().port;
    await vi.waitFor(() => expect(got).toHaveLength(3));
    expect(got).toEqual([
      { n: 4, port: me, text: 'pong', src: '127.0.0.1' },
      { n: 14, port: me, text: 'too long', src: '127.0.0.1' },
      { n: 0, port: me, text: '', src: '127.0.0.1' },
    ]);
  });

  it('UDP over IPv6: send and receive with the 16-byte source address', async () => {
    const fd = io.udpSocket(true, 0, 0);
    expect(fd).toBeGreaterThan(2);
    cleanups.push(() => io.close(fd));
    const peer = await bound('udp6');
    const from: number[] = [];
    peer.on('message', (msg, rinfo) => {
      from.push(rinfo.port);
      peer.send(Buffer.concat([Buffer.from('re:'), msg]), rinfo.port, '::1');
    });
    const buf = Buffer.alloc(64);
    const src = Buffer.alloc(16);
    const got: string[] = [];
    poll(fd, POLL_RECV6, buf, 0, 64, src, (n, port) => {
      expect(port).toBe(peer.address().port);
      expect(src).toEqual(parse6('::1'));
      got.push(buf.toString('latin1', 0, n));
    });
    const addr = Buffer.concat([Buffer.alloc(3), parse6('::1')]);
    expect(io.sendTo6(fd, Buffer.from('six'), 0, 3, addr, 3, peer.address().port)).toBe(3);
    await vi.waitFor(() => expect(got).toEqual(['re:six']));
    // an IPv6 socket is IPv6-only
    expect(io.sendTo4(fd, Buffer.from('x'), 0, 1, 0x7f000001, peer.address().port)).toBeLessThan(0);
  });

  it('an ICMP error for an earlier datagram does not stop a UDP poll', async () => {
    const fd = io.udpSocket(false, 0, 0);
    cleanups.push(() => io.close(fd));
    const gone = await bound('udp4');
    const closedPort = gone.address().port;
    gone.close();
    cleanups.splice(cleanups.length - 1, 1);
    const peer = await bound('udp4');
    const got: number[] = [];
    const buf = Buffer.alloc(16);
    poll(fd, POLL_RECV4, buf, 0, 16, Buffer.alloc(4), (n) => got.push(n));
    io.sendTo4(fd, Buffer.from('x'), 0, 1, 0x7f000001, closedPort); // port unreachable
    io.sendTo4(fd, Buffer.from('y'), 0, 1, 0x7f000001, peer.address().port);
    const [, rinfo] = await once(peer, 'message');
    peer.send('ok', rinfo.port, '127.0.0.1');
    await vi.waitFor(() => expect(got.filter((n) => n >= 0)).toEqual([2]));
  });

  it('tcpState() reads the kernel\'s TCP state: ESTABLISHED (1), CLOSE (7) after a reset, -errno for no socket', async () => {
    const { port, accepted } = await listener();
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    const s = await accepted;
    const fd = (c as unknown as { _handle: { fd: number } })._handle.fd;
    expect(io.tcpState(fd)).toBe(1);
    s.resetAndDestroy();
    await vi.waitFor(() => expect(io.tcpState(fd)).toBe(7));
    c.destroy();
    const [r] = pipe();
    expect(io.tcpState(r)).toBe(-88); // ENOTSOCK
  });

  it('netlinkSocket() opens a NETLINK_ROUTE socket that reads this namespace\'s links, -errno for no such protocol', () => {
    const fd = io.netlinkSocket(0);
    expect(fd).toBeGreaterThan(2);
    try {
      const names = [...readHostConfig(new Netlink(fd)).links.values()].map((l) => l.name);
      expect(names).toContain('lo');
      expect(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')).toMatch(/flags:\s*0[0-7]*2[0-7]{6}\b/); // O_CLOEXEC
    } finally {
      io.close(fd);
    }
    expect(io.netlinkSocket(1000)).toBe(-93); // EPROTONOSUPPORT
  });

  it('poll, stream mode: writable, then reads; a short read ends its burst (kind 3), full ones end with kind 2', async () => {
    const { port, accepted } = await listener();
    const fd = io.tcpConnect4(0x7f000001, port);
    expect(fd).toBeGreaterThan(0);
    const s = await accepted;
    cleanups.push(() => s.destroy());
    const buf = Buffer.alloc(1000);
    const calls: [number, number][] = [];
    const h = io.poll(fd, POLL_STREAM, buf, 0, buf.length, null, (n, kind) => {
      calls.push([n, kind]);
      if (kind === 1) io.pollEvents(h, EV_READABLE);
      if (kind === 0 && n === 0) io.pollEvents(h, 0); // stream mode leaves stopping at end of file to the caller
    });
    cleanups.push(() => {
      io.stop(h);
      io.close(fd);
    });
    await vi.waitFor(() => expect(calls).toEqual([[0, 1]]));
    s.write(Buffer.alloc(100, 7));
    await vi.waitFor(() => expect(calls.length).toBe(2));
    expect(calls[1]).toEqual([100, 3]); // no EAGAIN read, no separate end of burst
    expect(buf.subarray(0, 100)).toEqual(Buffer.alloc(100, 7));
    calls.length = 0;
    s.write(Buffer.alloc(2500, 1));
    await vi.waitFor(() => expect(calls.reduce((a, [n, k]) => a + (k === 2 ? 0 : n), 0)).toBe(2500));
    await new Promise((r) => setTimeout(r, 50));
    // full reads (kind 0), then the short last one (kind 3); or, when a read
    // ended exactly at the queue's end, kind 2 after it
    expect(calls.filter(([, k]) => k === 0).every(([n]) => n === 1000)).toBe(true);
    const ends = calls.filter(([, k]) => k === 2 || k === 3).length;
    expect(ends).toBeGreaterThanOrEqual(1);
    expect(calls[calls.length - 1][1] === 2 || calls[calls.length - 1][1] === 3).toBe(true);
    calls.length = 0;
    s.end();
    await vi.waitFor(() => expect(calls).toEqual([[0, 0]])); // end of file
  });

  it('busyPoll: events close together make the loop spin between them, sparse ones and bulk data let it sleep; it keeps no process alive', () => {
    expect(() => io.busyPoll(-1)).toThrow(TypeError);
    expect(() => io.busyPoll(1_000_001)).toThrow(TypeError);
    // in a child (the setting is the loop's): a byte every 2 ms through a
    // FIFO, then one every 20 ms, then 32 KiB every 2 ms, with at most 5 ms of
    // spinning; the CPU time of each phase (after the window has adapted)
    // tells spinning from sleep
    const script = `
      import fs from 'node:fs';
      import { fastIo, POLL_READ } from ${JSON.stringify(path.join(ROOT, 'dist/io/fastio.js'))};
      const io = fastIo();
      io.busyPoll(5000);
      const fd = fs.openSync(${JSON.stringify('FIFO')}, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
      const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
      const wait = (ms) => new Promise((res) => setTimeout(res, ms));
      let reads = 0;
      const h = io.poll(fd, POLL_READ, Buffer.alloc(65536), 0, 65536, null, () => reads++);
      const every = async (ms, count, data = 'x') => { for (let i = 0; i < count; i++) { fs.writeSync(fd, data); await wait(ms); } };
      await every(2, 25);
      let t = cpu(), w = performance.now();
      await every(2, 100);
      const close = (cpu() - t) / (performance.now() - w);
      await every(20, 15);
      t = cpu(); w = performance.now();
      await every(20, 15);
      const sparse = (cpu() - t) / (performance.now() - w);
      await every(2, 25);
      t = cpu(); w = performance.now();
      await every(2, 100, Buffer.alloc(32768));
      const bulk = (cpu() - t) / (performance.now() - w);
      console.log(JSON.stringify({ close, sparse, bulk, reads }));
      io.stop(h);
      fs.closeSync(fd);
    `;
    const dir = fs.mkdtempSync('/tmp/fastio-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true }));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    // the child ends by itself once its poll is stopped: the spinning handle holds no reference
    const out = runChild(script.replace('"FIFO"', JSON.stringify(path.join(dir, 'fifo'))));
    const { close, sparse, bulk, reads } = JSON.parse(out) as { close: number; sparse: number; bulk: number; reads: number };
    expect(reads).toBe(280);
    expect(close).toBeGreaterThan(0.25); // share of a CPU: polling on between events 2 ms apart (about 1 alone, less under load)
    expect(sparse).toBeLessThan(0.1); // asleep between events 20 ms apart
    expect(bulk).toBeLessThan(0.12); // asleep between 32 KiB reads 2 ms apart
  });

  it('busyPollTime: none with one CPU to run on', () => {
    expect(busyPollTime(200, 1)).toBe(0);
    expect(busyPollTime(200, 2)).toBe(200);
    expect(busyPollTime(0, 8)).toBe(0);
  });

  it('an exception thrown by a callback reaches the process as an uncaught exception', () => {
    // in a child: the callback throws; its uncaughtException handler reports it
    const script = `
      import fs from 'node:fs';
import net from 'node:net';
      import { fastIo, POLL_READ } from ${JSON.stringify(path.join(ROOT, 'dist/io/fastio.js'))};
      process.on('uncaughtException', (e) => { console.log('caught:' + e.message); process.exit(0); });
      const io = fastIo();
      const fd = fs.openSync(${JSON.stringify('FIFO')}, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
      io.poll(fd, POLL_READ, Buffer.alloc(4), 0, 4, null, () => { throw new Error('from the callback'); });
      fs.writeSync(fd, 'go');
      setTimeout(() => { console.log('no exception'); process.exit(1); }, 2000);
    `;
    const dir = fs.mkdtempSync('/tmp/fastio-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true }));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const out = runChild(script.replace('"FIFO"', JSON.stringify(path.join(dir, 'fifo'))));
    expect(out).toContain('caught:from the callback');
  });
});

function runChild(script: string): string {
  try {
    return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e);
  }
}
