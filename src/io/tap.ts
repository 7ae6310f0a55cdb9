// The tap device on libuv's event loop, read into one user buffer (no
// allocation, no threadpool hop per frame). With the fastio addon each
// wakeup reads until the tap is empty; without it, a stream handle on the
// tap fd reads one frame per wakeup. Writes are one synchronous write() per
// frame, which is what a tap needs: every write is exactly one frame, and
// merging writes corrupts them.
import fs from 'node:fs';
import net from 'node:net';
import { finish, sum16 } from '../wire/checksum.js';
import type { FrameHandler, GuestLink } from './link.js';
import { type FastIo, type PollHandle, POLL_READ, fastIo } from './fastio.js';
import { fdReader } from './pollfd.js';
import { MAX_FRAME } from './link.js';

/** struct virtio_net_hdr (10 bytes, little-endian fields). */
export const VNET_HDR_LEN = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

export class TapLink implements GuestLink {
  readonly ethOff: number;
  readonly tx = Buffer.alloc(MAX_FRAME + VNET_HDR_LEN);
  txDropped = 0;
  private readonly rx = Buffer.alloc(MAX_FRAME + VNET_HDR_LEN);
  private sock?: net.Socket;
  private poll?: PollHandle;
  /** the native reader and writer, or null for Node's own handles */
  private readonly io: FastIo | null;

  constructor(private readonly fd: number, private readonly vnetHdr: boolean, io: FastIo | null = fastIo()) {
    this.io = io;
    this.ethOff = vnetHdr ? VNET_HDR_LEN : 0;
  }

  start(onFrame: FrameHandler): void {
    const hdr = this.ethOff;
    const rx = this.rx;
    if (this.io) {
      // read until the tap is empty on each wakeup, one call per frame
      this.poll = this.io.poll(this.fd, POLL_READ, rx, 0, rx.length, null, (n: number): void => {
        if (n > hdr) onFrame(rx, hdr, n - hdr);
      });
      return;
    }
    this.sock = fdReader(this.fd, {
      onread: {
        buffer: rx,
        callback: (n: number): boolean => {
          if (n > hdr) onFrame(rx, hdr, n - hdr);
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    this.sock.on('error', () => {
      /* a tap read error ends the link; the owner notices the close */
    });
  }

  send(len: number, csumStart: number, csumField: number): void {
    const tx = this.tx;
    const off = this.ethOff;
    if (this.vnetHdr) {
      for (let i = 0; i < VNET_HDR_LEN; i++) tx[i] = 0;
      if (csumStart >= 0) {
        tx[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        tx[6] = csumStart & 0xff;
        tx[7] = csumStart >>> 8;
        tx[8] = csumField & 0xff;
        tx[9] = csumField >>> 8;
      }
    } else if (csumStart >= 0) {
      completeChecksum(tx, off + csumStart, len - csumStart, csumField);
    }
    if (this.io) {
      if (this.io.write(this.fd, tx, 0, off + len) < 0) this.txDropped++;
      return;
    }
    try {
      fs.writeSync(this.fd, tx, 0, off + len);
    } catch {
      this.txDropped++;
    }
  }

  close(): void {
    if (this.poll) this.io!.stop(this.poll);
    this.poll = undefined;
    this.sock?.destroy();
  }
}

/** Completes a transport checksum whose field holds the pseudo-header sum. */
export function completeChecksum(buf: Buffer, l4Off: number, l4Len: number, field: number): void {
  const p = l4Off + field;
  const c = finish(sum16(buf, l4Off, l4Len));
  const v = c === 0 && field === 6 ? 0xffff : c; // UDP sends 0 as 0xffff
  buf[p] = v >>> 8;
  buf[p + 1] = v & 0xff;
}

