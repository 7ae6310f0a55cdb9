// A free list of fixed-size buffers for the TCP data path. Host reads land in
// pooled buffers (net.Socket's onread), guest data is copied into pooled
// buffers for the host socket, and both go back here once acknowledged or
// written, so the busy path makes no garbage for the collector: without this,
// dead 64 KiB buffers pile up between collections and the resident size of a
// busy helper grows to hundreds of megabytes.
export const CHUNK = 64 * 1024;

export class BufferPool {
  /** free buffers, each a whole chunk (a Buffer object kept is one not made again) */
  private readonly free: Buffer[] = [];
  private readonly mine = new WeakSet<ArrayBuffer>();
  allocated = 0;

  constructor(private readonly maxFree = 128) {}

  /** A buffer of CHUNK bytes, reused when one is free. */
  get(): Buffer {
    const free = this.free.pop();
    if (free) return free;
    const b = Buffer.allocUnsafeSlow(CHUNK);
    this.mine.add(b.buffer);
    this.allocated++;
    return b;
  }

  /** Returns a buffer (or any view into one) that came from get(); others are ignored. */
  release(view: Buffer): void {
    const ab = view.buffer as ArrayBuffer;
    if (!this.mine.has(ab)) return;
    if (this.free.length < this.maxFree) this.free.push(view.byteOffset === 0 && view.length === CHUNK ? view : Buffer.from(ab, 0, CHUNK));
    else {
      this.mine.delete(ab);
      this.allocated--;
    }
  }
}
