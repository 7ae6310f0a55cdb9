// Issue 5: the quick start. For Podman's plain argv (Podman 5's pasta and
// Podman 4's slirp4netns) the front has the launcher configure the namespace
// in C (native-shims/netconf.c) and report ready before Node starts;
// everything else goes to Node as before. The two must leave the namespace
// configured the same way, on a host with more than one address, route and
// default route, and the quick one must really be configured before Node
// runs (a wrapper around node holds it until the test has looked).
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FRONT, dump, exitStatus, fakeHost, requirements, tagged, taggedLines, type FakeHostResult } from './harness.js';

const req = requirements();
const ours = !process.env.PASTA_TS_BIN?.trim();
const PODMAN_ARGS = '--config-net --dns-forward 169.254.1.1 -t none -u none -T none -U none --no-map-gw --quiet';

// The node wrapper stops Node before it starts (the quick front has returned
// by then, the usual one has not): look at the namespace then, and let it go.
const atNode = (name: string) => `
      for i in $(seq 1 100); do [ -e "$T/node-start.${name}" ] && break; sleep 0.05; done
      ip -n ${name} -br -4 addr show | tag ${name}-at-node
      touch "$T/go.${name}"`;

// What the namespace looks like (without link-local addresses and MACs,
// which are random).
const inspect = (name: string) => `
      ip netns exec ${name} sh -c '
        ip -o addr show | grep -v "inet6 fe80" | awk "{print \\$2, \\$3, \\$4}"
        ip -o link show | sed "s,link/ether [^ ]*,,"
        ip route show table all | grep -v fe80
        ip -6 route show table all | grep -v fe80' >"$T/${name}.conf"
      tag ${name}-conf <"$T/${name}.conf"`;

/** a checksummed upload from the namespace to the sink "outside" */
const upload = (name: string) =>
  `ip netns exec ${name} "$NODE" "$FIX/net.mjs" client-send --label ${name}-up --tcp 203.0.113.5:9000 --bytes 2097152 --timeout 20000`;

// NAME ENV: attach as Podman 5 does, inspect, move data, and remove the
// namespace
const round = (name: string, env: string, args = PODMAN_ARGS) => `
      ip netns add ${name}
      export WRAP_NETNS=${name}
      result ${name}-start env ${env} $HELPER ${args} --netns /run/netns/${name} --map-guest-addr 169.254.1.2 -P "$T/${name}.pid" &
${atNode(name)}
      wait $!
${inspect(name)}
      P=$(cat "$T/${name}.pid")
      echo "@@ ${name}-session $(ps -o sid= -p $P | tr -d ' ') pid=$P"
      ${upload(name)}
      grep -h -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/$P/task/*/status | sort -u | tag ${name}-caps
      ip netns del ${name}
      for i in $(seq 1 30); do kill -0 $P 2>/dev/null || break; sleep 0.1; done
      kill -0 $P 2>/dev/null && echo "@@ ${name}-gone fail" || echo "@@ ${name}-gone ok"`;

// NAME ENV: slirp4netns as Podman 4.3.1 runs it (-e exit and -r ready
// descriptors, --netns-type=path); the same records, data, and the exit once
// the exit descriptor closes
const slirpRound = (name: string, env: string) => `
      ip netns add ${name}
      export WRAP_NETNS=${name}
      rm -f "$T/${name}.ready"
      (while [ ! -e "$T/${name}.stop" ]; do sleep 0.1; done) | env ${env} "$SLIRP_FRONT" --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 -c -e 0 -r 5 --netns-type=path /run/netns/${name} tap0 5>"$T/${name}.ready" &
      SP=$!
${atNode(name)}
      i=0; while [ ! -s "$T/${name}.ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
      echo "@@ ${name}-ready $(cat "$T/${name}.ready")"
${inspect(name)}
      ${upload(name)}
      touch "$T/${name}.stop"
      wait $SP
      echo "@@ ${name}-exited rc=$?"
      ip netns del ${name}`;

