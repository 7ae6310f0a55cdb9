#!/usr/bin/env node
// Side-by-side benchmark of pasta, slirp4netns and pasta-ts (`npm run bench`).
//
//   node scripts/bench.mjs [--rounds N] [--time SECONDS] [--only METRIC,...] [-v] [HELPER...]
//
// HELPER is pasta, slirp4netns or pasta-ts (default: every one installed), or
// pasta-ts-b: a second build given by $PASTA_TS_B, for A/B runs.
// pasta-ts runs as $PASTA_TS (a command line split on spaces), default
// `node <repo>/bin/pasta-ts.js` (build it first: npx tsc -p .).
//
// Every measurement gets a fresh fake host (test/fixtures/topo.sh in its own
// user, network, mount and PID namespaces) and a fresh helper, run by
// scripts/bench/agent.mjs; nothing leaves those namespaces. Rounds are
// interleaved (each metric for every helper in turn, the helpers' order
// rotated each round) so that drift hits them alike; the table shows medians
// over rounds. The last column is pasta-ts against the best peer, > 1 meaning
// pasta-ts is better (for latency, CPU, RSS and start-up it is peer / pasta-ts).
// Raw values go to stderr as they come, the table to stdout. Run as root, it
// drops to uid/gid 65534 first. Needs: scripts/setup-bench.sh. Not for CI.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { helperTable, which } from './bench/helpers.mjs';
import { METRICS } from './bench/metrics.mjs';
import { fmt, median, tail } from './bench/lib.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(SCRIPT), '..');
const TOPO = join(REPO, 'test/fixtures/topo.sh');
const AGENT = join(REPO, 'scripts/bench/agent.mjs');
const FAKE_HOST = ['unshare', '-Urnm', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', TOPO];
const NOBODY = 65534;
const BASE_TOOLS = ['unshare', 'nsenter', 'ip', 'ss', 'sh'];

const USAGE = `usage: node scripts/bench.mjs [--rounds N] [--time SECONDS] [--only METRIC,...] [-v] [HELPER...]
  --rounds N        interleaved rounds, median over them (default 3)
  --time SECONDS    length of each throughput/latency measurement (default 3)
  --only M1,M2      only these metrics: ${METRICS.map((m) => m.name).join(', ')}
  -v, --verbose     show each measurement's log (helper PID and command line, ...)
  HELPER            pasta, slirp4netns, pasta-ts (default: all installed)
  env PASTA_TS      pasta-ts command line (default: node ${REPO}/bin/pasta-ts.js)
  env PASTA_TS_B    a second pasta-ts command line, shown as pasta-ts-b (A/B runs)`;

function die(msg, code = 2) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { rounds: 3, time: 3, only: undefined, helpers: [], verbose: false };
  const num = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 1000) die(`${flag} needs a whole number from 1 to 1000, not ${v}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') ? argv[i].split(/=(.*)/s) : [argv[i]];
    const value = () => inline ?? argv[++i] ?? die(`${flag} needs a value`);
    if (flag === '--rounds') o.rounds = num(flag, value());
    else if (flag === '--time') o.time = num(flag, value());
    else if (flag === '--only') o.only = value().split(',').filter(Boolean);
    else if (flag === '-v' || flag === '--verbose') o.verbose = true;
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (flag.startsWith('-')) die(`unknown option ${flag}\n${USAGE}`);
    else o.helpers.push(flag);
  }
  return o;
}

/** As root: run this same script as uid/gid 65534 and exit with its status. */
function dropRoot() {
  if (process.getuid?.() !== 0) return;
  if (!which('setpriv')) die('running as root needs setpriv (util-linux) to drop to uid 65534', 1);
  const child = spawn(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, SCRIPT, ...process.argv.slice(2)],
    { stdio: 'inherit', cwd: tmpdir(), env: { ...process.env, HOME: tmpdir() } },
  );
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('exit', (code, sig) => process.exit(code ?? 128 + (osConstants.signals[sig] ?? 0)));
  return true;
}

/** Things that would make every measurement fail: say so once, up front. */
function preflight(helpers, pastaTs) {
  for (const p of [TOPO, AGENT, ...(helpers.some((h) => h.name === 'pasta-ts') ? pastaTs.filter((w) => w.startsWith('/')) : [])]) {
    try {
      accessSync(p, constants.R_OK);
    } catch {
      die(`${p} is not readable by uid ${process.getuid()}: chmod -R a+rX ${REPO} (scripts/setup-bench.sh does)`, 1);
    }
  }
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    die('/dev/net/tun is not usable by this user: chmod 0666 /dev/net/tun (scripts/setup-bench.sh does)', 1);
  }
  const missing = BASE_TOOLS.filter((t) => !which(t));
  if (missing.length) die(`missing ${missing.join(', ')}: run scripts/setup-bench.sh as root`, 1);
  const r = spawnSync('unshare', ['-Urn', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) die(`unprivileged user namespaces are refused here: ${tail(r.stderr)}`, 1);
}

let current; // the measurement's process, killed on SIGINT
let interrupted = false;

/** One measurement in a fresh fake host: resolves {value, detail} or {error}. */
function measure(spec, timeoutSec) {
  return new Promise((done) => {
    const argv = [...FAKE_HOST, process.execPath, AGENT, JSON.stringify(spec)];
    const child = spawn(argv[0], argv.slice(1), {
      cwd: tmpdir(),
      detached: true, // its own process group, killed as a whole
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const kill = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutSec * 1000);
    const finish = (code, extra) => {
      clearTimeout(timer);
      current = undefined;
      const stderr = Buffer.concat(err).toString();
      const last = Buffer.concat(out).toString().trim().split('\n').pop();
      let res;
      try {
        res = JSON.parse(last);
      } catch {
        res = { error: extra ?? (timedOut ? `timed out after ${timeoutSec} s` : `fake host exited ${code} without a result`) };
      }
      if (stderr.trim()) res.log = tail(stderr, 1500);
      done(res);
    };
    child.on('error', (e) => finish(127, `cannot run ${argv[0]}: ${e.message}`));
    child.on('close', (code) => finish(code));
    // should something in the fake host keep its pipes open, stop waiting
    child.on('exit', () => setTimeout(() => (kill(), child.stdout.destroy(), child.stderr.destroy()), 5000).unref());
  });
}

/**
 * The machine's TCP memory in pages (/proc/net/sockstat, shared by every
 * network namespace) and the kernel's pressure threshold (tcp_mem's first
 * value); undefined where they cannot be read.
 */
function tcpMemory() {
  try {
    const used = Number(/^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1]);
    const low = Number(readFileSync('/proc/sys/net/ipv4/tcp_mem', 'utf8').trim().split(/\s+/)[0]);
    return Number.isFinite(used) && low > 0 ? { used, low } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits (up to 60 s) while sockets left by earlier measurements hold more
 * than a quarter of the pressure threshold: under pressure the kernel
 * shrinks every TCP buffer and drops, and a measurement would say more about
 * the one before it than about its helper. Says so when it waited.
 */
async function tcpMemorySettled(log) {
  const t0 = Date.now();
  let m = tcpMemory();
  while (m && m.used > m.low / 4 && Date.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 500));
    m = tcpMemory();
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (m && m.used > m.low / 4) log(`# TCP memory still at ${m.used} pages after ${secs} s (pressure from ${m.low}): the next figure may be low`);
  else if (Date.now() - t0 >= 1000) log(`# waited ${secs} s for TCP memory held by earlier measurements to be freed`);
}

