// Logging through pino, printed as plain lines ("pasta-ts: message") on
// standard error or into -l/--log-file, as pasta's users expect to read them.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger as Pino } from 'pino';
import type { Log } from './flow/context.js';
import type { LogLevel } from './config.js';

export interface Logger extends Log {
  /** Sends further output to this file descriptor (after daemonizing). */
  redirect(fd: number | undefined): void;
  flush(): void;
}

/** pino's level numbers */
const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

export function createLogger(prog: string, level: LogLevel, file?: string, logSize?: number): Logger {
  let fd: number | undefined = file ? fs.openSync(file, 'a', 0o600) : 2;
  let written = 0;
  const stream = {
    write(line: string): void {
      if (fd === undefined) return;
      let text: string;
      try {
        const o = JSON.parse(line) as { level: number; time: number; msg: string };
        const tag = o.level >= 50 ? 'ERROR: ' : o.level >= 40 ? 'WARNING: ' : o.level <= 20 ? 'DEBUG: ' : '';
        text = level === 'debug' || level === 'trace' || file
          ? `${new Date(o.time).toISOString()} ${tag}${o.msg}\n`
          : `${prog}: ${tag}${o.msg}\n`;
      } catch {
        text = line;
      }
      if (logSize !== undefined && written + text.length > logSize && file) {
        fs.ftruncateSync(fd, 0); // pasta's --log-size: the file wraps around
        written = 0;
      }
      written += text.length;
      try {
        fs.writeSync(fd, text);
      } catch {
        fd = undefined;
      }
    },
  };
  // pino takes 15 ms to load: it is loaded with the first line worth printing,
  // which with --quiet (as Podman runs us) may be never.
  const threshold = LEVELS[level];
  let p: Pino | undefined;
  const logger = (): Pino => (p ??= (createRequire(import.meta.url)('pino') as typeof import('pino'))({ level, base: undefined }, stream));
  return {
    tracing: threshold <= LEVELS.trace,
    trace: (m) => { if (threshold <= LEVELS.trace) logger().trace(m); },
    debug: (m) => { if (threshold <= LEVELS.debug) logger().debug(m); },
    info: (m) => { if (threshold <= LEVELS.info) logger().info(m); },
    warn: (m) => { if (threshold <= LEVELS.warn) logger().warn(m); },
    error: (m) => logger().error(m),
    redirect(newFd) {
      if (!file) fd = newFd;
    },
    flush() {},
  };
}
