// Issue 7: after set-up the helper holds no capability and has no_new_privs,
// in command mode and in attach mode, while it keeps working; the command it
// runs keeps the privileges of the namespace's root.
import { beforeAll, describe, expect, it } from 'vitest';
import { dump, fakeHost, requirements, taggedLines, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('containment after set-up', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      $HELPER --config-net -- sh -c '
        P=$(pgrep -f "^[^ ]*node .*dist/bundle/main.js")
        A=$(pgrep -f "^/[^ ]*pasta-ts-launch ns")
        grep -E "^CapEff" /proc/$A/status | sed "s/^/@@ cmdmode-agent /"
        grep -E "^(CapEff|NoNewPrivs)" /proc/$P/status | sed "s/^/@@ cmdmode-helper /"
        grep -E "^CapEff" /proc/self/status | sed "s/^/@@ cmdmode-command /"
        ping -c1 -W2 203.0.113.5 >/dev/null && echo "@@ cmdmode-ping ok"'
      mkdir -p /run/netns && ip netns add ctr
      $HELPER --config-net --netns /run/netns/ctr -P "$T/p.pid" -t none -u none -T none -U none
      P=$(cat "$T/p.pid")
      grep -E "^(CapEff|NoNewPrivs)" /proc/$P/status | sed "s/^/@@ attach-helper /"
      ip netns exec ctr ping -c1 -W2 203.0.113.5 >/dev/null && echo "@@ attach-ping ok"
      kill $P
      # Buildah's form: --netns /proc/PID/ns/net of a process that keeps all
      # its capabilities; the helper, holding none, must not take it for gone
      unshare -n sleep 30 &
      CP=$!
      sleep 0.2
      $HELPER --config-net --netns /proc/$CP/ns/net -P "$T/b.pid" -t none -u none -T none -U none
      sleep 1
      kill -0 $(cat "$T/b.pid") && echo "@@ procpath-alive ok"
      nsenter -t $CP -n ping -c1 -W2 203.0.113.5 >/dev/null && echo "@@ procpath-ping ok"
      kill $CP
      true`,
      { timeoutMs: 60_000, helperAsRoot: true },
    );
  }, 70_000);

  it('command mode: the helper has no capabilities and no_new_privs; the command keeps its own', () => {
    const helper = taggedLines(r.stdout, 'cmdmode-helper').join('\n');
    expect(helper, dump(r)).toMatch(/CapEff:\s+0000000000000000/);
    expect(helper).toMatch(/NoNewPrivs:\s+1/);
    expect(taggedLines(r.stdout, 'cmdmode-command').join('\n')).not.toMatch(/CapEff:\s+0000000000000000/);
    // the namespace agent may only bind low ports (CAP_NET_BIND_SERVICE, bit 10)
    expect(taggedLines(r.stdout, 'cmdmode-agent').join('\n')).toMatch(/CapEff:\s+0000000000000400/);
    expect(r.stdout).toContain('@@ cmdmode-ping ok');
  });

  it('attach mode by /proc/PID/ns/net (Buildah) keeps running and translating without privileges', () => {
    expect(r.stdout, dump(r)).toContain('@@ procpath-alive ok');
    expect(r.stdout).toContain('@@ procpath-ping ok');
  });

  it('attach mode: the daemon has no capabilities and no_new_privs, and still translates', () => {
    const helper = taggedLines(r.stdout, 'attach-helper').join('\n');
    expect(helper, dump(r)).toMatch(/CapEff:\s+0000000000000000/);
    expect(helper).toMatch(/NoNewPrivs:\s+1/);
    expect(r.stdout).toContain('@@ attach-ping ok');
  });
});
