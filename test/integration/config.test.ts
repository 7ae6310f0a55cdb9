// Issue 3: `--config-net` sets up the namespace's interface like the host's:
// same addresses, default routes via the host's gateways, MTU 65520 unless
// -m says otherwise, interface named like the host's unless -I says otherwise.
import { beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, exitStatus, fakeHost, requirements, type FakeHostResult } from './harness.js';

const req = requirements();

/** Lines of interface `name`'s block in `ip addr` / `ip link` output, or undefined. */
function ifBlock(ipAddr: string, name: string): string | undefined {
  const blocks = ipAddr.split(/\n(?=\d+: )/);
  return blocks.find((b) => new RegExp(`^\\d+: ${name}(@\\S+)?: `).test(b));
}

describe.skipIf(req.skip)('--config-net: addresses, routes, MTU, interface name', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      result default $HELPER --config-net -- sh -c 'ip addr; echo ===; ip route; echo ===; ip -6 route'
      result mtu1500 $HELPER --config-net -m 1500 -- ip addr
      result ifname $HELPER --config-net -I foo0 -- sh -c 'ip addr; echo ===; ip route; echo ===; ip -6 route'
      `,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const section = (name: string, i: number) => captured(r.stdout, name).split('\n===\n')[i] ?? '';

  it('runs the command and exits 0 each time', () => {
    expect(exitStatus(r.stdout, 'default'), dump(r)).toBe(0);
    expect(exitStatus(r.stdout, 'mtu1500'), dump(r)).toBe(0);
    expect(exitStatus(r.stdout, 'ifname'), dump(r)).toBe(0);
  });

  it('eth0 has 192.0.2.2/24, fd00::2/64 and mtu 65520', () => {
    const eth0 = ifBlock(section('default', 0), 'eth0');
    expect(eth0, `no eth0 in ip addr\n${dump(r)}`).toBeDefined();
    expect(eth0).toMatch(/ mtu 65520 /);
    expect(eth0).toMatch(/\n\s+inet 192\.0\.2\.2\/24 /);
    expect(eth0).toMatch(/\n\s+inet6 fd00::2\/64 /);
  });

  it('default routes via 192.0.2.1 and fd00::1 on eth0', () => {
    expect(section('default', 1), dump(r)).toMatch(/^default via 192\.0\.2\.1 dev eth0\b/m);
    expect(section('default', 2), dump(r)).toMatch(/^default via fd00::1 dev eth0\b/m);
  });

  it('-m 1500 gives mtu 1500', () => {
    const eth0 = ifBlock(section('mtu1500', 0), 'eth0');
    expect(eth0, `no eth0 in ip addr\n${dump(r)}`).toBeDefined();
    expect(eth0).toMatch(/ mtu 1500 /);
    expect(eth0).toMatch(/\n\s+inet 192\.0\.2\.2\/24 /);
  });

  it('-I foo0 names the interface foo0', () => {
    const addrs = section('ifname', 0);
    const foo0 = ifBlock(addrs, 'foo0');
    expect(foo0, `no foo0 in ip addr\n${dump(r)}`).toBeDefined();
    expect(ifBlock(addrs, 'eth0'), 'eth0 should not exist with -I foo0').toBeUndefined();
    expect(foo0).toMatch(/\n\s+inet 192\.0\.2\.2\/24 /);
    expect(foo0).toMatch(/\n\s+inet6 fd00::2\/64 /);
    expect(section('ifname', 1)).toMatch(/^default via 192\.0\.2\.1 dev foo0\b/m);
    expect(section('ifname', 2)).toMatch(/^default via fd00::1 dev foo0\b/m);
  });
});
