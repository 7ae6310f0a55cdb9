// End-to-end harness: real Podman and Buildah, run rootless by a dedicated
// test user, with their network helper replaced by the one under test.
//
// The helper under test (each a command line, split on spaces):
//   PODMAN_PASTA_BIN  default <repo>/native-shims/build/pasta-ts        (Podman 5, Buildah 1.39)
//   PODMAN_SLIRP_BIN  default <repo>/native-shims/build/slirp4netns-ts  (Podman 4.3.1, Buildah 1.28)
// (the front, native-shims/front.c, as the README tells users to install it)
// Validate the tests against the real helpers with
//   PODMAN_PASTA_BIN=/usr/bin/pasta PODMAN_SLIRP_BIN=/usr/bin/slirp4netns
// (/usr/bin/pasta is then Debian 13's, as Podman 5 runs inside that root).
//
// Layers, outermost first:
//   test process (root: CI runs as root)
//   --unshare --net --mount --pid--> the fake host (fixtures/topo.sh), still
//     real root, so that the setuid newuidmap/newgidmap rootless Podman needs
//     work. Its eth0 is 192.0.2.2/24 behind netns "up" (203.0.113.5, the
//     "internet"); nothing leaves these namespaces. Servers run here.
//   --setpriv--> the test user (ptsuser, uid 1001, with subuid/subgid
//     ranges), running Debian 12's podman 4.3.1 / buildah 1.28 directly, or
//     Debian 13's podman 5 / buildah 1.39 inside the root built by
//     scripts/podman/build-trixie-root.sh, entered with unshare + pivot_root
//     (fixtures/enter-root.sh).
// Podman is pointed at wrappers in the run's helpers/ directory (pasta,
// slirp4netns) that log their argv and exec the helper under test with
// PASTA_TS_E2E_HELPER=1 in its environment, by which leftovers are found.
// Each run gets a fresh directory under $PASTA_TS_PODMAN_CACHE/runs (HOME,
// containers.conf, storage, logs; removed afterwards unless E2E_KEEP=1) and
// a fresh /run (XDG_RUNTIME_DIR), so no state passes from one run to the next.
// The fake host has its own PID namespace: when the script ends, or is killed
// on timeout, everything it started dies with it.

