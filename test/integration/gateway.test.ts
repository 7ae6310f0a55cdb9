// Issue 3: the gateway address 192.0.2.1 reaches the host's loopback from the
// namespace, unless --no-map-gw is given: then it is just the real gateway.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('gateway mapping to host loopback', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      # same port on host loopback and on the real gateway (netns up)
      serve lo serve-banner --tcp 127.0.0.1:9200 --text HOST-LOOPBACK || exit 1
      serve gw up serve-banner --tcp 192.0.2.1:9200 --text REAL-GATEWAY || exit 1
      $HELPER --config-net -- sh -c '. "$LIB"; net client-banner --label mapped --tcp 192.0.2.1:9200 --timeout 10000'
      $HELPER --config-net --no-map-gw -- sh -c '. "$LIB"; net client-banner --label unmapped --tcp 192.0.2.1:9200 --timeout 10000'
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const banner = (label: string) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    return t!;
  };

  it('by default 192.0.2.1 reaches the host loopback', () => {
    const t = banner('mapped');
    expect(t.fields.banner, t.line).toBe('HOST-LOOPBACK');
  });

  it('with --no-map-gw 192.0.2.1 does not reach the host loopback', () => {
    const t = banner('unmapped');
    expect(t.fields.banner, t.line).not.toBe('HOST-LOOPBACK');
  });

  it('with --no-map-gw 192.0.2.1 is the real gateway', () => {
    const t = banner('unmapped');
    expect(t.fields.banner, t.line).toBe('REAL-GATEWAY');
  });
});
