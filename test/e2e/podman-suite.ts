// The Podman checks shared by podman5-pasta.test.ts and
// podman4-slirp4netns.test.ts: one fake host runs fixtures/podman.sh (every
// check in turn, each printing tagged results), then each `it` asserts on
// one check's results.

import { beforeAll, describe, expect, it } from 'vitest';
import { check, dump, e2eRun, lines, medianMs, ok, requirements, timings, type RunResult, type Where } from './harness.js';

export interface PodmanSuite {
  title: string;
  where: Where;
  /** the wrapper Podman must call: pasta or slirp4netns */
  helper: 'pasta' | 'slirp4netns';
  net: string;
  iface: string;
  /** address (with prefix) expected on iface */
  addr: string;
  dnsAddr: string;
  /** also publish through slirp4netns's API socket */
  slirpApi?: boolean;
}

const DOWN_BYTES = Number(process.env.E2E_DOWN_BYTES ?? 16 * 1024 * 1024);
const UP_BYTES = Number(process.env.E2E_UP_BYTES ?? 4 * 1024 * 1024);
/** `podman run` with the helper may take this much longer than with --network=none. */
const WALL_SLACK_MS = Number(process.env.E2E_WALL_SLACK_MS ?? 1500);
/** `podman run ... true` timings, each of the helper, the distribution's helper and --network=none */
const WALL_RUNS = Number(process.env.E2E_WALL_RUNS ?? 5);
/** the distribution's own helper in the root Podman runs in, timed alternately with the one under test */
const REF_HELPER = (s: PodmanSuite): string => `/usr/bin/${s.helper}`;
const DNS_ANSWER = '198.51.100.77';
const INDEX = 'pasta-ts e2e web root';

/** Output of an UPLOAD command: "sha  file", "size", "server-sha server-size". */
export function expectUpload(out: string, rawBytes: number): void {
  const [local = '', size = '', remote = ''] = out.trim().split('\n');
  const sha = local.split(/\s+/)[0];
  expect(Number(size), `the container's upload file is too short: ${out}`).toBeGreaterThanOrEqual(rawBytes);
  const [rsha, rsize] = remote.split(' ');
  expect(Number(rsize), `the server received ${rsize} bytes, the container sent ${size}`).toBe(Number(size));
  expect(rsha, 'sha256 at the server differs from the container\'s').toBe(sha);
}

