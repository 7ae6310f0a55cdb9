// Listening ports for "auto" forwarding: sock_diag dumps, /proc/net parsing,
// and the two against each other on this test's own sockets.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { PortWatch, listeningPorts, parseProcNet } from '../../../src/ns/procnet.js';
import { DiagScanner, diagRequest, parseDiag } from '../../../src/ns/sockdiag.js';
import { sockDiagSocket } from '../../../src/ns/sys.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A netlink message: header (len, type, flags, seq) and body. */
function nlmsg(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body, Buffer.alloc(((body.length + 3) & ~3) - body.length)]);
}

/** An inet_diag_msg with a state and a local port. */
function diagMsg(state: number, port: number): Buffer {
  const b = Buffer.alloc(72);
  b[0] = 2;
  b[1] = state;
  b.writeUInt16BE(port, 4);
  return b;
}

describe('sock_diag messages', () => {
  it('the request: SOCK_DIAG_BY_FAMILY dump, family, protocol and state mask in inet_diag_req_v2', () => {
    const r = diagRequest(10, 6, 1 << 10, 77);
    expect(r.length).toBe(16 + 56);
    expect(r.readUInt32LE(0)).toBe(72);
    expect(r.readUInt16LE(4)).toBe(20);
    expect(r.readUInt16LE(6)).toBe(0x301);
    expect(r.readUInt32LE(8)).toBe(77);
    expect([r[16], r[17]]).toEqual([10, 6]);
    expect(r.readUInt32LE(20)).toBe(1024);
  });

  it('answers: ports of the wanted state and sequence, then done; errors and truncation reported', () => {
    const out = new Set<number>();
    const buf = Buffer.concat([
      nlmsg(20, 5, diagMsg(10, 8080)),
      nlmsg(20, 5, diagMsg(1, 9999)), // not listening
      nlmsg(20, 4, diagMsg(10, 7777)), // another request's
      nlmsg(20, 5, diagMsg(10, 0)),
      nlmsg(20, 5, diagMsg(10, 443)),
    ]);
    expect(parseDiag(buf, 5, 10, out)).toBe('more');
    expect([...out].sort((a, b) => a - b)).toEqual([443, 8080]);
    expect(parseDiag(nlmsg(3, 5, Buffer.alloc(4)), 5, 10, out)).toBe('done');
    const err = Buffer.alloc(20);
    err.writeInt32LE(-2, 0);
    expect(parseDiag(nlmsg(2, 5, err), 5, 10, out)).toBe(-2);
    expect(parseDiag(nlmsg(20, 5, diagMsg(10, 1)).subarray(0, 40), 5, 10, out)).toBe(-71);
    expect(out.has(1)).toBe(false);
  });
});

describe('listening ports of this namespace', () => {
  async function sockets(): Promise<{ tcp4: number; tcp6: number; udp: number; client: number }> {
    const s4 = net.createServer().listen(0, '127.0.0.1');
    const s6 = net.createServer().listen(0, '::1');
    await Promise.all([once(s4, 'listening'), once(s6, 'listening')]);
    const c = net.connect((s4.address() as net.AddressInfo).port, '127.0.0.1');
    await once(c, 'connect');
    const u = dgram.createSocket('udp4');
    u.bind(0, '127.0.0.1');
    await once(u, 'listening');
    cleanups.push(() => {
      c.destroy();
      s4.close();
      s6.close();
      u.close();
    });
    return {
      tcp4: (s4.address() as net.AddressInfo).port,
      tcp6: (s6.address() as net.AddressInfo).port,
      udp: u.address().port,
      client: c.localPort!,
    };
  }

  it('sock_diag lists listening TCP (v4 and v6) and bound UDP ports, not connected ones, as /proc does', async () => {
    const p = await sockets();
    const fd = sockDiagSocket();
    expect(fd).toBeGreaterThanOrEqual(0);
    cleanups.push(() => fs.closeSync(fd));
    const d = new DiagScanner(fd);
    const tcp = d.ports('tcp');
    const udp = d.ports('udp');
    expect(tcp).toContain(p.tcp4);
    expect(tcp).toContain(p.tcp6);
    expect(tcp).not.toContain(p.client);
    expect(udp).toContain(p.udp);
    expect(tcp).toEqual(listeningPorts('tcp', '/proc/thread-self/net'));
    expect(udp).toEqual(listeningPorts('udp', '/proc/thread-self/net'));
  });

  it('PortWatch reads /proc when no sock_diag socket can be had, and after the kernel refuses', async () => {
    const p = await sockets();
    const none = new PortWatch(() => -97, '/proc/thread-self/net');
    expect(none.ports('tcp')).toContain(p.tcp4);
    expect(none.via).toBe('/proc/thread-self/net');
    // a descriptor that is no netlink socket: the dump fails once, /proc from then on
    const file = fs.openSync('/dev/null', 'r+');
    const broken = new PortWatch(() => file, '/proc/thread-self/net');
    expect(broken.ports('tcp')).toContain(p.tcp4);
    expect(broken.via).toBe('/proc/thread-self/net');
    const good = new PortWatch(sockDiagSocket, '/proc/thread-self/net');
    expect(good.ports('udp')).toContain(p.udp);
    expect(good.via).toBe('sock_diag');
  });

  it('parseProcNet: listening TCP (0A) and unconnected UDP (07) local ports, header skipped', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1',
      '   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2',
      '   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3',
    ].join('\n');
    expect(parseProcNet(tcp, 'tcp')).toEqual([22, 8080]);
    const udp = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0',
      '  2: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0',
    ].join('\n');
    expect(parseProcNet(udp, 'udp')).toEqual([53]);
  });
});
