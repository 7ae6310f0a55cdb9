// Findings of the fuzzer (test/fuzz) kept as regression tests: every
// finding file copied into cases/ is replayed through its target, and must
// pass now. The targets' seeds are replayed too, so that the targets
// themselves keep working. Here the dispatcher target rewrites every
// destination to the loopback (no private network namespace).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type FindingFile, replay } from '../../fuzz/engine.js';
import { TARGETS, targetByName } from '../../fuzz/targets/index.js';

const CASES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cases');
const files = fs.existsSync(CASES) ? fs.readdirSync(CASES).filter((f) => f.endsWith('.json')).sort() : [];

afterAll(async () => {
  for (const t of TARGETS) {
    t.reset?.();
    await t.teardown?.();
  }
});

describe('fuzz findings stay fixed', () => {
  it(`cases/ holds finding files of known targets (${files.length})`, () => {
    for (const file of files) {
      const f = JSON.parse(fs.readFileSync(path.join(CASES, file), 'utf8')) as FindingFile;
      expect(TARGETS.map((t) => t.name), file).toContain(f.target);
      expect(f.input, file).toMatch(/^([0-9a-f]{2})*$/);
      expect(Array.isArray(f.history), file).toBe(true);
    }
  });
  for (const file of files) {
    const f = JSON.parse(fs.readFileSync(path.join(CASES, file), 'utf8')) as FindingFile & { note?: string };
    it(`${file}: ${f.note ?? f.message.split('\n')[0]}`, async () => {
      const t = targetByName(f.target);
      await t.setup?.();
      const e = await replay(t, Buffer.from(f.input, 'hex'), f.history.map((h) => Buffer.from(h, 'hex')), f.config);
      expect(e, String((e as Error)?.stack ?? e)).toBeUndefined();
    });
  }
});

describe('fuzz targets accept their own seeds', () => {
  for (const t of TARGETS) {
    it(t.name, async () => {
      await t.setup?.();
      t.reset?.();
      for (const s of t.seeds()) {
        const e = await replay(t, s, [], t.config?.());
        expect(e, `${t.name} seed ${s.toString('hex')}: ${String((e as Error)?.stack ?? e)}`).toBeUndefined();
      }
    });
  }
});
