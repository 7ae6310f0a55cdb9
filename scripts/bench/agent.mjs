// One measurement, inside a fresh fake host (test/fixtures/topo.sh), as the
// root of the fake host's user namespace and PID 1 of its PID namespace:
// when this process exits, everything it started dies with it.
//
//   node agent.mjs '{"helper":"pasta","metric":"tcp_out_inet","time":3,"pastaTs":[...]}'
//
// Prints diagnostics on stderr and, last, one JSON line on stdout:
// {"value": N, "detail": "..."} or {"error": "..."}.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AS_USER, helperTable } from './helpers.mjs';
import { metricByName } from './metrics.mjs';
import { poll, run, tail, waitForLine } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const UP_NETNS = '/run/netns/up';
const CLK_TCK = 100; // USER_HZ, fixed by the kernel ABI for /proc/<pid>/stat

/** Everything a metric function needs: servers, the helper, the guest. */
class Context {
  constructor(spec, helper) {
    this.time = spec.time;
    this.helper = helper;
    this.dir = HERE;
    this.node = process.execPath;
    this.children = [];
    this.notes = [];
    this.myNetns = readlinkSync('/proc/self/ns/net');
  }

  /** Adds a "key=value" note to the measurement's detail. */
  note(s) {
    this.notes.push(s);
  }

