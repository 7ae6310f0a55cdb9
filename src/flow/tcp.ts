// TCP translation: each guest connection is spliced onto a host socket.
//
// Like passt's tcp.c this is not a TCP stack: the host kernel does congestion
// control and retransmission towards the real peer. Towards the guest we only
// keep what a local, nearly lossless link needs: sequence numbers, the
// guest's window, the bytes the guest has not acknowledged yet (so they can
// be sent again), and our receive window, which is the room left in the host
// socket's write queue. Backpressure flows both ways: a full host socket
// shrinks the window we advertise; a guest that does not acknowledge pauses
// reads from the host socket, so the host kernel's window closes in turn.
import net from 'node:net';
import { NativeSocket, type SocketOwner, SocketTimer } from '../io/hosttcp.js';
import { type Timer, newTimer } from '../io/timer.js';
import { BufferPool, CHUNK } from './bufpool.js';
import { type FastIo, fastIo } from '../io/fastio.js';
import type { FlowContext } from './context.js';
import { TCP_CLOSE, tcpState } from '../ns/sys.js';
import { copyBytes } from '../wire/bytes.js';
import { format4, format6, IPPROTO_TCP, IPV4_HLEN, IPV6_HLEN, equal6 } from '../wire/ip.js';
import {
  ACK, FIN, PSH, RST, SYN, TCP_HLEN, type TcpView, newTcpView, parseTcp, seqAdd, seqDiff, writeTcp,
} from '../wire/tcp.js';

/** Our window scale towards the guest: windows up to 16 MiB. */
const OUR_WSCALE = 8;
/**
 * Bytes written to a host socket and not yet taken by its kernel buffer
 * before our window closes: per connection, and for all connections together.
 * The kernel's socket buffers do the real buffering; these bound what Node
 * holds on top of them.
 */
const RCV_LIMIT = 1 << 20;
const RCV_LIMIT_ALL = 4 << 20;
/** What every connection may have outstanding towards its host socket, whatever the shared budget says. */
const RCV_GUARANTEED = 128 << 10;
/**
 * Bytes read from a host socket and not yet acknowledged by the guest before
 * we stop reading it (the host kernel's window then closes): per connection,
 * and for all connections together. A local guest acknowledges within
 * microseconds, but only once it has read the frames of a whole burst: with
 * 512 KiB a download paused and resumed every 8 frames and stayed at pasta's
 * speed (6-8 Gbit/s here); 4 MiB took it to 11-14 Gbit/s (scripts/bench.mjs,
 * tcp_in_inet and tcp_in_hostlo, 1, 2 and 4 MiB measured side by side).
 */
const SND_LIMIT = 4 << 20;
const SND_LIMIT_ALL = 8 << 20;
/**
 * The guest's MSS (536 when it announces none), never below 48 as Linux
 * clamps it: a guest announcing MSS 1 would otherwise get a frame per byte.
 */
function clampMss(announced: number, max: number): number {
  return Math.min(Math.max(announced || 536, 48), max);
}

const RTO_MIN_MS = 200;
/** Segments shorter than this with PSH get a delayed ACK (at most DELACK_MS), as requests do. */
const DELACK_BELOW = 1024;
const DELACK_MS = 1;
const RTO_MAX_MS = 10_000;
const MAX_RETRIES = 12;
const CONNECT_TIMEOUT_MS = 30_000;

/** What the translator needs of a host socket: a net.Socket, or fastio's NativeSocket. */
interface HostSocket {
  readonly destroyed: boolean;
  readonly writableLength: number;
  write(chunk: Uint8Array, cb?: () => void): boolean;
  end(): void;
  pause(): void;
  resume(): void;
  destroy(): void;
  resetAndDestroy(): void;
}

/** An address (IPv4 as a number, IPv6 as 16 bytes) as the string Node's sockets take. */
function formatAddr(addr: number | Buffer): string {
  return typeof addr === 'number' ? format4(addr) : format6(addr);
}

/** The descriptor under a connected host socket, or -1. */
function fdOf(sock: HostSocket): number {
  if (sock instanceof NativeSocket) return sock.fd;
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return fd !== undefined && fd >= 0 ? fd : -1;
}

const enum State {
  /** guest sent SYN, host socket connecting */
  Connecting,
  /** a host peer connected to a forwarded port: SYN sent to the guest */
  SynToGuest,
  /** SYN-ACK sent to the guest */
  SynSent,
  Established,
  Closed,
}

export interface TcpStats {
  conns: number;
  opened: number;
  refused: number;
  retransmits: number;
  /** guest data written to host sockets straight from the frame, and through Node's streams (bytes) */
  directBytes: number;
  streamBytes: number;
}

export class TcpConn implements SocketOwner {
  state: State;
  readonly sock: HostSocket;
  /** collision chain in the port-pair table */
  next: TcpConn | undefined;

  // guest → host
  rcvNxt: number;
  guestFin = false;
  private unflushed = 0;
  private lastWnd = 0;

