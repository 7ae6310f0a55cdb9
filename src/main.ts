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
// This file and src/cli/ are the only places that read argv and the
// environment.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from './cli/index.js';
import { parseSlirpCli } from './cli/slirp4netns.js';
import { type Config, needsNsSockets } from './config.js';
import { LAUNCHER, execv } from './ns/sys.js';
import { ENV_READY, fail } from './stage.js';

const ENV_FDS = 'PASTA_TS_NS_FDS';
const SCRIPT = fileURLToPath(import.meta.url);
/** the tap's name until stage 2 knows the host's interface name */
const TAP_TEMP_NAME = 'pts%d';


export function main(argv: string[], progPath: string): void {
  const prog = path.basename(progPath).replace(/\.js$/, '');
  const r = prog.includes('slirp4netns') ? parseSlirpCli(argv, process.env, prog) : parseCli(argv, process.env, prog);
  if (r.kind === 'exit') {
    if (r.stdout) process.stdout.write(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    process.exitCode = r.code;
    return;
  }
  const cfg = r.config;
  const fds = process.env[ENV_FDS];
  if (cfg.mode === 'passt' && !cfg.foreground && !process.env[ENV_READY]) {
    daemonize(prog, [process.execPath, ...process.execArgv, SCRIPT, progPath, ...argv]);
  } else if (cfg.mode === 'passt' || fds) {
    delete process.env[ENV_FDS];
    void import('./run.js').then((run) =>
      run.guarded(prog, () => (cfg.mode === 'passt' ? run.runPasst(cfg, prog) : run.stage2(cfg, prog, fds!.split(',').map(Number)))));
  } else {
    stage1(cfg, prog, progPath, argv);
  }
}

/** Builds the launcher's command line and runs it. */
function stage1(cfg: Config, prog: string, progPath: string, argv: string[]): void {
  const ns: string[] = [];
  const attach = cfg.targetPid !== undefined || cfg.netns !== undefined;
  if (cfg.targetPid !== undefined) {
    const pidDir = `/proc/${cfg.targetPid}`;
    if (!fs.existsSync(pidDir)) fail(prog, `no process with PID ${cfg.targetPid}`);
    ns.push('--userns', cfg.userns ?? `${pidDir}/ns/user`, '--netns', `${pidDir}/ns/net`);
  } else if (cfg.netns !== undefined) {
    if (cfg.userns) ns.push('--userns', cfg.userns);
    ns.push('--netns', cfg.netns);
  } else {
    ns.push('--new-userns', '--new-netns');
  }
  // The kernel names the tap (stage 2 renames it after the host's interface);
  // virtio-net headers offload checksums and segmentation to the kernel.
  // Node's own flags (--cpu-prof, --inspect...) carry over to stage 2.
  if (needsNsSockets(cfg.forwards)) ns.push('--agent');
  const args = [LAUNCHER, 'ns', ...ns, '--tap', TAP_TEMP_NAME, '--vnet-hdr', '--', process.execPath, ...process.execArgv, SCRIPT, progPath, ...argv];
  if (!attach || cfg.foreground) {
    const keep = [cfg.slirp?.readyFd, cfg.slirp?.exitFd].filter((fd): fd is number => fd !== undefined);
    const rc = execv(LAUNCHER, args, keep);
    fail(prog, `cannot run ${LAUNCHER}: errno ${-rc}`);
  }
  daemonize(prog, args);
}

/**
 * Starts stage 2 as a daemon and waits for it to report readiness on a pipe:
 * exit 0 then (stdout and stderr released, as Podman waits for), or exit 1
 * with the daemon's own error message if it fails first.
 */
function daemonize(prog: string, args: string[]): void {
  const child = spawn(args[0], args.slice(1), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, [ENV_READY]: '3' },
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

// Stage 2 is started as `node dist/main.js PROGPATH ARGS...` by the launcher.
if (process.argv[1] === SCRIPT) main(process.argv.slice(3), process.argv[2]);
