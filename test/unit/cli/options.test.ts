import { describe, expect, it } from 'vitest';
import { cfg, fail, failPasst, passt } from './helpers.js';

/** pasta attached to PID 1, so no command gets appended */
const pasta = (args: string[]) => cfg([...args, '1']);
const pastaFail = (args: string[]) => fail([...args, '1']);

describe('-m, --mtu', () => {
  it.each([
    [['-m', '1500'], 1500],
    [['--mtu', '65520'], 65520],
    [['-m', '68'], 68],
    [['-m', '0'], 0],
    [['-m', '0x5dc'], 1500],
  ] as const)('%j → %d', (args, mtu) => {
    expect(pasta([...args]).mtu).toBe(mtu);
  });

  it.each(['67', '1', '65521', '70000', 'abc', '-5', '1500x', ''])('refuses %j', (v) => {
    expect(pastaFail(['-m', v])).toBe(`pasta-ts: invalid MTU in -m: ${v} (0 or 68-65520)`);
  });
});

describe('--busy-poll', () => {
  it.each([
    [[], 200],
    [['--busy-poll', '0'], 0],
    [['--busy-poll=200'], 200],
    [['--busy-poll', '1000000'], 1000000],
  ] as const)('%j → %d', (args, us) => {
    expect(pasta([...args]).busyPollUs).toBe(us);
    expect(passt([...args]).busyPollUs).toBe(us);
  });

  it.each(['-1', '1000001', 'x', '5us', ''])('refuses %j', (v) => {
    expect(pastaFail(['--busy-poll', v])).toBe(`pasta-ts: invalid time in --busy-poll: ${v} (0-1000000 microseconds)`);
  });
});

describe('-a, --address', () => {
  it('takes one address per family; the last of each family wins', () => {
    const c = pasta(['-a', '192.0.2.2', '-a', 'fd00::2', '-a', '192.0.2.3']);
    expect(c.address4).toBe('192.0.2.3');
    expect(c.address6).toBe('fd00::2');
  });

  it('canonicalises IPv6', () => {
    expect(pasta(['--address', 'FD00:0:0:0:0:0:0:02']).address6).toBe('fd00::2');
  });

  it('takes ADDR/PREFIXLEN, keeping the IPv4 prefix length', () => {
    const c = pasta(['-a', '10.1.2.3/16', '-a', '2001:db8::9/64']);
    expect(c).toMatchObject({ address4: '10.1.2.3', prefixLen4: 16, address6: '2001:db8::9' });
  });

  it.each([
    '300.1.1.1',
    'foo',
    '1.2.3',
    '0.0.0.0',
    '127.0.0.1',
    '255.255.255.255',
    '224.0.0.1',
    '::',
    '::1',
    'ff02::1',
    '::ffff:192.0.2.1',
    '::192.0.2.1',
    'fe80::1%eth0',
    '',
  ])('refuses %j', (v) => {
    expect(pastaFail(['-a', v])).toBe(`pasta-ts: invalid address in -a: ${v}`);
  });

  it('refuses bad prefix lengths', () => {
    expect(pastaFail(['-a', '10.0.0.1/33'])).toBe('pasta-ts: invalid prefix length in -a: 10.0.0.1/33');
    expect(pastaFail(['-a', '10.0.0.1/'])).toContain('invalid prefix length in -a');
    expect(pastaFail(['-a', 'fd00::1/129'])).toContain('invalid prefix length in -a');
  });

  it('refuses a prefix length from both -a and -n', () => {
    expect(pastaFail(['-a', '10.0.0.1/8', '-n', '8'])).toBe('pasta-ts: redundant prefix length specification in -n: 8');
    expect(pastaFail(['-n', '8', '-a', '10.0.0.1/8'])).toContain('redundant prefix length specification in -a');
  });
});

describe('-n, --netmask', () => {
  it.each([
    ['24', 24],
    ['32', 32],
    ['1', 1],
    ['255.255.255.0', 24],
    ['255.255.0.0', 16],
    ['255.255.255.255', 32],
    ['128.0.0.0', 1],
    ['255.255.255.252', 30],
  ] as const)('%s → /%d', (mask, len) => {
    expect(pasta(['-n', mask]).prefixLen4).toBe(len);
    expect(pasta(['--netmask', mask]).prefixLen4).toBe(len);
  });

  it.each(['33', '0', '0.0.0.0', '255.0.255.0', '255.255.255.1', 'abc', '24x', '-1', '300.0.0.0'])('refuses %j', (v) => {
    expect(pastaFail(['-n', v])).toBe(`pasta-ts: invalid netmask in -n: ${v}`);
  });
});

