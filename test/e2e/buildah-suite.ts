// The Buildah checks shared by buildah139-pasta.test.ts and
// buildah128-slirp4netns.test.ts: `buildah from` the imported busybox image,
// then `buildah run` fetching from and sending to a server outside.

import { beforeAll, describe, expect, it } from 'vitest';
import { check, dump, e2eRun, lines, ok, requirements, timings, type RunResult, type Where } from './harness.js';
import { expectUpload } from './podman-suite.js';

export interface BuildahSuite {
  title: string;
  where: Where;
  helper: 'pasta' | 'slirp4netns';
  dnsAddr: string;
}

const DOWN_BYTES = Number(process.env.E2E_DOWN_BYTES ?? 16 * 1024 * 1024);
const UP_BYTES = Number(process.env.E2E_UP_BYTES ?? 4 * 1024 * 1024);

export function buildahSuite(s: BuildahSuite): void {
  const req = requirements();
  describe.skipIf(req.skip)(s.title, () => {
    let r: RunResult;
    beforeAll(async () => {
      r = await e2eRun('buildah.sh', {
        where: s.where,
        env: { HELPER: s.helper, DNS_ADDR: s.dnsAddr, DOWN_BYTES: String(DOWN_BYTES), UP_BYTES: String(UP_BYTES) },
      });
      console.log(timings(r, s.title));
    }, 600_000);

    it('buildah from the imported busybox image', () => {
      ok(r, 'import', 'podman import of the busybox tarball failed');
      ok(r, 'from', 'buildah from --pull=never localhost/e2e-busybox failed');
    });

    it(`buildah run downloads ${DOWN_BYTES} bytes from a server outside through the ${s.helper} under test`, () => {
      const out = ok(r, 'download', 'buildah run ... wget from 203.0.113.5:8000 failed');
      const before = Number(check(r.stdout, 'calls-before').fields[s.helper] ?? 0);
      const after = Number(check(r.stdout, 'calls-after-run').fields[s.helper] ?? 0);
      expect(after, `buildah run did not call the ${s.helper} wrapper\n${dump(r)}`).toBeGreaterThan(before);
      expect(out.split(/\s+/)[0], 'sha256 of the downloaded data differs').toBe(lines(r.stdout, 'expected-blob')[0]);
    });

    it('the helper is gone once buildah run returns', () => {
      ok(r, 'download', 'buildah run failed, so there was no helper to watch');
      const alive = Number(check(r.stdout, 'run-alive').fields.n ?? 0);
      expect(alive, 'no helper process seen during buildah run (PASTA_TS_E2E_HELPER=1 missing from its environment?): the leftover checks would prove nothing').toBeGreaterThan(0);
      const gone = check(r.stdout, 'run-gone');
      expect(gone.ran, `the script stopped early\n${dump(r)}`).toBe(true);
      expect(gone.status, `helper still running 3 s after buildah run:\n${lines(r.stdout, 'run-gone-left').join('\n')}`).toBe('ok');
    });

    it(`buildah run uploads ${UP_BYTES} random bytes (base64) to a server outside, checksum right`, () => {
      expectUpload(ok(r, 'upload', 'buildah run ... wget --post-file failed'), UP_BYTES);
    });

    it(`buildah run resolves through ${s.dnsAddr}`, () => {
      expect(ok(r, 'dns', `buildah run ... nslookup e2e.example ${s.dnsAddr} failed\naddresses:\n${check(r.stdout, 'addr').out}`)).toContain('198.51.100.77');
    });

    it('buildah rm leaves no helper behind', () => {
      ok(r, 'rm', 'buildah rm failed');
      expect(check(r.stdout, 'final-gone').status, `helper processes left:\n${lines(r.stdout, 'final-gone-left').join('\n')}`).toBe('ok');
    });
  });
}