  // host → guest
  readonly iss = (Math.random() * 0x100000000) >>> 0;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  guestWscale: number;
  mss: number;
  /**
   * Host data from sndUna on. The last entry may be `tail`, a whole pooled
   * buffer that reads are packed into, of which tailFill bytes hold data.
   */
  private queue: Buffer[] = [];
  private tail: Buffer | undefined;
  private tailFill = 0;
  /** bytes of queue[0] already acknowledged by the guest */
  private qHead = 0;
  /** bytes queued from sndUna on (unacked plus unsent) */
  private queued = 0;
  private hostEof = false;
  private finSent = false;
  private dupAcks = 0;
  private paused = false;
  private rto = RTO_MIN_MS;
  private retries = 0;
  /**
   * The connection's one timer: the connect timeout while connecting, then
   * the retransmission timer. Data that is acknowledged at once (the usual
   * case on a local link) would otherwise restart a timer per round trip:
   * instead an acknowledgement only disarms it (`armed`), and the pending
   * timeout, when it comes, is dropped or restarted (`rearm`). A timeout
   * therefore never fires earlier than the RTO after arming, at worst once
   * more the RTO later. With the fastio addon it is the host socket's own
   * libuv timer (nothing allocated per start), else a Node timer.
   */
  private readonly timer: Timer;
  private timerPending = false;
  /** whether a retransmission timeout is wanted */
  private armed = false;
  /** the pending timer was set before the current arming: start a full RTO when it fires */
  private rearm = false;
  /** the duration the pending timer was set for */
  private timerMs = 0;
  ackPending = false;
  /** the acknowledgement number of our last segment */
  private ackSent = 0;
  /** waiting in the translator's delayed-ACK list, for data up to delackSeq */
  delackQueued = false;
  private delackSeq = 0;
  /** a burst of host reads is under way: send to the guest at its end */
  private deferPush = false;
  /** the host socket's descriptor once connected, for direct writes; -1 until then */
  private hostFd = -1;

  constructor(
    private readonly t: TcpTranslator,
    readonly v6: boolean,
    /** guest's address: IPv4 as number, IPv6 as 16 bytes */
    readonly guest4: number,
    readonly guest6: Buffer | undefined,
    readonly guestPort: number,
    /** the address the guest talks to (guest view) */
    readonly remote4: number,
    readonly remote6: Buffer | undefined,
    readonly remotePort: number,
    /** outbound: the guest's SYN and where to connect; inbound: the accepted host socket */
    from: { syn: TcpView; addr: number | Buffer } | { accepted: net.Socket },
  ) {
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    if ('syn' in from) {
      const { syn } = from;
      this.state = State.Connecting;
      this.rcvNxt = seqAdd(syn.seq, 1);
      this.guestWscale = syn.wscale;
      this.sndWnd = syn.window;
      this.mss = clampMss(syn.mss, this.maxMss());
      // Every connection reads into the one shared buffer and the data is
      // copied out at once, packed into pooled buffers: memory held stays
      // in proportion to the data, whatever the number of connections.
      // With the fastio addon the host socket is a NativeSocket (one system
      // call per read or write, its events as calls to this connection's
      // onHost* methods); else Node's net.Socket.
      if (t.io) {
        const native = new NativeSocket(t.io, from.addr, remotePort, t.readBuf, this);
        this.sock = native;
        this.timer = t.nativeTimers ? new SocketTimer(native) : this.nodeTimer();
      } else {
        const s = net.connect({
          host: formatAddr(from.addr),
          port: remotePort,
          allowHalfOpen: true,
          noDelay: true,
          // (Node keeps each socket's next read buffer between reads, so a
          // buffer handed to one socket can never be given to the queue.)
          onread: {
            buffer: t.readBuf,
            callback: (n: number, buf: Uint8Array): boolean => {
              this.append(buf as Buffer, n);
              return !this.paused;
            },
          },
        } as net.NetConnectOpts);
        s.once('connect', () => this.onHostConnect());
        this.listen(s);
        this.sock = s;
        this.timer = this.nodeTimer();
      }
      this.startTimer(CONNECT_TIMEOUT_MS);
    } else {
      this.state = State.SynToGuest;
      this.rcvNxt = 0;
      this.guestWscale = -1;
      this.sndWnd = 0;
      this.mss = 536;
      from.accepted.setNoDelay(true);
      this.sock = from.accepted;
      this.timer = this.nodeTimer();
      this.listen(from.accepted);
      this.hostFd = fdOf(this.sock);
      this.sendSyn();
      this.armTimer();
    }
  }

  /** A Node timer whose expiry is onHostTimer(), as a NativeSocket's is. */
  private nodeTimer(): Timer {
    return newTimer(null, () => this.onHostTimer());
  }

  /** A net.Socket's events, to the calls a NativeSocket makes. */
  private listen(s: net.Socket): void {
    s.on('data', (d: Buffer) => this.onHostData(d));
    s.on('end', () => this.onHostEnd());
    s.on('error', (e: NodeJS.ErrnoException) => this.onHostError(e));
    s.on('close', () => this.onHostClose());
  }

