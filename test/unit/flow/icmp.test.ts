import { describe, expect, it } from 'vitest';
import { closeFd, pingSocket } from '../../../src/ns/sys.js';
import { parse6 } from '../../../src/wire/ip.js';
import { inetChecksum } from '../helpers/csum.js';
import { envFactory, GUEST4, GUEST6, GW4, GW6 } from '../helpers/env.js';
import { GUEST_MAC, icmpFrame } from '../helpers/frames.js';

const newEnv = envFactory();

/** Whether this process may open ping sockets (net.ipv4.ping_group_range); the errno otherwise. */
function pingProbe(family: 4 | 6): { ok: boolean; why: string } {
  const fd = pingSocket(family, family === 4 ? Buffer.from([127, 0, 0, 1]) : parse6('::1'));
  if (fd >= 0) {
    closeFd(fd);
    return { ok: true, why: '' };
  }
  return { ok: false, why: `cannot open an ICMP${family === 6 ? 'v6' : ''} ping socket (errno ${-fd}); net.ipv4.ping_group_range excludes this process's groups` };
}
const ping4 = pingProbe(4);
const ping6 = pingProbe(6);

const echoBody = (id: number, seq: number, payload: Buffer): Buffer => {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(seq, 2);
  payload.copy(b, 4);
  return b;
};

describe('ICMP', () => {
  it('anything but an echo request is dropped and counted, without opening a socket', () => {
    const env = newEnv();
    env.inject(icmpFrame(GUEST4, GW4, 0, 0, Buffer.alloc(8))); // echo reply
    env.inject(icmpFrame(GUEST4, GW4, 13, 0, Buffer.alloc(16))); // timestamp
    env.inject(icmpFrame(GUEST4, GW4, 3, 3, Buffer.alloc(32))); // port unreachable
    env.inject(icmpFrame(GUEST4, GW4, 8, 0, Buffer.alloc(3))); // echo request of 7 bytes
    expect(env.drops('icmp_not_echo')).toBe(4);
    expect(env.drops('icmp_no_socket')).toBe(0);
    expect(env.link.sent).toEqual([]);
  });

  it('with --no-icmp an echo request is ignored', () => {
    const env = newEnv({ icmp: false });
    env.inject(icmpFrame(GUEST4, GW4, 8, 0, echoBody(1, 1, Buffer.from('x'))));
    env.inject(icmpFrame(GUEST6, GW6, 128, 0, echoBody(1, 1, Buffer.from('x'))));
    expect(env.link.sent).toEqual([]);
    expect(env.drops('icmp_no_socket')).toBe(0);
  });

  it.runIf(!ping4.ok)('without ping sockets an echo request is counted as icmp_no_socket and warned about once', () => {
    const env = newEnv();
    for (let i = 0; i < 3; i++) env.inject(icmpFrame(GUEST4, GW4, 8, 0, echoBody(7, i, Buffer.from('abc'))));
    expect(env.drops('icmp_no_socket')).toBe(3);
    expect(env.log.lines.filter((l) => l.startsWith('warn: cannot open ICMP echo socket'))).toHaveLength(1);
    expect(env.link.sent).toEqual([]);
  });

  it('echo request to the gateway is answered through a ping socket to the host loopback', async (t) => {
    if (!ping4.ok) {
      console.warn(`skipped: ${ping4.why}`);
      t.skip();
    }
    const env = newEnv();
    const payload = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz!');
    env.inject(icmpFrame(GUEST4, GW4, 8, 0, echoBody(0xbeef, 42, payload)));
    const f = await env.link.take((x) => x.icmp !== undefined);
    expect(f.dstMac).toEqual(GUEST_MAC);
    expect(f.src).toBe('10.0.2.2');
    expect(f.dst).toBe('10.0.2.15');
    expect(f.icmp).toMatchObject({ type: 0, code: 0, csumOk: true });
    expect(f.icmp!.body).toEqual(echoBody(0xbeef, 42, payload));
    const z = Buffer.from(f.l4!);
    z.writeUInt16BE(0, 2);
    expect(f.icmp!.csum).toBe(inetChecksum(z));
  });

  it('ICMPv6 echo request to the gateway is answered through a ping socket to ::1', async (t) => {
    if (!ping6.ok) {
      console.warn(`skipped: ${ping6.why}`);
      t.skip();
    }
    const env = newEnv();
    const payload = Buffer.from('ping6 payload');
    env.inject(icmpFrame(GUEST6, GW6, 128, 0, echoBody(0x1234, 7, payload)));
    const f = await env.link.take((x) => x.icmp !== undefined);
    expect(f.src).toBe('2001:db8::2');
    expect(f.dst).toBe('2001:db8::15');
    expect(f.icmp).toMatchObject({ type: 129, code: 0, csumOk: true });
    expect(f.icmp!.body).toEqual(echoBody(0x1234, 7, payload));
  });

  it('concurrent echo flows (different ids) each get their own replies, id and sequence restored (link with a 10-byte header)', async (t) => {
    if (!ping4.ok) {
      console.warn(`skipped: ${ping4.why}`);
      t.skip();
    }
    const env = newEnv({ ethOff: 10 });
    for (let seq = 1; seq <= 3; seq++) {
      for (const id of [0x0001, 0xfffe]) env.inject(icmpFrame(GUEST4, GW4, 8, 0, echoBody(id, seq, Buffer.from(`id ${id} seq ${seq}`))));
    }
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const f = await env.link.take((x) => x.icmp !== undefined);
      const b = f.icmp!.body;
      expect(b.subarray(4).toString()).toBe(`id ${b.readUInt16BE(0)} seq ${b.readUInt16BE(2)}`);
      got.push(`${b.readUInt16BE(0)}/${b.readUInt16BE(2)}`);
    }
    expect(got.sort()).toEqual(['1/1', '1/2', '1/3', '65534/1', '65534/2', '65534/3']);
  });
});
