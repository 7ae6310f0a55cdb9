// What both stages share (kept small: stage 1 must load fast).

/** The descriptor a daemonized stage 2 (or passt) writes one byte to when ready. */
export const ENV_READY = 'PASTA_TS_READY_FD';

/** Prints "PROG: MSG" on standard error and exits (status 1 unless given). */
export function fail(prog: string, msg: string, code = 1): never {
  process.stderr.write(`${prog}: ${msg}\n`);
  process.exit(code);
}
