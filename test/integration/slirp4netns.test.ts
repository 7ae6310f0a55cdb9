// Issue 5: the slirp4netns entry, driven the way Podman 4.3.1 drives
// slirp4netns: a container's PID, -c, -e (exit descriptor), -r (ready
// descriptor), --api-socket, and slirp4netns's guest environment.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, captured, dump, exitStatus, fakeHost, requirements, tagged, type FakeHostResult } from './harness.js';

const req = requirements();
const SLIRP = `$NODE ${join(REPO, 'bin/slirp4netns-ts.js')}`;

describe.skipIf(req.skip)('slirp4netns compatibility', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      serve dns dns-server --udp 127.0.0.1:53 --answer 198.51.100.9 || exit 1
      serve lo serve-banner --tcp 127.0.0.1:9300 --text HOST-LOOPBACK || exit 1
      serve up up serve-sink --tcp 203.0.113.5:9301 --reply-bytes 1000 || exit 1
      result help ${SLIRP} --help
      # the "container": its own user and network namespace
      unshare -Urn sh -c 'while [ ! -e "$T/stop" ]; do sleep 0.1; done' &
      CP=$!
      sleep 0.2
      API="$T/api.sock"
      (while [ ! -e "$T/stop" ]; do sleep 0.1; done) | ${SLIRP} --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 -c -e 0 -r 5 --api-socket "$API" $CP tap0 5>"$T/ready" &
      SP=$!
      i=0; while [ ! -s "$T/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
      echo "@@ ready $(cat "$T/ready")"
      in_ctr() { nsenter -t $CP -U -n --preserve-credentials "$@"; }
      result addr in_ctr ip -4 addr show tap0
      result route in_ctr ip route
      in_ctr sh -c '. "$LIB"; net client-send --label upload --tcp 203.0.113.5:9301 --bytes 8388608 --reply-bytes 1000 --timeout 20000'
      in_ctr sh -c '. "$LIB"; net client-banner --label hostlo --tcp 10.0.2.2:9300 --timeout 3000'
      result dns in_ctr busybox nslookup name.test 10.0.2.3
      # ports through the API socket, as Podman's port_handler=slirp4netns does
      in_ctr sh -c '. "$LIB"; serve web serve-banner --tcp 0.0.0.0:80 --text CONTAINER-80' || echo "@@ web fail"
      api() { printf '%s' "$1" | socat - UNIX-CONNECT:"$API"; echo; }
      echo "@@ add $(api '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8081,"guest_addr":"","guest_port":80}}')"
      net client-banner --label fwd --tcp 127.0.0.1:8081 --timeout 5000
      echo "@@ list $(api '{"execute":"list_hostfwd"}')"
      echo "@@ remove $(api '{"execute":"remove_hostfwd","arguments":{"id":1}}')"
      net client-connect --label removed --tcp 127.0.0.1:8081 --timeout 2000
      echo "@@ bad $(api '{"execute":"nope"}')"
      touch "$T/stop"
      T0=$(date +%s%N)
      wait $SP
      echo "@@ exited rc=$? ms=$(( ($(date +%s%N) - T0) / 1000000 ))"
      true`,
      { timeoutMs: 60_000, helperAsRoot: true },
    );
  }, 70_000);

  const line = (label: string) => {
    const t = tagged(r.stdout, label);
    expect(t, `no result for ${label}\n${dump(r)}`).toBeDefined();
    return t!;
  };

  it('--help reads like slirp4netns 1.2.0, which Podman 4 parses for flags', () => {
    const help = captured(r.stdout, 'help');
    for (const f of ['--disable-host-loopback', '--mtu', '--enable-sandbox', '--enable-seccomp', '--enable-ipv6', '--netns-type', '--userns-path', '--api-socket', '--cidr']) {
      expect(help, f).toContain(f);
    }
  });

  it('writes 1 to the ready descriptor once configured', () => {
    expect(line('ready').line).toBe('1');
  });

  it('gives the container slirp4netns addresses: 10.0.2.100/24 via 10.0.2.2', () => {
    expect(captured(r.stdout, 'addr'), dump(r)).toMatch(/inet 10\.0\.2\.100\/24/);
    expect(captured(r.stdout, 'route')).toMatch(/default via 10\.0\.2\.2 dev tap0/);
  });

  it('moves data to the outside intact', () => {
    expect(line('upload').status, dump(r)).toBe('ok');
  });

  it('--disable-host-loopback: 10.0.2.2 does not reach the host loopback', () => {
    expect(line('hostlo').fields.banner ?? '').not.toBe('HOST-LOOPBACK');
  });

  it('10.0.2.3 answers DNS from the host resolver', () => {
    expect(exitStatus(r.stdout, 'dns'), dump(r)).toBe(0);
    expect(captured(r.stdout, 'dns')).toMatch(/198\.51\.100\.9/);
  });

  it('the API socket adds, lists and removes forwards', () => {
    expect(JSON.parse(line('add').line), dump(r)).toEqual({ return: { id: 1 } });
    expect(line('fwd').fields.banner, dump(r)).toBe('CONTAINER-80');
    expect(JSON.parse(line('list').line).return.entries).toEqual([
      { id: 1, proto: 'tcp', host_addr: '0.0.0.0', host_port: 8081, guest_addr: '10.0.2.100', guest_port: 80 },
    ]);
    expect(JSON.parse(line('remove').line)).toEqual({ return: {} });
    expect(line('removed').fields.result).toBe('ECONNREFUSED');
    expect(JSON.parse(line('bad').line).error.desc).toMatch(/unknown command/);
  });

  it('exits promptly when the exit descriptor closes', () => {
    const t = line('exited');
    expect(t.status).toBe('rc=0');
    expect(Number(t.fields.ms)).toBeLessThan(1000);
  });
});
