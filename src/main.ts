// Entry point. pasta-ts runs in two stages:
//
// 1. Parse and validate the command line; then hand over to the native
//    launcher, which makes or joins the user namespace (impossible for a
//    multithreaded Node process), opens the tap device and a netlink socket in
//    the target network namespace, and starts this program again as stage 2
//    with those descriptors. In command mode the launcher replaces this
//    process; in attach mode it is started as a daemon and this process exits
//    0 once the daemon reports that the namespace is configured.
// 2. Configure the namespace and translate frames until the command exits or
//    the namespace goes away.
//
// Stage 1 hands its validated configuration to stage 2 (as JSON in the
// environment), so that stage 2 neither loads the option parser nor parses
// again. Every module that only one stage needs is loaded when needed: start-up
// time is what `podman run` waits for.
//
// This file and src/cli/ are the only places that read argv and the
// environment.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliResult } from './cli/index.js';
import { type Config, needsNsSockets } from './config.js';
import { LAUNCHER } from './ns/native.js';
import { ENV_READY, fail, spawn } from './stage.js';

const ENV_FDS = 'PASTA_TS_NS_FDS';
const ENV_CONFIG = 'PASTA_TS_CONFIG';
const ENV_FRONT = 'PASTA_TS_FRONT_FD';
/** set by the launcher when it has configured the namespace itself (front.c's quick start) */
const ENV_NS_CONFIGURED = 'PASTA_TS_NS_CONFIGURED';
/**
 * Environment that only slows the daemon's Node down (NODE_EXTRA_CA_CERTS
 * makes every Node start parse a certificate bundle: 35 ms here). Stage 2
 * starts without it and gives it back to the command it runs.
 */
const NODE_ONLY_ENV = ['NODE_EXTRA_CA_CERTS'];
const SAVED_ENV_PREFIX = 'PASTA_TS_SAVED_';
const SCRIPT = fileURLToPath(import.meta.url);
/** the tap's name until stage 2 knows the host's interface name */
const TAP_TEMP_NAME = 'pts%d';


export function main(argv: string[], progPath: string): void {
  const prog = path.basename(progPath).replace(/\.js$/, '');
  restoreEnv();
  const passed = process.env[ENV_CONFIG];
  delete process.env[ENV_CONFIG];
  if (passed !== undefined && (process.env[ENV_FDS] !== undefined || process.env[ENV_READY] !== undefined)) {
    proceed(JSON.parse(passed) as Config, prog, progPath, argv);
    return;
  }
  const parsed: Promise<CliResult> = prog.includes('slirp4netns')
    ? import('./cli/slirp4netns.js').then((m) => m.parseSlirpCli(argv, process.env, prog))
    : import('./cli/index.js').then((m) => m.parseCli(argv, process.env, prog));
  void parsed.then((r) => {
    if (r.kind === 'exit') {
      closeFront();
      if (r.stdout) process.stdout.write(r.stdout);
      if (r.stderr) process.stderr.write(r.stderr);
      process.exitCode = r.code;
      return;
    }
    proceed(r.config, prog, progPath, argv);
  });
}

/** The front's pipe (native-shims/front.c): one byte there means "ready, daemon now". */
const frontFd = takeFrontFd();

function takeFrontFd(): number | undefined {
  const v = process.env[ENV_FRONT];
  delete process.env[ENV_FRONT];
  const fd = Number(v);
  return v !== undefined && Number.isInteger(fd) && fd > 2 ? fd : undefined;
}

/** In the foreground the front waits for our exit instead. */
function closeFront(): void {
  if (frontFd === undefined) return;
  try {
    fs.closeSync(frontFd);
  } catch {
    /* not ours after all */
  }
}

