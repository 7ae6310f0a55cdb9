// Issue 4: without --config-net the namespace configures itself, as with
// pasta: busybox udhcpc gets the DHCP lease (192.0.2.2, router 192.0.2.1,
// mask, MTU, and DNS and search list with --dhcp-dns/--dhcp-search), and
// the kernel's SLAAC gets an fd00:: address and an IPv6 default route from
// our router advertisements within 10 s. ISC dhclient (IPv4 and DHCPv6) is
// exercised when installed (Debian: isc-dhcp-client); busybox's udhcpc6 is
// not built into Debian's busybox.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();

/** A udhcpc/dhclient script that prints what the client got, tagged "lease-<event>". */
const LEASE_SCRIPT = `#!/bin/sh
c() { echo "$1" | tr ' ' ,; }
echo "@@ lease-$1 ok ip=$ip subnet=$subnet mask=$mask router=$(c "$router") mtu=$mtu dns=$(c "$dns") domain=$domain search=$(c "$search") lease=$lease serverid=$serverid"
`;

/** dhclient-script stand-in: prints what dhclient passes, tagged "dhclient-<reason>". */
const DHCLIENT_SCRIPT = `#!/bin/sh
c() { echo "$1" | tr ' ' ,; }
echo "@@ dhclient-$reason ok ip=$new_ip_address mask=$new_subnet_mask routers=$(c "$new_routers") mtu=$new_interface_mtu dns=$(c "$new_domain_name_servers") search=$(c "$new_domain_search") ip6=$new_ip6_address ip6len=$new_ip6_prefixlen dns6=$(c "$new_dhcp6_name_servers") search6=$(c "$new_dhcp6_domain_search")"
exit 0
`;

function writeScripts(): string {
  return `cat > "$T/lease.sh" <<'EOF'
${LEASE_SCRIPT}EOF
cat > "$T/dhclient.sh" <<'EOF'
${DHCLIENT_SCRIPT}EOF
chmod 755 "$T/lease.sh" "$T/dhclient.sh"
`;
}

describe.skipIf(req.skip)('busybox udhcpc and SLAAC without --config-net', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      ${writeScripts()}
      $HELPER --dhcp-dns --dhcp-search -S 'example.org sub.example.org' -- sh -c '
        . "$LIB"
        # the defaults in a new namespace; set anyway, SLAAC depends on them
        sysctl -qw net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1 net.ipv6.conf.eth0.forwarding=0
        t0=$(date +%s%3N)
        ip link set eth0 up
        busybox udhcpc -i eth0 -n -q -f -t 5 -T 2 -s "$T/lease.sh" 2>"$T/udhcpc.err"
        echo "@@ udhcpc rc=$?"; tag udhcpc-err <"$T/udhcpc.err"
        # SLAAC: the kernel solicits a router once its link-local address is ready
        while [ $(( $(date +%s%3N) - t0 )) -lt 10000 ]; do
          a=$(ip -6 -o addr show dev eth0 scope global | grep -o "fd00::[0-9a-f:]*" | head -1)
          d=$(ip -6 route show default | head -1)
          [ -n "$a" ] && [ -n "$d" ] && break
          sleep 0.1
        done
        echo "@@ slaac ok addr=$a ms=$(( $(date +%s%3N) - t0 )) via=$(echo "$d" | sed -n "s/.*via \\([^ ]*\\).*/\\1/p") dev=$(echo "$d" | sed -n "s/.*dev \\([^ ]*\\).*/\\1/p")"
        # the default route really works: the upstream answers through it
        result ping6 ping -6 -c 1 -W 5 2001:db8::5
      '
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const lease = () => {
    const t = tagged(r.stdout, 'lease-bound');
    expect(t, `udhcpc got no lease\n${dump(r)}`).toBeDefined();
    return t!.fields;
  };

  it('udhcpc gets 192.0.2.2 with router 192.0.2.1', () => {
    const l = lease();
    expect(l.ip).toBe('192.0.2.2');
    expect(l.router).toBe('192.0.2.1');
    expect(l.serverid).toBe('192.0.2.1');
  });

  it('udhcpc gets the prefix as subnet mask, the MTU and an infinite lease', () => {
    const l = lease();
    expect(l.subnet ?? l.mask).toBe('255.255.255.0');
    expect(l.mtu).toBe('65520');
    expect(l.lease).toBe('4294967295');
  });

  it('udhcpc gets DNS (host loopback resolver via the gateway) and the search list', () => {
    const l = lease();
    expect(l.dns).toBe('192.0.2.1');
    expect(l.search).toBe('example.org,sub.example.org');
  });

  it('SLAAC gives an fd00:: address and a default route via our link-local address within 10 s', () => {
    const t = tagged(r.stdout, 'slaac');
    expect(t, dump(r)).toBeDefined();
    expect(t!.fields.addr, dump(r)).toMatch(/^fd00::[0-9a-f:]+$/);
    expect(t!.fields.via, dump(r)).toMatch(/^fe80::/);
    expect(t!.fields.dev).toBe('eth0');
    expect(Number(t!.fields.ms)).toBeLessThan(10_000);
  });

  it('the IPv6 default route learnt from the RA carries traffic', () => {
    expect(captured(r.stdout, 'ping6'), dump(r)).toMatch(/1 received/);
  });
});

