// Stage 2 and passt mode: everything that runs once the namespaces exist.
// Loaded by main.ts only when needed, so that the first stage (parse options,
// exec the launcher) starts fast.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Config, SlirpExtras } from './config.js';
import { FlowContext } from './flow/context.js';
import { Dispatcher } from './flow/dispatch.js';
import { createServices } from './flow/services.js';
import { AutoPorts } from './flow/autoports.js';
import { BindError, PortForwarder } from './flow/forward.js';
import { NsForwarder } from './flow/splice.js';
import { busyPollTime, fastIo } from './io/fastio.js';
import { CapturingLink, PcapWriter } from './io/pcap.js';
import type { GuestLink } from './io/link.js';
import { StreamLink } from './io/qemu.js';
import { SlirpApi } from './io/slirpapi.js';
import { TapLink } from './io/tap.js';
import { createLogger, type Logger } from './log.js';
import { makePlan, type NetPlan, PlanError } from './netplan.js';
import { configureNamespace } from './ns/configure.js';
import { readHostConfig } from './ns/hostconf.js';
import { readResolv } from './ns/resolv.js';
import { format4 } from './wire/ip.js';
import { Netlink, NetlinkError } from './ns/netlink.js';
import { NsAgent } from './ns/nsagent.js';
import { LAUNCHER, dropCapabilities, dup2, netlinkSocket, setsid } from './ns/sys.js';
import { ENV_READY, fail, spawn } from './stage.js';

/** Runs a stage, turning configuration errors into a message and exit status 1. */
export function guarded(prog: string, run: () => Promise<void>): void {
  run().catch((e: unknown) => {
    if (e instanceof BindError || e instanceof PlanError || e instanceof NetlinkError) fail(prog, e.message);
    throw e;
  });
}

function hostNetlink(prog: string): Netlink {
  const io = fastIo(); // loaded anyway; ffi-rs only for this would cost 4 ms of the start
  const fd = io ? io.netlinkSocket(0) : netlinkSocket();
  if (fd < 0) fail(prog, 'cannot open a netlink socket');
  return new Netlink(fd);
}

interface Translation {
  ctx: FlowContext;
  dispatcher: Dispatcher;
  forwarder: PortForwarder;
  log: Logger;
  /** tears everything down and exits */
  shutdown(code: number): never;
  /** more teardown to run at shutdown */
  onShutdown(fn: () => void): void;
}

/** What both modes share: the plan, the dispatcher with its services, and inbound forwards. */
async function startTranslation(cfg: Config, prog: string, link: GuestLink, configure?: (plan: NetPlan) => void): Promise<Translation> {
  const log = createLogger(prog, cfg.logLevel, cfg.logFile, cfg.logSize);
  const host = readHostConfig(hostNetlink(prog), cfg.outboundIf4 ?? cfg.iface, cfg.outboundIf6 ?? cfg.iface);
  const plan = makePlan(cfg, host, readResolv());
  configure?.(plan);
  const guestLink = cfg.pcapFile ? new CapturingLink(link, new PcapWriter(cfg.pcapFile)) : link;
  const ctx = new FlowContext(guestLink, plan, log);
  const dispatcher = new Dispatcher(ctx, { tcp: !cfg.noTcp, udp: !cfg.noUdp, icmp: !cfg.noIcmp });
  dispatcher.hooks = createServices(ctx, { dhcp: cfg.dhcp, ndp: cfg.ndp, dhcpv6: cfg.dhcpv6, ra: cfg.ra, dhcpDns: cfg.dhcpDns, dhcpSearch: cfg.dhcpSearch });
  guestLink.start(dispatcher.onFrameGuarded);
  const spin = busyPollTime(cfg.busyPollUs, os.availableParallelism());
  if (spin !== cfg.busyPollUs) log.debug('one CPU to run on: no busy polling');
  fastIo()?.busyPoll(spin);
  // An error in one flow's socket callback must not take every flow down.
  process.on('uncaughtException', (e) => {
    ctx.counters.drop('exception');
    log.error(`internal error, continuing: ${e.stack ?? e.message}`);
  });
  const forwarder = new PortForwarder(ctx, dispatcher.tcp, dispatcher.udp);
  await forwarder.start(cfg.forwards.tcpIn, cfg.forwards.udpIn);
  const teardown: Array<() => void> = [];
  if (cfg.logLevel === 'debug' || cfg.logLevel === 'trace') {
    // with -d, a periodic summary: memory, connections, drops
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (n: number): string => (n / 1048576).toFixed(1);
      log.debug(`rss ${mb(m.rss)} MiB, heap ${mb(m.heapUsed)}/${mb(m.heapTotal)}, external ${mb(m.external)}, ` +
        `buffers ${mb(m.arrayBuffers)}; TCP ${dispatcher.tcp.stats.conns} conns, pool ${dispatcher.tcp.pool.allocated}; ${ctx.counters.summary()}`);
    }, 5000).unref();
  }
  return {
    ctx,
    dispatcher,
    forwarder,
    log,
    onShutdown: (fn) => teardown.push(fn),
    shutdown(code: number): never {
      log.debug(`TCP ${JSON.stringify(dispatcher.tcp.stats)}; ${ctx.counters.summary()}`);
      for (const fn of teardown) fn();
      forwarder.close();
      dispatcher.closeAll();
      guestLink.close();
      if (cfg.pidFile) fs.rmSync(cfg.pidFile, { force: true });
      process.exit(code);
    },
  };
}

