// One-shot timers that are started again and again: on libuv's own timers
// through the fastio addon (no allocation per start), else on Node's.
import { type FastIo, type PollHandle } from './fastio.js';

export interface Timer {
  /** (re)starts it: the callback runs once, ms from now */
  start(ms: number): void;
  stop(): void;
  /** stops it for good */
  close(): void;
}

class NativeTimer implements Timer {
  private readonly h: PollHandle;
  constructor(private readonly io: FastIo, cb: () => void) {
    this.h = io.timer(cb);
  }
  start(ms: number): void {
    this.io.pollTimer(this.h, Math.max(1, ms));
  }
  stop(): void {
    this.io.pollTimer(this.h, 0);
  }
  close(): void {
    this.io.stop(this.h);
  }
}

class NodeTimer implements Timer {
  private t: NodeJS.Timeout | undefined;
  private ms = 0;
  constructor(private readonly cb: () => void) {}
  start(ms: number): void {
    if (this.t && ms === this.ms) {
      this.t.refresh();
      return;
    }
    if (this.t) clearTimeout(this.t);
    this.ms = ms;
    this.t = setTimeout(this.cb, ms);
  }
  stop(): void {
    if (this.t) clearTimeout(this.t);
    this.t = undefined;
  }
  close(): void {
    this.stop();
  }
}

/** A timer on the addon's libuv timers when io is given, else on Node's setTimeout. */
export function newTimer(io: FastIo | null, cb: () => void): Timer {
  return io ? new NativeTimer(io, cb) : new NodeTimer(cb);
}
