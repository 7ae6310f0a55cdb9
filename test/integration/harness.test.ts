// Self-test of the harness and fixtures, without the helper: the same clients
// run straight from the fake host to the "internet" netns. If these fail, the
// fake host or the fixtures are broken, not the helper under test.
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const MiB = 1024 * 1024;

describe.skipIf(req.skip)('harness self-test (no helper involved)', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      echo "@@ whoami $(id -u)"
      echo "@@ mtu $(cat /sys/class/net/eth0/mtu) $(ip -o link show eth0 | grep -o 'mtu [0-9]*')"
      echo "@@ resolv $(grep nameserver /etc/resolv.conf)"
      serve sink up serve-sink --tcp 203.0.113.5:9000 --tcp "[2001:db8::5]:9000" --reply-bytes ${MiB} || exit 1
      serve source up serve-source --tcp 203.0.113.5:9001 --bytes ${4 * MiB} --seed s || exit 1
      serve lo serve-banner --tcp 127.0.0.1:9200 --text LOOPBACK || exit 1
      serve sink0 up serve-sink --tcp 203.0.113.5:9010 || exit 1
      serve echo up udp-echo --udp 203.0.113.5:7007 --udp "[2001:db8::5]:7007" || exit 1
      net client-send --label send4 --tcp 203.0.113.5:9000 --bytes ${4 * MiB} --reply-bytes ${MiB}
      net client-send --label send6-hc --tcp "[2001:db8::5]:9000" --bytes ${MiB} --half-close --reply-bytes ${MiB}
      net client-recv --label recv4-hc --tcp 203.0.113.5:9001 --bytes ${4 * MiB} --seed s --half-close
      net client-recv --label wrong-seed --tcp 203.0.113.5:9001 --bytes ${4 * MiB} --seed not-s
      net client-recv --label wrong-size --tcp 203.0.113.5:9001 --bytes ${4 * MiB + 1} --seed s
      net client-send --label wrong-reply --tcp 203.0.113.5:9000 --bytes 1000 --reply-bytes ${MiB} --reply-seed not-reply
      net client-send --label short-reply --tcp 203.0.113.5:9000 --bytes 1000 --reply-bytes 1000
      net client-parallel --label parallel --tcp 203.0.113.5:9010 --conns 50 --bytes 100000
      net client-udp --label udp6 --udp "[2001:db8::5]:7007" --sizes 1,60000
      net client-connect --label refused --tcp 203.0.113.5:1 --timeout 3000
      net client-banner --label loopback --tcp 127.0.0.1:9200
      result ping ping -n -c 1 -W 2 203.0.113.5
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const t = (label: string) => {
    const x = tagged(r.stdout, label);
    expect(x, `no result for ${label}\n${dump(r)}`).toBeDefined();
    return x!;
  };

  it('builds the fake host as the namespace root, eth0 mtu 1500, resolver 127.0.0.1', () => {
    expect(t('whoami').status, dump(r)).toBe('0');
    expect(t('mtu').line).toBe('1500 mtu 1500');
    expect(t('resolv').line).toBe('nameserver 127.0.0.1');
  });

  it('fixtures move and verify data in all modes', () => {
    for (const l of ['send4', 'send6-hc', 'recv4-hc', 'parallel', 'udp6', 'refused', 'loopback']) {
      expect(t(l).status, `${l}: ${t(l).line}\n${dump(r)}`).toBe('ok');
    }
    expect(t('loopback').fields.banner).toBe('LOOPBACK');
    expect(t('ping').status).toBe('rc=0');
  });

  it('fixtures detect wrong data, wrong lengths and wrong replies', () => {
    expect(t('wrong-seed').status, t('wrong-seed').line).toBe('fail');
    expect(t('wrong-size').status, t('wrong-size').line).toBe('fail');
    expect(t('wrong-reply').status, t('wrong-reply').line).toBe('fail');
    expect(t('wrong-reply').fields.error).toBe('reply-checksum');
    expect(t('short-reply').status, t('short-reply').line).toBe('fail');
  });

  it('a timeout kills the whole fake host, background processes included', async () => {
    const marker = String(900000 + Math.floor(Math.random() * 99999));
    const k = await fakeHost(`ip netns exec up sleep ${marker} & sleep ${marker}`, { timeoutMs: 1000 });
    expect(k.timedOut).toBe(true);
    expect(k.code).toBe(124);
    expect(k.ms).toBeLessThan(5000);
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker);
        } catch {
          return false; /* gone meanwhile */
        }
      })
      .join(' ');
    expect(left, 'processes survived the fake host').toBe('');
  });
});