/**
 * configured: the launcher has done the set-up the quick start moves before
 * Node (native-shims/launch.c): configured the namespace to this plan,
 * dropped every privilege, let go of the caller and said ready.
 */
export async function stage2(cfg: Config, prog: string, fds: number[], configured = false): Promise<void> {
  const [tapFd, netnsFd, nlFd, ifindex, agentFd, agentPid] = fds;
  // -T/-U and "auto" need sockets inside the namespace: the launcher's agent makes them
  const f = cfg.forwards;
  const nsAgent = agentFd >= 0 ? new NsAgent(agentFd, agentPid) : undefined;
  const t = await startTranslation(cfg, prog, new TapLink(tapFd, true), configured
    ? undefined
    : (plan) => configureNamespace(new Netlink(nlFd), ifindex, plan, cfg.configNet));
  const plan = t.ctx.plan;
  const nsForwarder = nsAgent ? new NsForwarder(nsAgent, t.log, !!plan.v4, !!plan.v6) : undefined;
  await nsForwarder?.start(f.tcpOut, f.udpOut);
  const auto = nsAgent && nsForwarder && AutoPorts.wanted(f)
    ? new AutoPorts(f, t.forwarder, nsForwarder, nsAgent, t.log, ephemeralPorts())
    : undefined;
  await auto?.start();
  t.onShutdown(() => {
    auto?.stop();
    nsForwarder?.close();
    nsAgent?.close();
  });
  t.log.debug(`namespace interface ${plan.nsIfname} (index ${ifindex}), MTU ${plan.mtu}`);
  if (cfg.targetPid !== undefined || cfg.netns !== undefined) {
    await attached(cfg, t, configured);
    return;
  }
  runCommand(cfg, t.log, netnsFd, t.shutdown);
}

/**
 * passt mode: serve QEMU (or libvirt) on a UNIX stream socket, or on an
 * already connected descriptor (-F). With --one-off, exit when the guest
 * goes; otherwise wait for the next connection.
 */
export async function runPasst(cfg: Config, prog: string): Promise<void> {
  const link = new StreamLink();
  const t = await startTranslation(cfg, prog, link);
  if (cfg.fd !== undefined) {
    const sock = new net.Socket({ fd: cfg.fd, readable: true, writable: true });
    ready(cfg, t.log);
    await link.attach(sock);
    t.shutdown(0);
  }
  const sockPath = cfg.socketPath ?? (await freeSocketPath());
  const server = net.createServer((sock) => {
    if (link.connected) {
      t.log.warn('a guest is already connected: refusing another');
      sock.destroy();
      return;
    }
    t.log.info('guest connected');
    void link.attach(sock).then(() => {
      t.log.info('guest disconnected');
      if (cfg.oneOff) t.shutdown(0);
    });
  });
  await listenUnix(server, sockPath);
  t.onShutdown(() => {
    server.close();
    fs.rmSync(sockPath, { force: true });
  });
  t.log.info(`UNIX domain socket bound at ${sockPath}`);
  t.log.info(`You can now start qemu (>= 7.2, with commit 13c6be96618c):\n    kvm ... -device virtio-net-pci,netdev=s -netdev stream,id=s,server=off,addr.type=unix,addr.path=${sockPath}`);
  process.on('SIGTERM', () => t.shutdown(0));
  process.on('SIGINT', () => t.shutdown(0));
  ready(cfg, t.log);
  dropCapabilities(true);
}

/** passt's default: the first free /tmp/passt_N.socket. */
async function freeSocketPath(): Promise<string> {
  for (let n = 1; n < 100; n++) {
    const p = `/tmp/passt_${n}.socket`;
    if (!fs.existsSync(p)) return p;
    if (!(await socketAlive(p))) {
      fs.rmSync(p, { force: true });
      return p;
    }
  }
  throw new BindError('no free /tmp/passt_N.socket path; use -s');
}

function socketAlive(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function listenUnix(server: net.Server, p: string): Promise<void> {
  if (fs.existsSync(p)) {
    if (await socketAlive(p)) throw new BindError(`socket ${p} is in use`);
    fs.rmSync(p, { force: true }); // stale
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new BindError(`cannot bind UNIX socket ${p}: ${e.code ?? e.message}`)));
    server.listen(p, () => resolve());
  });
}

