import { describe, expect, it, vi } from 'vitest';
import { modeFor, parseCli, VERSION } from '../../../src/cli/index.js';
import { cfg, ENV, fail, failPasst, passt } from './helpers.js';

const PODMAN_NETNS = '/run/user/1001/netns/netns-abc';

describe('mode selection', () => {
  it.each([
    ['passt', 'passt'],
    ['passt-ts', 'passt'],
    ['passt.avx2', 'passt'],
    ['pasta', 'pasta'],
    ['pasta-ts', 'pasta'],
    ['pasta.avx2', 'pasta'],
    ['passt-pasta', 'pasta'],
    ['node', 'pasta'],
  ] as const)('%s → %s', (prog, mode) => {
    expect(modeFor(prog)).toBe(mode);
    expect(cfg(mode === 'pasta' ? ['123'] : [], prog).mode).toBe(mode);
  });

  it('records the program name', () => {
    expect(cfg(['123'], 'pasta').progName).toBe('pasta');
  });
});

describe('defaults', () => {
  it('pasta, spawning the default shell', () => {
    const c = cfg([]);
    expect(c).toMatchObject({
      mode: 'pasta',
      logLevel: 'info',
      command: ['/bin/zsh'],
      foreground: true,
      ipv4: true,
      ipv6: true,
      dhcp: true,
      ndp: true,
      dhcpv6: true,
      ra: true,
      dhcpDns: false,
      dhcpSearch: false,
      dns: [],
      dnsNone: false,
      search: [],
      noTcp: false,
      noUdp: false,
      noIcmp: false,
      noMapGw: false,
      configNet: false,
      netnsOnly: false,
      noNetnsQuit: false,
      oneOff: false,
      stderr: false,
    });
    expect(c.targetPid).toBeUndefined();
    expect(c.netns).toBeUndefined();
    expect(c.mtu).toBeUndefined();
    for (const spec of Object.values(c.forwards)) expect(spec).toEqual({ kind: 'auto', ranges: [], exclude: [] });
  });

  it('falls back to /bin/sh without $SHELL', () => {
    expect(cfg([], 'pasta-ts', {}).command).toEqual(['/bin/sh']);
    expect(cfg([], 'pasta-ts', { SHELL: '' }).command).toEqual(['/bin/sh']);
  });

  it('passt', () => {
    const c = passt([]);
    expect(c).toMatchObject({
      mode: 'passt',
      command: [],
      foreground: false,
      quiet: false,
      logLevel: 'info',
      dhcpDns: true,
      dhcpSearch: true,
      oneOff: false,
    });
    for (const spec of Object.values(c.forwards)) expect(spec).toEqual({ kind: 'none', ranges: [], exclude: [] });
  });

  it('returns a deeply frozen config', () => {
    const c = cfg(['-t', '22', '-D', '192.0.2.53']);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.dns)).toBe(true);
    expect(Object.isFrozen(c.forwards.tcpIn.ranges[0])).toBe(true);
    expect(() => (c.dns as string[]).push('x')).toThrow();
  });
});

