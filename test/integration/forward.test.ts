// Issue 4: inbound port forwarding (-t, -u). A forwarded port on the host
// delivers into the namespace; peers keep their real address (no NAT).
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const MiB32 = 32 * 1024 * 1024;

describe.skipIf(req.skip)('inbound port forwarding', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      $HELPER --config-net -t 10015 -t 10016 -t 10018:80 -u 10019 -- sh -c '
        . "$LIB"
        serve sink serve-sink --tcp 0.0.0.0:10015 --reply-bytes 1000 || exit 1
        serve peer serve-banner --tcp 0.0.0.0:10016 --text %peer || exit 1
        serve remap serve-banner --tcp 0.0.0.0:80 --text REMAPPED || exit 1
        serve echo udp-echo --udp 0.0.0.0:10019 || exit 1
        touch "$T/ns-ready"
        while [ ! -e "$T/done" ]; do sleep 0.1; done' &
      net wait-ready "$T/ns-ready" --timeout 20000 --label ns-ready
      net client-send --label lo-32m --tcp 127.0.0.1:10015 --bytes ${MiB32} --reply-bytes 1000 --timeout 30000
      up sh -c '. "$LIB"; net client-banner --label upstream-peer --tcp 192.0.2.2:10016 --timeout 10000'
      net client-banner --label remapped --tcp 127.0.0.1:10018 --timeout 10000
      net client-udp --label udp-lo --udp 127.0.0.1:10019 --sizes 1,1400,30000
      up sh -c '. "$LIB"; net client-udp --label udp-upstream --udp 192.0.2.2:10019 --sizes 1,1400'
      touch "$T/done"
      wait
      # a port that cannot be bound is reported, and the helper fails
      serve busy serve-banner --tcp 0.0.0.0:10020 --text x || exit 1
      result busyport $HELPER --config-net -t 10020 -- true
      true`,
      { timeoutMs: 90_000 },
    );
  }, 100_000);

  const ok = (label: string) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    expect(t!.status, `${t!.line}\n${dump(r)}`).toBe('ok');
    return t!;
  };

  it('32 MiB from the host loopback reach a listener in the namespace intact', () => {
    expect(ok('lo-32m').fields.bytes).toBe(String(MiB32));
  });

  it('a connection from the upstream keeps its source address (no NAT)', () => {
    expect(ok('upstream-peer').fields.banner).toBe('192.0.2.1');
  });

  it('8080:80 style remapping reaches the remapped port', () => {
    expect(ok('remapped').fields.banner).toBe('REMAPPED');
  });

  it('UDP is forwarded both ways, from host loopback and from outside', () => {
    ok('udp-lo');
    ok('udp-upstream');
  });

  it('a port already bound on the host is reported and the helper exits non-zero', () => {
    expect(r.stdout, dump(r)).toMatch(/@@ busyport-err .*cannot bind TCP port 10020/);
    expect(r.stdout).toMatch(/@@ busyport rc=[1-9]/);
  });
});