import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = process.env.E2E_REPO || resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EFIX = join(REPO, 'test/e2e/fixtures');
const FIX = join(REPO, 'test/fixtures');
export const CACHE = process.env.PASTA_TS_PODMAN_CACHE || '/var/tmp/pasta-ts-podman';
export const TRIXIE = join(CACHE, 'trixie');
const IMAGE_TAR = join(CACHE, 'e2e-busybox.tar');
export const E2E_USER = process.env.E2E_USER || 'ptsuser';
const SBIN_PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin`;

const words = (s: string) => s.trim().split(/\s+/).join(' ');

/** The pasta under test (command line). */
export function pastaCommand(): string {
  return words(process.env.PODMAN_PASTA_BIN?.trim() || join(REPO, 'native-shims/build/pasta-ts'));
}

/** The slirp4netns under test (command line). */
export function slirpCommand(): string {
  return words(process.env.PODMAN_SLIRP_BIN?.trim() || join(REPO, 'native-shims/build/slirp4netns-ts'));
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function run(argv: string[], timeout = 30_000) {
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout, env: { ...process.env, PATH: SBIN_PATH } });
}

interface User {
  uid: number;
  gid: number;
}

function lookupUser(): User | undefined {
  const r = run(['getent', 'passwd', E2E_USER]);
  if (r.status !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

// ---- requirements --------------------------------------------------------------

export interface Requirements {
  skip: boolean;
  reason?: string;
}

let cached: Requirements | undefined;

/**
 * What the e2e tests need. Skips (reason printed) only where Podman truly
 * cannot run: not Linux, not root (the fake host needs real root: rootless
 * Podman relies on setuid newuidmap), namespaces refused even to root, or
 * unprivileged user namespaces refused by the kernel. Anything the set-up
 * script provides (packages, user, Debian 13 root, image) missing throws, so
 * the run fails loudly instead of skipping.
 */
export function requirements(): Requirements {
  if (cached) return cached;
  const skip = (reason: string): Requirements => {
    console.warn(`[e2e] SKIPPED: ${reason}`);
    cached = { skip: true, reason };
    return cached;
  };
  if (process.platform !== 'linux') return skip(`needs Linux (platform ${process.platform})`);
  if (!isRoot()) {
    return skip(
      'must run as root (CI does): the fake host needs real namespaces and rootless Podman needs setuid newuidmap; ' +
        'run: sudo bash scripts/podman/setup.sh && sudo npx vitest run --config test/e2e/vitest.config.ts',
    );
  }
  const probe = run(['unshare', '--net', '--mount', '--pid', '--fork', '--mount-proc', 'true']);
  if (probe.status !== 0) {
    return skip(`root cannot create network/mount/PID namespaces here: ${(probe.stderr || probe.error?.message || '').trim()}`);
  }

  const problems: string[] = [];
  const fix = ' (run: sudo bash scripts/podman/setup.sh)';
  const user = lookupUser();
  if (!user) problems.push(`no user ${E2E_USER}${fix}`);
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    const r = run(['grep', '-q', `^${E2E_USER}:`, f]);
    if (r.status !== 0) problems.push(`no ${f} range for ${E2E_USER}${fix}`);
  }
  for (const tool of ['podman', 'buildah', 'runc', 'newuidmap', 'setpriv', 'ip', 'timeout']) {
    if (run(['sh', '-c', `command -v ${tool}`]).status !== 0) problems.push(`missing ${tool}${fix}`);
  }
  if (!existsSync(join(TRIXIE, 'usr/bin/podman'))) problems.push(`no Debian 13 root with Podman in ${TRIXIE}${fix}`);
  if (!existsSync(IMAGE_TAR)) problems.push(`no image tarball ${IMAGE_TAR}${fix}`);
  try {
    if ((statSync('/dev/net/tun').mode & 0o666) !== 0o666) problems.push('/dev/net/tun is not mode 0666' + fix);
  } catch {
    problems.push('/dev/net/tun does not exist (modprobe tun)');
  }
  if (problems.length) throw new Error(`e2e requirements not met:\n  - ${problems.join('\n  - ')}`);

  const asUser = ['setpriv', `--reuid=${user!.uid}`, `--regid=${user!.gid}`, '--init-groups'];
  const userns = run([...asUser, 'unshare', '--user', '--map-root-user', 'true']);
  if (userns.status !== 0) {
    const msg = (userns.stderr || '').trim();
    if (/not permitted|permission denied|no space left|invalid argument/i.test(msg)) {
      return skip(`the kernel refuses unprivileged user namespaces to ${E2E_USER}, so rootless Podman cannot run: ${msg}`);
    }
    throw new Error(`e2e requirements not met: unshare --user as ${E2E_USER} failed: ${msg}`);
  }
  // the test user must reach the helper under test and the fixtures
  const readable = [join(EFIX, 'http.mjs'), join(FIX, 'net.mjs'), process.execPath];
  for (const cmd of [pastaCommand(), slirpCommand()]) {
    const last = cmd.split(' ').at(-1)!;
    if (last.startsWith(REPO)) readable.push(last);
  }
  for (const f of readable) {
    if (run([...asUser, 'test', '-r', f]).status !== 0) {
      problems.push(`${f} is not readable by ${E2E_USER} (every directory above it needs o+x; chmod -R a+rX the checkout)`);
    }
  }
  if (problems.length) throw new Error(`e2e requirements not met:\n  - ${problems.join('\n  - ')}`);
  cached = { skip: false };
  return cached;
}

// ---- one run -----------------------------------------------------------------

export type Where = 'host' | 'trixie';

export interface RunOptions {
  /** host: Debian 12 (Podman 4.3.1, Buildah 1.28); trixie: the Debian 13 root (Podman 5, Buildah 1.39). */
  where: Where;
  /** Extra environment for the script. */
  env?: Record<string, string>;
  /** Kill the whole fake host after this long (default E2E_FILE_TIMEOUT_MS or 5 min). */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
  /** The wrappers' argv logs. */
  argv: { pasta: string; slirp4netns: string };
}

function wrapper(name: string, cmd: string, logs: string): string {
  return `#!/bin/sh
