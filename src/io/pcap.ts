// -p/--pcap: every frame crossing the guest link, in the classic pcap format
// (LINKTYPE_ETHERNET), readable by tcpdump and wireshark.
import fs from 'node:fs';
import type { FrameHandler, GuestLink } from './link.js';

const SNAPLEN = 65535 + 14;

export class PcapWriter {
  private readonly fd: number;
  private readonly rec = Buffer.alloc(16);

  constructor(path: string) {
    this.fd = fs.openSync(path, 'w', 0o600);
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); // microsecond timestamps
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(SNAPLEN, 16);
    h.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    fs.writeSync(this.fd, h);
  }

  write(buf: Buffer, off: number, len: number): void {
    const now = Date.now();
    const cap = Math.min(len, SNAPLEN);
    this.rec.writeUInt32LE(Math.floor(now / 1000), 0);
    this.rec.writeUInt32LE((now % 1000) * 1000, 4);
    this.rec.writeUInt32LE(cap, 8);
    this.rec.writeUInt32LE(len, 12);
    fs.writeSync(this.fd, this.rec);
    fs.writeSync(this.fd, buf, off, cap);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** A guest link that records every frame it carries. */
export class CapturingLink implements GuestLink {
  constructor(private readonly inner: GuestLink, private readonly pcap: PcapWriter) {}

  get ethOff(): number {
    return this.inner.ethOff;
  }

  get tx(): Buffer {
    return this.inner.tx;
  }

  get txDropped(): number {
    return this.inner.txDropped;
  }

  send(len: number, csumStart: number, csumField: number): void {
    this.inner.send(len, csumStart, csumField);
    this.pcap.write(this.inner.tx, this.inner.ethOff, len);
  }

  start(onFrame: FrameHandler): void {
    this.inner.start((buf, off, len) => {
      this.pcap.write(buf, off, len);
      onFrame(buf, off, len);
    });
  }

  close(): void {
    this.inner.close();
    this.pcap.close();
  }
}
