// What both stages share (kept small: stage 1 must load fast).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';

/** The descriptor a daemonized stage 2 (or passt) writes one byte to when ready. */
export const ENV_READY = 'PASTA_TS_READY_FD';

/** Prints "PROG: MSG" on standard error and exits (status 1 unless given). */
export function fail(prog: string, msg: string, code = 1): never {
  process.stderr.write(`${prog}: ${msg}\n`);
  process.exit(code);
}

/**
 * child_process's spawn, loaded on first use: loading node:child_process
 * takes some 5 ms, and a daemon that attaches to a namespace never needs it.
 */
export function spawn(file: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const cp = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  return cp.spawn(file, args, opts);
}