# e2e wrapper: logs the argv, then runs the ${name} under test
echo "$(date +%s%3N) $$ $*" >>${logs}/${name}.argv
# the distribution's own helper instead, for timings alternated with it (podman.sh step 7)
[ -n "$E2E_REF_HELPER" ] && exec "$E2E_REF_HELPER" "$@"
PASTA_TS_E2E_HELPER=1 exec ${cmd} "$@"
`;
}

function containersConf(where: Where, helpers: string): string {
  const engine = [
    '[engine]',
    'runtime = "runc"', // crun: "cgroups in hybrid mode not supported" here
    'cgroup_manager = "cgroupfs"', // no systemd
    'events_logger = "file"',
  ];
  if (where === 'trixie') {
    // Podman 5 / Buildah 1.39 look up pasta here; the list replaces the
    // default one, which must follow (netavark, conmon, rootlessport...)
    const dirs = [helpers, '/usr/local/libexec/podman', '/usr/local/lib/podman', '/usr/libexec/podman', '/usr/lib/podman'];
    engine.push(`helper_binaries_dir = [${dirs.map((d) => JSON.stringify(d)).join(', ')}]`);
    return `${engine.join('\n')}\n\n[network]\ndefault_rootless_network_cmd = "pasta"\n`;
  }
  // Podman 4.3.1 takes slirp4netns from network_cmd_path (Buildah 1.28: PATH)
  engine.push(`network_cmd_path = ${JSON.stringify(join(helpers, 'slirp4netns'))}`);
  return `${engine.join('\n')}\n`;
}

function storageConf(home: string, uid: number): string {
  // native overlay: /dev/fuse is root-only here, no fuse-overlayfs
  return `[storage]\ndriver = "overlay"\ngraphroot = ${JSON.stringify(join(home, 'storage'))}\nrunroot = "/run/user/${uid}/containers"\n`;
}

/**
 * Runs fixtures/SCRIPT (or an absolute path; sourced after lib.sh) in a fresh fake host as root;
 * `u CMD` in it runs CMD as the test user. Never rejects: a timeout gives code
 * 124 and timedOut true.
 */
export function e2eRun(script: string, opts: RunOptions): Promise<RunResult> {
  const user = lookupUser();
  if (!user) throw new Error(`no user ${E2E_USER} (run scripts/podman/setup.sh)`);
  const timeoutMs = opts.timeoutMs ?? Number(process.env.E2E_FILE_TIMEOUT_MS || 300_000);
  const runs = join(CACHE, 'runs');
  mkdirSync(runs, { recursive: true, mode: 0o755 });
  chmodSync(runs, 0o755);
  const dir = mkdtempSync(join(runs, `${script.replace(/^.*\//, '').replace(/\W+/g, '-')}-`));
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  const helpers = join(dir, 'helpers');
  const logs = join(dir, 'log');
  const t = join(dir, 't');
  const tmp = join(dir, 'tmp'); // the test user's TMPDIR (Podman, Buildah)
  const conf = join(home, '.config/containers');
  for (const d of [conf, helpers, logs, t, tmp]) mkdirSync(d, { recursive: true });
  writeFileSync(join(conf, 'containers.conf'), containersConf(opts.where, helpers));
  writeFileSync(join(conf, 'storage.conf'), storageConf(home, user.uid));
  for (const d of [home, join(home, '.config'), conf, join(conf, 'containers.conf'), join(conf, 'storage.conf'), logs, tmp]) {
    chownSync(d, user.uid, user.gid);
  }
  chmodSync(home, 0o700);
  chmodSync(t, 0o777);
  writeFileSync(join(helpers, 'pasta'), wrapper('pasta', pastaCommand(), logs), { mode: 0o755 });
  writeFileSync(join(helpers, 'slirp4netns'), wrapper('slirp4netns', slirpCommand(), logs), { mode: 0o755 });
  const imageTar = join(dir, 'e2e-busybox.tar');
  copyFileSync(IMAGE_TAR, imageTar);
  chmodSync(imageTar, 0o644);

  const env: Record<string, string> = {
    PATH: SBIN_PATH,
    LANG: 'C',
    HOME: '/root',
    E2E_USER,
    E2E_UID: String(user.uid),
    E2E_GID: String(user.gid),
    RUN: dir,
    UHOME: home,
    HELPERS: helpers,
    LOGS: logs,
    T: t,
    IMAGE_TAR: imageTar,
    TRIXIE,
    EFIX,
    FIX,
    REPO,
    NODE: process.execPath,
    WHERE: opts.where,
    ...(process.env.E2E_CHECK_TIMEOUT ? { CHECK_TIMEOUT: process.env.E2E_CHECK_TIMEOUT } : {}),
    ...opts.env,
  };
  const body = `. "$EFIX/lib.sh"; . "${script.startsWith('/') ? script : join(EFIX, script)}"`;
  const argv = ['unshare', '--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private',
    'sh', join(EFIX, 'topo.sh'), 'sh', '-c', body];
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: t, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (process.env.E2E_VERBOSE) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      child.stdout.destroy();
      child.stderr.destroy();
      const read = (f: string) => spawnSync('cat', [join(logs, f)], { encoding: 'utf8' }).stdout ?? '';
      const argvLogs = { pasta: read('pasta.argv'), slirp4netns: read('slirp4netns.argv') };
      if (process.env.E2E_KEEP) console.log(`[e2e] kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      let stderr = Buffer.concat(err).toString() + extra;
      if (timedOut) stderr += `\n[e2e] fake host killed after ${timeoutMs} ms\n`;
      done({ code: timedOut ? 124 : (code ?? 128), stdout: Buffer.concat(out).toString(), stderr, timedOut, ms: Date.now() - t0, argv: argvLogs });
    };
    child.on('exit', (code) => {
      grace = setTimeout(() => {
        killGroup();
        finish(code, '\n[e2e] output pipes still open 5 s after exit\n');
      }, 5000);
    });
    child.on('error', (e) => finish(127, `\n[e2e] cannot start ${argv[0]}: ${e.message}\n`));
    child.on('close', (code) => finish(code));
  });
}

// ---- reading results -------------------------------------------------------------

/** Lines tagged "@@ LABEL ..." (the rest of each line). */
export function lines(stdout: string, label: string): string[] {
  const p = `@@ ${label} `;
  return stdout.split('\n').filter((l) => l.startsWith(p)).map((l) => l.slice(p.length));
}

export interface Check {
  name: string;
  /** present: the script got that far */
  ran: boolean;
  rc: number;
  ms: number;
  out: string;
  err: string;
  status: string;
  fields: Record<string, string>;
}

/** A check's result: `check NAME` lines ("@@ NAME rc=N ms=M") or a status line ("@@ NAME ok ms=M"). */
export function check(stdout: string, name: string): Check {
  const head = lines(stdout, name)[0];
  const fields: Record<string, string> = {};
  let status = '';
  if (head !== undefined) {
    const [first, ...rest] = head.split(' ');
    for (const w of [first, ...rest]) {
      const i = w.indexOf('=');
      if (i > 0) fields[w.slice(0, i)] = w.slice(i + 1);
      else if (w === first) status = w;
    }
  }
  return {
    name,
    ran: head !== undefined,
    rc: fields.rc !== undefined ? Number(fields.rc) : status === 'ok' ? 0 : 1,
    ms: Number(fields.ms ?? -1),
    out: lines(stdout, `${name}-out`).join('\n'),
    err: lines(stdout, `${name}-err`).join('\n'),
    status,
    fields,
  };
}

/** Human-readable account of a check, for assertion messages. */
export function describeCheck(c: Check, r?: RunResult): string {
  if (!c.ran) {
    return `check "${c.name}" never ran: the script stopped before it.\n${r ? dump(r) : ''}`;
  }
  const rcText = c.rc === 124 ? 'TIMED OUT' : `exit ${c.rc}`;
  return `check "${c.name}": ${rcText} after ${c.ms} ms\n--- stdout ---\n${c.out}\n--- stderr ---\n${c.err}`;
}

/** Assert-style helper: the check ran and exited 0; returns its stdout. */
export function ok(r: RunResult, name: string, what: string): string {
  const c = check(r.stdout, name);
  if (!c.ran || c.rc !== 0) throw new Error(`${what}\n${describeCheck(c, r)}\n${argvTail(r)}`);
  return c.out;
}

function argvTail(r: RunResult): string {
  const tail = (s: string) => s.trim().split('\n').slice(-3).join('\n');
  const parts = [];
  if (r.argv.pasta.trim()) parts.push(`--- last pasta calls ---\n${tail(r.argv.pasta)}`);
  if (r.argv.slirp4netns.trim()) parts.push(`--- last slirp4netns calls ---\n${tail(r.argv.slirp4netns)}`);
  return parts.join('\n');
}

/** Everything the fake host printed (its tail), for assertion messages. */
export function dump(r: RunResult, tail = 6000): string {
  const cut = (s: string) => (s.length > tail ? `...${s.slice(-tail)}` : s);
  return `fake host exit ${r.code}${r.timedOut ? ' (TIMEOUT)' : ''} after ${r.ms} ms\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

/** One line per check with its duration, printed after each suite. */
export function timings(r: RunResult, title: string): string {
  const rows = r.stdout
    .split('\n')
    .map((l) => /^@@ (\S+) (?:rc=(\d+) )?(?:ok |fail )?ms=(\d+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `  ${m[1].padEnd(16)} ${m[3].padStart(7)} ms${m[2] !== undefined && m[2] !== '0' ? `  (exit ${m[2]})` : ''}`);
  return `[e2e] ${title}: ${(r.ms / 1000).toFixed(1)} s in all\n${rows.join('\n')}`;
}

/** Median of the ms= values of lines "@@ LABEL rc=0 ms=N". */
export function medianMs(stdout: string, label: string): { median: number; values: number[]; failures: number } {
  const all = lines(stdout, label).map((l) => ({ rc: Number(/rc=(\d+)/.exec(l)?.[1] ?? 1), ms: Number(/ms=(\d+)/.exec(l)?.[1] ?? -1) }));
  const values = all.filter((x) => x.rc === 0).map((x) => x.ms).sort((a, b) => a - b);
  return { median: values.length ? values[Math.floor((values.length - 1) / 2)] : -1, values, failures: all.length - values.length };
}