function table(metrics, helpers, results) {
  const names = helpers.map((h) => h.name);
  const peers = names.filter((n) => !n.startsWith('pasta-ts'));
  const ratio = names.includes('pasta-ts') && peers.length > 0;
  const head = ['metric', 'unit', ...names, ...(ratio ? ['pasta-ts / best peer'] : [])];
  const rows = [head, head.map(() => '---')];
  for (const m of metrics) {
    const med = Object.fromEntries(names.map((n) => [n, median(results[m.name][n])]));
    const row = [m.label, m.unit, ...names.map((n) => fmt(med[n]))];
    if (ratio) {
      const vals = peers.map((n) => med[n]).filter((v) => v !== undefined && v > 0);
      const mine = med['pasta-ts'];
      if (vals.length && mine > 0) {
        const best = m.lower ? Math.min(...vals) : Math.max(...vals);
        row.push((m.lower ? best / mine : mine / best).toFixed(2));
      } else row.push('-');
    }
    rows.push(row);
  }
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // relative paths in $PASTA_TS: from here, not from the fake host's directory
  const words = (line) => line.split(/\s+/).map((w) => (w.includes('/') && !w.startsWith('/') && existsSync(w) ? resolve(w) : w));
  const pastaTs = words(process.env.PASTA_TS?.trim() || `${process.execPath} ${join(REPO, 'bin/pasta-ts.js')}`);
  process.env.PASTA_TS = pastaTs.join(' ');
  const pastaTsB = process.env.PASTA_TS_B?.trim() ? words(process.env.PASTA_TS_B.trim()) : undefined;
  if (pastaTsB) process.env.PASTA_TS_B = pastaTsB.join(' ');
  if (dropRoot()) return;
  process.env.PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;
  const all = helperTable(pastaTs, pastaTsB);
  for (const n of opts.helpers) if (!all.some((h) => h.name === n)) die(`unknown helper ${n}\n${USAGE}`);
  const helpers = all.filter((h) => (opts.helpers.length ? opts.helpers.includes(h.name) : h.installed()));
  for (const h of helpers) if (!h.installed()) die(`${h.name} (${h.command}) is not installed or not built`, 1);
  if (!helpers.length) die('none of pasta, slirp4netns, pasta-ts is installed', 1);
  for (const n of opts.only ?? []) if (!METRICS.some((m) => m.name === n)) die(`unknown metric ${n}\n${USAGE}`);
  const metrics = METRICS.filter((m) => !opts.only || opts.only.includes(m.name));
  preflight(helpers, pastaTs);

  const log = (s) => process.stderr.write(`${s}\n`);
  log(`# bench: ${opts.rounds} round(s), ${opts.time} s per measurement, uid ${process.getuid()}`);
  for (const h of helpers) log(`#   ${h.name}: ${h.command}`);
  const results = Object.fromEntries(metrics.map((m) => [m.name, Object.fromEntries(helpers.map((h) => [h.name, []]))]));
  const missingTools = new Map(metrics.map((m) => [m.name, m.tools.filter((t) => !which(t))]));
  for (const [name, tools] of missingTools) if (tools.length) log(`# ${name}: skipped, missing ${tools.join(', ')} (scripts/setup-bench.sh)`);

  // stop after the current measurement is killed, and print what there is
  const stop = () => {
    interrupted = true;
    if (current) process.kill(-current.pid, 'SIGKILL');
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, stop);
  const t0 = Date.now();
  for (let r = 0; r < opts.rounds && !interrupted; r++) {
    const order = helpers.map((_, i) => helpers[(i + r) % helpers.length]);
    for (const m of metrics) {
      if (interrupted) break;
      if (missingTools.get(m.name).length) continue;
      for (const h of order) {
        if (interrupted) break;
        await tcpMemorySettled(log);
        const t = Date.now();
        const res = await measure({ helper: h.name, metric: m.name, time: opts.time, pastaTs, pastaTsB }, m.timeout(opts.time));
        const secs = ((Date.now() - t) / 1000).toFixed(1);
        const tag = `[round ${r + 1}/${opts.rounds}] ${m.name.padEnd(14)} ${h.name.padEnd(11)}`;
        if (interrupted) break;
        if (res.error === undefined) {
          results[m.name][h.name].push(res.value);
          log(`${tag} ${fmt(res.value).padStart(7)} ${m.unit.padEnd(6)} ${secs}s ${res.detail ?? ''}`);
          if (opts.verbose && res.log) log(res.log.replace(/^/gm, '    | '));
        } else {
          log(`${tag}       - FAILED ${secs}s: ${res.error}`);
          if (res.log) log(res.log.replace(/^/gm, '    | '));
        }
      }
    }
  }
  log(`# took ${((Date.now() - t0) / 1000).toFixed(0)} s${interrupted ? ' (interrupted)' : ''}`);
  process.stdout.write(`${table(metrics, helpers, results)}\n`);
  if (interrupted) process.exitCode = 130;
}

main().catch((e) => die(e?.stack ?? String(e), 1));
