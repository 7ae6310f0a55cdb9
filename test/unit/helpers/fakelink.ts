// A GuestLink that keeps what the translator sends. Like the tap link without
// a virtio-net header (src/io/tap.ts), it completes partial transport
// checksums itself; before doing so it checks that the translator left the
// right pseudo-header sum in the field, and afterwards it verifies every
// checksum and length of the frame with the naive code in csum.ts.
import { completeChecksum } from '../../../src/io/tap.js';
import { type FrameHandler, type GuestLink, MAX_FRAME } from '../../../src/io/link.js';
import { onesSum, pseudoHeader } from './csum.js';
import { type Frame, describe, parseFrame, OUR_MAC } from './frames.js';

type Pred = (f: Frame) => boolean;

interface Waiter {
  pred: Pred;
  resolve: (f: Frame) => void;
}

export class FakeLink implements GuestLink {
  readonly tx: Buffer;
  txDropped = 0;
  /** every frame sent, in order */
  readonly sent: Frame[] = [];
  /** frames not yet taken by a test */
  readonly queue: Frame[] = [];
  /** problems found in sent frames; tests expect none */
  readonly errors: string[] = [];
  onFrame?: FrameHandler;
  closed = false;
  /** the source MAC every frame must carry (undefined: a test checks it itself) */
  expectSrcMac: Buffer | undefined = OUR_MAC;
  private waiters: Waiter[] = [];

  constructor(readonly ethOff = 0) {
    this.tx = Buffer.alloc(MAX_FRAME + ethOff);
  }

  send(len: number, csumStart: number, csumField: number): void {
    const tx = this.tx;
    const off = this.ethOff;
    if (csumStart >= 0) this.checkPartial(off, len, csumStart, csumField);
    if (csumStart >= 0) completeChecksum(tx, off + csumStart, len - csumStart, csumField);
    const raw = Buffer.from(tx.subarray(off, off + len));
    let f: Frame;
    try {
      f = parseFrame(raw);
    } catch (e) {
      this.errors.push(`unparseable frame: ${(e as Error).message}: ${raw.toString('hex')}`);
      return;
    }
    this.check(f);
    this.sent.push(f);
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve(f);
    } else {
      this.queue.push(f);
    }
  }

  /** The field must hold the pseudo-header sum for the frame's addresses and transport length. */
  private checkPartial(off: number, len: number, csumStart: number, field: number): void {
    const tx = this.tx;
    const type = tx.readUInt16BE(off + 12);
    const l3 = off + 14;
    const l4Len = len - csumStart;
    let expected: number;
    if (type === 0x0800) {
      expected = onesSum(pseudoHeader(tx.readUInt32BE(l3 + 12), tx.readUInt32BE(l3 + 16), tx[l3 + 9], l4Len));
      if (csumStart !== 14 + (tx[l3] & 0xf) * 4) this.errors.push(`csumStart ${csumStart} is not the IPv4 payload`);
    } else if (type === 0x86dd) {
      expected = onesSum(pseudoHeader(tx.subarray(l3 + 8, l3 + 24), tx.subarray(l3 + 24, l3 + 40), tx[l3 + 6], l4Len));
      if (csumStart !== 54) this.errors.push(`csumStart ${csumStart} is not the IPv6 payload`);
    } else {
      this.errors.push(`partial checksum on ethertype ${type}`);
      return;
    }
    const got = tx.readUInt16BE(off + csumStart + field);
    if (got % 0xffff !== expected % 0xffff) {
      this.errors.push(`pseudo-header sum in the checksum field is 0x${got.toString(16)}, expected 0x${expected.toString(16)}`);
    }
  }

  private check(f: Frame): void {
    const d = describe(f);
    if (this.expectSrcMac && !f.srcMac.equals(this.expectSrcMac)) this.errors.push(`${d}: source MAC ${f.srcMac.toString('hex')}`);
    if (f.ipv === 4 && !f.ipHdrOk) this.errors.push(`${d}: bad IPv4 header checksum`);
    if (f.ipv !== undefined && !f.ipLenOk) this.errors.push(`${d}: IP length does not match the frame`);
    if (f.ipv === 4 && f.ipFrag !== 0x4000) this.errors.push(`${d}: IPv4 flags/fragment 0x${f.ipFrag?.toString(16)}`);
    if (f.tcp && !f.tcp.csumOk) this.errors.push(`${d}: bad TCP checksum 0x${f.tcp.csum.toString(16)}`);
    if (f.udp && !f.udp.csumOk) this.errors.push(`${d}: bad UDP checksum 0x${f.udp.csum.toString(16)}`);
    if (f.udp && f.udp.len !== f.l4!.length) this.errors.push(`${d}: UDP length ${f.udp.len} != ${f.l4!.length}`);
    if (f.icmp && !f.icmp.csumOk) this.errors.push(`${d}: bad ICMP checksum 0x${f.icmp.csum.toString(16)}`);
  }

  /** Removes and returns the first queued frame matching pred, if any. */
  takeNow(pred: Pred = () => true): Frame | undefined {
    const i = this.queue.findIndex(pred);
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  /** Resolves with the first frame matching pred, queued or yet to come. */
  take(pred: Pred = () => true, timeoutMs = 3000, what = 'frame'): Promise<Frame> {
    const now = this.takeNow(pred);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const q = this.queue.map(describe).slice(-10).join('\n  ');
        reject(new Error(`no ${what} within ${timeoutMs} ms; queued:\n  ${q}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Removes and returns all queued frames matching pred. */
  drain(pred: Pred = () => true): Frame[] {
    const out: Frame[] = [];
    for (let i = 0; i < this.queue.length; ) {
      if (pred(this.queue[i])) out.push(...this.queue.splice(i, 1));
      else i++;
    }
    return out;
  }

  start(onFrame: FrameHandler): void {
    this.onFrame = onFrame;
  }

  close(): void {
    this.closed = true;
  }
}
