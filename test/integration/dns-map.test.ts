// Issue 4: --dns-forward (Podman's 169.254.1.1) reaches the host's resolver,
// even one on the host's loopback; --map-guest-addr (Podman's
// host.containers.internal, 169.254.1.2) reaches the host's own address.
import { beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, exitStatus, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('DNS forwarding and guest address mapping', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      # the fake host's resolv.conf says nameserver 127.0.0.1
      serve dns dns-server --udp 127.0.0.1:53 --answer 198.51.100.7 || exit 1
      serve own serve-banner --tcp 192.0.2.2:10024 --text HOST-OWN-ADDRESS || exit 1
      $HELPER --config-net --dns-forward 169.254.1.1 --map-guest-addr 169.254.1.2 -t none -u none -T none -U none -- sh -c '
        . "$LIB"
        result lookup busybox nslookup name.test 169.254.1.1
        net client-banner --label guestaddr --tcp 169.254.1.2:10024 --timeout 10000'
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  it('a query to the --dns-forward address is answered by the resolver on the host loopback', () => {
    expect(exitStatus(r.stdout, 'lookup'), dump(r)).toBe(0);
    expect(captured(r.stdout, 'lookup'), dump(r)).toMatch(/Address:\s*198\.51\.100\.7/);
  });

  it('--map-guest-addr reaches a host service bound to the host address', () => {
    const t = tagged(r.stdout, 'guestaddr');
    expect(t?.status, dump(r)).toBe('ok');
    expect(t!.fields.banner).toBe('HOST-OWN-ADDRESS');
  });
});