describe('positional arguments (pasta)', () => {
  it('a lone number is a PID to attach to', () => {
    const c = cfg(['-f', '4242']);
    expect(c.targetPid).toBe(4242);
    expect(c.command).toEqual([]);
    expect(c.foreground).toBe(true);
    expect(cfg(['4242']).foreground).toBe(false);
  });

  it('anything else is a command, and options after it belong to it', () => {
    const c = cfg(['--config-net', 'sh', '-c', 'x']);
    expect(c.command).toEqual(['sh', '-c', 'x']);
    expect(c.configNet).toBe(true);
    expect(cfg(['ip', '-d', 'link']).logLevel).toBe('info');
    expect(cfg(['ip', '-d', 'link']).command).toEqual(['ip', '-d', 'link']);
  });

  it('a number followed by more words is a command', () => {
    expect(cfg(['1234', '--x']).command).toEqual(['1234', '--x']);
  });

  it('-- ends options', () => {
    expect(cfg(['-d', '--', '-weird', 'arg']).command).toEqual(['-weird', 'arg']);
    expect(cfg(['--', '99']).targetPid).toBe(99);
    expect(cfg(['sh', '--', '-c']).command).toEqual(['sh', '--', '-c']);
  });

  it('command mode is always in the foreground', () => {
    expect(cfg(['true']).foreground).toBe(true);
    expect(cfg(['--netns', 'x']).foreground).toBe(false);
    expect(cfg(['-f', '--netns', 'x']).foreground).toBe(true);
  });

  it('refuses PID or command together with --netns', () => {
    expect(fail(['--netns', 'x', '123'])).toBe('pasta-ts: both --netns and PID or command given: 123');
    expect(fail(['--netns', 'x', 'sh', '-c', 'y'])).toContain('both --netns and PID or command given');
  });

  it('refuses PID 0 and PIDs beyond INT_MAX', () => {
    expect(fail(['0'])).toBe('pasta-ts: invalid PID: 0');
    expect(fail(['2147483648'])).toBe('pasta-ts: invalid PID: 2147483648');
    expect(cfg(['2147483647']).targetPid).toBe(2147483647);
  });

  it('passt takes no operands', () => {
    expect(failPasst(['extra'])).toBe('passt: extra non-option argument: extra');
  });
});

describe('logging options', () => {
  it.each([
    [['-d'], 'debug'],
    [['--debug'], 'debug'],
    [['--trace'], 'trace'],
    [['-q'], 'warn'],
    [['--quiet'], 'warn'],
    [['-q', '-d'], 'debug'],
    [['-d', '-q'], 'warn'],
    [['--trace', '-q'], 'warn'],
    [['-q', '--trace'], 'trace'],
    [['--trace', '-d'], 'trace'],
  ] as const)('%j → %s', (args, level) => {
    expect(cfg([...args, '1']).logLevel).toBe(level);
  });

  it('quiet follows -q, and pasta running a command is quiet unless debugging', () => {
    expect(cfg(['1']).quiet).toBe(false);
    expect(cfg(['-q', '1']).quiet).toBe(true);
    expect(cfg(['-q', '-d', '1']).quiet).toBe(false);
    expect(cfg(['sh']).quiet).toBe(true);
    expect(cfg(['-d', 'sh']).quiet).toBe(false);
    expect(cfg(['--trace', 'sh']).quiet).toBe(false);
  });

  it('-l, --log-size, -e, -f, -P', () => {
    const c = passt(['-l', '/tmp/l.log', '--log-size', '2097152', '-e', '-f', '-P', '/run/p.pid']);
    expect(c).toMatchObject({ logFile: '/tmp/l.log', logSize: 2097152, stderr: true, foreground: true, pidFile: '/run/p.pid' });
    expect(passt(['--log-file', '/a', '--log-size', '0x100000', '--pid', '/b', '--stderr', '--foreground'])).toMatchObject(
      { logFile: '/a', logSize: 1048576, pidFile: '/b', stderr: true, foreground: true },
    );
  });

  it('the last -l wins', () => {
    expect(passt(['-l', '/a', '-l', '/b']).logFile).toBe('/b');
  });

  it('refuses small or malformed --log-size', () => {
    expect(failPasst(['--log-size', '4096'])).toBe('passt: invalid size in --log-size: 4096 (at least 40960 bytes)');
    expect(failPasst(['--log-size', '1M'])).toContain('invalid size in --log-size: 1M');
    expect(passt(['--log-size', '40960']).logSize).toBe(40960);
  });

  it('refuses an empty path', () => {
    expect(failPasst(['-l', ''])).toBe('passt: invalid path in -l: ');
    expect(failPasst(['-P', ''])).toContain('invalid path in -P');
  });
});

