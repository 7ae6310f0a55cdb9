import { describe, expect, it } from 'vitest';
import type { PortSpec } from '../../../src/config.js';
import { cfg, fail, failPasst, passt } from './helpers.js';

const tcpIn = (args: string[]): PortSpec => cfg([...args, '1']).forwards.tcpIn;
const pastaFail = (args: string[]) => fail([...args, '1']);
const EVERY = { first: 1, last: 65535, to: 1 };

describe('port lists', () => {
  it.each([
    ['22', [{ first: 22, last: 22, to: 22 }]],
    ['22:23', [{ first: 22, last: 22, to: 23 }]],
    ['22,25', [{ first: 22, last: 22, to: 22 }, { first: 25, last: 25, to: 25 }]],
    ['22-80', [{ first: 22, last: 80, to: 22 }]],
    ['22-80:32-90', [{ first: 22, last: 80, to: 32 }]],
    ['65535', [{ first: 65535, last: 65535, to: 65535 }]],
    ['1-65535', [{ first: 1, last: 65535, to: 1 }]],
    ['8080-8080:80-80', [{ first: 8080, last: 8080, to: 80 }]],
    ['192.0.2.1/22', [{ first: 22, last: 22, to: 22, addr: '192.0.2.1' }]],
    ['192.0.2.1%eth0/22', [{ first: 22, last: 22, to: 22, addr: '192.0.2.1', iface: 'eth0' }]],
    ['%eth0/22', [{ first: 22, last: 22, to: 22, iface: 'eth0' }]],
    ['::1/22', [{ first: 22, last: 22, to: 22, addr: '::1' }]],
    ['[::1]/22', [{ first: 22, last: 22, to: 22, addr: '::1' }]],
    ['[192.0.2.1]/22', [{ first: 22, last: 22, to: 22, addr: '192.0.2.1' }]],
    ['2001:DB8:0::1%lo/8000:9000', [{ first: 8000, last: 8000, to: 9000, addr: '2001:db8::1', iface: 'lo' }]],
    [
      '2000-5000,~3000-3010',
      [
        { first: 2000, last: 2999, to: 2000 },
        { first: 3011, last: 5000, to: 3011 },
      ],
    ],
    [
      '192.0.2.1/20-30,~25',
      [
        { first: 20, last: 24, to: 20, addr: '192.0.2.1' },
        { first: 26, last: 30, to: 26, addr: '192.0.2.1' },
      ],
    ],
    [
      '~25,20-30:120-130',
      [
        { first: 20, last: 24, to: 120 },
        { first: 26, last: 30, to: 126 },
      ],
    ],
    ['1000-2000,~1000-2000', []],
  ] as const)('-t %s', (spec, ranges) => {
    const s = tcpIn(['-t', spec]);
    expect(s.kind).toBe('ports');
    expect(s.ranges).toEqual(ranges);
  });

  it('records the exclusions it applied', () => {
    expect(tcpIn(['-t', '1-100,~10-20,~30']).exclude).toEqual([
      { first: 10, last: 20 },
      { first: 30, last: 30 },
    ]);
  });

  it('accumulates repeated options, exclusions staying local to their spec', () => {
    const s = tcpIn(['-t', '1000-2000,~1500', '--tcp-ports', '1500', '-t', '[::1]/53']);
    expect(s.ranges).toEqual([
      { first: 1000, last: 1499, to: 1000 },
      { first: 1501, last: 2000, to: 1501 },
      { first: 1500, last: 1500, to: 1500 },
      { first: 53, last: 53, to: 53, addr: '::1' },
    ]);
  });

  it('applies to -u, -T, -U and their long names', () => {
    const c = cfg(['-u', '53', '--udp-ports', '54', '-T', '8000', '--tcp-ns', '8001', '-U', '5353', '--udp-ns', '5354', '1']);
    expect(c.forwards.udpIn.ranges.map((r) => r.first)).toEqual([53, 54]);
    expect(c.forwards.tcpOut.ranges.map((r) => r.first)).toEqual([8000, 8001]);
    expect(c.forwards.udpOut.ranges.map((r) => r.first)).toEqual([5353, 5354]);
    expect(c.forwards.tcpIn.kind).toBe('auto');
  });
});

