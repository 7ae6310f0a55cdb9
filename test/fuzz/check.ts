// What a fuzz target asserts, and the shape of a target. A target throws a
// Finding (or anything else) when an input breaks a property; the engine
// (engine.ts) and the regression tests (test/unit/fuzz-regressions) catch it.
import type { Rng } from '../unit/helpers/rng.js';

export class Finding extends Error {
  override name = 'Finding';
}

export function check(cond: unknown, msg: string | (() => string)): asserts cond {
  if (!cond) throw new Finding(typeof msg === 'string' ? msg : msg());
}

/** An offset/length pair lies inside [lo, hi]. */
export function inside(what: string, start: number, len: number, lo: number, hi: number): void {
  check(Number.isInteger(start) && Number.isInteger(len), `${what}: non-integer offset ${start} or length ${len}`);
  check(len >= 0 && start >= lo && start + len <= hi, `${what}: [${start}, ${start + len}) outside [${lo}, ${hi})`);
}

const SLACK = 48;

/**
 * Runs parse on data placed at offset 7 of a buffer whose other bytes are
 * 0x00, then 0xff, then at offset 0 of a buffer with 0x5a slack: the result
 * (with offsets made relative by parse itself) must be the same each time.
 * A difference means the parser read outside buf[off, off+len), which
 * Buffer indexing does not catch (it reads undefined, i.e. 0, past the end,
 * or whatever lies around the frame in the shared receive buffer).
 */
export function sameOutsideBytes<T>(data: Uint8Array, parse: (buf: Buffer, off: number, len: number) => T): T {
  const run = (off: number, fill: number): string => {
    const buf = Buffer.alloc(off + data.length + SLACK, fill);
    buf.set(data, off);
    return JSON.stringify(parse(buf, off, data.length));
  };
  const a = run(7, 0x00);
  const b = run(7, 0xff);
  const c = run(0, 0x5a);
  check(a === b && a === c, () => `result depends on bytes outside the input:\n  ${a}\n  ${b}\n  ${c}`);
  // and the exact-size buffer (reads past the end give undefined) agrees
  const exact = Buffer.from(data);
  const d = JSON.stringify(parse(exact, 0, exact.length));
  check(a === d, () => `result differs in an exact-size buffer:\n  ${a}\n  ${d}`);
  return parse(Buffer.from(data), 0, data.length);
}

export interface FuzzTarget {
  readonly name: string;
  /** largest input the mutators make */
  readonly maxLen: number;
  /** inputs to start from, built with the src/wire writers */
  seeds(): Buffer[];
  /**
   * Runs one input; throws on a finding. Returns a short description of the
   * behaviour (parse result, drop reason...): an input showing a new one
   * joins the mutation pool, a poor man's coverage feedback.
   */
  run(data: Buffer): string | undefined;
  /** structure-aware mutation; undefined leaves it to the generic mutators */
  mutate?(data: Buffer, r: Rng): Buffer | undefined;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** stateful targets: let the event loop run every this many inputs, then call settle() */
  yieldEvery?: number;
  /** checks invariants after the event loop ran; throws on a finding */
  settle?(): Promise<void>;
  /** stateful targets: start from a clean state every this many inputs (the inputs since are a finding's history) */
  resetEvery?: number;
  /** starts over; with a configuration number (from config()), in that configuration */
  reset?(config?: number): void;
  /** the current configuration's number, saved with a finding so that a replay starts alike */
  config?(): number;
}