  /** Spawns a long-lived process (killed at the end); netns 'up' or 'host'. */
  spawn(argv, { netns = 'host', stdin = 'ignore' } = {}) {
    const full = netns === 'up' ? ['nsenter', `--net=${UP_NETNS}`, '--', ...argv] : argv;
    const child = spawn(full[0], full.slice(1), { stdio: [stdin, 'pipe', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => {
      child.stderrText = (child.stderrText + d.toString()).slice(-4000);
    });
    child.stdout.on('data', () => {}); // keep the pipe flowing when nobody reads it
    child.on('error', (e) => {
      child.stderrText += `\ncannot run ${full[0]}: ${e.message}`;
    });
    this.children.push(child);
    return child;
  }

  /** Runs argv in netns 'up' or 'host' to completion. */
  exec(argv, { netns = 'host', timeoutMs } = {}) {
    const full = netns === 'up' ? ['nsenter', `--net=${UP_NETNS}`, '--', ...argv] : argv;
    return run(full, { timeoutMs: timeoutMs ?? this.time * 1000 + 15_000 });
  }

  /**
   * Starts a server in netns 'up' (the internet side) or 'host' and waits
   * until it listens on port (proto 't' or 'u').
   */
  async serve(argv, { netns, port, proto = 't' }) {
    const child = this.spawn(argv, { netns });
    let exited;
    child.on('exit', (c, s) => (exited = s ?? c));
    await poll(
      async () => {
        if (exited !== undefined) throw new Error(`server ${argv[0]} exited (${exited}): ${tail(child.stderrText)}`);
        const r = await this.exec(['ss', `-Hln${proto}`, `sport = :${port}`], { netns, timeoutMs: 5000 });
        return r.stdout.trim() !== '';
      },
      5000,
      20,
      `${argv[0]} to listen on port ${port}`,
    );
    return child;
  }

  /**
   * Starts the helper with a guest command that just waits, finds the
   * guest's network namespace and waits until it is configured (a default
   * route; with ipv6, an IPv6 default route and no tentative address).
   */
  async startHelper({ ipv6 = false } = {}) {
    const child = this.spawn([...AS_USER, ...this.helper.start(['sleep', '3600'])]);
    this.helperProc = child;
    this.helperPid = child.pid;
    child.on('exit', (c, s) => (this.helperExit = s ?? c));
    const t0 = Date.now();
    this.guestNetns = await poll(() => this.findGuestNetns(), 15_000, 10, 'the guest namespace');
    const ns = (argv) => this.guestExec(argv, { timeoutMs: 5000 });
    await poll(
      async () => {
        if (!(await ns(['ip', '-4', 'route', 'show', 'default'])).stdout.trim()) return false;
        if (!ipv6) return true;
        if (!(await ns(['ip', '-6', 'route', 'show', 'default'])).stdout.trim()) return false;
        return !(await ns(['ip', '-6', 'addr', 'show', 'tentative'])).stdout.trim();
      },
      15_000,
      20,
      'the guest network to be configured',
    );
    const cmdline = readFileSync(`/proc/${this.helperPid}/cmdline`, 'latin1').split('\0').join(' ');
    this.measuredPid = this.frontChild() ?? this.helperPid;
    process.stderr.write(`helper pid ${this.helperPid} (${cmdline.trim()}) ready after ${Date.now() - t0} ms; measuring pid ${this.measuredPid}\n`);
  }

  /**
   * pasta-ts's front (native-shims/build/pasta-ts) forks Node and waits for
   * it: the work, CPU and memory are that child's (the front's own: about
   * 1.4 MiB and no CPU). Its PID, or undefined for any other helper.
   */
  frontChild() {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const st = readFileSync(`/proc/${e}/stat`, 'latin1');
        if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) !== this.helperPid) continue;
        // Node running the working stage; not the namespace agent
        // (pasta-ts-launch), whose argv holds the same words after `--`
        const argv = readFileSync(`/proc/${e}/cmdline`, 'latin1').split('\0');
        if (/(^|\/)node[\d.]*$/.test(argv[0]) && argv.some((w) => w.endsWith('dist/bundle/main.js'))) return Number(e);
      } catch {
        /* gone */
      }
    }
    return undefined;
  }

  /** /proc/<pid>/ns/net of a 'sleep' descendant of the helper in another netns. */
  findGuestNetns() {
    if (this.helperExit !== undefined) {
      throw new Error(`helper exited (${this.helperExit}): ${tail(this.helperProc.stderrText)}`);
    }
    const parent = new Map();
    const comm = new Map();
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const st = readFileSync(`/proc/${e}/stat`, 'latin1');
        const close = st.lastIndexOf(')');
        parent.set(Number(e), Number(st.slice(close + 2).split(' ')[1]));
        comm.set(Number(e), st.slice(st.indexOf('(') + 1, close));
      } catch {
        /* gone */
      }
    }
    for (const [pid, name] of comm) {
      if (name !== 'sleep') continue;
      let p = parent.get(pid);
      for (let i = 0; i < 32 && p && p !== this.helperPid; i++) p = parent.get(p);
      if (p !== this.helperPid) continue;
      const path = `/proc/${pid}/ns/net`;
      try {
        if (readlinkSync(path) !== this.myNetns) return path;
      } catch {
        /* gone */
      }
    }
    return undefined;
  }

  guestArgv(argv) {
    return ['nsenter', `--net=${this.guestNetns}`, '--', ...argv];
  }

  /** Runs argv inside the guest's network namespace to completion. */
  guestExec(argv, { timeoutMs } = {}) {
    return run(this.guestArgv(argv), { timeoutMs: timeoutMs ?? this.time * 1000 + 15_000 });
  }

  /** Spawns a long-lived process in the guest's network namespace. */
  guestSpawn(argv, opts) {
    return this.spawn(this.guestArgv(argv), opts);
  }

  /** Throws if the helper has died (a crash during a measurement is a failure). */
  checkHelper() {
    if (this.helperExit !== undefined) {
      throw new Error(`helper exited during the measurement (${this.helperExit}): ${tail(this.helperProc.stderrText)}`);
    }
  }

  /** CPU seconds (user + system, all threads) the helper has used so far. */
  helperCpuSeconds() {
    const { user, sys } = this.helperCpuTimes();
    return user + sys;
  }

  /** The helper's user and system CPU seconds so far, apart. */
  helperCpuTimes() {
    this.checkHelper();
    const st = readFileSync(`/proc/${this.measuredPid}/stat`, 'latin1');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK }; // fields 14 and 15: utime, stime
  }

  /** The helper's peak resident set (VmHWM) in KiB. */
  helperPeakRssKiB() {
    this.checkHelper();
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.measuredPid}/status`, 'latin1'));
    if (!m) throw new Error('no VmHWM in /proc/<helper>/status');
    return Number(m[1]);
  }

  waitForLine(child, re, timeoutMs, what) {
    return waitForLine(child, re, timeoutMs, what);
  }

  /**
   * Ends everything started. The helper gets SIGTERM first and up to 3 s to
   * exit, so that what it writes at exit (node --cpu-prof's profile) is
   * written; then whatever is left gets SIGKILL.
   */
  async cleanup() {
    if (this.measuredPid) {
      try {
        process.kill(this.measuredPid, 'SIGTERM');
        for (let i = 0; i < 300 && running(this.measuredPid); i++) await new Promise((r) => setTimeout(r, 10));
      } catch {
        /* already gone */
      }
    }
    for (const c of this.children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
}

/** Whether pid is a process that has not exited (a zombie has). */
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const helper = helperTable(spec.pastaTs, spec.pastaTsB).find((h) => h.name === spec.helper);
  const metric = metricByName(spec.metric);
  if (!helper || !metric) throw new Error(`unknown helper or metric in ${process.argv[2]}`);
  const ctx = new Context(spec, helper);
  try {
    const value = await metric.run(ctx);
    if (ctx.helperPid) ctx.checkHelper();
    if (!Number.isFinite(value)) throw new Error(`no number (${value})`);
    process.stdout.write(`${JSON.stringify({ value, detail: ctx.notes.join(' ') })}\n`);
  } finally {
    await ctx.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`${JSON.stringify({ error: e?.message ?? String(e) })}\n`);
    process.exit(0);
  },
);