describe('MAC addresses', () => {
  it('-M sets the source MAC, lower-cased', () => {
    expect(pasta(['-M', '9A:55:9a:55:9a:55']).macAddr).toBe('9a:55:9a:55:9a:55');
    expect(passt(['--mac-addr', '52:54:00:12:34:56']).macAddr).toBe('52:54:00:12:34:56');
  });

  it('--ns-mac-addr is pasta-only', () => {
    expect(pasta(['--ns-mac-addr', '02:00:00:00:00:01']).nsMacAddr).toBe('02:00:00:00:00:01');
    expect(failPasst(['--ns-mac-addr', '02:00:00:00:00:01'])).toBe('passt: --ns-mac-addr is for pasta mode only');
  });

  it.each(['52:54:00:12:34', '52:54:00:12:34:56:78', '52-54-00-12-34-56', 'zz:54:00:12:34:56', '5:54:00:12:34:56', ''])(
    'refuses %j',
    (v) => {
      expect(pastaFail(['-M', v])).toBe(`pasta-ts: invalid MAC address in -M: ${v}`);
      expect(pastaFail(['--ns-mac-addr', v])).toBe(`pasta-ts: invalid MAC address in --ns-mac-addr: ${v}`);
    },
  );
});

describe('-g, --gateway', () => {
  it('takes one gateway per family', () => {
    const c = pasta(['-g', '192.0.2.1', '--gateway', 'fe80::1']);
    expect(c).toMatchObject({ gateway4: '192.0.2.1', gateway6: 'fe80::1' });
  });

  it.each(['0.0.0.0', '127.0.0.1', '255.255.255.255', '::', '::1', '1.2.3.4.5'])('refuses %j', (v) => {
    expect(pastaFail(['-g', v])).toBe(`pasta-ts: invalid address in -g: ${v}`);
  });
});

describe('-o, --outbound and outbound interfaces', () => {
  it('binds by family; IPv4 loopback is allowed, as in pasta', () => {
    expect(pasta(['-o', '192.0.2.7', '-o', '2001:db8::7'])).toMatchObject({
      outboundAddr4: '192.0.2.7',
      outboundAddr6: '2001:db8::7',
    });
    expect(pasta(['--outbound', '127.0.0.1']).outboundAddr4).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '255.255.255.255', '224.1.1.1', '::', '::1', 'ff05::2', '::ffff:10.0.0.1'])('refuses %j', (v) => {
    expect(pastaFail(['-o', v])).toBe(`pasta-ts: invalid address in -o: ${v}`);
  });

  it('-i, --outbound-if4, --outbound-if6 take interface names', () => {
    expect(pasta(['-i', 'eth0', '--outbound-if4', 'wlan0', '--outbound-if6', 'enp0s31f6'])).toMatchObject({
      iface: 'eth0',
      outboundIf4: 'wlan0',
      outboundIf6: 'enp0s31f6',
    });
    expect(pasta(['--interface', 'br-lan']).iface).toBe('br-lan');
  });

  it.each(['', 'a-very-long-ifname', 'eth/0', 'eth 0', 'eth:0'])('refuses interface name %j', (v) => {
    expect(pastaFail(['-i', v])).toBe(`pasta-ts: invalid interface name in -i: ${v}`);
    expect(pastaFail(['--outbound-if4', v])).toBe(`pasta-ts: invalid interface name in --outbound-if4: ${v}`);
    expect(pastaFail(['--outbound-if6', v])).toContain('invalid interface name in --outbound-if6');
    expect(pastaFail(['-I', v])).toContain('invalid interface name in -I');
  });

  it('accepts a 15-character interface name', () => {
    expect(pasta(['-i', 'abcdefghijklmno']).iface).toBe('abcdefghijklmno');
  });
});