function proceed(cfg: Config, prog: string, progPath: string, argv: string[]): void {
  const fds = process.env[ENV_FDS];
  const attach = cfg.targetPid !== undefined || cfg.netns !== undefined;
  const daemon = !cfg.foreground && (cfg.mode === 'passt' || attach);
  if (fds) {
    delete process.env[ENV_FDS];
    // The quick start (native-shims/front.c): the launcher has configured the
    // namespace, dropped privileges, let go of the caller and said ready.
    // The front has gone (a daemon) or waits for our exit (slirp4netns).
    const configured = process.env[ENV_NS_CONFIGURED] === '1';
    delete process.env[ENV_NS_CONFIGURED];
    if (configured) closeFront();
    void import('./run.js').then((run) =>
      run.guarded(prog, () => run.stage2(cfg, prog, fds.split(',').map(Number), configured)));
  } else if (daemon && !process.env[ENV_READY] && frontFd === undefined) {
    // started as bin/*.js: the daemon has to be another Node process
    if (cfg.mode === 'passt') daemonize(prog, cfg, [process.execPath, ...process.execArgv, SCRIPT, progPath, ...argv]);
    else stage1(cfg, prog, progPath, argv);
  } else if (cfg.mode === 'passt' || (attach && sameUserns(cfg))) {
    // This process can do it all: it is the daemon the front waits for (or
    // runs in the foreground), and opens the namespace's handles through the
    // launcher without starting again.
    if (daemon && !process.env[ENV_READY]) process.env[ENV_READY] = String(frontFd);
    else closeFront();
    void import('./run.js').then((run) =>
      run.guarded(prog, async () => {
        if (cfg.mode === 'passt') return run.runPasst(cfg, prog);
        return run.stage2(cfg, prog, await openNamespace(cfg, prog));
      }));
  } else {
    closeFront();
    stage1(cfg, prog, progPath, argv);
  }
}

/** The launcher's namespace options: which user namespace to join or make, which network namespace. */
function nsTargets(cfg: Config): string[] {
  if (cfg.targetPid !== undefined) {
    return ['--userns', cfg.userns ?? `/proc/${cfg.targetPid}/ns/user`, '--netns', `/proc/${cfg.targetPid}/ns/net`];
  }
  if (cfg.netns !== undefined) return [...(cfg.userns ? ['--userns', cfg.userns] : []), '--netns', cfg.netns];
  return ['--new-userns', '--new-netns'];
}

/** Whether the target's user namespace is ours (Podman starts its helper inside its own). */
function sameUserns(cfg: Config): boolean {
  const target = nsTargets(cfg);
  const i = target.indexOf('--userns');
  if (i < 0) return true;
  try {
    const a = fs.statSync(target[i + 1]);
    const b = fs.statSync('/proc/self/ns/user');
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // the launcher says why
  }
}

/** The launcher's arguments for the tap, checksum offload and the namespace agent. */
function tapArgs(cfg: Config): string[] {
  // The kernel names the tap (stage 2 renames it after the host's interface);
  // virtio-net headers offload checksums and segmentation to the kernel.
  return [...(needsNsSockets(cfg.forwards) ? ['--agent'] : []), '--tap', TAP_TEMP_NAME, '--vnet-hdr'];
}

/**
 * Has the launcher open the tap, a netlink socket and the namespace agent in
 * the target namespace and send them here: PASTA_TS_NS_FDS's six numbers.
 * The launcher stays (detached) as long as the agent, the agent's parent.
 */
async function openNamespace(cfg: Config, prog: string): Promise<number[]> {
  const sys = await import('./ns/sys.js');
  const pair = sys.nsSocketPair();
  if (typeof pair === 'number') fail(prog, `cannot make a socket pair: errno ${-pair}`);
  const [ours, theirs] = pair;
  const child = spawn(LAUNCHER, ['ns', ...nsTargets(cfg), ...tapArgs(cfg), '--send-fd', '3'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', theirs],
  });
  sys.closeFd(theirs);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  // blocks until the launcher sends or ends: a few milliseconds
  const fds = sys.recvNsHandles(ours);
  sys.closeFd(ours);
  if (typeof fds === 'number') {
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c || 1)));
    process.stderr.write(err || `${prog}: cannot open the network namespace: errno ${-fds}\n`);
    process.exit(code);
  }
  // the launcher stays while the agent does, and must not keep us running
  child.unref();
  child.stderr!.destroy();
  return fds;
}

/** Stage 2's environment: stage 1's configuration, without what only slows Node down. */
function stage2Env(cfg: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [ENV_CONFIG]: JSON.stringify(cfg) };
  for (const name of NODE_ONLY_ENV) {
    if (env[name] === undefined) continue;
    // a command run in the namespace gets it back
    if (cfg.command.length > 0) env[SAVED_ENV_PREFIX + name] = env[name];
    delete env[name];
  }
  return env;
}

