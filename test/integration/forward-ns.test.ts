// Issue 4: -T/-U (namespace to host loopback) and pasta's default "auto"
// forwarding, which follows the ports listening on each side.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('namespace-side and automatic forwarding', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve hostsvc serve-banner --tcp 127.0.0.1:10017 --text HOST-10017 || exit 1
      serve hostudp udp-echo --udp 127.0.0.1:10021 || exit 1
      serve hostsink serve-sink --tcp 127.0.0.1:10022 || exit 1
      $HELPER --config-net -t none -u none -T 10017,10022 -U 10021 -- sh -c '. "$LIB"
        net client-banner --label ns-T --tcp 127.0.0.1:10017 --timeout 10000
        net client-send --label ns-T-8m --tcp 127.0.0.1:10022 --bytes 8388608 --timeout 20000
        net client-udp --label ns-U --udp 127.0.0.1:10021 --sizes 1,1400,20000'
      # default: -t auto, -T auto
      $HELPER --config-net -- sh -c '. "$LIB"
        net client-banner --label auto-T --tcp 127.0.0.1:10017 --timeout 10000
        serve late serve-banner --tcp 0.0.0.0:10023 --text NS-10023 || exit 1
        touch "$T/late-ready"
        while [ ! -e "$T/auto-done" ]; do sleep 0.1; done' &
      HP=$!
      net wait-ready "$T/late-ready" --timeout 20000 --label late-ready
      # the scan runs every second
      for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        net client-banner --label probe --tcp 127.0.0.1:10023 --timeout 2000 >/dev/null 2>&1 && break
        sleep 0.2
      done
      net client-banner --label auto-t --tcp 127.0.0.1:10023 --timeout 5000
      touch "$T/auto-done"
      wait $HP
      true`,
      { timeoutMs: 90_000 },
    );
  }, 100_000);

  const field = (label: string, f: string) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    expect(t!.status, `${t!.line}\n${dump(r)}`).toBe('ok');
    return t!.fields[f];
  };

  it('every helper exits once its command has (nothing hangs)', () => {
    expect(r.timedOut, dump(r)).toBe(false);
  });

  it('-T: the namespace reaches a host loopback listener through its own 127.0.0.1', () => {
    expect(field('ns-T', 'banner')).toBe('HOST-10017');
    expect(field('ns-T-8m', 'bytes')).toBe('8388608');
  });

  it('-U: UDP echo through the namespace loopback', () => {
    expect(field('ns-U', 'sizes')).toBe('1:ok,1400:ok,20000:ok');
  });

  it('-T auto (default) forwards ports listening on the host', () => {
    expect(field('auto-T', 'banner')).toBe('HOST-10017');
  });

  it('-t auto (default) forwards a port that starts listening in the namespace later', () => {
    expect(field('auto-t', 'banner')).toBe('NS-10023');
  });
});