describe('DNS options', () => {
  it('-D accumulates addresses of both families', () => {
    const c = pasta(['-D', '192.0.2.53', '--dns', '2001:db8::53', '-D', '127.0.0.1']);
    expect(c.dns).toEqual(['192.0.2.53', '2001:db8::53', '127.0.0.1']);
    expect(c.dnsNone).toBe(false);
  });

  it("-D none clears the list, forwarding and host addresses", () => {
    const c = pasta(['-D', '192.0.2.53', '--dns-forward', '169.254.1.1', '--dns-host', '192.0.2.9', '-D', 'none']);
    expect(c).toMatchObject({ dns: [], dnsNone: true });
    expect(c.dnsForward4).toBeUndefined();
    expect(c.dnsHost4).toBeUndefined();
  });

  it('-D after none starts a new list', () => {
    const c = pasta(['-D', 'none', '-D', '192.0.2.1']);
    expect(c).toMatchObject({ dns: ['192.0.2.1'], dnsNone: false });
  });

  it('refuses bad -D values', () => {
    expect(pastaFail(['-D', '8.8.8'])).toBe('pasta-ts: invalid address in -D: 8.8.8');
    expect(pastaFail(['--dns', 'dns.google'])).toBe('pasta-ts: invalid address in -D: dns.google');
  });

  it('--dns-forward and --dns-host take one address per family', () => {
    const c = pasta(['--dns-forward', '169.254.1.1', '--dns-forward', 'fd00::53', '--dns-host', '192.0.2.53', '--dns-host', '::1']);
    expect(c).toMatchObject({ dnsForward4: '169.254.1.1', dnsForward6: 'fd00::53', dnsHost4: '192.0.2.53', dnsHost6: '::1' });
  });

  it('--dns-forward refuses loopback, unspecified and broadcast; --dns-host unspecified and broadcast', () => {
    for (const v of ['127.0.0.1', '0.0.0.0', '255.255.255.255', '::1', '::', 'none']) {
      expect(pastaFail(['--dns-forward', v])).toBe(`pasta-ts: invalid address in --dns-forward: ${v}`);
    }
    for (const v of ['0.0.0.0', '255.255.255.255', '::', 'x']) {
      expect(pastaFail(['--dns-host', v])).toBe(`pasta-ts: invalid address in --dns-host: ${v}`);
    }
  });

  it('-S splits lists and accumulates; none clears', () => {
    expect(pasta(['-S', 'a.example b.example', '--search', 'c.example']).search).toEqual(['a.example', 'b.example', 'c.example']);
    expect(pasta(['-S', 'a.example', '-S', 'none']).search).toEqual([]);
    expect(pasta(['-S', 'none.']).search).toEqual(['none.']);
  });

  it('-S refuses empty and overlong names', () => {
    expect(pastaFail(['-S', ''])).toBe('pasta-ts: invalid search domain in -S: ');
    expect(pastaFail(['-S', `${'a'.repeat(254)}`])).toContain('invalid name in -S');
  });

  it('--dhcp-dns/--dhcp-search enable passing DNS in pasta mode only', () => {
    expect(pasta(['--dhcp-dns', '--dhcp-search'])).toMatchObject({ dhcpDns: true, dhcpSearch: true });
    expect(failPasst(['--dhcp-dns'])).toBe('passt: --dhcp-dns is for pasta mode only');
    expect(failPasst(['--dhcp-search'])).toBe('passt: --dhcp-search is for pasta mode only');
  });

  it('--no-dhcp-dns/--no-dhcp-search disable it in passt mode only', () => {
    expect(passt(['--no-dhcp-dns', '--no-dhcp-search'])).toMatchObject({ dhcpDns: false, dhcpSearch: false });
    expect(passt(['--no-dhcp-dns'])).toMatchObject({ dhcpDns: false, dhcpSearch: true });
    expect(pastaFail(['--no-dhcp-dns'])).toBe('pasta-ts: --no-dhcp-dns is for passt mode only');
    expect(pastaFail(['--no-dhcp-search'])).toBe('pasta-ts: --no-dhcp-search is for passt mode only');
  });
});