export function podmanSuite(s: PodmanSuite): void {
  const req = requirements();
  describe.skipIf(req.skip)(s.title, () => {
    let r: RunResult;
    beforeAll(async () => {
      r = await e2eRun('podman.sh', {
        where: s.where,
        env: {
          NET: s.net,
          IFACE: s.iface,
          DNS_ADDR: s.dnsAddr,
          SLIRP_API: s.slirpApi ? '1' : '0',
          DOWN_BYTES: String(DOWN_BYTES),
          UP_BYTES: String(UP_BYTES),
          REF_HELPER: REF_HELPER(s),
          WALL_RUNS: String(WALL_RUNS),
        },
      });
      console.log(timings(r, s.title));
      const net = medianMs(r.stdout, 'wall-net');
      const ref = medianMs(r.stdout, 'wall-ref');
      const none = medianMs(r.stdout, 'wall-none');
      const refText = ref.values.length || ref.failures
        ? `, ${REF_HELPER(s)} ${ref.median} ms [${ref.values.join(' ')}]${ref.failures ? ` (${ref.failures} failed)` : ''}`
        : `, no ${REF_HELPER(s)} to compare with`;
      console.log(`[e2e] ${s.title}: podman run wall time, medians of ${net.values.length}, alternated: --network=${s.net} ${net.median} ms [${net.values.join(' ')}]${refText}, --network=none ${none.median} ms [${none.values.join(' ')}]`);
    }, 600_000);

    it('podman imports the busybox image (no registry)', () => {
      ok(r, 'import', 'podman import of the busybox tarball failed');
    });

    it(`podman calls the ${s.helper} under test (the wrapper)`, () => {
      ok(r, 'addr', `podman run --network=${s.net} failed`);
      const before = Number(check(r.stdout, 'calls-before').fields[s.helper] ?? 0);
      const after = Number(check(r.stdout, 'calls-after-addr').fields[s.helper] ?? 0);
      expect(after, `the ${s.helper} wrapper was not run by podman run --network=${s.net}: containers.conf does not reach it\n${dump(r)}`).toBeGreaterThan(before);
    });

    it(`the container has ${s.addr} on ${s.iface}`, () => {
      const out = ok(r, 'addr', `ip addr show dev ${s.iface} in the container failed`);
      expect(out, `address ${s.addr} not on ${s.iface} in the container`).toContain(`inet ${s.addr} `);
    });

    it(`downloads ${DOWN_BYTES} bytes from a server outside (203.0.113.5), checksum right`, () => {
      const out = ok(r, 'download', 'wget from 203.0.113.5:8000 in the container failed');
      const want = lines(r.stdout, 'expected-blob')[0];
      expect(out.split(/\s+/)[0], `sha256 of the downloaded data differs (want ${want})`).toBe(want);
    });

    it(`uploads ${UP_BYTES} random bytes (base64) to a server outside, checksum right`, () => {
      const out = ok(r, 'upload', 'wget --post-file to 203.0.113.5:8000 in the container failed');
      expectUpload(out, UP_BYTES);
    });

    it('downloads over IPv6 from [2001:db8::5], checksum right', () => {
      const out = ok(r, 'download6', 'wget from [2001:db8::5]:8000 in the container failed');
      const want = lines(r.stdout, 'expected-blob6')[0];
      expect(out.split(/\s+/)[0], 'sha256 of the IPv6 download differs').toBe(want);
    });

    it('host.containers.internal reaches a service on the host', () => {
      const out = ok(r, 'hostsvc', `wget http://host.containers.internal:8090/peer failed\n/etc/hosts and resolv.conf in the container:\n${check(r.stdout, 'hosts').out}`);
      expect(out, 'the host service did not answer').toMatch(/^host-service peer=\S+/);
    });

    it(`DNS through ${s.dnsAddr} is answered by the host's resolver`, () => {
      const out = ok(r, 'dns', `nslookup e2e.example ${s.dnsAddr} failed`);
      expect(out, `no answer ${DNS_ANSWER} from the host's resolver (127.0.0.1:53) through ${s.dnsAddr}`).toContain(DNS_ANSWER);
    });

    it('-p 8080:80 serves the container\'s HTTP server on the host', () => {
      ok(r, 'port-start', 'podman run -d -p 8080:80 ... httpd failed');
      expect(ok(r, 'port-get4', 'GET http://127.0.0.1:8080/ from the host failed').trim()).toBe(INDEX);
      expect(ok(r, 'port-get-eth0', 'GET http://192.0.2.2:8080/ (the host\'s eth0) failed').trim()).toBe(INDEX);
      const alive = Number(check(r.stdout, 'port-alive').fields.n ?? 0);
      expect(alive, 'no helper process seen while the container ran (PASTA_TS_E2E_HELPER=1 missing from its environment?): the leftover checks would prove nothing').toBeGreaterThan(0);
      ok(r, 'port-rm', 'podman rm -f web failed');
      const gone = check(r.stdout, 'port-gone');
      expect(gone.status, `helper still running 3 s after podman rm -f:\n${lines(r.stdout, 'port-gone-left').join('\n')}`).toBe('ok');
    });

    if (s.slirpApi) {
      it('port_handler=slirp4netns -p 8081:80 publishes through the API socket', () => {
        ok(r, 'api-start', 'podman run -d --network slirp4netns:port_handler=slirp4netns -p 8081:80 failed');
        const last = lines(r.stdout, 'calls-api-last-slirp4netns')[0] ?? '';
        expect(last, 'slirp4netns was not given --api-socket').toContain('--api-socket');
        expect(ok(r, 'api-get4', 'GET http://127.0.0.1:8081/ from the host failed').trim()).toBe(INDEX);
        ok(r, 'api-rm', 'podman rm -f webapi failed');
        expect(check(r.stdout, 'api-gone').status, `helper still running after podman rm -f:\n${lines(r.stdout, 'api-gone-left').join('\n')}`).toBe('ok');
      });
    }

    it(`podman run returns as fast as with --network=none (within ${WALL_SLACK_MS} ms)`, () => {
      const net = medianMs(r.stdout, 'wall-net');
      const none = medianMs(r.stdout, 'wall-none');
      expect(net.failures, `podman run --network=${s.net} true failed ${net.failures} times of ${WALL_RUNS}\n${dump(r)}`).toBe(0);
      expect(none.failures, 'podman run --network=none true failed').toBe(0);
      expect(
        net.median - none.median,
        `podman run --network=${s.net} takes ${net.median} ms (median; ${net.values.join(', ')}), ` +
          `${net.median - none.median} ms more than --network=none (${none.median} ms): a helper that keeps stdout/stderr open stalls podman`,
      ).toBeLessThan(WALL_SLACK_MS);
    });

    it('no helper process is left once the containers are gone', () => {
      const gone = check(r.stdout, 'final-gone');
      expect(gone.ran, `the script did not get to the end\n${dump(r)}`).toBe(true);
      expect(gone.status, `helper processes still running 3 s after the last container went:\n${lines(r.stdout, 'final-gone-left').join('\n')}`).toBe('ok');
      expect(ok(r, 'ps', 'podman ps -a failed').trim(), 'containers left behind').toBe('');
    });
  });
}
