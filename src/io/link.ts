// The guest link: where Ethernet frames enter and leave. Two kinds exist: the
// tap device of a network namespace (pasta mode) and QEMU's stream socket
// (passt mode). Both present the same small interface to the translation
// code in src/flow/.

/** Receives one Ethernet frame at buf[off, off+len). The buffer is reused after return. */
export type FrameHandler = (buf: Buffer, off: number, len: number) => void;

export interface GuestLink {
  /** Offset in `tx` where the next outgoing Ethernet frame must start. */
  readonly ethOff: number;
  /** The buffer outgoing frames are built in; reused after each send(). */
  readonly tx: Buffer;
  /**
   * Sends the frame at tx[ethOff, ethOff+len). When csumStart >= 0 the frame's
   * transport checksum is incomplete: the 16-bit field at
   * csumStart+csumField (offsets relative to the frame start) holds the
   * pseudo-header sum, and the link must complete it (or have the kernel do so).
   */
  send(len: number, csumStart: number, csumField: number): void;
  /** Starts delivering received frames to the handler. */
  start(onFrame: FrameHandler): void;
  close(): void;
  /** Frames dropped because the link could not take them. */
  readonly txDropped: number;
}

export const MAX_FRAME = 65536 + 128;
