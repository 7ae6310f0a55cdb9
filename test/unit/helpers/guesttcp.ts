// The guest's end of one TCP connection, just enough TCP to drive the
// translator: builds segments, tracks sequence numbers both ways, and checks
// what comes back.
import { ACK, FIN, PSH, RST, SYN } from '../../../src/wire/tcp.js';
import type { Addr } from './csum.js';
import type { Env } from './env.js';
import { GUEST4, GUEST6, GW4, GW6 } from './env.js';
import { type Frame, describe, tcpFrame } from './frames.js';

export { ACK, FIN, PSH, RST, SYN };

export interface GuestTcpOpts {
  dstPort: number;
  v6?: boolean;
  srcPort?: number;
  src?: Addr;
  dst?: Addr;
  /** MSS offered in the SYN (0: none) */
  mss?: number;
  /** window scale offered in the SYN (-1: none) */
  wscale?: number;
  /** raw window field sent on every segment */
  window?: number;
  iss?: number;
}

let nextPort = 30000 + Math.floor(Math.random() * 20000);

const eqAddr = (a: Addr | undefined, b: Addr): boolean =>
  typeof a === 'number' || typeof b === 'number' ? a === b : a !== undefined && Buffer.compare(a, b) === 0;

export class GuestTcp {
  readonly v6: boolean;
  readonly src: Addr;
  readonly dst: Addr;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly mss: number;
  readonly wscale: number;
  window: number;
  readonly iss: number;
  sndNxt: number;
  rcvNxt = 0;
  peerIss = 0;
  synAck?: Frame;
  /** window scale the translator announced (0 when none) */
  peerShift = 0;
  /** latest acknowledgement and window (in bytes) from the translator */
  peerAck = 0;
  peerWnd = 0;
  readonly received: Buffer[] = [];
  receivedLen = 0;
  finReceived = false;

  constructor(readonly env: Env, o: GuestTcpOpts) {
    this.v6 = o.v6 ?? false;
    this.src = o.src ?? (this.v6 ? GUEST6 : GUEST4);
    this.dst = o.dst ?? (this.v6 ? GW6 : GW4);
    this.srcPort = o.srcPort ?? (nextPort = nextPort >= 60000 ? 30000 : nextPort + 1);
    this.dstPort = o.dstPort;
    this.mss = o.mss ?? 1460;
    this.wscale = o.wscale ?? 7;
    this.window = o.window ?? 0xffff;
    this.iss = o.iss ?? (Math.random() * 0x100000000) >>> 0;
    this.sndNxt = this.iss;
  }

  /** A frame from the translator belonging to this connection. */
  mine = (f: Frame): boolean => {
    const t = f.tcp;
    if (!t || t.srcPort !== this.dstPort || t.dstPort !== this.srcPort) return false;
    return this.v6 ? eqAddr(f.src6, this.dst) && eqAddr(f.dst6, this.src) : f.src4 === this.dst && f.dst4 === this.src;
  };

