// The hot path's system calls in native code (native-shims/fastio.c): a
// descriptor polled on libuv's loop and read until empty, one JavaScript
// call per frame; write() and sendto() without Node's per-call wrappers.
// Loaded once; when it is missing (built without Node's headers) callers use
// Node's own handles instead.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { NATIVE_DIR } from '../ns/native.js';

export const POLL_READ = 0;
export const POLL_RECV4 = 1;
export const POLL_RECV6 = 2;
/**
 * a TCP socket: cb(0, 1) when writable, cb(n, 0) per read (0: end of file,
 * < 0: -errno), cb(0, 2) after a burst of reads, or cb(n, 3) for a short
 * read, which empties the socket and ends the burst itself
 */
export const POLL_STREAM = 3;
/** the callback's second argument when the timer of a stream poll or of timer() expires */
export const KIND_TIMER = 4;
export const EV_READABLE = 1;
export const EV_WRITABLE = 2;

/** An active poll; stop() ends it. */
export type PollHandle = { readonly __poll: unique symbol };

export interface FastIo {
  /** write(2): bytes written or -errno */
  write(fd: number, buf: Buffer, off: number, len: number): number;
  /** a non-blocking UDP socket bound to an ephemeral port: fd or -errno */
  udpSocket(v6: boolean, rcvbuf: number, sndbuf: number): number;
  /**
   * sendto(2): bytes sent or -errno. seg < len: buf holds datagrams of seg
   * bytes each (the last may be shorter), sent by one sendmsg() with
   * UDP_SEGMENT.
   */
  sendTo4(fd: number, buf: Buffer, off: number, len: number, addr: number, port: number, seg?: number): number;
  sendTo6(fd: number, buf: Buffer, off: number, len: number, addr: Buffer, addrOff: number, port: number, seg?: number): number;
  close(fd: number): number;
  /** a blocking, close-on-exec netlink socket of this protocol (0: NETLINK_ROUTE): fd or -errno */
  netlinkSocket(protocol: number): number;
  /** the kernel's TCP state of a socket (TCP_INFO's tcpi_state), or -errno */
  tcpState(fd: number): number;
  /**
   * Polls fd; on each wakeup reads until EAGAIN (at most 64 times) into
   * buf[off, off+cap) and calls cb for each read: cb(n) in POLL_READ mode,
   * cb(n, port) in the recv modes with the source address in addr (n > cap:
   * the datagram did not fit). An error or end of file calls cb(-errno or 0)
   * once and stops.
   */
  poll(fd: number, mode: number, buf: Buffer, off: number, cap: number, addr: Buffer | null, cb: (n: number, port: number) => void): PollHandle;
  stop(h: PollHandle): void;
  /** POLL_STREAM only: what to poll for (EV_READABLE | EV_WRITABLE, or 0); at first EV_WRITABLE */
  pollEvents(h: PollHandle, events: number): void;
  /** a non-blocking TCP socket (TCP_NODELAY) with its connect() under way: fd or -errno */
  tcpConnect4(addr: number, port: number): number;
  tcpConnect6(addr: Buffer, addrOff: number, port: number): number;
  /** SO_ERROR: 0 once connected, else the errno; or -errno */
  sockError(fd: number): number;
  shutdownWrite(fd: number): number;
  /** SO_LINGER 0: close() then resets the connection */
  lingerZero(fd: number): number;
  /** a timer alone, no descriptor: cb(0, KIND_TIMER) when it expires; stop() ends it */
  timer(cb: (n: number, kind: number) => void): PollHandle;
  /**
   * (Re)starts the one-shot timer of a POLL_STREAM poll or of timer(): its
   * callback gets (0, KIND_TIMER) after ms; 0 stops it. Starting it again
   * allocates nothing, where each setTimeout makes a Timeout and Node's
   * timer lists are made and dropped by duration.
   */
  pollTimer(h: PollHandle, ms: number): void;
  /**
   * After a callback of a poll or timer the loop polls on without sleeping
   * (epoll_wait with timeout 0) for up to us microseconds (0: off), so an
   * answer that comes within that time is read with no wakeup. The time
   * adapts to the gaps between events (see fastio.c), and a read of 16 KiB
   * or more (bulk data) turns polling off for 2 ms.
   */
  busyPoll(us: number): number;
}

/**
 * The busy-poll time to use with cpus CPUs to run on (os.availableParallelism,
 * which follows the affinity mask): none with one, where polling on would
 * only keep the program we wait for from running.
 */
export function busyPollTime(us: number, cpus: number): number {
  return cpus > 1 ? us : 0;
}

/** The name Node's own errors give an errno: EMFILE for 24. */
export function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(os.constants.errno)) if (n === errno) return name;
  return `errno ${errno}`;
}

let loaded: FastIo | null | undefined;

/** The addon, or null where it was not built. */
export function fastIo(): FastIo | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(path.join(NATIVE_DIR, 'fastio.node')) as FastIo;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** Tests only: run without the addon (true) or with it again (false). */
export function disableFastIoForTests(off: boolean): void {
  loaded = off ? null : undefined;
}
