// Issue 3: bulk TCP through the helper, both directions, IPv4 and IPv6, to
// "the internet" (netns up) and to the host's loopback through the gateway
// address; and 200 parallel connections. Every transfer is checked by sha256.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const MiB = 1024 * 1024;
const BULK = 32 * MiB;

describe.skipIf(req.skip)('TCP bulk transfers and parallel connections', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve sink up serve-sink --tcp 203.0.113.5:9000 --tcp "[2001:db8::5]:9000" || exit 1
      serve source up serve-source --tcp 203.0.113.5:9001 --tcp "[2001:db8::5]:9001" --bytes ${BULK} --seed bulk || exit 1
      serve lo-sink serve-sink --tcp 127.0.0.1:9100 || exit 1
      serve lo-source serve-source --tcp 127.0.0.1:9101 --bytes ${BULK} --seed bulk || exit 1
      $HELPER --config-net -- sh -c '
        . "$LIB"
        net client-send --label up4 --tcp 203.0.113.5:9000 --bytes ${BULK} --seed bulk --timeout 25000
        net client-recv --label down4 --tcp 203.0.113.5:9001 --bytes ${BULK} --seed bulk --timeout 25000
        net client-send --label up6 --tcp "[2001:db8::5]:9000" --bytes ${BULK} --seed bulk --timeout 25000
        net client-recv --label down6 --tcp "[2001:db8::5]:9001" --bytes ${BULK} --seed bulk --timeout 25000
        net client-send --label up-hostlo --tcp 192.0.2.1:9100 --bytes ${BULK} --seed bulk --timeout 25000
        net client-recv --label down-hostlo --tcp 192.0.2.1:9101 --bytes ${BULK} --seed bulk --timeout 25000
        net client-parallel --label parallel --tcp 203.0.113.5:9000 --conns 200 --bytes ${MiB} --timeout 60000
        echo "@@ helper-command done"
      '
      echo "@@ helper rc=$?"
      `,
      { timeoutMs: 240_000 },
    );
  }, 250_000);

  const expectOk = (label: string, bytes: number) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    expect(t!.status, `${label}: ${t!.line}\n${dump(r)}`).toBe('ok');
    expect(Number(t!.fields.bytes)).toBe(bytes);
  };

  it('the helper runs the whole command and exits 0', () => {
    expect(tagged(r.stdout, 'helper-command')?.status, dump(r)).toBe('done');
    expect(tagged(r.stdout, 'helper')?.status, dump(r)).toBe('rc=0');
  });
  it('32 MiB namespace -> 203.0.113.5, sha256-identical', () => expectOk('up4', BULK));
  it('32 MiB 203.0.113.5 -> namespace, sha256-identical', () => expectOk('down4', BULK));
  it('32 MiB namespace -> 2001:db8::5, sha256-identical', () => expectOk('up6', BULK));
  it('32 MiB 2001:db8::5 -> namespace, sha256-identical', () => expectOk('down6', BULK));
  it('32 MiB namespace -> host 127.0.0.1 via gateway 192.0.2.1', () => expectOk('up-hostlo', BULK));
  it('32 MiB host 127.0.0.1 -> namespace via gateway 192.0.2.1', () => expectOk('down-hostlo', BULK));
  it('200 parallel connections x 1 MiB, each checksum verified', () => {
    const t = tagged(r.stdout, 'parallel');
    expect(t, `no result for parallel\n${dump(r)}`).toBeDefined();
    expect(t!.fields.ok_conns, `${t!.line}\n${dump(r)}`).toBe('200');
    expect(t!.status, t!.line).toBe('ok');
  });
});