describe.skipIf(req.skip || !ours)('quick start of a Podman attach', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve sink up serve-sink --tcp 203.0.113.5:9000 || exit 1
      # a host with more to copy: a second address, routes with and without a
      # gateway and with metrics, and a second interface whose default routes
      # have higher metrics (eth0 must win)
      ip addr add 192.0.2.77/24 dev eth0
      ip route add 198.51.100.0/24 via 192.0.2.1 dev eth0 metric 50
      ip route add 10.9.0.0/16 dev eth0
      ip -6 route add 2001:db8:77::/48 via fd00::1 dev eth0 metric 7
      ip link add v0 type veth peer name v1
      ip addr add 172.16.5.2/24 dev v0
      ip -6 addr add fd05::2/64 dev v0 nodad
      ip link set v0 up; ip link set v1 up
      ip route add default via 172.16.5.1 dev v0 metric 900
      ip -6 route add default via fd05::1 dev v0 metric 2000
      printf '#!/bin/sh\\ntouch "$T/node-start.$WRAP_NETNS"\\nwhile [ ! -e "$T/go.$WRAP_NETNS" ]; do sleep 0.05; done\\nexec "$NODE" "$@"\\n' >"$T/node-wrap"
      chmod 755 "$T/node-wrap"
      mkdir -p /run/netns
      ${round('quick', 'PASTA_TS_NODE=$T/node-wrap')}
      ${round('slow', 'PASTA_TS_NODE=$T/node-wrap PASTA_TS_QUICK=0')}
      # ports to bind before "ready": Node does it all
      ${round('ports', 'PASTA_TS_NODE=$T/node-wrap', PODMAN_ARGS.replace('-t none', '-t 18080-18080:80-80'))}
      result quick-bad $HELPER ${PODMAN_ARGS} --netns /run/netns/nonexistent
      ${slirpRound('squick', 'PASTA_TS_NODE=$T/node-wrap')}
      ${slirpRound('sslow', 'PASTA_TS_NODE=$T/node-wrap PASTA_TS_QUICK=0')}
      true`,
      { timeoutMs: 90_000, helperAsRoot: true, env: { SLIRP_FRONT: join(FRONT, '../slirp4netns-ts') } },
    );
  }, 100_000);

  const conf = (name: string): string => taggedLines(r.stdout, `${name}-conf`).join('\n');

  it('returns 0 with the namespace configured before Node has started, and Node holds no privilege', () => {
    expect(exitStatus(r.stdout, 'quick-start'), dump(r)).toBe(0);
    expect(conf('quick'), dump(r)).toMatch(/eth0 inet 192\.0\.2\.2\/24/);
    expect(taggedLines(r.stdout, 'quick-at-node').join('\n'), dump(r)).toMatch(/192\.0\.2\.2\/24/);
    // the PID file names the daemon, which has a session of its own
    // no privilege left in any of Node's threads: the launcher dropped them all before Node started
    expect(taggedLines(r.stdout, 'quick-caps').join('\n'), dump(r)).toBe(
      'CapBnd:\t0000000000000000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1');
    const s = tagged(r.stdout, 'quick-session');
    expect(s?.fields.pid, dump(r)).toMatch(/^[0-9]+$/);
    expect(s?.status, dump(r)).toBe(s?.fields.pid);
  });

  it('without it (PASTA_TS_QUICK=0, or ports to bind) Node configures the namespace after it has started', () => {
    for (const name of ['slow', 'ports']) {
      expect(exitStatus(r.stdout, `${name}-start`), dump(r)).toBe(0);
      expect(taggedLines(r.stdout, `${name}-at-node`).join('\n'), dump(r)).not.toMatch(/192\.0\.2\.2/);
    }
  });

  it('configures addresses, links and routes exactly as Node does', () => {
    const quick = conf('quick');
    expect(quick, dump(r)).toMatch(/198\.51\.100\.0\/24 via 192\.0\.2\.1 dev eth0 .*metric 50/);
    expect(quick, dump(r)).toMatch(/10\.9\.0\.0\/16 dev eth0/);
    expect(quick, dump(r)).toMatch(/2001:db8:77::\/48 via fd00::1 dev eth0 .*metric 7/);
    expect(quick, dump(r)).toMatch(/eth0: .*mtu 65520 .*qlen 10000/);
    expect(quick, dump(r)).not.toMatch(/172\.16\.5|fd05|192\.0\.2\.77/);
    expect(quick, dump(r)).toBe(conf('slow'));
    expect(conf('ports'), dump(r)).toBe(conf('slow'));
  });

  it('the daemon moves data and goes when the namespace does', () => {
    for (const name of ['quick', 'slow']) {
      // client-send checks the sink's sha256 of what it sent
      expect(tagged(r.stdout, `${name}-up`)?.status, dump(r)).toBe('ok');
      expect(tagged(r.stdout, `${name}-up`)?.fields.bytes, dump(r)).toBe('2097152');
      expect(tagged(r.stdout, `${name}-gone`)?.status, dump(r)).toBe('ok');
    }
  });

  it('a namespace it cannot join: exit non-zero with the reason', () => {
    expect(exitStatus(r.stdout, 'quick-bad'), dump(r)).not.toBe(0);
    expect(taggedLines(r.stdout, 'quick-bad-err').join('\n'), dump(r)).toMatch(/nonexistent/);
  });

  it('slirp4netns: "1" on the ready descriptor with the namespace configured before Node has started', () => {
    expect(tagged(r.stdout, 'squick-ready')?.status, dump(r)).toBe('1');
    expect(tagged(r.stdout, 'sslow-ready')?.status, dump(r)).toBe('1');
    expect(taggedLines(r.stdout, 'squick-at-node').join('\n'), dump(r)).toMatch(/tap0 .*10\.0\.2\.100\/24/);
    expect(taggedLines(r.stdout, 'sslow-at-node').join('\n'), dump(r)).not.toMatch(/10\.0\.2\.100/);
  });

  it('slirp4netns: the same configuration both ways, data moved, and exit 0 once the exit descriptor closes', () => {
    expect(conf('squick'), dump(r)).toMatch(/tap0 inet6 fd00::100\/64/);
    expect(conf('squick'), dump(r)).toMatch(/tap0: .*mtu 65520 /);
    expect(conf('squick'), dump(r)).toBe(conf('sslow'));
    for (const name of ['squick', 'sslow']) {
      expect(tagged(r.stdout, `${name}-up`)?.status, dump(r)).toBe('ok');
      expect(exitStatus(r.stdout, `${name}-exited`), dump(r)).toBe(0);
    }
  });
});
