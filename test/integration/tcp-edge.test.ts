// Issue 3: TCP edge cases. A connect to a closed port is refused at once (the
// helper answers the SYN with a RST), not left to time out; a connection the
// namespace half-closes still gets the server's whole reply.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const MiB = 1024 * 1024;

describe.skipIf(req.skip)('TCP: refused connections and half-close', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve sink up serve-sink --tcp 203.0.113.5:9002 --tcp "[2001:db8::5]:9002" --reply-bytes ${8 * MiB} --reply-seed reply || exit 1
      serve source up serve-source --tcp 203.0.113.5:9003 --tcp "[2001:db8::5]:9003" --bytes ${16 * MiB} --seed hc || exit 1
      # the clients run concurrently: a helper lacking one of these behaviours
      # costs one client timeout, not the sum of them
      $HELPER --config-net -- sh -c '
        . "$LIB"
        net client-connect --label refused4 --tcp 203.0.113.5:1 --timeout 5000 &
        net client-connect --label refused6 --tcp "[2001:db8::5]:1" --timeout 5000 &
        net client-send --label hc-send4 --tcp 203.0.113.5:9002 --bytes ${MiB} --half-close --reply-bytes ${8 * MiB} --reply-seed reply --timeout 15000 &
        net client-send --label hc-send6 --tcp "[2001:db8::5]:9002" --bytes ${MiB} --half-close --reply-bytes ${8 * MiB} --reply-seed reply --timeout 15000 &
        net client-recv --label hc-recv4 --tcp 203.0.113.5:9003 --bytes ${16 * MiB} --seed hc --half-close --timeout 15000 &
        wait
      '
      `,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const get = (label: string) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    return t!;
  };

  for (const [label, addr] of [['refused4', '203.0.113.5:1'], ['refused6', '[2001:db8::5]:1']]) {
    it(`connect to closed port ${addr} gets ECONNREFUSED in < 2 s`, () => {
      const t = get(label);
      expect(t.fields.result, t.line).toBe('ECONNREFUSED');
      expect(Number(t.fields.ms), t.line).toBeLessThan(2000);
    });
  }

  for (const [label, v] of [['hc-send4', 'IPv4'], ['hc-send6', 'IPv6']]) {
    it(`${v}: sends 1 MiB, shuts down its write side, still reads the full 8 MiB reply`, () => {
      const t = get(label);
      expect(t.status, t.line).toBe('ok');
      expect(Number(t.fields.bytes), t.line).toBe(MiB);
      expect(Number(t.fields.reply), t.line).toBe(8 * MiB);
    });
  }

  it('half-closes right after connecting, still reads the full 16 MiB download', () => {
    const t = get('hc-recv4');
    expect(t.status, t.line).toBe('ok');
    expect(Number(t.fields.bytes), t.line).toBe(16 * MiB);
  });
});
