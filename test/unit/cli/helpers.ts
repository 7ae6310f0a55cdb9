import { expect } from 'vitest';
import type { Config } from '../../../src/config.js';
import { parseCli } from '../../../src/cli/index.js';

export const ENV = { SHELL: '/bin/zsh', HOME: '/home/u' };

/** Parses and expects a runnable configuration. */
export function cfg(args: string[], prog = 'pasta-ts', env: Record<string, string | undefined> = ENV): Config {
  const res = parseCli(args, env, prog);
  if (res.kind !== 'run') throw new Error(`expected run, got exit ${res.code}: ${res.stderr ?? res.stdout}`);
  return res.config;
}

/** Parses and expects exit 1 with a one-line message; returns it without the trailing newline. */
export function fail(args: string[], prog = 'pasta-ts'): string {
  const res = parseCli(args, ENV, prog);
  expect(res.kind).toBe('exit');
  if (res.kind !== 'exit') throw new Error('unreachable');
  expect(res.code).toBe(1);
  expect(res.stdout).toBeUndefined();
  expect(res.stderr).toMatch(new RegExp(`^${prog}: [^\\n]+\\n$`));
  return (res.stderr ?? '').replace(/\n$/, '');
}

export const passt = (args: string[]): Config => cfg(args, 'passt');
export const failPasst = (args: string[]): string => fail(args, 'passt');
