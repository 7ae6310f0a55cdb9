// An outbound TCP socket on the fastio addon, with the part of net.Socket's
// interface the TCP translator uses: connect, 'connect', 'end', 'error',
// 'timeout' and 'close' events, reads into one caller's buffer (as the
// `onread` option), write(chunk, cb), end(), pause() and resume(), destroy()
// and resetAndDestroy(). A net.Socket is a full Duplex stream, with its
// states, nextTicks and write requests on every call; a connect/close loop
// spends much of its time there. Here each read and write is one system
// call and one JavaScript call.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { EV_READABLE, EV_WRITABLE, type FastIo, POLL_STREAM, type PollHandle, errnoName } from './fastio.js';

/** An Error as Node gives them: code EMFILE, ECONNREFUSED... */
export function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -errno });
}

const EAGAIN = os.constants.errno.EAGAIN;

interface Pending {
  buf: Uint8Array;
  off: number;
  cb: (() => void) | undefined;
}

export class NativeSocket extends EventEmitter {
  /** the descriptor; -1 once destroyed */
  fd: number;
  destroyed = false;
  /** bytes given to write() and not yet taken by the kernel */
  writableLength = 0;
  private readonly poll: PollHandle | undefined;
  private connecting = true;
  private reading = true;
  private eof = false;
  private ending = false;
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Called after the reads of one wakeup (several onRead calls, when data keeps coming). */
  onReadsDone: (() => void) | undefined;

  /**
   * Connects to addr (an IPv4 address as a number, or 16 bytes of IPv6) and
   * port; onRead(n, buf) gets each read, in buf[0, n), and returns false to
   * pause reading.
   */
  constructor(
    private readonly io: FastIo,
    addr: number | Buffer,
    port: number,
    buf: Buffer,
    private readonly onRead: (n: number, buf: Buffer) => boolean,
  ) {
    super();
    const fd = typeof addr === 'number' ? io.tcpConnect4(addr, port) : io.tcpConnect6(addr, 0, port);
    this.fd = fd;
    if (fd < 0) {
      this.fd = -1;
      this.destroyed = true;
      process.nextTick(() => {
        this.emit('error', errnoError(-fd, 'connect'));
        this.emit('close');
      });
      return;
    }
    this.poll = io.poll(fd, POLL_STREAM, buf, 0, buf.length, null, (n: number, kind: number): void => {
      if (kind === 0) this.onReadable(n, buf);
      else if (kind === 1) this.onWritable();
      else {
        if (kind === 3) this.onReadable(n, buf); // a short read: the last of its burst
        if (!this.destroyed) this.onReadsDone?.();
      }
    });
  }

  private onWritable(): void {
    if (this.connecting) {
      const err = this.io.sockError(this.fd);
      if (err !== 0) {
        this.fail(errnoError(err < 0 ? -err : err, 'connect'));
        return;
      }
      this.connecting = false;
      this.update();
      this.emit('connect');
      if (!this.destroyed) this.flush();
      return;
    }
    this.flush();
  }

  private onReadable(n: number, buf: Buffer): void {
    if (this.destroyed) return;
    if (n > 0) {
      if (!this.onRead(n, buf)) this.pause();
    } else if (n === 0) {
      this.eof = true;
      this.update();
      this.emit('end');
    } else {
      this.fail(errnoError(-n, this.connecting ? 'connect' : 'read'));
    }
  }

  /** Polls for what is wanted now: reads unless paused or at end, writes while some wait. */
  private update(): void {
    if (this.destroyed || !this.poll) return;
    let ev = this.queue.length > 0 || this.connecting ? EV_WRITABLE : 0;
    if (this.reading && !this.eof && !this.connecting) ev |= EV_READABLE;
    this.io.pollEvents(this.poll, ev);
  }

  /** Queues chunk; cb runs once the kernel took it, or it was dropped (destroyed). */
  write(chunk: Uint8Array, cb?: () => void): boolean {
    if (this.destroyed || this.ending) {
      cb?.(); // its buffer goes back to its owner
      return false;
    }
    this.queue.push({ buf: chunk, off: 0, cb });
    this.writableLength += chunk.length;
    if (!this.connecting) this.flush();
    return true;
  }

  /** Writes what is queued until the kernel takes no more; then polls for room. */
  private flush(): void {
    const q = this.queue;
    while (q.length > 0 && !this.destroyed) {
      const p = q[0];
      const left = p.buf.length - p.off;
      const n = this.io.write(this.fd, p.buf as Buffer, p.off, left);
      if (n === -EAGAIN) break;
      if (n < 0) {
        this.fail(errnoError(-n, 'write'));
        return;
      }
      this.writableLength -= n;
      if (n < left) {
        p.off += n;
        break;
      }
      q.shift();
      p.cb?.();
    }
    if (q.length === 0 && this.ending && !this.destroyed) this.io.shutdownWrite(this.fd);
    this.update();
  }

  /** Sends FIN once everything written has gone. */
  end(): void {
    if (this.ending || this.destroyed) return;
    this.ending = true;
    if (this.queue.length === 0 && !this.connecting) this.io.shutdownWrite(this.fd);
  }

  pause(): void {
    if (!this.reading) return;
    this.reading = false;
    this.update();
  }

  resume(): void {
    if (this.reading) return;
    this.reading = true;
    this.update();
  }

  /** 'timeout' after ms (the translator bounds the connect with it); 0 clears it. */
  setTimeout(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = ms > 0 ? setTimeout(() => this.emit('timeout'), ms) : undefined;
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.destroyed) return;
    this.emit('error', e);
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.setTimeout(0);
    if (this.poll) this.io.stop(this.poll);
    this.io.close(this.fd);
    this.fd = -1;
    this.writableLength = 0;
    // what was never written is dropped; its owner gets its buffers back
    for (const p of this.queue.splice(0)) p.cb?.();
    process.nextTick(() => this.emit('close'));
  }

  /** Closes with a RST instead of a FIN. */
  resetAndDestroy(): void {
    if (!this.destroyed) this.io.lingerZero(this.fd);
    this.destroy();
  }
}
