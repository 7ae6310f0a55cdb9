import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/errors.js';
import {
  ADDR_RULES,
  addrClasses,
  isIfname,
  parseAddr,
  parseCInt,
  parseIp,
  parseMac,
  parseNetmask,
  parsePrefixLen,
} from '../../../src/cli/values.js';

describe('parseIp', () => {
  it.each([
    ['192.0.2.1', 4, '192.0.2.1'],
    ['2001:DB8::1', 6, '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', 6, '2001:db8::1'],
    ['fe80::1', 6, 'fe80::1'],
    ['::', 6, '::'],
  ] as const)('%s', (text, family, addr) => {
    expect(parseIp(text)).toEqual({ family, addr });
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'fe80::1%eth0', '[::1]', '1.2.3.4/24', 'x'])(
    'refuses %j',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );
});

describe('addrClasses', () => {
  const classes = (text: string) => [...addrClasses(parseIp(text)!)].sort();
  it.each([
    ['0.0.0.0', ['unspecified']],
    ['127.1.2.3', ['loopback']],
    ['239.255.255.250', ['multicast']],
    ['255.255.255.255', ['broadcast']],
    ['192.0.2.1', []],
    ['::', ['unspecified']],
    ['::1', ['loopback']],
    ['ff02::fb', ['multicast']],
    ['::ffff:10.1.2.3', ['v4mapped']],
    ['::10.1.2.3', ['v4compat']],
    ['::2', ['v4compat']],
    ['2001:db8::ffff:0:1', []],
    ['fd00::1', []],
  ])('%s → %j', (text, expected) => {
    expect(classes(text)).toEqual(expected);
  });
});

describe('parseAddr', () => {
  it('applies per-family rules', () => {
    expect(parseAddr('-o', '127.0.0.1', ADDR_RULES.outbound).addr).toBe('127.0.0.1');
    expect(() => parseAddr('-o', '::1', ADDR_RULES.outbound)).toThrow(new CliError('invalid address in -o: ::1'));
    expect(parseAddr('-D', '::1', ADDR_RULES.any)).toEqual({ family: 6, addr: '::1' });
  });

  it('shows the given text in messages', () => {
    expect(() => parseAddr('-a', 'x', ADDR_RULES.address, 'x/24')).toThrow('invalid address in -a: x/24');
  });
});

describe('numbers and names', () => {
  it.each([
    ['0', 0],
    ['10', 10],
    ['010', 8],
    ['0x10', 16],
    ['0X1f', 31],
  ] as const)('parseCInt(%j) = %d', (text, n) => {
    expect(parseCInt(text)).toBe(n);
  });

  it.each(['', '-1', '+1', '1e3', '08', '0x', ' 1', '1 '])('parseCInt refuses %j', (text) => {
    expect(parseCInt(text)).toBeUndefined();
  });

  it('parsePrefixLen', () => {
    expect(parsePrefixLen('0', 32)).toBe(0);
    expect(parsePrefixLen('128', 128)).toBe(128);
    expect(parsePrefixLen('129', 128)).toBeUndefined();
    expect(parsePrefixLen('0x8', 32)).toBeUndefined();
  });

  it('parseNetmask', () => {
    expect(parseNetmask('-n', '255.255.255.128')).toBe(25);
    expect(() => parseNetmask('-n', '255.255.128.255')).toThrow('invalid netmask in -n: 255.255.128.255');
  });

  it('parseMac', () => {
    expect(parseMac('-M', 'AA:BB:CC:DD:EE:FF')).toBe('aa:bb:cc:dd:ee:ff');
    expect(() => parseMac('-M', 'aabbccddeeff')).toThrow('invalid MAC address in -M: aabbccddeeff');
  });

  it('isIfname', () => {
    expect(isIfname('eth0')).toBe(true);
    expect(isIfname('x'.repeat(15))).toBe(true);
    expect(isIfname('x'.repeat(16))).toBe(false);
    expect(isIfname('..')).toBe(false);
    expect(isIfname('a b')).toBe(false);
  });
});
