#!/usr/bin/env node
// Soak test (`npm run soak`, on demand, never in CI): the helper in a fake
// host (test/fixtures/topo.sh, as scripts/bench.mjs runs it) while a client
// in its namespace keeps 2000 TCP connections open at all times, each
// sending a line, getting it back and closing, replaced at once, for a
// bounded time. Every few seconds it prints the helper's resident memory,
// its open descriptors and its sockets (each host-side flow is one socket);
// after the churn it watches the idle helper for a few seconds more, then
// prints the helper's own TCP statistics (-d) and whether memory settled and
// descriptors came back.
//
//   node scripts/soak.mjs [--seconds 60] [--conns 2000] [--interval 5] [--idle 20]
//
// pasta-ts runs as $PASTA_TS (default `node <repo>/bin/pasta-ts.js`; build
// first: npx tsc -p .). Run as root it drops to uid 65534 first, like the
// benchmark. Exits 0 when no connection failed, descriptors returned to
// their baseline and memory settled; 1 otherwise.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, mkdtempSync, chmodSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(SCRIPT), '..');
const TOPO = join(REPO, 'test/fixtures/topo.sh');
const FAULTS = join(REPO, 'test/fixtures/faults.mjs');
const FAKE_HOST = ['unshare', '-Urnm', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', TOPO];
const AS_USER = ['unshare', '-U', '--map-user=1000', '--map-group=1000', '--'];
const NOBODY = 65534;
const SERVER = '203.0.113.5';
const PORT = 9300;
const PORTS = 16;

function die(msg, code = 2) {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { seconds: 60, conns: 2000, interval: 5, idle: 20, agent: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) die(`${a} needs a positive number`);
      return v;
    };
    if (a === '--seconds') o.seconds = num();
    else if (a === '--conns') o.conns = Math.floor(num());
    else if (a === '--interval') o.interval = num();
    else if (a === '--idle') o.idle = num();
    else if (a === '--agent') o.agent = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(readFileSync(SCRIPT, 'utf8').split('\n').slice(1, 18).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else die(`unknown argument ${a}`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- outside: drop root, build the fake host, run this script in it as the agent ----

function outside(o) {
  const pastaTs = (process.env.PASTA_TS?.trim() || `${process.execPath} ${join(REPO, 'bin/pasta-ts.js')}`).split(/\s+/);
  if (pastaTs.some((w) => w.endsWith('bin/pasta-ts.js')) && !existsSync(join(REPO, 'dist/bundle/main.js'))) die('build first: npm run build');
  const args = ['--agent', '--seconds', String(o.seconds), '--conns', String(o.conns), '--interval', String(o.interval), '--idle', String(o.idle)];
  let argv = [...FAKE_HOST, process.execPath, SCRIPT, ...args];
  const dir = mkdtempSync(join(tmpdir(), 'pasta-ts-soak-'));
  chmodSync(dir, 0o777);
  if (process.getuid?.() === 0) argv = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...argv];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: 'inherit',
    cwd: dir,
    detached: true,
    env: { ...process.env, PASTA_TS: pastaTs.join(' '), HOME: dir, TMPDIR: dir, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` },
  });
  // the agent stops by itself; this is the backstop
  const limit = (o.seconds + o.idle + 120) * 1000;
  const timer = setTimeout(() => {
    process.stderr.write(`soak: no end after ${limit / 1000} s, killing the fake host\n`);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, limit);
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  child.on('exit', (code, sig) => {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
    process.exit(code ?? 128 + (osConstants.signals[sig] ?? 0));
  });
}

// ---- inside the fake host (its user namespace's root, PID 1 of its PID namespace) ----

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      /* closed meanwhile */
    }
  }
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), fds, sockets, threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]) };
}

const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;

/** The fake host's TCP sockets towards the server, by state ("3 ESTAB 1 FIN-WAIT-2"). */
function socketStates() {
  return new Promise((resolve) => {
    const ss = spawn('ss', ['-Htan', `dst ${SERVER}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    ss.stdout.on('data', (d) => (out += d));
    ss.on('close', () => {
      const n = new Map();
      for (const l of out.split('\n')) if (l.trim()) n.set(l.split(/\s+/)[0], (n.get(l.split(/\s+/)[0]) ?? 0) + 1);
      resolve([...n].map(([k, v]) => `${v} ${k}`).join(' '));
    });
    ss.on('error', () => resolve('(no ss)'));
  });
}

async function agent(o) {
  const T = process.cwd();
  const up = spawn('nsenter', ['--net=/run/netns/up', '--', process.execPath, FAULTS, 'reply-server', '--tcp', `${SERVER}:${PORT}`,
    '--ports', String(PORTS), '--ready', join(T, 'server.ready')], { stdio: 'inherit' });
  for (let i = 0; i < 200 && !existsSync(join(T, 'server.ready')); i++) await sleep(50);
  if (!existsSync(join(T, 'server.ready'))) die('the server in netns "up" did not start', 1);

  const pastaTs = process.env.PASTA_TS.split(' ');
  // the command: wait a moment (the baseline), churn, then idle for --idle seconds
  // (and at the end, the namespace's TCP sockets by state: what is left of the churn on the guest's side)
  const states = `ss -Htan | awk '{ print $1 }' | sort | uniq -c | tr -s ' ' | tr '\\n' ' '`;
  const cmd = `touch ${T}/started; sleep 1; ${process.execPath} ${FAULTS} churn --tcp ${SERVER}:${PORT} --ports ${PORTS} ` +
    `--conns ${o.conns} --ms ${o.seconds * 1000} --progress-ms ${o.interval * 1000}; sleep ${o.idle}; echo "@@ guest-sockets $(${states})"; ` +
    // frames the namespace's kernel dropped because the helper did not read the tap in time
    `awk '$1 ~ /:$/ && $1 != "lo:" { print "@@ guest-netdev tx_packets=" $11 " tx_drop=" $13 " rx_packets=" $3 " rx_drop=" $5 }' /proc/net/dev`;
  const helper = spawn(AS_USER[0], [...AS_USER.slice(1), ...pastaTs, '-d', '--config-net', '--', 'sh', '-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = helper.pid;
  let stderr = '';
  helper.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-200_000);
  });
  let churn;
  let guestSockets = '';
  let guestNetdev = '';
  let hostSockets = '';
  const progress = [];
  let buf = '';
  helper.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('@@ churn-progress ')) progress.push(line.slice(18));
      else if (line.startsWith('@@ churn ')) churn = line.slice(9);
      else if (line.startsWith('@@ guest-sockets ')) guestSockets = line.slice(17).trim();
      else if (line.startsWith('@@ guest-netdev ')) guestNetdev = line.slice(16).trim();
    }
  });
  let exited;
  helper.on('exit', (code, sig) => (exited = sig ?? code));
  for (let i = 0; i < 300 && !existsSync(join(T, 'started')) && exited === undefined; i++) await sleep(50);
  if (exited !== undefined) die(`the helper exited (${exited}) before its command started: ${stderr.slice(-2000)}`, 1);
  await sleep(500);
  const base = sample(pid);
  console.log(`soak: helper pid ${pid}, ${o.conns} concurrent connections for ${o.seconds} s (then ${o.idle} s idle), ` +
    `sample every ${o.interval} s`);
  console.log(`baseline: rss ${mib(base.rss)}, fds ${base.fds} (sockets ${base.sockets}), threads ${base.threads}`);
  console.log(`${'t'.padStart(5)}  ${'rss'.padStart(10)}  ${'peak rss'.padStart(10)}  ${'fds'.padStart(5)}  ${'sockets'.padStart(7)}  ${'flows'.padStart(5)}  client`);
  const rows = [];
  const t0 = Date.now();
  const churnEnd = t0 + 500 + o.seconds * 1000;
  let lastProgress = 0;
  while (exited === undefined) {
    await sleep(o.interval * 1000);
    if (exited !== undefined) break;
    let s;
    try {
      s = sample(pid);
    } catch {
      break;
    }
    const t = (Date.now() - t0) / 1000;
    const phase = Date.now() < churnEnd ? 'churn' : 'idle';
    if (phase === 'idle') hostSockets = await socketStates();
    rows.push({ t, phase, ...s });
    const p = progress.length > lastProgress ? progress[progress.length - 1] : phase === 'idle' ? '(idle)' : '';
    lastProgress = progress.length;
    console.log(`${t.toFixed(0).padStart(4)}s  ${mib(s.rss).padStart(10)}  ${mib(s.hwm).padStart(10)}  ${String(s.fds).padStart(5)}  ` +
      `${String(s.sockets).padStart(7)}  ${String(Math.max(0, s.sockets - base.sockets)).padStart(5)}  ${p}`);
  }
  await new Promise((r) => (exited !== undefined ? r() : helper.on('exit', r)));
  up.kill('SIGKILL');
  const stats = /TCP (\{[^}]*\}); (frames in .*)$/m.exec(stderr);
  console.log(`client: ${churn ?? '(no result)'}`);
  console.log(`the namespace's interface: ${guestNetdev || '(no counters)'}`);
  console.log(`TCP sockets left after the churn: in the namespace ${guestSockets || 'none'}; the helper's host side ${hostSockets || 'none'}`);
  console.log(`helper: exit ${exited}; at exit: TCP ${stats?.[1] ?? '(no -d statistics line)'}${stats ? `; ${stats[2]}` : ''}`);

  // verdict: fds back to the baseline when idle, memory settled during the churn
  const churnRows = rows.filter((r) => r.phase === 'churn');
  const idleRows = rows.filter((r) => r.phase === 'idle');
  const problems = [];
  if (!churn || !/ ok /.test(` ${churn} `)) problems.push(`the client reported failures: ${churn ?? 'nothing'}`);
  if (exited !== 0) problems.push(`helper exit status ${exited}`);
  const lastIdle = idleRows[idleRows.length - 1];
  if (!lastIdle) problems.push('no idle sample (use a longer --idle than --interval)');
  else if (lastIdle.fds > base.fds + 5) problems.push(`descriptors did not come back: ${lastIdle.fds} idle vs ${base.fds} at start`);
  if (churnRows.length >= 4) {
    const third = Math.floor(churnRows.length / 3);
    const avg = (rs) => rs.reduce((a, r) => a + r.rss, 0) / rs.length;
    const mid = avg(churnRows.slice(third, 2 * third));
    const last = avg(churnRows.slice(2 * third));
    const growth = (last - mid) / mid;
    console.log(`rss: middle third ${mib(mid)}, last third ${mib(last)} (${(growth * 100).toFixed(1)}%); peak ${mib(Math.max(...rows.map((r) => r.hwm)))}`);
    if (growth > 0.15) problems.push(`memory still growing: ${(growth * 100).toFixed(0)}% from the middle to the last third of the run`);
  }
  if (lastIdle) console.log(`idle after the churn: fds ${lastIdle.fds} (baseline ${base.fds}), sockets ${lastIdle.sockets} (baseline ${base.sockets}), rss ${mib(lastIdle.rss)}`);
  console.log(problems.length ? `soak: FAILED\n  - ${problems.join('\n  - ')}` : 'soak: ok (no failed connection, descriptors back to baseline, memory settled)');
  process.exit(problems.length ? 1 : 0);
}

const opts = parseArgs(process.argv.slice(2));
if (opts.agent) agent(opts).catch((e) => die(e?.stack ?? String(e), 1));
else outside(opts);
