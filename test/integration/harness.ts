// Integration-test harness: runs shell scripts inside a rootless fake host
// (test/fixtures/topo.sh) and gives them the helper under test as $HELPER.
//
// The helper under test is the command line in PASTA_TS_BIN (split on
// spaces), default the front, native-shims/build/pasta-ts (entry.test.ts
// also runs bin/pasta-ts.js). Validate the tests against
// Debian's pasta with: PASTA_TS_BIN=pasta npx vitest run test/integration
//
// Layers, outermost first:
//   test process (root in CI) --setpriv--> uid/gid 65534 (only when root)
//   --unshare -Urnm --pid--> "root" of a fresh user namespace, where topo.sh
//   builds the fake host and runs the script. The script starts servers
//   (`ip netns exec up` needs that namespace's root) and runs `$HELPER ...`.
//   $HELPER = `unshare -U --map-user=1000 --map-group=1000 -- <helper>`, so
//   the helper runs as uid 1000 without any capability in the fake host,
//   exactly like an ordinary user on a real machine (pass helperAsRoot to
//   run it as the namespace's root instead, as rootless Podman does).
// The fake host has its own PID namespace: when the script ends or is killed
// on timeout, the kernel kills everything it started.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(REPO, 'test/fixtures');
const TOPO = join(FIXTURES, 'topo.sh');
const LIB = join(FIXTURES, 'lib.sh');
const NET = join(FIXTURES, 'net.mjs');

/** Unprivileged identity the fake host is built by when the tests run as root. */
const NOBODY = 65534;
/** uid/gid the helper runs as inside the fake host (no capabilities there). */
const HELPER_UID = 1000;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** argv prefix that drops root to an unprivileged user (empty if not root). */
function dropPrivileges(): string[] {
  return isRoot()
    ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']
    : [];
}

const UNSHARE_HOST = ['unshare', '-Urnm', '--pid', '--fork', '--kill-child', '--mount-proc'];
const AS_USER = `unshare -U --map-user=${HELPER_UID} --map-group=${HELPER_UID} --`;

/** pasta-ts's front (native-shims/front.c): what Podman and libvirt are pointed at. */
export const FRONT = join(REPO, 'native-shims/build/pasta-ts');
/** The Node entry point, bin/pasta-ts.js, as a command string. */
export const JS_ENTRY = `${process.execPath} ${join(REPO, 'bin/pasta-ts.js')}`;

/** The helper under test as a command string (words separated by one space). */
export function helperCommand(): string {
  const raw = process.env.PASTA_TS_BIN?.trim() || FRONT;
  return raw.split(/\s+/).join(' ');
}

export interface FakeHostOptions {
  /** Kill the whole fake host after this long (default 60 s). */
  timeoutMs?: number;
  /** Extra environment for the script. */
  env?: Record<string, string>;
  /** Run $HELPER as root of the fake host's user namespace, not as uid 1000. */
  helperAsRoot?: boolean;
}

export interface FakeHostResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the harness killed the fake host on timeout (code is then 124). */
  timedOut: boolean;
  ms: number;
}

/**
 * Run `sh -c script` inside a fresh fake host, as an unprivileged user.
 * The script sees: HELPER (helper command, run as an unprivileged user),
 * HELPER_CMD (the bare helper command), NODE, FIX (test/fixtures), LIB
 * (fixtures/lib.sh: `. "$LIB"` for net/serve/up/tag/result), T (a scratch
 * directory, mode 0777, also the working directory; removed afterwards).
 * Never rejects: a timeout gives code 124 and timedOut true.
 */