  private maxMss(): number {
    return this.t.ctx.plan.mtu - (this.v6 ? IPV6_HLEN : IPV4_HLEN) - TCP_HLEN;
  }

  get describe(): string {
    const r = this.v6 ? `[${format6(this.remote6!)}]` : format4(this.remote4);
    return `${r}:${this.remotePort} (guest port ${this.guestPort})`;
  }

  // ---- host socket events ----

  onHostConnect(): void {
    this.hostFd = fdOf(this.sock);
    this.state = State.SynSent;
    this.sendSynAck();
    this.armTimer();
  }

  private sendSynAck(): void {
    this.emit(this.iss, SYN | ACK, this.maxMss(), this.guestWscale >= 0 ? OUR_WSCALE : -1);
    this.sndNxt = seqAdd(this.iss, 1);
  }

  /** Opens the guest side of an inbound connection. */
  private sendSyn(): void {
    this.emit(this.iss, SYN, this.maxMss(), OUR_WSCALE);
    this.sndNxt = seqAdd(this.iss, 1);
  }

  /** The guest's SYN-ACK for an inbound connection. */
  private onSynAck(seg: TcpView): void {
    if ((seg.flags & (SYN | ACK)) !== (SYN | ACK) || seg.ack !== seqAdd(this.iss, 1)) return;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.guestWscale = seg.wscale;
    this.sndWnd = seg.window; // never scaled in SYN segments
    this.mss = clampMss(seg.mss, this.maxMss());
    this.sndUna = seg.ack;
    this.state = State.Established;
    this.rto = RTO_MIN_MS;
    this.retries = 0;
    this.stopTimer();
    this.sendAck();
    this.pushData();
  }

  /** Copies a read into the room left in the tail buffer of the queue, and new ones. */
  private append(src: Buffer, n: number): void {
    let off = 0;
    while (off < n) {
      let tail = this.tail;
      if (!tail || this.tailFill === CHUNK) {
        this.sealTail();
        tail = this.tail = this.t.pool.get();
        this.tailFill = 0;
        this.queue.push(tail);
      }
      const take = Math.min(n - off, CHUNK - this.tailFill);
      copyBytes(src, off, tail, this.tailFill, take);
      this.tailFill += take;
      off += take;
      this.account(take);
    }
  }

  /** Packs no more into the tail: its queue entry becomes a view of the bytes it holds. */
  private sealTail(): void {
    const tail = this.tail;
    if (!tail) return;
    const last = this.queue.length - 1;
    if (this.tailFill < CHUNK && this.queue[last] === tail) this.queue[last] = tail.subarray(0, this.tailFill);
    this.tail = undefined;
  }

  /** The bytes a queue entry holds. */
  private entryLen(b: Buffer): number {
    return b === this.tail ? this.tailFill : b.length;
  }

  private account(n: number): void {
    this.queued += n;
    this.t.queuedAll += n;
    if (!this.paused && (this.queued >= SND_LIMIT || this.t.queuedAll >= SND_LIMIT_ALL)) {
      if (this.t.queuedAll >= SND_LIMIT_ALL) this.t.pausedForAll = true;
      this.pause();
    }
    if (!this.deferPush) this.pushData();
  }

  /** A NativeSocket's read: the reads of one wakeup go to the guest together, at its end. */
  onHostRead(n: number, buf: Buffer): boolean {
    // (64 KiB reads against a 65480-byte MSS would otherwise leave a
    // 56-byte frame behind each full one)
    this.deferPush = true;
    this.append(buf, n);
    return !this.paused;
  }

  onHostReadsDone(): void {
    this.deferPush = false;
    this.pushData();
  }

  onHostClose(): void {
    this.hostFd = -1;
    this.maybeDone();
  }

