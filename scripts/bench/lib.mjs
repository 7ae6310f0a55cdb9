// Small process and statistics utilities shared by the benchmark runner
// (scripts/bench.mjs) and the agent that runs inside each fake host
// (scripts/bench/agent.mjs). Node built-ins only.
import { spawn } from 'node:child_process';

/** Last `max` characters of a string, trimmed, for error messages. */
export function tail(s, max = 600) {
  const t = String(s ?? '').trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs argv to completion; never longer than timeoutMs (then SIGKILL).
 * Resolves {code, signal, stdout, stderr, ms, timedOut}. With check (the
 * default) it rejects on a timeout or a non-zero exit status instead.
 */
export function run(argv, { timeoutMs = 30_000, check = true, env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = {
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
        timedOut,
      };
      if (check && (timedOut || code !== 0)) {
        const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
        reject(new Error(`${argv.join(' ')}: ${why}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}`));
      } else {
        resolve(r);
      }
    });
  });
}

/**
 * Resolves with the first line of the child's stdout that matches re (and the
 * match), or rejects when the child exits first or timeoutMs passes.
 */
export function waitForLine(child, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (f, v) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      f(v);
    };
    const onData = (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = re.exec(line);
        if (m) return done(resolve, m);
      }
    };
    const onExit = (code, sig) => done(reject, new Error(`${what} exited (${sig ?? code}) before printing ${re}`));
    const timer = setTimeout(() => done(reject, new Error(`${what}: no ${re} within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Polls fn (async, truthy = done) every stepMs until it is done or timeoutMs passes. */
export async function poll(fn, timeoutMs, stepMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A number with three significant digits (no exponent for ordinary sizes). */
export function fmt(x) {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}
