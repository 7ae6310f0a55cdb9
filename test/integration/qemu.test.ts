// Issue 6: passt mode end to end. A real Linux guest under QEMU (Debian's
// kernel, a busybox initramfs: scripts/build-guest.sh) gets its network from
// the helper in passt mode through `-netdev stream` and checks, from inside:
// the DHCP lease (the host's address), SLAAC, ping, 32 MiB each way over TCP
// with sha256, UDP echo, DNS, the gateway reaching the host's loopback and a
// -t forward from the host into the guest; then the --slirp-compat
// environment. See qemu-harness.ts for how it runs, and
//   PASST_TS_BIN=passt npx vitest run test/integration/qemu.test.ts
// to check the test against Debian's passt.
//
// Debian 12's passt (0.0~git20230309) fails one check here, as expected: the
// -t forward. It sends the guest a SYN for the forwarded connection, ignores
// the guest's SYN-ACK (retransmitted four times, seen in its own --pcap), and
// the host's client gets EOF with 0 bytes after ~24 s; with --debug it even
// dies of SIGSEGV right after "flag at tcp_tap_conn_from_sock". The same
// guest step passes behind QEMU's own slirp hostfwd. Its --slirp-compat
// block is skipped: it has no such option.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, requirements, tagged, type FakeHostResult, type Tagged } from './harness.js';
import { dataSha, externalHelper, guestImage, helperMentions, passtCommand, runGuest } from './qemu-harness.js';

const req = requirements();
const guest = req.skip ? undefined : guestImage();
const skip = req.skip || !guest || guest.skip;

const MiB = 1024 * 1024;
const BYTES4 = 32 * MiB;
const BYTES6 = 8 * MiB;
const FWD_HOST_PORT = 10080;
const UP4 = '203.0.113.5';
const UP6 = '2001:db8::5';

function expectOk(r: FakeHostResult, label: string): Tagged {
  const t = tagged(r.stdout, label);
  expect(t, `no result for ${label}\n${dump(r, 12000)}`).toBeDefined();
  expect(t!.status, `${label}: ${t!.line}\n${dump(r, 12000)}`).toBe('ok');
  return t!;
}

/** Guest and host boot/transfer figures as one tagged line, for the closing note. */
function timings(r: FakeHostResult, name: string): string {
  const f = (label: string, key: string) => tagged(r.stdout, label)?.fields[key] ?? '-';
  const fwdMs = Number(f('fwd-host', 'ms'));
  const fwdBytes = Number(f('fwd-host', 'bytes'));
  const fwdMbps = fwdMs > 0 ? ((fwdBytes * 8) / fwdMs / 1000).toFixed(1) : '-';
  return [
    `@@ qemu-timing-${name}`,
    `helper=${passtCommand().replace(/\s+/g, '_')}`,
    `accel=${tagged(r.stdout, 'accel')?.fields.accel ?? '-'}`,
    `boot_host_ms=${f('time-boot', 'ms')}`,
    `boot_guest_uptime_ms=${f('boot', 'uptime_ms')}`,
    `dhcp_ms=${f('dhcp', 'ms')}`,
    `slaac_ms=${f('slaac', 'ms')}`,
    `down4_ms=${f('tcp-down4', 'ms')} down4_mbps=${f('tcp-down4', 'mbps')}`,
    `up4_ms=${f('tcp-up4', 'ms')} up4_mbps=${f('tcp-up4', 'mbps')}`,
    `down6_ms=${f('tcp-down6', 'ms')} down6_mbps=${f('tcp-down6', 'mbps')}`,
    `up6_ms=${f('tcp-up6', 'ms')} up6_mbps=${f('tcp-up6', 'mbps')}`,
    `fwd_ms=${f('fwd-host', 'ms')} fwd_mbps=${fwdMbps}`,
    `qemu_ms=${f('qemu', 'ms')} total_ms=${r.ms}`,
  ].join(' ');
}