describe('keywords', () => {
  it('none and auto in pasta', () => {
    const c = cfg(['-t', 'none', '-u', 'auto', '-T', 'auto', '-U', 'none', '1']);
    expect(c.forwards).toEqual({
      tcpIn: { kind: 'none', ranges: [], exclude: [] },
      udpIn: { kind: 'auto', ranges: [], exclude: [] },
      tcpOut: { kind: 'auto', ranges: [], exclude: [] },
      udpOut: { kind: 'none', ranges: [], exclude: [] },
    });
  });

  it('all in passt forwards every port', () => {
    expect(passt(['-t', 'all']).forwards.tcpIn).toEqual({ kind: 'all', ranges: [EVERY], exclude: [] });
    expect(passt(['-u', 'none']).forwards.udpIn.kind).toBe('none');
  });

  it("refuses 'auto' in passt and 'all' in pasta", () => {
    expect(failPasst(['-t', 'auto'])).toBe("passt: 'auto' port forwarding is only allowed for pasta in -t");
    expect(pastaFail(['-t', 'all'])).toBe("pasta-ts: 'all' port forwarding is only allowed for passt in -t");
    expect(pastaFail(['-T', 'all'])).toContain("'all' port forwarding is only allowed for passt in -T");
    expect(pastaFail(['-t', '127.0.0.1/all'])).toContain("'all' port forwarding is only allowed for passt in -t");
  });

  it('refuses keywords mixed with each other or with ports', () => {
    expect(pastaFail(['-t', 'none', '-t', 'auto'])).toBe("pasta-ts: port forwarding mode 'auto' conflicts with previous mode in -t");
    expect(pastaFail(['-t', 'none', '-t', 'none'])).toContain("mode 'none' conflicts");
    expect(pastaFail(['-t', '80', '-t', 'none'])).toContain("mode 'none' conflicts");
    expect(pastaFail(['-u', 'auto', '-u', '53'])).toBe(
      'pasta-ts: specific ports cannot be given together with all/none/auto in -u: 53',
    );
    expect(failPasst(['-t', 'all', '-t', '22'])).toContain('specific ports cannot be given together');
    expect(pastaFail(['-t', 'none,22'])).toBe('pasta-ts: invalid port specifier in -t: none,22');
  });
});

describe('every-port specs', () => {
  it('exclusions alone forward every other port', () => {
    const s = tcpIn(['-t', '~20000-20010']);
    expect(s).toEqual({
      kind: 'all',
      ranges: [
        { first: 1, last: 19999, to: 1 },
        { first: 20011, last: 65535, to: 20011 },
      ],
      exclude: [{ first: 20000, last: 20010 }],
    });
  });

  it('ADDR/all (libvirt) is scoped to the address', () => {
    expect(passt(['-t', '[::1]%lo/all']).forwards.tcpIn).toEqual({
      kind: 'all',
      ranges: [{ ...EVERY, addr: '::1', iface: 'lo' }],
      exclude: [],
    });
    const s = passt(['-t', '192.0.2.1/all', '-t', '198.51.100.1/all']).forwards.tcpIn;
    expect(s.ranges.map((r) => r.addr)).toEqual(['192.0.2.1', '198.51.100.1']);
  });

  it('scoped exclusion-only specs keep their scope', () => {
    expect(passt(['-u', '%eth1/~53']).forwards.udpIn.ranges).toEqual([
      { first: 1, last: 52, to: 1, iface: 'eth1' },
      { first: 54, last: 65535, to: 54, iface: 'eth1' },
    ]);
  });
});

describe('bad port specs', () => {
  it.each([
    ['70000', 'invalid port in -t: 70000'],
    ['0', 'invalid port in -t: 0'],
    ['22:0', 'invalid port in -t: 0'],
    ['1-70000', 'invalid port in -t: 70000'],
    ['99999999999999999999', 'invalid port in -t: 99999999999999999999'],
    ['80-22', 'invalid port range in -t: 80-22'],
    ['~30-20', 'invalid port range in -t: 30-20'],
    ['22-80:32-33', 'mapped port range has a different size in -t: 22-80:32-33'],
    ['22:23:24', 'invalid port specifier in -t: 22:23:24'],
    ['foo', 'invalid port specifier in -t: foo'],
    ['22,', 'invalid port specifier in -t: 22,'],
    [',22', 'invalid port specifier in -t: ,22'],
    ['', 'invalid port specifier in -t: '],
    ['22-', 'invalid port specifier in -t: 22-'],
    ['-22', 'invalid port specifier in -t: -22'],
    ['~', 'invalid port specifier in -t: ~'],
    ['22 ', 'invalid port specifier in -t: 22 '],
    ['auto,80', 'invalid port specifier in -t: auto,80'],
    ['1-10,~2-5,~4-6', 'overlapping excluded ranges in -t: 1-10,~2-5,~4-6'],
    ['300.1.1.1/22', 'invalid address in -t: 300.1.1.1/22'],
    ['host/22', 'invalid address in -t: host/22'],
    ['/22', 'invalid address in -t: /22'],
    ['192.0.2.1%/22', 'invalid interface name in -t: 192.0.2.1%/22'],
    ['%averyveryverylongname/22', 'invalid interface name in -t: %averyveryverylongname/22'],
    ['192.0.2.1/', 'invalid port specifier in -t: 192.0.2.1/'],
  ])('-t %j → %s', (spec, message) => {
    expect(pastaFail(['-t', spec])).toBe(`pasta-ts: ${message}`);
  });

  it('names the option in the message', () => {
    expect(pastaFail(['-u', '70000'])).toBe('pasta-ts: invalid port in -u: 70000');
    expect(pastaFail(['--udp-ns', '70000'])).toBe('pasta-ts: invalid port in -U: 70000');
    expect(failPasst(['--tcp-ports', '2222:22:1'])).toBe('passt: invalid port specifier in -t: 2222:22:1');
  });

  it('refuses bind addresses in -T and -U', () => {
    expect(pastaFail(['-T', '127.0.0.1/80'])).toBe('pasta-ts: bind addresses are not allowed in -T: 127.0.0.1/80');
    expect(pastaFail(['-U', '%lo/53'])).toBe('pasta-ts: bind addresses are not allowed in -U: %lo/53');
  });
});
