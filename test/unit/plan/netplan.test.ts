// The plan: what the guest sees, from the options and the host's configuration.
import { describe, expect, it } from 'vitest';
import { parseCli } from '../../../src/cli/index.js';
import type { Config } from '../../../src/config.js';
import { makePlan, PlanError } from '../../../src/netplan.js';
import type { HostConfig } from '../../../src/ns/hostconf.js';
import { parseResolv } from '../../../src/ns/resolv.js';
import { format4, format6 } from '../../../src/wire/ip.js';
import { formatMac } from '../../../src/wire/ethernet.js';

const host: HostConfig = {
  links: new Map([[2, { name: 'eth0', mtu: 1500 }]]),
  v4: { ifname: 'eth0', ifindex: 2, addrs: [{ addr: '192.0.2.2', prefix: 24 }], gateway: '192.0.2.1',
    routes: [{ dst: '0.0.0.0', prefix: 0, gateway: '192.0.2.1' }, { dst: '198.51.100.0', prefix: 24, gateway: '192.0.2.254' }] },
  v6: { ifname: 'eth0', ifindex: 2, addrs: [{ addr: 'fd00::2', prefix: 64 }], gateway: 'fd00::1', routes: [] },
};

function cfg(...args: string[]): Config {
  const r = parseCli(args, {}, 'pasta-ts');
  if (r.kind !== 'run') throw new Error(r.stderr);
  return r.config;
}

function passt(...args: string[]): Config {
  const r = parseCli(args, {}, 'passt-ts');
  if (r.kind !== 'run') throw new Error(r.stderr);
  return r.config;
}

describe('makePlan', () => {
  it("copies the host's address, prefix, gateway and routes, with MTU 65520", () => {
    const p = makePlan(cfg('--config-net', 'true'), host);
    expect(format4(p.v4!.addr)).toBe('192.0.2.2');
    expect(p.v4!.prefix).toBe(24);
    expect(format4(p.v4!.gateway)).toBe('192.0.2.1');
    expect(p.v4!.routes).toContainEqual({ dst: '198.51.100.0', prefix: 24, gateway: '192.0.2.254' });
    expect(format6(p.v6!.addr)).toBe('fd00::2');
    expect(p.mtu).toBe(65520);
    expect(p.nsIfname).toBe('eth0');
    expect(formatMac(p.ourMac)).toBe('9a:55:9a:55:9a:55');
    // the gateway reaches the host's loopback by default
    expect(format4(p.v4!.mapHostLoopback!)).toBe('192.0.2.1');
  });

  it('-a/-n/-g/-m/-I override what is copied, and --no-map-gw maps nothing', () => {
    const p = makePlan(cfg('-a', '10.1.2.3', '-n', '16', '-g', '10.1.0.1', '-m', '1500', '-I', 'tap7', '--no-map-gw', 'true'), host);
    expect(format4(p.v4!.addr)).toBe('10.1.2.3');
    expect(p.v4!.prefix).toBe(16);
    expect(format4(p.v4!.gateway)).toBe('10.1.0.1');
    expect(p.v4!.routes).toEqual([]);
    expect(p.v4!.mapHostLoopback).toBeUndefined();
    expect(p.mtu).toBe(1500);
    expect(p.nsIfname).toBe('tap7');
  });

  it('-4 and -6 leave out the other family', () => {
    expect(makePlan(cfg('-4', 'true'), host).v6).toBeUndefined();
    expect(makePlan(cfg('-6', 'true'), host).v4).toBeUndefined();
  });

  it('rejects a network or broadcast address, naming it', () => {
    expect(() => makePlan(passt('-a', '169.254.0.0', '-n', '16'), host)).toThrow(PlanError);
    expect(() => makePlan(passt('-a', '169.254.0.0', '-n', '16'), host)).toThrow(/169\.254\.0\.0 is the network address of 169\.254\.0\.0\/16/);
    expect(() => makePlan(passt('-a', '10.0.0.255', '-n', '24'), host)).toThrow(/broadcast/);
  });

  it('a gateway outside the subnet does not shrink the netmask', () => {
    const p = makePlan(passt('-a', '192.168.1.5', '-n', '24', '-g', '10.0.0.1'), host);
    expect(p.v4!.prefix).toBe(24);
    expect(format4(p.v4!.gateway)).toBe('10.0.0.1');
  });

  it('--slirp-compat gives QEMU user networking addresses, gateway MAC and DNS', () => {
    const p = makePlan(passt('--slirp-compat'), host, parseResolv('nameserver 192.0.2.53\n'));
    expect(format4(p.v4!.addr)).toBe('10.0.2.15');
    expect(p.v4!.prefix).toBe(24);
    expect(format4(p.v4!.gateway)).toBe('10.0.2.2');
    expect(format4(p.v4!.mapHostLoopback!)).toBe('10.0.2.2');
    expect(p.v4!.dns.map(format4)).toEqual(['10.0.2.3']);
    expect(format4(p.v4!.dnsMatch!)).toBe('10.0.2.3');
    expect(format4(p.v4!.dnsHost!)).toBe('192.0.2.53');
    expect(formatMac(p.ourMac)).toBe('52:56:00:00:00:02');
    expect(format6(p.v6!.gateway)).toBe('fec0::2');
    // each option still wins on its own
    const q = makePlan(passt('--slirp-compat', '-a', '10.0.2.20'), host);
    expect(format4(q.v4!.addr)).toBe('10.0.2.20');
    expect(format4(q.v4!.gateway)).toBe('10.0.2.2');
  });

  it('a resolver on the host loopback is offered as the mapped gateway and redirected', () => {
    const p = makePlan(cfg('true'), host, parseResolv('nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\n'));
    expect(p.v4!.dns.map(format4)).toEqual(['192.0.2.1', '192.0.2.53']);
    expect(format4(p.v4!.dnsMatch!)).toBe('192.0.2.1');
    expect(format4(p.v4!.dnsHost!)).toBe('127.0.0.53');
    expect(p.search).toEqual(['example.org']);
  });

  it('--dns-forward ADDR offers ADDR and sends its queries to the first host resolver', () => {
    const p = makePlan(cfg('--dns-forward', '169.254.1.1', 'true'), host, parseResolv('nameserver 127.0.0.1\n'));
    expect(p.v4!.dns.map(format4)).toEqual(['169.254.1.1']);
    expect(format4(p.v4!.dnsMatch!)).toBe('169.254.1.1');
    expect(format4(p.v4!.dnsHost!)).toBe('127.0.0.1');
  });

  it('-D servers are offered as given; -D none offers nothing', () => {
    expect(makePlan(cfg('-D', '198.51.100.1', 'true'), host, parseResolv('nameserver 192.0.2.53')).v4!.dns.map(format4)).toEqual(['198.51.100.1']);
    expect(makePlan(cfg('-D', 'none', 'true'), host, parseResolv('nameserver 192.0.2.53')).v4!.dns).toEqual([]);
  });

  it('fails with a clear message when the host has no default route and nothing is given', () => {
    expect(() => makePlan(cfg('true'), { links: new Map() })).toThrow(/no usable interface/);
  });
});

describe('parseResolv', () => {
  it('reads nameservers of both families, ignores comments, keeps the last search line', () => {
    const r = parseResolv('# x\nnameserver 192.0.2.53 ; c\nnameserver fe80::1%eth0\nnameserver bogus\ndomain a.example\nsearch b.example c.example\n');
    expect(r.nameservers).toEqual(['192.0.2.53', 'fe80::1']);
    expect(r.search).toEqual(['b.example', 'c.example']);
  });
});
