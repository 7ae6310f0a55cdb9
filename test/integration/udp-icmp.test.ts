// Issue 3: UDP datagrams of all sizes up to ~60000 bytes, IPv4 and IPv6, are
// echoed byte-identical; ping reaches 203.0.113.5 and 2001:db8::5.
import { beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, exitStatus, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const SIZES = [1, 100, 1400, 1500, 9000, 32768, 60000];

describe.skipIf(req.skip)('UDP echo and ICMP echo', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve echo up udp-echo --udp 203.0.113.5:7007 --udp "[2001:db8::5]:7007" || exit 1
      $HELPER --config-net -- sh -c '
        . "$LIB"
        net client-udp --label udp4 --udp 203.0.113.5:7007 --sizes ${SIZES.join(',')} --timeout 30000 &
        net client-udp --label udp6 --udp "[2001:db8::5]:7007" --sizes ${SIZES.join(',')} --timeout 30000 &
        result ping4 ping -n -c 2 -i 0.2 -W 2 203.0.113.5 &
        result ping6 ping -6 -n -c 2 -i 0.2 -W 2 2001:db8::5 &
        wait
      '
      `,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  for (const [label, v] of [['udp4', 'IPv4'], ['udp6', 'IPv6']]) {
    it(`${v}: datagrams of ${SIZES.join(', ')} bytes come back byte-identical`, () => {
      const t = tagged(r.stdout, label);
      expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
      expect(t!.fields.sizes, t!.line).toBe(SIZES.map((s) => `${s}:ok`).join(','));
      expect(t!.status, t!.line).toBe('ok');
    });
  }

  for (const [label, addr] of [['ping4', '203.0.113.5'], ['ping6', '2001:db8::5']]) {
    it(`ping -c 2 ${addr} gets both replies`, () => {
      const out = captured(r.stdout, label);
      expect(exitStatus(r.stdout, label), `${out}\n${captured(r.stdout, label, 'err')}\n${dump(r)}`).toBe(0);
      expect(out).toMatch(/2 packets transmitted, 2 (packets )?received/);
    });
  }
});