/** Command mode: run COMMAND in the namespace and exit with its status. */
function runCommand(cfg: Config, log: Logger, netnsFd: number, shutdown: (code: number) => never): void {
  const cmd = [...cfg.command]; // the CLI fills in the user's shell when none is given
  const child = spawn(LAUNCHER, ['enter', '--netns', `/proc/${process.pid}/fd/${netnsFd}`, '--wait-fd', '3', '--', ...cmd], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  // The command has its own copy of the privileges it needs; the helper keeps
  // none, and drops them before the command starts.
  const rc = dropCapabilities(true);
  if (rc < 0) log.warn(`could not drop capabilities: errno ${-rc}`);
  (child.stdio[3] as NodeJS.WritableStream).end('g');
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(s, forward);
  child.on('error', (e) => {
    log.error(`cannot run ${cmd[0]}: ${e.message}`);
    shutdown(127);
  });
  child.on('exit', (code, sig) => {
    if (sig) shutdown(128 + (signalNumber(sig) ?? 0));
    shutdown(code ?? 1);
  });
}

/** The host's ephemeral port range (ip_local_port_range), left out of automatic UDP forwarding. */
function ephemeralPorts(): [number, number] {
  try {
    const [a, b] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
    if (a > 0 && b >= a) return [a, b];
  } catch {
    /* fall through */
  }
  return [32768, 60999];
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return os.constants.signals[sig];
}

/** Writes the PID file and, as a daemon, tells the waiting parent that we are ready. */
function ready(cfg: Config, log: Logger): void {
  if (cfg.pidFile) fs.writeFileSync(cfg.pidFile, `${process.pid}\n`);
  const readyFd = process.env[ENV_READY];
  if (!readyFd) return;
  delete process.env[ENV_READY];
  // Output goes to the log file or nowhere from here on, and stdout and
  // stderr are let go before the parent hears "ready": Podman reads them
  // until nobody holds them, so a daemon still holding them when the parent
  // exits would delay it by however long the daemon then waits for a CPU.
  log.redirect(undefined);
  const devnull = fs.openSync('/dev/null', 'r+');
  for (const std of [0, 1, 2]) dup2(devnull, std);
  fs.closeSync(devnull);
  const fd = Number(readyFd);
  try {
    fs.writeSync(fd, 'R');
  } catch {
    // whoever waited has gone (EPIPE): go on as the daemon all the same
  }
  fs.closeSync(fd);
  // Out of the caller's session and process group (a no-op for a daemon that
  // was spawned detached), so that its terminal's signals do not reach us.
  setsid();
}

/**
 * Attach mode: report readiness (unless the launcher has: readySaid), then
 * run until the namespace goes away or SIGTERM.
 */
async function attached(cfg: Config, t: Translation, readySaid = false): Promise<void> {
  const { log, shutdown } = t;
  if (cfg.slirp) await slirpExtras(cfg.slirp, t, readySaid);
  if (!readySaid) {
    // Set-up is over: nothing from here on needs a privilege.
    const rc = dropCapabilities(true);
    if (rc < 0) log.warn(`could not drop capabilities: errno ${-rc}`);
    ready(cfg, log);
  }
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  if (cfg.noNetnsQuit) return;
  // A /proc/PID/ns/net path (Buildah) is watched through /proc/PID: once the
  // helper has dropped its capabilities it may no longer look into the
  // namespace files of a process that holds more than it does.
  const procPid = /^\/proc\/(\d+)\//.exec(cfg.netns ?? '')?.[1];
  const target = cfg.targetPid !== undefined ? `/proc/${cfg.targetPid}` : procPid ? `/proc/${procPid}` : cfg.netns!;
  const check = (): void => {
    if (!fs.existsSync(target)) {
      log.info(`${target} is gone, exiting`);
      shutdown(0);
    }
  };
  setInterval(check, 100);
  if (cfg.netns) {
    try {
      fs.watch(path.dirname(cfg.netns), () => check());
    } catch {
      /* polling alone still notices */
    }
  }
}

/**
 * slirp4netns's API socket, ready descriptor and exit descriptor. readySaid:
 * the launcher has written the ready descriptor's "1" already (the quick start).
 */
async function slirpExtras(slirp: SlirpExtras, t: Translation, readySaid: boolean): Promise<void> {
  if (slirp.apiSocket) {
    const api = new SlirpApi(t.forwarder, t.ctx.plan.v4 ? format4(t.ctx.plan.v4.addr) : '');
    await api.listen(slirp.apiSocket);
    t.onShutdown(() => {
      api.close();
      fs.rmSync(slirp.apiSocket!, { force: true });
    });
  }
  if (slirp.exitFd !== undefined) {
    // the caller closes its end when the container stops
    const exitPipe = new net.Socket({ fd: slirp.exitFd, readable: true, writable: false });
    exitPipe.on('data', () => undefined);
    exitPipe.on('close', () => t.shutdown(0));
    exitPipe.on('error', () => t.shutdown(0));
  }
  if (slirp.readyFd !== undefined) {
    if (!readySaid) fs.writeSync(slirp.readyFd, '1');
    fs.closeSync(slirp.readyFd);
  }
}