export function fakeHost(script: string, opts: FakeHostOptions = {}): Promise<FakeHostResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const dir = mkdtempSync('/tmp/pasta-ts-it-');
  chmodSync(dir, 0o777);
  const cmd = helperCommand();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`,
    HOME: dir,
    TMPDIR: dir,
    T: dir,
    NODE: process.execPath,
    FIX: FIXTURES,
    LIB,
    HELPER_CMD: cmd,
    HELPER: opts.helperAsRoot ? cmd : `${AS_USER} ${cmd}`,
    ...opts.env,
  };
  const argv = [...dropPrivileges(), ...UNSHARE_HOST, 'sh', TOPO, 'sh', '-c', script];
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: dir,
      env,
      detached: true, // own process group, killed as a whole on timeout
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      child.stdout.destroy();
      child.stderr.destroy();
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
      let stderr = Buffer.concat(err).toString() + extra;
      if (timedOut) stderr += `\n[harness] fake host killed after ${timeoutMs} ms timeout\n`;
      done({
        code: timedOut ? 124 : code ?? 128 + (signal ? signalNumber(signal) : 0),
        stdout: Buffer.concat(out).toString(),
        stderr,
        timedOut,
        ms: Date.now() - t0,
      });
    };
    // 'close' comes once stdout/stderr are closed too; should anything still
    // hold them after the fake host's init has gone, stop waiting after 5 s.
    child.on('exit', (code, signal) => {
      grace = setTimeout(() => {
        killGroup();
        finish(code, signal, '\n[harness] output pipes still open 5 s after exit; gave up on them\n');
      }, 5000);
    });
    child.on('error', (e) => finish(127, null, `\n[harness] cannot start ${argv[0]}: ${e.message}\n`));
    child.on('close', finish);
  });
}

function signalNumber(s: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[s] ?? 0;
}

// ---- tagged results -----------------------------------------------------------

/** One "@@ LABEL STATUS k=v ..." line printed by net.mjs or the lib.sh helpers. */
export interface Tagged {
  label: string;
  status: string;
  fields: Record<string, string>;
  line: string;
}

/** All lines "@@ LABEL rest" of the output, rest only. */
export function taggedLines(stdout: string, label: string): string[] {
  const p = `@@ ${label} `;
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(p) || l === `@@ ${label}`)
    .map((l) => l.slice(p.length));
}

/** Text a `result NAME cmd` call captured on stdout (or on stderr with stream 'err'). */
export function captured(stdout: string, name: string, stream: 'out' | 'err' = 'out'): string {
  return taggedLines(stdout, `${name}-${stream}`).join('\n');
}

/** The first "@@ LABEL status k=v..." line, parsed; undefined if absent. */
export function tagged(stdout: string, label: string): Tagged | undefined {
  const rest = taggedLines(stdout, label)[0];
  if (rest === undefined) return undefined;
  const [status = '', ...kv] = rest.split(' ');
  const fields: Record<string, string> = {};
  for (const w of kv) {
    const i = w.indexOf('=');
    if (i > 0) fields[w.slice(0, i)] = w.slice(i + 1);
  }
  return { label, status, fields, line: rest };
}

/** Exit status printed by `result NAME ...` ("@@ NAME rc=N"), or undefined. */
export function exitStatus(stdout: string, name: string): number | undefined {
  const t = tagged(stdout, name);
  const rc = t?.status.startsWith('rc=') ? t.status.slice(3) : t?.fields.rc;
  return rc === undefined ? undefined : Number(rc);
}

/** Everything the fake host printed, for assertion messages. */
export function dump(r: FakeHostResult, tail = 4000): string {
  const cut = (s: string) => (s.length > tail ? `...${s.slice(-tail)}` : s);
  return `fake host exit ${r.code}${r.timedOut ? ' (TIMEOUT)' : ''} after ${r.ms} ms\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

// ---- requirements ---------------------------------------------------------------

export interface Requirements {
  skip: boolean;
  reason?: string;
}

let cached: Requirements | undefined;

/**
 * Check what the integration tests need. Returns skip: true (with a printed
 * reason) only when unprivileged user namespaces are impossible here. Missing
 * tools or unreadable files throw, so CI fails loudly instead of skipping.
 */