  /** Builds a segment; seq defaults to sndNxt (advanced), ack to rcvNxt. */
  frame(flags: number, o: { seq?: number; ack?: number; data?: Uint8Array; window?: number; options?: Uint8Array; mss?: number; wscale?: number } = {}): Buffer {
    const data = o.data ?? Buffer.alloc(0);
    const seq = o.seq ?? this.sndNxt;
    if (o.seq === undefined) this.sndNxt = (this.sndNxt + data.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
    return tcpFrame(this.src, this.dst, {
      srcPort: this.srcPort,
      dstPort: this.dstPort,
      seq,
      ack: o.ack ?? (flags & ACK ? this.rcvNxt : 0),
      flags,
      window: o.window ?? this.window,
      data,
      options: o.options,
      mss: o.mss,
      wscale: o.wscale,
    });
  }

  send(flags: number, o: Parameters<GuestTcp['frame']>[1] = {}): void {
    this.env.inject(this.frame(flags, o));
  }

  /** The next frame of this connection matching pred. */
  async next(pred: (f: Frame) => boolean = () => true, timeoutMs = 3000, what = 'segment'): Promise<Frame> {
    const f = await this.env.link.take((x) => this.mine(x) && pred(x), timeoutMs, what);
    this.note(f);
    return f;
  }

  nextNow(pred: (f: Frame) => boolean = () => true): Frame | undefined {
    const f = this.env.link.takeNow((x) => this.mine(x) && pred(x));
    if (f) this.note(f);
    return f;
  }

  /** All queued frames of this connection. */
  drain(): Frame[] {
    const fs = this.env.link.drain(this.mine);
    fs.forEach((f) => this.note(f));
    return fs;
  }

  private note(f: Frame): void {
    const t = f.tcp!;
    if (t.flags & ACK) {
      this.peerAck = t.ack;
      if (!(t.flags & SYN)) this.peerWnd = t.window * 2 ** this.peerShift;
    }
  }

  /** SYN; returns the SYN-ACK without acknowledging it. */
  async syn(): Promise<Frame> {
    this.send(SYN, { mss: this.mss, wscale: this.wscale });
    const sa = await this.next((f) => (f.tcp!.flags & (SYN | ACK)) === (SYN | ACK) || (f.tcp!.flags & RST) !== 0, 3000, 'SYN-ACK');
    const t = sa.tcp!;
    if (t.flags & RST) throw new Error(`connection refused: ${describe(sa)}`);
    if (t.ack !== ((this.iss + 1) >>> 0)) throw new Error(`SYN-ACK acknowledges ${t.ack}, expected ${this.iss + 1}`);
    this.synAck = sa;
    this.peerIss = t.seq;
    this.rcvNxt = (t.seq + 1) >>> 0;
    this.peerShift = this.wscale >= 0 && t.wscale !== undefined ? t.wscale : 0;
    this.peerWnd = t.window;
    return sa;
  }

  /** Three-way handshake; returns the SYN-ACK. */
  async connect(): Promise<Frame> {
    const sa = await this.syn();
    this.ack();
    return sa;
  }

  ack(o: { window?: number; ack?: number } = {}): void {
    this.send(ACK, { seq: this.sndNxt, ack: o.ack ?? this.rcvNxt, window: o.window });
  }

  /** Sends data in segments of at most segSize bytes (ACK|PSH, in order). */
  sendData(data: Uint8Array, segSize = 1460): void {
    for (let o = 0; o < data.length; o += segSize) this.send(ACK | PSH, { data: data.subarray(o, Math.min(data.length, o + segSize)) });
  }

  /**
   * Sends data as a well-behaved guest: segments of at most segSize bytes,
   * never beyond the window the translator advertised; waits for its ACKs
   * when the window is full. Leaves data segments from the translator queued.
   */
  async sendStream(data: Uint8Array, segSize: number, o: { timeoutMs?: number; onWindow?: (bytes: number) => void } = {}): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const room = this.peerWnd - ((this.sndNxt - this.peerAck) | 0);
      if (room <= 0) {
        const f = await this.next((x) => x.tcp!.data.length === 0 && (x.tcp!.flags & ACK) !== 0, o.timeoutMs ?? 3000,
          `an ACK opening the window (sent ${off} of ${data.length}, ack ${this.peerAck}, window ${this.peerWnd})`);
        o.onWindow?.(f.tcp!.window * 2 ** this.peerShift);
        continue;
      }
      const n = Math.min(segSize, room, data.length - off);
      this.send(ACK | PSH, { data: data.subarray(off, off + n) });
      off += n;
    }
  }

  /** Waits until the translator has acknowledged everything sent. */
  async waitAcked(timeoutMs = 3000): Promise<void> {
    while (this.peerAck !== this.sndNxt) {
      await this.next((x) => (x.tcp!.flags & ACK) !== 0 && x.tcp!.data.length === 0, timeoutMs, `ACK ${this.sndNxt} (have ${this.peerAck})`);
    }
  }

  /** Takes an in-sequence data or FIN segment into the receive stream; throws on anything else. */
  accept(f: Frame): void {
    const t = f.tcp!;
    if (t.seq !== this.rcvNxt) throw new Error(`out-of-order segment: ${describe(f)}, expected seq ${this.rcvNxt}`);
    if (t.data.length > 0) {
      this.received.push(t.data);
      this.receivedLen += t.data.length;
    }
    this.rcvNxt = (this.rcvNxt + t.data.length + (t.flags & FIN ? 1 : 0)) >>> 0;
    if (t.flags & FIN) this.finReceived = true;
  }

  /**
   * Receives until n bytes (and, with fin, the FIN) have arrived, acknowledging
   * every ackEvery segments. Checks each segment against maxSeg.
   */
  async recv(n: number, o: { ackEvery?: number; fin?: boolean; maxSeg?: number; timeoutMs?: number } = {}): Promise<Buffer> {
    const ackEvery = o.ackEvery ?? 1;
    let since = 0;
    while (this.receivedLen < n || (o.fin && !this.finReceived)) {
      const f = await this.next((x) => x.tcp!.data.length > 0 || (x.tcp!.flags & (FIN | RST)) !== 0, o.timeoutMs ?? 3000, `data (have ${this.receivedLen} of ${n})`);
      const t = f.tcp!;
      if (t.flags & RST) throw new Error(`reset while receiving: ${describe(f)}`);
      if (o.maxSeg !== undefined && t.data.length > o.maxSeg) throw new Error(`segment of ${t.data.length} bytes exceeds ${o.maxSeg}`);
      this.accept(f);
      if (++since >= ackEvery || (t.flags & FIN) !== 0) {
        this.ack();
        since = 0;
      }
    }
    if (since > 0) this.ack();
    return Buffer.concat(this.received);
  }

  /** Everything received so far (and clears it). */
  takeReceived(): Buffer {
    const b = Buffer.concat(this.received);
    this.received.length = 0;
    this.receivedLen = 0;
    return b;
  }
}