describe.skipIf(skip)('passt mode: a QEMU guest', () => {
  let r: FakeHostResult;
  const sha4 = skip ? '' : dataSha(BYTES4, 'dl4');
  const sha6 = skip ? '' : dataSha(BYTES6, 'dl6');

  beforeAll(async () => {
    if (!guest || guest.skip) return;
    r = await runGuest(guest.image, {
      helperArgs: ['-t', `${FWD_HOST_PORT}:80`],
      params: {
        steps: 'dhcp,slaac,neigh,ping,gwlo,dns,udp,tcp,fwd',
        ping: `${UP4},${UP6}`,
        srv4: UP4,
        srv6: UP6,
        bytes4: BYTES4,
        bytes6: BYTES6,
        sha4,
        sha6,
        fwdport: 80,
        fwdtmo: 60,
        tmo: 120,
      },
      bytes4: BYTES4,
      bytes6: BYTES6,
      fwdHostPort: FWD_HOST_PORT,
      qemuTimeoutS: 300,
    });
    console.log(timings(r, 'passt-mode'));
  }, 400_000);

  it('boots, runs every step and powers off; the helper quits with QEMU (-1)', () => {
    expectOk(r, 'helper-start');
    const boot = expectOk(r, 'boot');
    expect(Number(boot.fields.uptime_ms)).toBeGreaterThan(0);
    expect(tagged(r.stdout, 'module'), dump(r, 12000)).toBeUndefined();
    expectOk(r, 'link');
    expectOk(r, 'done');
    expect(tagged(r.stdout, 'qemu')?.status, dump(r, 12000)).toBe('rc=0');
    const exit = expectOk(r, 'helper-exit');
    expect(exit.fields.rc, dump(r, 12000)).toBe('0');
  });

  it('DHCPv4 leases the host address, prefix length and gateway', () => {
    const d = expectOk(r, 'dhcp');
    expect(d.fields.addr).toBe('192.0.2.2/24');
    expect(d.fields.router).toBe('192.0.2.1');
  });

  it('SLAAC gives an address in fd00::/64 and an IPv6 default route', () => {
    const s = expectOk(r, 'slaac');
    const addrs = s.fields.addrs.split(',');
    expect(addrs.some((a) => /^fd00::[0-9a-f:]+\/64$/.test(a) && a !== 'fd00::/64'), s.line).toBe(true);
    expect(s.fields.gw, s.line).toMatch(/^fe80::|^fd00::/);
  });

  it("the gateway answers ARP with a MAC that is not the guest's", () => {
    const n = expectOk(r, 'neigh');
    expect(n.fields.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(n.fields.mac).not.toBe(n.fields.self);
  });

  it('ping reaches the internet over IPv4 and IPv6', () => {
    expectOk(r, `ping-${UP4}`);
    expectOk(r, `ping-${UP6}`);
  });

  it("the gateway address reaches the host's loopback", () => {
    expect(expectOk(r, 'gwlo').fields.banner).toBe('host-loopback');
  });

  it('DNS from the lease answers (forwarded to the host resolver)', () => {
    expect(expectOk(r, 'dns').fields.answer).toBe('198.51.100.7');
  });

  it('UDP datagrams up to 60000 bytes come back intact over IPv4 and IPv6', () => {
    expectOk(r, 'udp4');
    expectOk(r, 'udp6');
  });

  it('32 MiB down and up over TCP/IPv4 arrive intact (sha256)', () => {
    const d = expectOk(r, 'tcp-down4');
    expect(d.fields.bytes).toBe(String(BYTES4));
    expect(d.fields.sha).toBe(sha4);
    const u = expectOk(r, 'tcp-up4');
    expect(u.fields.server_bytes).toBe(String(BYTES4));
    expect(u.fields.server_sha).toBe(sha4);
  });

  it('8 MiB down and up over TCP/IPv6 arrive intact (sha256)', () => {
    const d = expectOk(r, 'tcp-down6');
    expect(d.fields.sha).toBe(sha6);
    const u = expectOk(r, 'tcp-up6');
    expect(u.fields.server_sha).toBe(sha6);
    expect(u.fields.server_bytes).toBe(String(BYTES6));
  });

  it('-t forwards a host port into the guest: 32 MiB from the guest arrive intact', () => {
    const ready = expectOk(r, 'fwd-ready');
    const host = tagged(r.stdout, 'fwd-host');
    expect(host, `no fwd-host result\n${dump(r, 12000)}`).toBeDefined();
    expect(host!.fields.bytes, host!.line).toBe(ready.fields.bytes);
    expect(host!.fields.sha, host!.line).toBe(ready.fields.sha);
    expectOk(r, 'fwd');
  });
});

// Debian's passt has no --slirp-compat: skipped (with the reason printed)
// only for an external helper that does not offer it.
const slirpUnsupported = !skip && externalHelper() && !helperMentions('--slirp-compat');
if (slirpUnsupported) {
  console.warn(`[qemu] SKIPPED --slirp-compat: the helper under test (${passtCommand()}) has no --slirp-compat option`);
}

describe.skipIf(skip || slirpUnsupported)('passt mode --slirp-compat: the guest sees slirp\'s network', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    if (!guest || guest.skip) return;
    r = await runGuest(guest.image, {
      helperArgs: ['--slirp-compat'],
      params: {
        steps: 'dhcp,slaac,neigh,gwlo,dns,ping',
        gw: '10.0.2.2',
        dns: '10.0.2.3',
        ping: UP4,
        tmo: 60,
      },
      qemuTimeoutS: 180,
    });
    console.log(timings(r, 'slirp-compat'));
  }, 300_000);

  it('boots and powers off cleanly', () => {
    expectOk(r, 'boot');
    expectOk(r, 'done');
    expect(tagged(r.stdout, 'qemu')?.status, dump(r, 12000)).toBe('rc=0');
  });

  it('DHCP: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3', () => {
    const d = expectOk(r, 'dhcp');
    expect(d.fields.addr).toBe('10.0.2.15/24');
    expect(d.fields.router).toBe('10.0.2.2');
    expect(d.fields.dns.split(',')).toContain('10.0.2.3');
  });

  it('the gateway 10.0.2.2 has MAC 52:56:00:00:00:02', () => {
    const n = expectOk(r, 'neigh');
    expect(n.fields.ip).toBe('10.0.2.2');
    expect(n.fields.mac).toBe('52:56:00:00:00:02');
    expect(n.fields.self).not.toBe(n.fields.mac);
  });

  it('IPv6 SLAAC in fec0::/64 with a default route', () => {
    const s = expectOk(r, 'slaac');
    expect(s.fields.addrs.split(',').some((a) => /^fec0::[0-9a-f:]+\/64$/.test(a)), s.line).toBe(true);
  });

  it("10.0.2.2 reaches the host's loopback, 10.0.2.3 answers DNS, the internet answers ping", () => {
    expect(expectOk(r, 'gwlo').fields.banner).toBe('host-loopback');
    expect(expectOk(r, 'dns').fields.answer).toBe('198.51.100.7');
    expectOk(r, `ping-${UP4}`);
  });
});