describe('Podman 5 command lines', () => {
  it('container without published ports', () => {
    const c = cfg(
      `--config-net --dns-forward 169.254.1.1 -t none -u none -T none -U none --no-map-gw --quiet --netns ${PODMAN_NETNS} --map-guest-addr 169.254.1.2`.split(
        ' ',
      ),
    );
    expect(c).toMatchObject({
      mode: 'pasta',
      configNet: true,
      dnsForward4: '169.254.1.1',
      noMapGw: true,
      quiet: true,
      logLevel: 'warn',
      netns: PODMAN_NETNS,
      netnsOnly: true,
      mapGuestAddr4: '169.254.1.2',
      command: [],
      foreground: false,
      ra: false,
    });
    expect(c.targetPid).toBeUndefined();
    expect(c.dnsForward6).toBeUndefined();
    for (const spec of Object.values(c.forwards)) expect(spec).toEqual({ kind: 'none', ranges: [], exclude: [] });
  });

  it('container with published ports', () => {
    const c = cfg(
      `--config-net -t 127.0.0.1/8443-8443:443-443 -t 8080-8080:80-80 -u 8053-8053:53-53 --dns-forward 169.254.1.1 -T none -U none --no-map-gw --quiet --netns ${PODMAN_NETNS} --map-guest-addr 169.254.1.2`.split(
        ' ',
      ),
    );
    expect(c.forwards.tcpIn).toEqual({
      kind: 'ports',
      ranges: [
        { first: 8443, last: 8443, to: 443, addr: '127.0.0.1' },
        { first: 8080, last: 8080, to: 80 },
      ],
      exclude: [],
    });
    expect(c.forwards.udpIn).toEqual({ kind: 'ports', ranges: [{ first: 8053, last: 8053, to: 53 }], exclude: [] });
    expect(c.forwards.tcpOut.kind).toBe('none');
    expect(c.forwards.udpOut.kind).toBe('none');
    expect(c.netns).toBe(PODMAN_NETNS);
    expect(c.dnsForward4).toBe('169.254.1.1');
  });

  it('rootless network namespace with a PID file', () => {
    const dir = '/run/user/1001/containers/networks/rootless-netns';
    const c = cfg(
      `--config-net --pid ${dir}/rootless-netns-conn.pid --dns-forward 169.254.1.1 -t none -u none -T none -U none --no-map-gw --quiet --netns ${dir}/rootless-netns --map-guest-addr 169.254.1.2`.split(
        ' ',
      ),
    );
    expect(c).toMatchObject({
      pidFile: `${dir}/rootless-netns-conn.pid`,
      netns: `${dir}/rootless-netns`,
      netnsOnly: true,
      configNet: true,
      noMapGw: true,
      mapGuestAddr4: '169.254.1.2',
      dnsForward4: '169.254.1.1',
    });
    expect(c.forwards.tcpIn.kind).toBe('none');
  });
});

describe('libvirt passt command lines', () => {
  it('a typical domain interface', () => {
    const c = passt(
      '--one-off --socket /tmp/x.sock --pid /tmp/x.pid --log-file /tmp/x.log --address 192.168.1.5 --netmask 24 --mac-addr 52:54:00:12:34:56 --gateway 192.168.1.1 --interface eth0 --dns 8.8.8.8 --search example.com --tcp-ports 2222:22'.split(
        ' ',
      ),
    );
    expect(c).toMatchObject({
      mode: 'passt',
      oneOff: true,
      socketPath: '/tmp/x.sock',
      pidFile: '/tmp/x.pid',
      logFile: '/tmp/x.log',
      address4: '192.168.1.5',
      prefixLen4: 24,
      macAddr: '52:54:00:12:34:56',
      gateway4: '192.168.1.1',
      iface: 'eth0',
      dns: ['8.8.8.8'],
      search: ['example.com'],
      command: [],
    });
    expect(c.forwards.tcpIn).toEqual({ kind: 'ports', ranges: [{ first: 2222, last: 2222, to: 22 }], exclude: [] });
    expect(c.forwards.udpIn.kind).toBe('none');
  });

  it('IPv6 address, MTU, address-bound forwards and exclusions', () => {
    const c = passt([
      '--one-off',
      '--socket',
      '/run/libvirt/qemu/passt/1-vm-net0.socket',
      '--mac-addr',
      '52:54:00:AB:CD:EF',
      '--mtu',
      '9000',
      '--address',
      '2001:db8::5',
      '--address',
      '10.0.0.5',
      '--netmask',
      '8',
      '--tcp-ports',
      '0.0.0.0%eth0/2000-2010:3000-3010,~2005',
      '--udp-ports',
      '192.168.1.5/all',
    ]);
    expect(c).toMatchObject({ macAddr: '52:54:00:ab:cd:ef', mtu: 9000, address6: '2001:db8::5', address4: '10.0.0.5', prefixLen4: 8 });
    expect(c.forwards.tcpIn.ranges).toEqual([
      { first: 2000, last: 2004, to: 3000, addr: '0.0.0.0', iface: 'eth0' },
      { first: 2006, last: 2010, to: 3006, addr: '0.0.0.0', iface: 'eth0' },
    ]);
    expect(c.forwards.udpIn).toEqual({
      kind: 'all',
      ranges: [{ first: 1, last: 65535, to: 1, addr: '192.168.1.5' }],
      exclude: [],
    });
  });
});

