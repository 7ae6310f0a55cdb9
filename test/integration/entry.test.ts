// Issue 5: the two ways in. The front (native-shims/build/pasta-ts, what
// Podman is pointed at) starts one Node process, which in attach mode becomes
// the daemon itself; bin/pasta-ts.js starts a second Node for the daemon.
// Both must behave the same to their caller: exit status, readiness (the
// namespace is configured when the foreground process exits 0), signals, and
// nothing left behind.
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FRONT, JS_ENTRY, REPO, dump, exitStatus, fakeHost, requirements, tagged, taggedLines, type FakeHostResult } from './harness.js';

const req = requirements();
const ours = !process.env.PASTA_TS_BIN?.trim();

// attach to a namespace, check it is configured the moment the helper returns,
// move data through it, then remove the namespace: the helper must go
const attachRound = (name: string, helper: string) => `
      ip netns add ${name}
      result ${name}-start ${helper} --config-net --netns /run/netns/${name} -P "$T/${name}.pid" -t none -u none -T 10017 -U none
      ip netns exec ${name} ip -br addr show | tag ${name}-addr
      P=$(cat "$T/${name}.pid")
      echo "@@ ${name}-session $(ps -o sid= -p $P | tr -d ' ') pid=$P"
      ip netns exec ${name} "$NODE" "$FIX/net.mjs" client-banner --label ${name}-T --tcp 127.0.0.1:10017 --timeout 10000
      ip netns exec ${name} "$NODE" "$FIX/net.mjs" client-send --label ${name}-up --tcp 203.0.113.5:9000 --bytes 4194304 --timeout 20000
      ip netns del ${name}
      for i in $(seq 1 30); do kill -0 $P 2>/dev/null || break; sleep 0.1; done
      kill -0 $P 2>/dev/null && echo "@@ ${name}-gone fail" || echo "@@ ${name}-gone ok"
      sleep 0.2
      pgrep -f "[p]asta-ts-launch ns .*/run/netns/${name}" >/dev/null && echo "@@ ${name}-agent-gone fail" || echo "@@ ${name}-agent-gone ok"`;

describe.skipIf(req.skip || !ours)('the front and the Node entry point', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve hostsvc serve-banner --tcp 127.0.0.1:10017 --text HOST-10017 || exit 1
      serve sink up serve-sink --tcp 203.0.113.5:9000 || exit 1
      mkdir -p /run/netns
      ${attachRound('front', '$HELPER')}
      ${attachRound('js', '$JS_ENTRY')}
      result js-exit $JS_ENTRY --config-net -- sh -c 'ip -br addr show eth0; exit 7'
      result front-exit $HELPER --config-net -- sh -c 'ip -br addr show eth0; exit 7'
      # kill(1) on the front reaches the command, as it would reach pasta's
      $HELPER --config-net -- sleep 30 &
      F=$!
      sleep 1.5
      kill -TERM $F
      wait $F
      echo "@@ front-sigterm rc=$?"
      result front-bad $HELPER --config-net --netns /run/netns/nonexistent
      # Podman 4 reads slirp4netns --help before every start: the front's copy must be the program's own
      "$SLIRP_FRONT" --help > "$T/help.front"; echo "@@ help-front rc=$?"
      $SLIRP_JS --help > "$T/help.js"
      cmp -s "$T/help.front" "$T/help.js" && echo "@@ help-same ok" || echo "@@ help-same fail"
      true`,
      {
        timeoutMs: 90_000,
        helperAsRoot: true,
        env: { JS_ENTRY, SLIRP_FRONT: join(FRONT, '../slirp4netns-ts'), SLIRP_JS: `${process.execPath} ${join(REPO, 'bin/slirp4netns-ts.js')}` },
      },
    );
  }, 100_000);

  for (const name of ['front', 'js']) {
    it(`${name}: attach mode returns 0 with the namespace configured, and the daemon is in its own session`, () => {
      expect(exitStatus(r.stdout, `${name}-start`), dump(r)).toBe(0);
      expect(taggedLines(r.stdout, `${name}-addr`).join('\n'), dump(r)).toMatch(/192\.0\.2\.2\/24.*fd00::2\/64/);
      const s = tagged(r.stdout, `${name}-session`);
      expect(s?.status, dump(r)).toBe(s?.fields.pid);
    });

    it(`${name}: the daemon moves data (-T agent and outbound TCP) and leaves nothing once the namespace is gone`, () => {
      expect(tagged(r.stdout, `${name}-T`)?.fields.banner, dump(r)).toBe('HOST-10017');
      expect(tagged(r.stdout, `${name}-up`)?.fields.bytes, dump(r)).toBe('4194304');
      expect(tagged(r.stdout, `${name}-gone`)?.status, dump(r)).toBe('ok');
      expect(tagged(r.stdout, `${name}-agent-gone`)?.status, dump(r)).toBe('ok');
    });
  }

  it('command mode: both pass on the exit status, with the namespace configured', () => {
    for (const name of ['js-exit', 'front-exit']) {
      expect(exitStatus(r.stdout, name), dump(r)).toBe(7);
      expect(taggedLines(r.stdout, `${name}-out`).join('\n'), dump(r)).toMatch(/192\.0\.2\.2\/24/);
    }
  });

  it('the front passes SIGTERM on: the command dies of it, and the status is 143', () => {
    expect(exitStatus(r.stdout, 'front-sigterm'), dump(r)).toBe(143);
  });

  it('the front prints slirp4netns --help itself, the same text as the program', () => {
    expect(exitStatus(r.stdout, 'help-front'), dump(r)).toBe(0);
    expect(tagged(r.stdout, 'help-same')?.status, dump(r)).toBe('ok');
  });

  it('a failed attach exits non-zero through the front, with the reason', () => {
    expect(exitStatus(r.stdout, 'front-bad'), dump(r)).not.toBe(0);
    expect(taggedLines(r.stdout, 'front-bad-err').join('\n')).toMatch(/nonexistent/);
  });
});