  /** The connect timeout, or the retransmission timer. */
  onHostTimer(): void {
    this.timerPending = false;
    if (this.state === State.Closed) return;
    if (this.state === State.Connecting) {
      this.onHostError(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
      return;
    }
    if (!this.armed) return;
    if (this.rearm) {
      this.startTimer(this.rto);
      return;
    }
    this.armed = false;
    this.onTimeout();
  }

  private onHostData(d: Buffer): void {
    this.sealTail();
    this.queue.push(d);
    this.account(d.length);
  }

  private pause(): void {
    this.paused = true;
    this.sock.pause();
    this.t.paused.add(this);
  }

  /** Reads again once both this connection's and the shared budget have room. */
  resumeIfRoom(): void {
    if (this.paused && this.queued < SND_LIMIT / 2 && this.t.queuedAll < SND_LIMIT_ALL / 2) {
      this.paused = false;
      this.t.paused.delete(this);
      this.sock.resume();
    }
  }

  onHostEnd(): void {
    // libuv takes a hang-up for end of file, also when the peer reset the
    // connection while our reads were paused: the kernel's state tells them
    // apart, and an aborted download must not reach the guest as complete.
    // (Once we have sent our own FIN, a normal close also ends in TCP_CLOSE:
    // the kernel hands the connection to a time-wait socket.)
    const fd = fdOf(this.sock);
    if (!this.guestFin && fd >= 0 && (this.t.io ? this.t.io.tcpState(fd) : tcpState(fd)) === TCP_CLOSE) {
      this.onHostError(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
      return;
    }
    this.hostEof = true;
    this.pushData();
    this.maybeDone();
  }

  onHostError(e: NodeJS.ErrnoException): void {
    if (this.state === State.Closed) return;
    if (this.state === State.Connecting) {
      this.t.stats.refused++;
      this.t.ctx.log.debug(`TCP connect to ${this.describe} failed: ${e.code ?? e.message}`);
    } else {
      this.t.ctx.log.debug(`TCP ${this.describe}: host socket error ${e.code ?? e.message}`);
    }
    // Refused, reset or unreachable: the guest gets a reset either way.
    this.emit(this.state === State.Connecting ? 0 : this.sndNxt, RST | ACK);
    this.close();
  }

  // ---- guest segments ----

  onSegment(buf: Buffer, seg: TcpView): void {
    if (seg.flags & RST) {
      this.sock.resetAndDestroy();
      this.close();
      return;
    }
    if (this.state === State.SynToGuest) {
      this.onSynAck(seg);
      return;
    }
    if (seg.flags & SYN) {
      // A retransmitted SYN: answer again once we have answered at all. On a
      // synchronized connection, a challenge ACK (RFC 5961 4.2): a guest
      // reusing the ports learns the connection still exists and resets it.
      if (this.state === State.SynSent) this.sendSynAck();
      else if (this.state === State.Established) this.ackSoon();
      return;
    }
    if (this.state === State.Connecting) return; // no ACK possible yet
    // During the handshake only the ACK of our SYN is acceptable, data included.
    if (this.state === State.SynSent && (!(seg.flags & ACK) || seg.ack !== seqAdd(this.iss, 1))) return;
    if (seg.flags & ACK) this.onAck(seg);
    if (this.state === State.Closed) return;

    let len = seg.dataLen;
    let dataOff = seg.dataOff;
    let fin = (seg.flags & FIN) !== 0;
    const d = seqDiff(this.rcvNxt, seg.seq);
    if (len === 0 && !fin) {
      // An empty segment below the window is a keepalive probe (rcvNxt - 1)
      // or a stale duplicate: acknowledge, so the guest knows we are alive.
      if (d > 0) this.ackSoon();
      this.maybeDone();
      return;
    }
    if (d > len || (d === len && !fin)) {
      this.ackSoon(); // wholly old (a retransmission): re-acknowledge
      return;
    }
    if (d < 0) {
      this.ackSoon(); // a gap: something before this was lost; drop it, ask again
      return;
    }
    // Partly old data: keep only what is new.
    dataOff += d;
    len -= d;
    // Never take more than the window we offer: a guest that ignores it
    // must not make us buffer without bound. What is cut is sent again.
    const room = this.window();
    if (len > room) {
      len = room;
      fin = false;
      this.ackPending = true;
    }
    const immediate = this.ackPending; // a trimmed segment is answered at once
    if (len > 0 && !this.guestFin) {
      this.writeHost(buf, dataOff, len);
      this.rcvNxt = seqAdd(this.rcvNxt, len);
      this.ackPending = true;
    }
    if (fin && !this.guestFin) {
      this.guestFin = true;
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.sock.end();
      this.ackPending = true;
    }
    if (!immediate && !fin && len > 0 && len < DELACK_BELOW && (seg.flags & PSH)) {
      // A small pushed segment is most likely a request: its answer will
      // carry the ACK, saving the guest and us a frame each.
      this.delayAck();
    } else if (this.ackPending) {
      this.t.scheduleFlush(this);
    }
    this.maybeDone();
  }

  private delayAck(): void {
    if (this.delackQueued) return;
    this.delackQueued = true;
    this.delackSeq = this.rcvNxt;
    this.t.delayAck(this);
  }

  /**
   * The delayed-ACK tick: acknowledges data that has waited a whole tick.
   * Returns true to stay in the list: an answer acknowledged what we waited
   * for, but newer data waits now (a request in flight), and gets its own
   * full tick rather than an early, useless ACK.
   */
  delackTick(): boolean {
    if (!this.ackPending || this.state === State.Closed) {
      this.delackQueued = false;
      return false;
    }
    if (seqDiff(this.ackSent, this.delackSeq) < 0) {
      this.delackQueued = false;
      this.sendAck();
      return false;
    }
    this.delackSeq = this.rcvNxt;
    return true;
  }

  /** Acknowledges in this event-loop turn's flush. */
  private ackSoon(): void {
    this.ackPending = true;
    this.t.scheduleFlush(this);
  }

  private onAck(seg: TcpView): void {
    const ack = seg.ack;
    const wnd = this.guestWscale >= 0 && this.state !== State.SynSent ? seg.window << this.guestWscale : seg.window;
    if (this.state === State.SynSent) {
      if (ack !== seqAdd(this.iss, 1)) return;
      this.state = State.Established;
      this.sndUna = ack;
      this.sndWnd = this.guestWscale >= 0 ? seg.window << this.guestWscale : seg.window;
      this.rto = RTO_MIN_MS;
      this.retries = 0;
      this.stopTimer();
      this.pushData();
      return;
    }
    const acked = seqDiff(ack, this.sndUna);
    if (acked > 0 && seqDiff(this.sndNxt, ack) >= 0) {
      this.consume(acked);
      this.sndUna = ack;
      this.dupAcks = 0;
      this.retries = 0;
      this.rto = RTO_MIN_MS;
      if (this.sndUna === this.sndNxt) this.stopTimer(true);
      else this.armTimer(true);
    } else if (acked === 0 && seg.dataLen === 0 && this.sndNxt !== this.sndUna && wnd === this.sndWnd) {
      if (++this.dupAcks === 3) this.retransmit(); // fast retransmit
    }
    // A guest that answers our window probes is alive, however long its
    // window stays closed (RFC 1122 4.2.2.17): probes are not retries.
    if (acked === 0 && wnd === 0) this.retries = 0;
    this.sndWnd = wnd;
    this.pushData();
    this.resumeIfRoom();
    this.t.resumePaused();
  }

  /** Drops n acknowledged bytes (a FIN counts as one, with no data behind it). */
  private consume(n: number): void {
    let left = Math.min(n, this.queued);
    this.queued -= left;
    this.t.queuedAll -= left;
    while (left > 0) {
      const head = this.queue[0];
      const avail = this.entryLen(head) - this.qHead;
      if (avail > left) {
        this.qHead += left;
        left = 0;
      } else {
        left -= avail;
        this.queue.shift();
        if (head === this.tail) this.tail = undefined; // no more packing into it
        this.t.pool.release(head);
        this.qHead = 0;
      }
    }
  }

  /**
   * Hands guest data to the host socket. While Node holds nothing for it,
   * the data goes to the kernel by one write() straight from the frame;
   * whatever the kernel does not take (or everything, without the fastio
   * addon) is copied into pooled buffers (the frame buffer is reused) and
   * queued behind Node's stream, which keeps the order from then on.
   */
  private writeHost(buf: Buffer, off: number, len: number): void {
    const io = this.t.io;
    if (io && this.hostFd >= 0 && this.unflushed === 0 && this.sock.writableLength === 0) {
      const n = io.write(this.hostFd, buf, off, len);
      if (n > 0) this.t.stats.directBytes += n;
      if (n === len) return;
      // EAGAIN or a short write: Node's stream takes the rest. On an error
      // (EPIPE, ECONNRESET) it writes it again and reports the error.
      if (n > 0) {
        off += n;
        len -= n;
      }
    }
    const pool = this.t.pool;
    this.t.stats.streamBytes += len;
    for (let p = off, end = off + len; p < end; ) {
      const n = Math.min(CHUNK, end - p);
      const chunk = pool.get();
      buf.copy(chunk, 0, p, p + n);
      this.unflushed += n;
      this.t.unflushedAll += n;
      this.sock.write(chunk.subarray(0, n), () => {
        pool.release(chunk);
        this.onFlushed(n);
      });
      p += n;
    }
  }

  private onFlushed(len: number): void {
    if (this.state === State.Closed) return; // already taken off the shared count
    this.unflushed -= len;
    this.t.unflushedAll -= len;
    // Reopen a window we had closed (or nearly) once the host took the data.
    if (this.lastWnd < RCV_LIMIT / 4 && this.window() >= RCV_LIMIT / 4) {
      this.ackPending = true;
      this.t.scheduleFlush(this);
    }
  }

  /** Our receive window in bytes. */
  private window(): number {
    // Each connection keeps a guaranteed share whatever the others hold, so
    // a few stalled host peers cannot close every window.
    const shared = Math.max(RCV_LIMIT_ALL - this.t.unflushedAll, RCV_GUARANTEED - this.unflushed);
    return Math.max(0, Math.min(RCV_LIMIT - this.unflushed, shared));
  }

  // ---- sending to the guest ----

  /** Sends as much queued host data as the guest's window allows, then FIN if due. */
  pushData(): void {
    if (this.state !== State.Established) return;
    let inFlight = seqDiff(this.sndNxt, this.sndUna);
    const dataEnd = this.queued; // bytes from sndUna
    while (inFlight < dataEnd && inFlight < this.sndWnd) {
      const n = Math.min(this.mss, dataEnd - inFlight, this.sndWnd - inFlight);
      this.emitData(inFlight, n);
      inFlight += n;
      this.sndNxt = seqAdd(this.sndNxt, n);
    }
    if (this.hostEof && !this.finSent && inFlight === dataEnd) {
      this.finSent = true;
      this.emit(this.sndNxt, FIN | ACK);
      this.sndNxt = seqAdd(this.sndNxt, 1);
    }
    if (this.sndNxt !== this.sndUna) this.armTimer();
    else if (this.sndWnd === 0 && dataEnd > 0) this.armTimer(); // window probe
  }

  /** Emits n bytes of queued data starting `offset` bytes after sndUna. */
  private emitData(offset: number, n: number): void {
    const ctx = this.t.ctx;
    const l4 = this.begin(TCP_HLEN + n);
    const tx = ctx.link.tx;
    const p = writeTcp(tx, l4, this.remotePort, this.guestPort, seqAdd(this.sndUna, offset), this.rcvNxt,
      ACK | PSH, this.scaledWindow());
    // copy from the queue
    let skip = offset + this.qHead;
    let out = p;
    let left = n;
    for (let i = 0; left > 0 && i < this.queue.length; i++) {
      const b = this.queue[i];
      const len = this.entryLen(b);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const take = Math.min(len - skip, left);
      copyBytes(b, skip, tx, out, take);
      out += take;
      left -= take;
      skip = 0;
    }
    this.ackPending = false;
    this.ackSent = this.rcvNxt;
    this.finish(l4, TCP_HLEN + n);
  }

  private scaledWindow(): number {
    const w = this.window();
    this.lastWnd = w;
    return Math.min(0xffff, this.guestWscale >= 0 ? w >>> OUR_WSCALE : w);
  }

  /** Emits a segment with no data. */
  emit(seq: number, flags: number, mss = 0, wscale = -1): void {
    const l4 = this.begin(TCP_HLEN + (mss ? 4 : 0) + (wscale >= 0 ? 4 : 0));
    const tx = this.t.ctx.link.tx;
    const end = writeTcp(tx, l4, this.remotePort, this.guestPort, seq, flags & ACK ? this.rcvNxt : 0, flags,
      this.scaledWindowFor(flags), mss, wscale);
    if (flags & ACK) {
      this.ackPending = false;
      this.ackSent = this.rcvNxt;
    }
    this.finish(l4, end - l4);
  }

  private scaledWindowFor(flags: number): number {
    if (flags & SYN) return 0xffff; // never scaled in SYN segments
    if (flags & RST) return 0;
    return this.scaledWindow();
  }

  sendAck(): void {
    if (this.state === State.Established || this.state === State.SynSent) this.emit(this.sndNxt, ACK);
    this.ackPending = false;
  }

  private begin(l4Len: number): number {
    const ctx = this.t.ctx;
    return this.v6 ? ctx.begin6(this.remote6!, this.guest6!, IPPROTO_TCP, l4Len) : ctx.begin4(this.remote4, this.guest4, IPPROTO_TCP, l4Len);
  }

  private finish(l4: number, l4Len: number): void {
    const ctx = this.t.ctx;
    if (this.v6) ctx.finish6(IPPROTO_TCP, l4, l4Len, 16);
    else ctx.finish4(this.remote4, this.guest4, IPPROTO_TCP, l4, l4Len, 16);
  }

  // ---- retransmission ----

  /** Arms the retransmission timer; restart: from now, even when armed. */
  private armTimer(restart = false): void {
    if (this.armed && !restart) return;
    this.armed = true;
    // a pending timer for longer (the connect timeout, or after a backoff) is too late
    if (!this.timerPending || this.rto < this.timerMs) this.startTimer(this.rto);
    else this.rearm = true;
  }

  /** Starts the connection's timer (again) for ms. */
  private startTimer(ms: number): void {
    this.rearm = false;
    this.timerMs = ms;
    this.timerPending = true;
    this.timer.start(ms);
  }

  /**
   * Disarms the retransmission timer. lazy: leave a pending timeout to find
   * nothing to do (the common case, everything acknowledged, where the next
   * segment arms it again at once).
   */
  private stopTimer(lazy = false): void {
    this.armed = false;
    if (lazy || !this.timerPending) return;
    this.timerPending = false;
    this.timer.stop();
  }

  private onTimeout(): void {
    if (this.state === State.Closed) return;
    if (++this.retries > MAX_RETRIES) {
      this.t.ctx.log.debug(`TCP ${this.describe}: guest stopped answering, resetting`);
      this.emit(this.sndNxt, RST | ACK);
      this.sock.resetAndDestroy();
      this.close();
      return;
    }
    this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
    if (this.state === State.SynSent) {
      this.sendSynAck();
    } else if (this.state === State.SynToGuest) {
      this.sendSyn();
    } else if (this.sndNxt === this.sndUna && this.sndWnd === 0) {
      this.emit(seqAdd(this.sndUna, 0xffffffff), ACK); // window probe: elicits an ACK
    } else {
      this.retransmit();
    }
    this.armTimer();
  }

  /** Go back to the oldest unacknowledged byte and send again. */
  private retransmit(): void {
    this.t.stats.retransmits++;
    if (this.finSent && this.queued === 0) {
      // only the FIN is outstanding
      this.emit(this.sndUna, FIN | ACK);
      return;
    }
    this.sndNxt = this.sndUna;
    this.finSent = false;
    this.pushData();
  }

  // ---- teardown ----

  private maybeDone(): void {
    if (this.state === State.Closed) return;
    const ourFinAcked = this.finSent && this.sndUna === this.sndNxt;
    if (this.guestFin && ourFinAcked && this.unflushed === 0) {
      if (this.ackPending) this.sendAck(); // the guest's FIN may still want its ACK
      this.sock.destroy();
      this.close();
    } else if (this.sock.destroyed && this.state === State.Connecting) {
      this.close();
    }
  }

  close(): void {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    this.hostFd = -1; // the number may soon be another descriptor's
    this.stopTimer();
    if (!this.sock.destroyed) this.sock.destroy();
    this.t.queuedAll -= this.queued;
    this.queued = 0;
    this.t.unflushedAll -= this.unflushed;
    this.unflushed = 0;
    for (const b of this.queue) this.t.pool.release(b);
    this.tail = undefined;
    this.queue = [];
    this.t.paused.delete(this);
    this.t.remove(this);
    this.t.resumePaused();
  }

  matches(v6: boolean, buf: Buffer, srcOff: number, dstOff: number, src4: number, dst4: number): boolean {
    if (v6 !== this.v6) return false;
    if (!v6) return src4 === this.guest4 && dst4 === this.remote4;
    return equal6(buf, srcOff, this.guest6!, 0) && equal6(buf, dstOff, this.remote6!, 0);
  }
}

/** All TCP connections, keyed by (guest port, remote port). */
export class TcpTranslator {
  private readonly table = new Map<number, TcpConn>();
  private readonly dirty = new Set<TcpConn>();
  private flushScheduled = false;
  /**
   * Connections with a delayed ACK due, and the one timer for all of them
   * (a timer per request costs more than the request's own work).
   */
  private delacks: TcpConn[] = [];
  private readonly delackTimer: Timer;
  private delackArmed = false;
  private readonly onDelack = (): void => {
    this.delackArmed = false;
    const list = this.delacks;
    let keep = 0;
    for (let i = 0; i < list.length; i++) if (list[i].delackTick()) list[keep++] = list[i];
    list.length = keep;
    if (keep > 0) this.armDelack();
  };
  private readonly seg = newTcpView();
  readonly stats: TcpStats = { conns: 0, opened: 0, refused: 0, retransmits: 0, directBytes: 0, streamBytes: 0 };
  /**
   * Free chunks kept: twice what the shared budget holds in flight. With 128,
   * 200 busy connections dropped chunks that came back while others were
   * taken anew, and the dead ones stayed in the malloc heap until a
   * collection: peak RSS 103 against 95 MiB, medians of 8 interleaved
   * rounds, worst 118 against 100 (scripts/bench.mjs rss_busy).
   */
  readonly pool = new BufferPool((2 * SND_LIMIT_ALL) / CHUNK);
  /** where every host read lands before it is copied into a connection's queue */
  readonly readBuf = Buffer.alloc(CHUNK);
  /** host data held for the guest, over all connections */
  queuedAll = 0;
  /** guest data handed to host sockets and not yet taken by their kernel buffers, over all connections */
  unflushedAll = 0;
  /** connections whose host socket is paused for lack of room */
  readonly paused = new Set<TcpConn>();

  /** set when a connection was paused because the shared budget ran out */
  pausedForAll = false;

  /** Once the shared budget has room again, lets connections paused for it read again. */
  resumePaused(): void {
    if (!this.pausedForAll || this.queuedAll >= SND_LIMIT_ALL / 2) return;
    this.pausedForAll = false;
    for (const c of this.paused) c.resumeIfRoom();
  }

  /**
   * Connections' and the delayed-ACK timers on libuv's own timers through
   * io (no Timeout objects, no timer lists made and dropped by duration);
   * nodeTimers: on Node's (tests that fake the clock).
   */
  readonly nativeTimers: boolean;

  constructor(readonly ctx: FlowContext, private readonly maxConns = 16384, readonly io: FastIo | null = fastIo(), nodeTimers = false) {
    this.nativeTimers = io !== null && !nodeTimers;
    this.delackTimer = newTimer(this.nativeTimers ? io : null, this.onDelack);
  }

  /** A TCP segment from the guest; ip fields come from the parsed IP header. */
  onGuestSegment(buf: Buffer, v6: boolean, srcOff: number, dstOff: number, src4: number, dst4: number, l4Off: number, l4Len: number): void {
    const seg = this.seg;
    if (!parseTcp(buf, l4Off, l4Len, seg)) {
      this.ctx.counters.drop('tcp_malformed');
      return;
    }
    const key = seg.srcPort * 0x10000 + seg.dstPort;
    let c = this.table.get(key);
    while (c && !c.matches(v6, buf, srcOff, dstOff, src4, dst4)) c = c.next;
    if (c) {
      c.onSegment(buf, seg);
      return;
    }
    if ((seg.flags & (SYN | ACK | RST | FIN)) === SYN) {
      this.open(buf, v6, srcOff, dstOff, src4, dst4, key);
      return;
    }
    if (!(seg.flags & RST)) this.resetStray(buf, v6, srcOff, dstOff, src4, dst4, seg);
  }

  private open(buf: Buffer, v6: boolean, srcOff: number, dstOff: number, src4: number, dst4: number, key: number): void {
    const seg = this.seg;
    if (this.stats.conns >= this.maxConns) {
      this.ctx.counters.drop('tcp_table_full');
      this.ctx.log.warn(`TCP connection table full (${this.maxConns}), refusing a new connection`);
      this.resetStray(buf, v6, srcOff, dstOff, src4, dst4, seg);
      return;
    }
    let addr: number | Buffer;
    let c: TcpConn;
    if (v6) {
      const guest6 = Buffer.from(buf.subarray(srcOff, srcOff + 16));
      const remote6 = Buffer.from(buf.subarray(dstOff, dstOff + 16));
      addr = this.ctx.hostDst6(buf, dstOff, seg.dstPort);
      c = new TcpConn(this, true, 0, guest6, seg.srcPort, 0, remote6, seg.dstPort, { syn: seg, addr });
    } else {
      addr = this.ctx.hostDst4(dst4, seg.dstPort);
      c = new TcpConn(this, false, src4, undefined, seg.srcPort, dst4, undefined, seg.dstPort, { syn: seg, addr });
    }
    this.insert(c, key);
    if (this.ctx.log.tracing) this.ctx.log.trace(`TCP open ${c.describe} via ${formatAddr(addr)}`);
  }

  private insert(c: TcpConn, key: number): void {
    c.next = this.table.get(key);
    this.table.set(key, c);
    this.stats.conns++;
    this.stats.opened++;
  }

  /**
   * A host peer connected to a forwarded port: open the connection towards
   * the guest. remote is the peer as the guest sees it (no NAT, except for
   * the host's own loopback and addresses, which are mapped).
   */
  inbound(sock: net.Socket, v6: boolean, remote: number | Buffer, remotePort: number, guestPort: number): void {
    const p = v6 ? this.ctx.plan.v6 : this.ctx.plan.v4;
    if (!p || this.stats.conns >= this.maxConns) {
      sock.resetAndDestroy();
      return;
    }
    const c = v6
      ? new TcpConn(this, true, 0, this.ctx.plan.v6!.addr, guestPort, 0, remote as Buffer, remotePort, { accepted: sock })
      : new TcpConn(this, false, this.ctx.plan.v4!.addr, undefined, guestPort, remote as number, undefined, remotePort, { accepted: sock });
    this.insert(c, guestPort * 0x10000 + remotePort);
    if (this.ctx.log.tracing) this.ctx.log.trace(`TCP inbound ${c.describe}`);
  }

  /** RST for a segment that belongs to no connection (RFC 9293 3.10.7.1). */
  private resetStray(buf: Buffer, v6: boolean, srcOff: number, dstOff: number, src4: number, dst4: number, seg: TcpView): void {
    const ctx = this.ctx;
    const seqLen = seg.dataLen + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
    const seq = seg.flags & ACK ? seg.ack : 0;
    const flags = seg.flags & ACK ? RST : RST | ACK;
    const ack = seqAdd(seg.seq, seqLen);
    let l4: number;
    if (v6) {
      const src = Buffer.from(buf.subarray(dstOff, dstOff + 16));
      const dst = Buffer.from(buf.subarray(srcOff, srcOff + 16));
      l4 = ctx.begin6(src, dst, IPPROTO_TCP, TCP_HLEN);
      writeTcp(ctx.link.tx, l4, seg.dstPort, seg.srcPort, seq, ack, flags, 0);
      ctx.finish6(IPPROTO_TCP, l4, TCP_HLEN, 16);
    } else {
      l4 = ctx.begin4(dst4, src4, IPPROTO_TCP, TCP_HLEN);
      writeTcp(ctx.link.tx, l4, seg.dstPort, seg.srcPort, seq, ack, flags, 0);
      ctx.finish4(dst4, src4, IPPROTO_TCP, l4, TCP_HLEN, 16);
    }
  }

  remove(c: TcpConn): void {
    const key = c.guestPort * 0x10000 + c.remotePort;
    let p = this.table.get(key);
    if (p === c) {
      if (c.next) this.table.set(key, c.next);
      else this.table.delete(key);
    } else {
      while (p && p.next !== c) p = p.next;
      if (p) p.next = c.next;
    }
    this.dirty.delete(c);
    this.stats.conns--;
  }

  /** c's ACK goes out within one to two DELACK_MS ticks unless data to the guest carries it first. */
  delayAck(c: TcpConn): void {
    this.delacks.push(c);
    if (!this.delackArmed) this.armDelack();
  }

  private armDelack(): void {
    this.delackArmed = true;
    this.delackTimer.start(DELACK_MS);
  }

  /** Acknowledgements are coalesced: one per connection per event-loop turn. */
  scheduleFlush(c: TcpConn): void {
    this.dirty.add(c);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const c of this.dirty) if (c.ackPending) c.sendAck();
    this.dirty.clear();
  }

  closeAll(): void {
    for (const head of [...this.table.values()]) {
      for (let c: TcpConn | undefined = head; c; c = c.next) c.close();
    }
    this.delackTimer.close();
    this.delackArmed = false;
    this.delacks = [];
  }
}
