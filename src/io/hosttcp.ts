// An outbound TCP socket on the fastio addon, with the part of net.Socket's
// interface the TCP translator uses: write(chunk, cb), end(), pause() and
// resume(), destroy() and resetAndDestroy(), reads into one caller's buffer
// (as the `onread` option), and a one-shot timer. A net.Socket is a full
// Duplex stream, with its states, nextTicks and write requests on every
// call; a connect/close loop spends much of its time there. Here each read
// and write is one system call and one JavaScript call, and what happens is
// told to one owner by direct calls (no event emitter, no listeners to set
// up per connection).
import os from 'node:os';
import { EV_READABLE, EV_WRITABLE, type FastIo, KIND_TIMER, POLL_STREAM, type PollHandle, errnoName } from './fastio.js';
import type { Timer } from './timer.js';

/** An Error as Node gives them: code EMFILE, ECONNREFUSED... */
export function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -errno });
}

const EAGAIN = os.constants.errno.EAGAIN;

/** What a NativeSocket tells its owner, in the order of net.Socket's events. */
export interface SocketOwner {
  /** connected: writes may go out */
  onHostConnect(): void;
  /** a read, in buf[0, n); false pauses reading */
  onHostRead(n: number, buf: Buffer): boolean;
  /** the reads of one wakeup are over (several onHostRead calls when data keeps coming) */
  onHostReadsDone(): void;
  /** the peer's FIN */
  onHostEnd(): void;
  /** the connect or a read or write failed; onHostClose follows */
  onHostError(e: NodeJS.ErrnoException): void;
  /** destroyed (in a later tick than destroy()) */
  onHostClose(): void;
  /** the timer set by startTimer() expired */
  onHostTimer(): void;
}

interface Pending {
  buf: Uint8Array;
  off: number;
  cb: (() => void) | undefined;
}

export class NativeSocket {
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

  /**
   * Connects to addr (an IPv4 address as a number, or 16 bytes of IPv6) and
   * port; reads land in buf. A failed connect() is told to the owner in the
   * next tick (onHostError, onHostClose).
   */
  constructor(
    private readonly io: FastIo,
    addr: number | Buffer,
    port: number,
    buf: Buffer,
    private readonly owner: SocketOwner,
  ) {
    const fd = typeof addr === 'number' ? io.tcpConnect4(addr, port) : io.tcpConnect6(addr, 0, port);
    this.fd = fd;
    if (fd < 0) {
      this.fd = -1;
      this.destroyed = true;
      process.nextTick(() => {
        owner.onHostError(errnoError(-fd, 'connect'));
        owner.onHostClose();
      });
      return;
    }
    this.poll = io.poll(fd, POLL_STREAM, buf, 0, buf.length, null, (n: number, kind: number): void => {
      if (kind === 0) this.onReadable(n, buf);
      else if (kind === 1) this.onWritable();
      else if (kind === KIND_TIMER) {
        if (!this.destroyed) owner.onHostTimer();
      } else {
        if (kind === 3) this.onReadable(n, buf); // a short read: the last of its burst
        if (!this.destroyed) owner.onHostReadsDone();
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
      this.owner.onHostConnect();
      if (!this.destroyed) this.flush();
      return;
    }
    this.flush();
  }

  private onReadable(n: number, buf: Buffer): void {
    if (this.destroyed) return;
    if (n > 0) {
      if (!this.owner.onHostRead(n, buf)) this.pause();
    } else if (n === 0) {
      this.eof = true;
      this.update();
      this.owner.onHostEnd();
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

  /** owner.onHostTimer() once, ms from now (again from now if it was running); 0 stops it. */
  startTimer(ms: number): void {
    if (this.poll && !this.destroyed) this.io.pollTimer(this.poll, ms);
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.destroyed) return;
    this.owner.onHostError(e);
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.poll) this.io.stop(this.poll); // and its timer
    this.io.close(this.fd);
    this.fd = -1;
    this.writableLength = 0;
    // what was never written is dropped; its owner gets its buffers back
    for (const p of this.queue.splice(0)) p.cb?.();
    process.nextTick(closeOwner, this.owner);
  }

  /** Closes with a RST instead of a FIN. */
  resetAndDestroy(): void {
    if (!this.destroyed) this.io.lingerZero(this.fd);
    this.destroy();
  }
}

function closeOwner(owner: SocketOwner): void {
  owner.onHostClose();
}

/** A NativeSocket's own timer as a Timer: its expiry is the owner's onHostTimer(). */
export class SocketTimer implements Timer {
  constructor(private readonly sock: NativeSocket) {}
  start(ms: number): void {
    this.sock.startTimer(Math.max(1, ms));
  }
  stop(): void {
    this.sock.startTimer(0);
  }
  close(): void {
    this.stop(); // (destroy() closes the handle)
  }
}