const hasDhclient = !req.skip && spawnSync('sh', ['-c', 'PATH=$PATH:/usr/sbin:/sbin command -v dhclient']).status === 0;
if (!req.skip && !hasDhclient) console.warn('[integration] services: dhclient not installed (isc-dhcp-client): its tests are skipped');

describe.skipIf(!hasDhclient)('ISC dhclient, IPv4 and DHCPv6', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      ${writeScripts()}
      $HELPER --dhcp-dns --dhcp-search -S 'example.org' -D 2001:db8::53 -- sh -c '
        . "$LIB"
        ip link set eth0 up
        dhclient -4 -1 -v -sf "$T/dhclient.sh" -lf "$T/l4" -pf "$T/p4" eth0 2>"$T/d4.err"
        echo "@@ dhclient4 rc=$?"; tag dhclient4-err <"$T/d4.err"
        # DHCPv6 needs a usable link-local address: wait for DAD
        i=0; while [ $i -lt 50 ] && ip -6 addr show dev eth0 | grep -q tentative; do sleep 0.1; i=$((i+1)); done
        dhclient -6 -1 -v -sf "$T/dhclient.sh" -lf "$T/l6" -pf "$T/p6" eth0 2>"$T/d6.err"
        echo "@@ dhclient6 rc=$?"; tag dhclient6-err <"$T/d6.err"
        kill $(cat "$T/p4" "$T/p6" 2>/dev/null) 2>/dev/null
      '
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  it('dhclient -4 binds 192.0.2.2/24 with router 192.0.2.1, MTU, DNS and search list', () => {
    const t = tagged(r.stdout, 'dhclient-BOUND');
    expect(t, dump(r)).toBeDefined();
    expect(t!.fields).toMatchObject({
      ip: '192.0.2.2', mask: '255.255.255.0', routers: '192.0.2.1', mtu: '65520', dns: '192.0.2.1', search: 'example.org.',
    });
  });

  it('dhclient -6 binds fd00::2 and gets DNS servers and the search list', () => {
    const t = tagged(r.stdout, 'dhclient-BOUND6');
    expect(t, dump(r)).toBeDefined();
    expect(t!.fields).toMatchObject({ ip6: 'fd00::2', dns6: '2001:db8::53', search6: 'example.org.' });
  });
});

describe.skipIf(req.skip)('--no-dhcp and --no-ra', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      ${writeScripts()}
      $HELPER --no-dhcp --no-ra -- sh -c '
        . "$LIB"
        ip link set eth0 up
        busybox udhcpc -i eth0 -n -q -f -t 2 -T 1 -s "$T/lease.sh" 2>/dev/null
        echo "@@ udhcpc rc=$?"
        sleep 2
        echo "@@ route6 ok default=$(ip -6 route show default | wc -l) addr=$(ip -6 -o addr show dev eth0 scope global | wc -l)"
      '
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  it('udhcpc gets no lease', () => {
    expect(tagged(r.stdout, 'udhcpc')?.status, dump(r)).toBe('rc=1');
    expect(tagged(r.stdout, 'lease-bound'), dump(r)).toBeUndefined();
  });

  it('no router advertisement: no IPv6 default route, no global address', () => {
    const t = tagged(r.stdout, 'route6');
    expect(t, dump(r)).toBeDefined();
    expect(t!.fields).toMatchObject({ default: '0', addr: '0' });
  });
});
