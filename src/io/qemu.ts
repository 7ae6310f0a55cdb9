// QEMU's stream netdev (`-netdev stream,addr.type=unix,addr.path=PATH`, and
// libvirt's passt backend): Ethernet frames over a UNIX stream socket, each
// preceded by its length as a 4-byte big-endian integer. There is no
// checksum offload on this path, so checksums are completed in software.
import net from 'node:net';
import { completeChecksum } from './tap.js';
import type { FrameHandler, GuestLink } from './link.js';
import { MAX_FRAME } from './link.js';

const LEN_HDR = 4;
/** Bytes queued towards QEMU before frames are dropped (TCP to the guest retransmits them). */
const TX_QUEUE_LIMIT = 16 << 20;

export class StreamLink implements GuestLink {
  readonly ethOff = LEN_HDR;
  readonly tx = Buffer.alloc(MAX_FRAME + LEN_HDR);
  txDropped = 0;
  rxMalformed = 0;
  private sock?: net.Socket;
  private onFrame?: FrameHandler;
  /** reassembly of frames split across reads */
  private pending = Buffer.alloc(0);
  private corked = false;

  start(onFrame: FrameHandler): void {
    this.onFrame = onFrame;
  }

  /** Serves one connected QEMU; resolves when it disconnects. */
  attach(sock: net.Socket): Promise<void> {
    this.sock = sock;
    this.pending = Buffer.alloc(0);
    sock.setNoDelay?.(true);
    return new Promise((resolve) => {
      sock.on('data', (d: Buffer) => this.onData(d));
      sock.on('error', () => sock.destroy());
      sock.on('close', () => {
        if (this.sock === sock) this.sock = undefined;
        resolve();
      });
    });
  }

  get connected(): boolean {
    return this.sock !== undefined;
  }

  private onData(d: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
    let p = 0;
    while (buf.length - p >= LEN_HDR) {
      const len = buf.readUInt32BE(p);
      if (len > MAX_FRAME) {
        // a corrupt length cannot be resynchronised on a byte stream
        this.rxMalformed++;
        this.sock?.destroy();
        return;
      }
      if (buf.length - p - LEN_HDR < len) break;
      this.onFrame?.(buf, p + LEN_HDR, len);
      p += LEN_HDR + len;
    }
    // keep only the incomplete tail (copied: d belongs to the stream)
    this.pending = p === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(p));
  }

  send(len: number, csumStart: number, csumField: number): void {
    const sock = this.sock;
    if (!sock || sock.destroyed) {
      this.txDropped++;
      return;
    }
    if (sock.writableLength > TX_QUEUE_LIMIT) {
      this.txDropped++;
      return;
    }
    const tx = this.tx;
    if (csumStart >= 0) completeChecksum(tx, LEN_HDR + csumStart, len - csumStart, csumField);
    tx.writeUInt32BE(len, 0);
    // frames queued in one event-loop turn leave in one writev
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      setImmediate(() => {
        this.corked = false;
        sock.uncork();
      });
    }
    sock.write(Buffer.from(tx.subarray(0, LEN_HDR + len)));
  }

  close(): void {
    this.sock?.destroy();
  }
}