describe('--help and --version', () => {
  it('--help prints pasta usage on stdout and exits 0', () => {
    for (const flag of ['-h', '--help']) {
      const res = parseCli([flag], ENV, 'pasta-ts');
      expect(res).toMatchObject({ kind: 'exit', code: 0 });
      if (res.kind !== 'exit') return;
      expect(res.stderr).toBeUndefined();
      expect(res.stdout).toMatch(/^Usage: pasta-ts \[OPTION\]\.\.\. \[COMMAND\] \[ARGS\]\.\.\.\n/);
      expect(res.stdout).toContain('pasta-ts [OPTION]... PID');
      expect(res.stdout).toContain('pasta-ts [OPTION]... --netns [PATH|NAME]');
    }
  });

  it('pasta help lists every pasta option, and no passt-only one', () => {
    const out = (parseCli(['--help'], ENV, 'pasta-ts') as { stdout: string }).stdout;
    const expected = [
      '-d, --debug', '--trace', '-q, --quiet', '-l, --log-file PATH', '--log-size BYTES', '-e, --stderr',
      '-f, --foreground', '-P, --pid FILE', '-h, --help', '--version', '-m, --mtu MTU', '-a, --address ADDR',
      '-n, --netmask MASK', '-M, --mac-addr ADDR', '-g, --gateway ADDR', '-i, --interface NAME', '-o, --outbound ADDR',
      '--outbound-if4 NAME', '--outbound-if6 NAME', '-D, --dns ADDR', '--dns-forward ADDR', '--dns-host ADDR',
      '-S, --search LIST', '--no-tcp', '--no-udp', '--no-icmp', '--no-dhcp', '--no-ndp', '--no-dhcpv6', '--no-ra',
      '--dhcp-dns', '--dhcp-search', '--no-map-gw', '--map-host-loopback ADDR', '--map-guest-addr ADDR',
      '-4, --ipv4-only', '-6, --ipv6-only', '-p, --pcap FILE', '--ns-mac-addr ADDR', '-I, --ns-ifname NAME',
      '--config-net', '--no-netns-quit', '--netns PATH|NAME', '--userns NSPATH', '--netns-only',
      '-t, --tcp-ports SPEC', '-u, --udp-ports SPEC', '-T, --tcp-ns SPEC', '-U, --udp-ns SPEC', '-F, --fd FD',
      '--runas UID|UID:GID', '--freebind',
    ];
    for (const line of expected) expect(out).toContain(`  ${line}`);
    for (const line of ['-1, --one-off', '-s, --socket', '--no-dhcp-dns', '--no-dhcp-search']) expect(out).not.toContain(line);
    expect(out).toMatch(/-t, --tcp-ports SPEC[^]*default: auto/);
  });

  it('passt help lists passt options with passt defaults', () => {
    const out = (parseCli(['-h'], ENV, 'passt') as { stdout: string }).stdout;
    expect(out).toMatch(/^Usage: passt \[OPTION\]\.\.\.\n\n/);
    for (const line of ['-1, --one-off', '-s, --socket PATH', '--no-dhcp-dns', '--no-dhcp-search']) expect(out).toContain(line);
    for (const line of ['--tcp-ns', '--netns', '--config-net', '--dhcp-dns ']) expect(out).not.toContain(line);
    expect(out).toMatch(/-t, --tcp-ports SPEC[^]*default: none/);
  });

  it('--version prints two lines and exits 0', () => {
    expect(VERSION).toBe('0.1.0');
    const res = parseCli(['--version'], ENV, 'pasta-ts');
    expect(res).toMatchObject({ kind: 'exit', code: 0 });
    const lines = (res as { stdout: string }).stdout.split('\n');
    expect(lines[0]).toBe('pasta-ts 0.1.0');
    expect(lines[1]).toMatch(/MIT/);
    expect(lines).toHaveLength(3);
    expect((parseCli(['--version'], ENV, 'passt') as { stdout: string }).stdout).toMatch(/^passt-ts 0\.1\.0\n/);
  });

  it('acts in command-line order, like getopt', () => {
    expect(parseCli(['-h', '-t', '70000'], ENV, 'pasta-ts')).toMatchObject({ kind: 'exit', code: 0 });
    expect(parseCli(['-h', '--bogus'], ENV, 'pasta-ts')).toMatchObject({ kind: 'exit', code: 0 });
    expect(parseCli(['-t', '70000', '-h'], ENV, 'pasta-ts')).toMatchObject({ kind: 'exit', code: 1 });
    expect(parseCli(['--version', '-q'], ENV, 'pasta-ts')).toMatchObject({ kind: 'exit', code: 0 });
  });
});