describe('address mapping', () => {
  it('--map-host-loopback and --map-guest-addr take one address per family', () => {
    const c = pasta(['--map-host-loopback', '192.0.2.9', '--map-host-loopback', 'fd00::9', '--map-guest-addr', '169.254.1.2']);
    expect(c).toMatchObject({ mapHostLoopback4: '192.0.2.9', mapHostLoopback6: 'fd00::9', mapGuestAddr4: '169.254.1.2', noMapGw: false });
  });

  it("--map-host-loopback none clears both families and implies --no-map-gw", () => {
    const c = pasta(['--map-host-loopback', '192.0.2.9', '--map-host-loopback', 'none']);
    expect(c.mapHostLoopback4).toBeUndefined();
    expect(c.noMapGw).toBe(true);
  });

  it("--map-guest-addr none clears both families only", () => {
    const c = pasta(['--map-guest-addr', 'fd00::2', '--map-guest-addr', 'none']);
    expect(c.mapGuestAddr6).toBeUndefined();
    expect(c.noMapGw).toBe(false);
  });

  it.each(['127.0.0.1', '0.0.0.0', '224.0.0.9', '::1', '::', 'ff02::2', 'host'])('refuses %j', (v) => {
    expect(pastaFail(['--map-host-loopback', v])).toBe(`pasta-ts: invalid address in --map-host-loopback: ${v}`);
    expect(pastaFail(['--map-guest-addr', v])).toBe(`pasta-ts: invalid address in --map-guest-addr: ${v}`);
  });

  it('--no-map-gw', () => {
    expect(pasta(['--no-map-gw']).noMapGw).toBe(true);
  });
});

describe('protocol and service switches', () => {
  it('each switch clears its own field only', () => {
    const base = pasta([]);
    const cases = [
      ['--no-tcp', { noTcp: true }],
      ['--no-udp', { noUdp: true }],
      ['--no-icmp', { noIcmp: true }],
      ['--no-dhcp', { dhcp: false }],
      ['--no-ndp', { ndp: false }],
      ['--no-dhcpv6', { dhcpv6: false }],
      ['--no-ra', { ra: false }],
    ] as const;
    for (const [flag, change] of cases) {
      const c = pasta([flag]);
      expect(c).toMatchObject(change);
      const same = (k: string) => JSON.stringify((c as never)[k]) === JSON.stringify((base as never)[k]);
      const changed = Object.keys(c).filter((k) => k !== 'forwards' && !same(k));
      expect(changed).toEqual(Object.keys(change));
    }
  });

  it('--config-net turns router advertisements off, as pasta does', () => {
    expect(pasta(['--config-net']).ra).toBe(false);
  });

  it('-4 and -6 select one family', () => {
    expect(pasta(['-4'])).toMatchObject({ ipv4: true, ipv6: false });
    expect(pasta(['--ipv6-only'])).toMatchObject({ ipv4: false, ipv6: true });
    expect(pasta(['--ipv4-only', '-4'])).toMatchObject({ ipv4: true, ipv6: false });
  });

  it('refuses -4 with -6', () => {
    expect(pastaFail(['-4', '-6'])).toBe('pasta-ts: options -4/--ipv4-only and -6/--ipv6-only are mutually exclusive');
    expect(failPasst(['--ipv6-only', '--ipv4-only'])).toContain('mutually exclusive');
  });

  it('--no-tcp/--no-udp make the default forwarding none and refuse explicit forwards', () => {
    const c = pasta(['--no-tcp', '--no-udp']);
    for (const spec of Object.values(c.forwards)) expect(spec.kind).toBe('none');
    expect(pasta(['--no-tcp', '-t', 'none']).forwards.tcpIn.kind).toBe('none');
    expect(pastaFail(['--no-tcp', '-t', '80'])).toBe('pasta-ts: TCP port forwarding requested (-t/-T) but TCP is disabled (--no-tcp)');
    expect(pastaFail(['-T', 'auto', '--no-tcp'])).toContain('TCP is disabled');
    expect(pastaFail(['--no-udp', '-u', '53'])).toBe('pasta-ts: UDP port forwarding requested (-u/-U) but UDP is disabled (--no-udp)');
    expect(pastaFail(['-U', '53', '--no-udp'])).toContain('UDP is disabled');
  });

  it('-p, --pcap', () => {
    expect(pasta(['-p', '/tmp/a.pcap']).pcapFile).toBe('/tmp/a.pcap');
    expect(passt(['--pcap', '/tmp/b.pcap']).pcapFile).toBe('/tmp/b.pcap');
  });
});

