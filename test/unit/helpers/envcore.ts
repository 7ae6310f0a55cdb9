// A translator in-process: a hand-made NetPlan, a FakeLink and the real
// Dispatcher. Frames are injected the way the tap link delivers them: at an
// offset in a shared receive buffer that is overwritten as soon as the
// dispatcher returns (it must copy whatever it keeps).
// No vitest here, so that the fuzz targets (test/fuzz) can use it too;
// env.ts adds envFactory for the unit tests.
import { FlowContext, type Log } from '../../../src/flow/context.js';
import { Dispatcher } from '../../../src/flow/dispatch.js';
import { MAX_FRAME } from '../../../src/io/link.js';
import type { NetPlan } from '../../../src/netplan.js';
import { parse4, parse6 } from '../../../src/wire/ip.js';
import { FakeLink } from './fakelink.js';
import { OUR_MAC } from './frames.js';

export const GUEST4 = parse4('10.0.2.15');
export const GW4 = parse4('10.0.2.2');
export const GUEST6 = parse6('2001:db8::15');
export const GW6 = parse6('2001:db8::2');
export const LL6 = parse6('fe80::5054:ff:fe12:3456');

export interface PlanOpts {
  mtu?: number;
  v4?: boolean;
  v6?: boolean;
  /** changes to the plan before the translator sees it */
  tweak?: (p: NetPlan) => void;
}

/** Guest 10.0.2.15/24 and 2001:db8::15/64; the gateways 10.0.2.2 and 2001:db8::2 reach the host's loopback. */
export function testPlan(o: PlanOpts = {}): NetPlan {
  const p: NetPlan = {
    mtu: o.mtu ?? 65520,
    ourMac: Buffer.from(OUR_MAC),
    nsIfname: 'tap0',
    v4: o.v4 === false ? undefined : {
      addr: GUEST4,
      prefix: 24,
      gateway: GW4,
      routes: [],
      mapHostLoopback: GW4,
      hostAddr: GUEST4,
      dns: [],
    },
    v6: o.v6 === false ? undefined : {
      addr: GUEST6,
      prefix: 64,
      gateway: GW6,
      routes: [],
      mapHostLoopback: GW6,
      hostAddr: GUEST6,
      dns: [],
    },
    search: [],
  };
  o.tweak?.(p);
  return p;
}

export class TestLog implements Log {
  readonly lines: string[] = [];
  trace(m: string): void { this.lines.push(`trace: ${m}`); }
  debug(m: string): void { this.lines.push(`debug: ${m}`); }
  info(m: string): void { this.lines.push(`info: ${m}`); }
  warn(m: string): void { this.lines.push(`warn: ${m}`); }
  error(m: string): void { this.lines.push(`error: ${m}`); }
}

export interface EnvOpts extends PlanOpts {
  /** link.ethOff (10 models a tap with a virtio-net header) */
  ethOff?: number;
  /** offset at which injected frames are placed in the receive buffer */
  rxOff?: number;
  tcp?: boolean;
  udp?: boolean;
  icmp?: boolean;
  /** TCP's timers on Node's setTimeout (for vi.useFakeTimers) */
  nodeTimers?: boolean;
}

export class Env {
  readonly plan: NetPlan;
  readonly link: FakeLink;
  readonly log = new TestLog();
  readonly ctx: FlowContext;
  readonly d: Dispatcher;
  private readonly rx = Buffer.alloc(MAX_FRAME + 64);
  private readonly rxOff: number;

  constructor(o: EnvOpts = {}) {
    this.plan = testPlan(o);
    this.link = new FakeLink(o.ethOff ?? 0);
    // our MAC may change (when the guest uses it): frames must carry the current one
    this.link.expectSrcMac = this.plan.ourMac;
    this.ctx = new FlowContext(this.link, this.plan, this.log);
    this.d = new Dispatcher(this.ctx, { tcp: o.tcp ?? true, udp: o.udp ?? true, icmp: o.icmp ?? true, nodeTimers: o.nodeTimers });
    this.link.start(this.d.onFrame);
    this.rxOff = o.rxOff ?? 10;
  }

  /** Delivers one frame, then scribbles over the receive buffer. */
  inject(frame: Uint8Array): void {
    const off = this.rxOff;
    this.rx.set(frame, off);
    this.link.onFrame!(this.rx, off, frame.length);
    this.rx.fill(0xa5, 0, Math.min(this.rx.length, off + frame.length + 64));
  }

  drops(reason: string): number {
    return this.ctx.counters.drops.get(reason) ?? 0;
  }

  close(): void {
    this.d.closeAll();
  }
}