export function requirements(): Requirements {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    cached = { skip: true, reason: `integration tests need Linux namespaces (platform ${process.platform})` };
    console.warn(`[integration] SKIPPED: ${cached.reason}`);
    return cached;
  }
  const problems: string[] = [];
  const run = (argv: string[]) =>
    spawnSync(argv[0], argv.slice(1), {
      encoding: 'utf8',
      timeout: 15_000,
      env: { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` },
    });
  /** sh -c script, as the test process (drop = false) or as the unprivileged user. */
  const sh = (script: string, drop = false) => run([...(drop ? dropPrivileges() : []), 'sh', '-c', script]);

  const tools: Array<[string, string]> = [
    ['sh', 'dash or bash'],
    ['ip', 'iproute2'],
    ['unshare', 'util-linux'],
    ['mount', 'mount'],
    ['ping', 'iputils-ping'],
    ['sed', 'sed'],
  ];
  if (isRoot()) tools.push(['setpriv', 'util-linux (setpriv)']);
  for (const [tool, pkg] of tools) {
    if (sh(`command -v ${tool}`).status !== 0) problems.push(`missing tool '${tool}' (install ${pkg})`);
  }
  const help = sh('unshare --help');
  if (help.status === 0 && !/--map-user/.test(help.stdout)) {
    problems.push('unshare lacks --map-user (util-linux >= 2.38 needed)');
  }
  if (problems.length) {
    throw new Error(`integration test requirements not met:\n  - ${problems.join('\n  - ')}`);
  }

  // Unprivileged user namespaces: the one reason to skip. Probe step by step
  // (only sh and unshare, both checked above) to name what is refused.
  const steps: Array<[string, string]> = [
    ['unshare -Urn sh -c :', 'user+network namespace'],
    [`${UNSHARE_HOST.join(' ')} sh -c :`, 'user+network+mount+pid namespace with /proc'],
    [`${UNSHARE_HOST.join(' ')} sh -c '${AS_USER} sh -c :'`, `nested user namespace as uid ${HELPER_UID}`],
  ];
  for (const [cmd, what] of steps) {
    const probe = sh(cmd, true);
    if (probe.status === 0) continue;
    const msg = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim();
    if (!/not permitted|permission denied|invalid argument|no space left|uid_map|gid_map|setgroups/i.test(msg)) {
      // not a refusal by the kernel: a broken tool or setup, do not hide it
      throw new Error(`integration test requirements not met: cannot create a ${what} (${cmd}): ${msg}`);
    }
    const hints = [
      '/proc/sys/kernel/unprivileged_userns_clone',
      '/proc/sys/user/max_user_namespaces',
      '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
    ]
      .map((f) => {
        const r = sh(`cat ${f} 2>/dev/null`);
        return r.status === 0 && r.stdout.trim() ? `${f.replace('/proc/sys/', '').replace(/\//g, '.')}=${r.stdout.trim()}` : '';
      })
      .filter(Boolean)
      .join(', ');
    cached = {
      skip: true,
      reason: `unprivileged ${what} not possible here as ${isRoot() ? `uid ${NOBODY}` : 'this user'}: ${msg}${hints ? ` (${hints})` : ''}`,
    };
    console.warn(`[integration] SKIPPED: ${cached.reason}`);
    return cached;
  }

  // Everything the unprivileged user touches must be usable by it.
  const who = isRoot() ? `uid ${NOBODY}` : 'this user';
  const checks: Array<[string, string]> = [
    [`test -r '${TOPO}'`, `${TOPO} is not readable by ${who}`],
    [`test -r '${LIB}'`, `${LIB} is not readable by ${who}`],
    [`test -r '${NET}'`, `${NET} is not readable by ${who}`],
    [`test -x '${process.execPath}'`, `${process.execPath} is not executable by ${who}`],
    ...(process.env.PASTA_TS_BIN?.trim()
      ? []
      : ([
          [`test -x '${FRONT}'`, `${FRONT} is not executable by ${who} (npm run build)`],
          [`test -r '${join(REPO, 'dist/bundle/main.js')}'`, `${join(REPO, 'dist/bundle/main.js')} is not readable by ${who} (npm run build)`],
        ] as Array<[string, string]>)),
    ['test -r /dev/net/tun -a -w /dev/net/tun', `/dev/net/tun is not read/writable by ${who} (chmod 0666 /dev/net/tun)`],
  ];
  for (const [test, msg] of checks) {
    try {
      if (sh(test, true).status !== 0) problems.push(msg);
    } catch {
      problems.push(msg);
    }
  }
  try {
    accessSync('/dev/net/tun', constants.F_OK);
  } catch {
    problems.push('/dev/net/tun does not exist (modprobe tun)');
  }
  if (problems.length) {
    throw new Error(`integration test requirements not met:\n  - ${problems.join('\n  - ')}`);
  }
  cached = { skip: false };
  return cached;
}