describe('command-line syntax', () => {
  it('clusters short options and attaches values', () => {
    const c = cfg(['-fd4', '-t22', '-m1500', '--pcap=/tmp/c.pcap', '1']);
    expect(c).toMatchObject({ foreground: true, logLevel: 'debug', ipv6: false, mtu: 1500, pcapFile: '/tmp/c.pcap' });
    expect(c.forwards.tcpIn.ranges).toEqual([{ first: 22, last: 22, to: 22 }]);
  });

  it('takes option values that start with a dash', () => {
    expect(cfg(['-S', '-x', '1']).search).toEqual(['-x']);
  });

  it('reports unknown options', () => {
    expect(fail(['--bogus'])).toBe("pasta-ts: unknown option '--bogus'");
    expect(fail(['-z'])).toBe("pasta-ts: unknown option '-z'");
    expect(fail(['-dz'])).toBe("pasta-ts: unknown option '-z'");
    expect(fail(['--mode', 'passt'])).toBe("pasta-ts: unknown option '--mode'");
  });

  it('reports missing arguments', () => {
    expect(fail(['-t'])).toBe("pasta-ts: option '-t, --tcp-ports' requires an argument");
    expect(fail(['--netns'])).toBe("pasta-ts: option '--netns' requires an argument");
    expect(failPasst(['--socket'])).toBe("passt: option '-s, --socket' requires an argument");
  });

  it('is pure: prints nothing and never exits', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => {
      throw new Error('process.exit called');
    });
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    try {
      for (const args of [['--help'], ['--version'], ['--bogus'], ['-t'], ['-t', 'x'], ['sh']]) parseCli(args, {}, 'pasta-ts');
      expect(exit).not.toHaveBeenCalled();
      expect(out).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('does not read the real environment', () => {
    const saved = process.env.SHELL;
    process.env.SHELL = '/bin/from-process-env';
    try {
      expect(cfg([], 'pasta-ts', { SHELL: '/bin/given' }).command).toEqual(['/bin/given']);
    } finally {
      if (saved === undefined) delete process.env.SHELL;
      else process.env.SHELL = saved;
    }
  });
});
