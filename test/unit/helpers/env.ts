// The in-process translator (envcore.ts), and a factory that closes each
// test's Envs and checks every frame they sent.
import { afterEach, expect } from 'vitest';
import { Env, type EnvOpts } from './envcore.js';

export * from './envcore.js';

/**
 * Returns a factory for Envs that are closed after each test of the calling
 * file; the test fails if any frame they sent had a wrong checksum or length.
 */
export function envFactory(): (o?: EnvOpts) => Env {
  let made: Env[] = [];
  afterEach(() => {
    const all = made;
    made = [];
    for (const e of all) e.close();
    for (const e of all) expect(e.link.errors).toEqual([]);
  });
  return (o?: EnvOpts) => {
    const e = new Env(o);
    made.push(e);
    return e;
  };
}