function restoreEnv(): void {
  for (const name of NODE_ONLY_ENV) {
    const saved = process.env[SAVED_ENV_PREFIX + name];
    if (saved === undefined) continue;
    process.env[name] = saved;
    delete process.env[SAVED_ENV_PREFIX + name];
  }
}

/** Builds the launcher's command line and runs it. */
function stage1(cfg: Config, prog: string, progPath: string, argv: string[]): void {
  const attach = cfg.targetPid !== undefined || cfg.netns !== undefined;
  if (cfg.targetPid !== undefined && !fs.existsSync(`/proc/${cfg.targetPid}`)) fail(prog, `no process with PID ${cfg.targetPid}`);
  // Node's own flags (--cpu-prof, --inspect...) carry over to stage 2.
  const args = [LAUNCHER, 'ns', ...nsTargets(cfg), ...tapArgs(cfg), '--', process.execPath, ...process.execArgv, SCRIPT, progPath, ...argv];
  if (!attach || cfg.foreground) {
    const keep = [cfg.slirp?.readyFd, cfg.slirp?.exitFd].filter((fd): fd is number => fd !== undefined);
    const env = stage2Env(cfg);
    for (const name of Object.keys(process.env)) if (!(name in env)) delete process.env[name];
    Object.assign(process.env, env);
    void import('./ns/sys.js').then(({ execv }) => {
      const rc = execv(LAUNCHER, args, keep);
      fail(prog, `cannot run ${LAUNCHER}: errno ${-rc}`);
    });
    return;
  }
  daemonize(prog, cfg, args);
}

/**
 * Starts stage 2 as a daemon and waits for it to report readiness on a pipe:
 * exit 0 then (stdout and stderr released, as Podman waits for), or exit 1
 * with the daemon's own error message if it fails first.
 */
function daemonize(prog: string, cfg: Config, args: string[]): void {
  const child = spawn(args[0], args.slice(1), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...stage2Env(cfg), [ENV_READY]: '3' },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const ready = child.stdio[3] as NodeJS.ReadableStream;
  let done = false;
  ready.on('data', () => {
    if (done) return;
    done = true;
    child.unref();
    process.exit(0);
  });
  child.on('exit', (code, sig) => {
    if (done) return;
    done = true;
    // let the error output arrive in full
    setImmediate(() => {
      process.stderr.write(err || `${prog}: failed to start (${sig ?? `exit ${code}`})\n`);
      process.exit(code || 1);
    });
  });
}

/**
 * For the build's code cache (scripts/bundle.mjs): parses the command lines
 * Podman 5, Buildah 1.39 and Podman 4.3.1 pass, so that the cache holds the
 * option parsers compiled, and loads the daemon's modules. Opens nothing and
 * starts nothing: the results are thrown away.
 */
export async function primeCodeCache(): Promise<void> {
  const [{ parseCli }, { parseSlirpCli }] = await Promise.all([import('./cli/index.js'), import('./cli/slirp4netns.js')]);
  const ns = ['--netns', '/proc/self/ns/net'];
  parseCli(['--config-net', '--dns-forward', '169.254.1.1', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--no-map-gw', '--quiet', ...ns, '--map-guest-addr', '169.254.1.2'], {}, 'pasta');
  parseCli(['--config-net', '-t', '127.0.0.1/8443-8443:443-443', '-t', '8080-8080:80-80', '-u', '8053-8053:53-53', '-T', 'none', '-U', 'none', '--quiet', ...ns], {}, 'pasta');
  const slirp = ['--mtu=65520', '--enable-sandbox', '--enable-seccomp', '--enable-ipv6', '-c', '-e', '3', '-r', '4', '--netns-type=path', '/proc/self/ns/net', 'tap0'];
  parseSlirpCli(['--disable-host-loopback', ...slirp], {}, 'slirp4netns');
  parseSlirpCli(['--cidr=10.42.0.0/24', ...slirp], {}, 'slirp4netns');
  await import('./run.js');
}

// Stage 2 is started as `node dist/main.js PROGPATH ARGS...` by the launcher.
if (process.argv[1] === SCRIPT) main(process.argv.slice(3), process.argv[2]);
