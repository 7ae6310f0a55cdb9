// The bundle's entry (scripts/bundle/main.cjs as dist/bundle/main.js) and
// the V8 code cache the build makes for it: taken when it was made from this
// program.js, ignored when program.js is another file or V8 runs with other
// flags, and the program works the same either way. Needs `npm run build`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BUNDLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/bundle');
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pts-codecache-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What the entry in `dir` did with the cache, when Node runs with `flags`. */
function cacheState(dir: string, flags: string[] = []): string {
  const code = `process.stdout.write(require(${JSON.stringify(path.join(dir, 'main.js'))})[Symbol.for('pasta-ts.codeCache')].state)`;
  return execFileSync(process.execPath, [...flags, '-e', code], { env: ENV, encoding: 'utf8' });
}

/** `pasta-ts --version` through the entry in `dir`, as the front starts it. */
function version(dir: string, flags: string[] = []): string {
  return execFileSync(process.execPath, [...flags, path.join(dir, 'main.js'), 'pasta-ts', '--version'], { env: ENV, encoding: 'utf8' });
}

describe('the code cache of the bundle', () => {
  it('the build\'s cache is taken by a Node started as the front starts it', () => {
    expect(fs.statSync(path.join(BUNDLE, 'program.cache')).size).toBeGreaterThan(64 << 10);
    expect(cacheState(BUNDLE)).toBe('accepted');
    expect(version(BUNDLE)).toMatch(/^pasta-ts \d+\.\d+\.\d+\n/);
  });

  it('V8 refuses it under other V8 flags, and the program still runs', () => {
    expect(cacheState(BUNDLE, ['--max-old-space-size=200'])).toBe('rejected');
    expect(version(BUNDLE, ['--max-old-space-size=200'])).toBe(version(BUNDLE));
  });

  it('a program.js other than the one it was made from (size or mtime) is compiled without it', () => {
    const copy = path.join(tmp, 'bundle');
    fs.cpSync(BUNDLE, copy, { recursive: true }); // new mtimes
    expect(cacheState(copy)).toBe('none');
    expect(version(copy)).toBe(version(BUNDLE));
    const orig = fs.statSync(path.join(BUNDLE, 'program.js'));
    fs.utimesSync(path.join(copy, 'program.js'), orig.atime, orig.mtime);
    expect(cacheState(copy)).toBe('accepted');
    // one byte more, the same mtime: V8 would take a cache made for another source of the same length only
    fs.appendFileSync(path.join(copy, 'program.js'), '\n');
    fs.utimesSync(path.join(copy, 'program.js'), orig.atime, orig.mtime);
    expect(cacheState(copy)).toBe('none');
    expect(version(copy)).toBe(version(BUNDLE));
  });
});
