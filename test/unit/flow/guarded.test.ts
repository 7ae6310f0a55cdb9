// A frame that makes a translator throw (a bug, not bad input: bad input is
// dropped by the codecs) must cost only that frame: the guest link's handler
// counts it as 'exception' and the next frames are handled as usual.
import { describe, expect, it } from 'vitest';
import { ARP_REQUEST } from '../../../src/wire/arp.js';
import { ETH_P_ARP } from '../../../src/wire/ethernet.js';
import { envFactory, GUEST4, GW4 } from '../helpers/env.js';
import { GUEST_MAC, arpFrame, udpFrame } from '../helpers/frames.js';

const newEnv = envFactory();

describe('Dispatcher.onFrameGuarded', () => {
  it('drops and counts a frame whose handler throws, then goes on', () => {
    const env = newEnv();
    let calls = 0;
    env.d.hooks = {
      udp4: () => {
        calls++;
        throw new TypeError('a bug in a service');
      },
    };
    const bad = udpFrame(GUEST4, GW4, 40000, 53, Buffer.from('boom'));
    expect(() => env.d.onFrameGuarded(bad, 0, bad.length)).not.toThrow();
    expect(() => env.d.onFrameGuarded(bad, 0, bad.length)).not.toThrow();
    expect(calls).toBe(2);
    expect(env.drops('exception')).toBe(2);
    expect(env.log.lines.join('\n')).toMatch(/frame handling failed: TypeError: a bug in a service/);
    // the next frame is answered as usual
    const arp = arpFrame(ARP_REQUEST, GUEST_MAC, GUEST4, Buffer.alloc(6), GW4);
    env.d.onFrameGuarded(arp, 0, arp.length);
    const f = env.link.takeNow();
    expect(f?.type).toBe(ETH_P_ARP);
    expect(env.drops('exception')).toBe(2);
  });

  it('the unguarded handler does throw (the guard is what stops it)', () => {
    const env = newEnv();
    env.d.hooks = { udp4: () => { throw new Error('x'); } };
    const bad = udpFrame(GUEST4, GW4, 40000, 53, Buffer.from('boom'));
    expect(() => env.d.onFrame(bad, 0, bad.length)).toThrow('x');
  });
});