describe('namespace options (pasta)', () => {
  it('--netns NAME resolves to /run/netns/NAME; a path is kept', () => {
    expect(cfg(['--netns', 'ctr1']).netns).toBe('/run/netns/ctr1');
    expect(cfg(['--netns', '/proc/77/ns/net']).netns).toBe('/proc/77/ns/net');
    expect(cfg(['--netns', './here']).netns).toBe('./here');
  });

  it('--netns without --userns implies --netns-only', () => {
    expect(cfg(['--netns', 'a']).netnsOnly).toBe(true);
    const c = cfg(['--netns', 'a', '--userns', '/proc/5/ns/user']);
    expect(c).toMatchObject({ netnsOnly: false, userns: '/proc/5/ns/user' });
  });

  it('--userns and --netns-only: the last wins', () => {
    expect(pasta(['--userns', '/u', '--netns-only'])).toMatchObject({ netnsOnly: true, userns: undefined });
    expect(pasta(['--netns-only', '--userns', '/u'])).toMatchObject({ netnsOnly: false, userns: '/u' });
    expect(pasta([]).netnsOnly).toBe(false);
  });

  it('--no-netns-quit, --config-net, -I', () => {
    expect(pasta(['--no-netns-quit', '--config-net', '-I', 'tap0'])).toMatchObject({
      noNetnsQuit: true,
      configNet: true,
      nsIfname: 'tap0',
    });
    expect(pasta(['--ns-ifname', 'eth0']).nsIfname).toBe('eth0');
  });

  it.each([
    ['--netns', 'x'],
    ['--userns', '/x'],
    ['--netns-only'],
    ['--no-netns-quit'],
    ['--config-net'],
    ['-I', 'tap0'],
    ['-T', 'none'],
    ['-U', 'none'],
    ['--host-lo-to-ns-lo'],
    ['--no-copy-routes'],
  ])('%s is refused by passt', (...args) => {
    const label = args[0] ?? '';
    expect(failPasst(args)).toBe(`passt: ${label} is for pasta mode only`);
  });

  it('refuses empty namespace paths', () => {
    expect(fail(['--netns', ''])).toBe('pasta-ts: invalid path in --netns: ');
    expect(pastaFail(['--userns', ''])).toBe('pasta-ts: invalid path in --userns: ');
  });
});

describe('passt options', () => {
  it('-s, --socket', () => {
    expect(passt(['-s', '/tmp/s']).socketPath).toBe('/tmp/s');
    expect(pastaFail(['-s', '/tmp/s'])).toBe('pasta-ts: -s is for passt mode only');
  });

  it('-1, --one-off', () => {
    expect(passt(['-1']).oneOff).toBe(true);
    expect(passt(['--one-off']).oneOff).toBe(true);
    expect(pastaFail(['-1'])).toBe('pasta-ts: -1 is for passt mode only');
    expect(pastaFail(['--one-off'])).toBe('pasta-ts: -1 is for passt mode only');
  });

  it('-F, --fd implies --one-off and replaces --socket; the last wins', () => {
    expect(passt(['-F', '5'])).toMatchObject({ fd: 5, oneOff: true });
    const a = passt(['-s', '/tmp/s', '--fd', '7']);
    expect(a.fd).toBe(7);
    expect(a.socketPath).toBeUndefined();
    const b = passt(['-F', '7', '-s', '/tmp/s']);
    expect(b.socketPath).toBe('/tmp/s');
    expect(b.fd).toBeUndefined();
    expect(passt(['-F', '0']).fd).toBe(0);
    expect(pasta(['-F', '9']).fd).toBe(9);
  });

  it.each(['1', '2', 'x', '-3', '2147483648', ''])('-F refuses %j', (v) => {
    expect(failPasst(['-F', v])).toBe(`passt: invalid file descriptor in -F: ${v}`);
  });
});

describe('options accepted for compatibility', () => {
  it('are accepted and change nothing', () => {
    const base = passt([]);
    const c = passt(['--runas', 'nobody:nogroup', '--freebind', '-H', 'vm1', '--fqdn', 'vm1.example.com']);
    expect(c).toEqual(base);
    expect(pasta(['--runas', '1000', '--host-lo-to-ns-lo'])).toEqual(pasta([]));
  });

  it('--no-copy-routes and --no-copy-addrs need --config-net', () => {
    expect(pasta(['--config-net', '--no-copy-routes', '--no-copy-addrs']).configNet).toBe(true);
    expect(pastaFail(['--no-copy-routes'])).toBe('pasta-ts: --no-copy-routes needs --config-net');
    expect(pastaFail(['--no-copy-addrs'])).toBe('pasta-ts: --no-copy-addrs needs --config-net');
  });

  it('still validate their values', () => {
    expect(failPasst(['--runas', ''])).toBe('passt: invalid value in --runas: ');
    expect(failPasst(['-H', ''])).toBe('passt: invalid name in -H: ');
    expect(failPasst(['--fqdn', 'x'.repeat(300)])).toContain('invalid name in --fqdn');
  });
});
