#!/usr/bin/env node
// `npm run fuzz`: builds the fuzz targets (tsc -> .fuzz-build/), then runs
// every target for a share of a total time budget, each in its own engine
// process (engine.ts), inside a private network namespace with only a
// loopback when one can be made (so that frames naming any address reach
// nothing outside). Exits 1 when any target reports a finding (saved under
// test/fuzz/findings/) or an engine fails.
//
//   npm run fuzz [-- --seconds S] [--seed N] [--targets a,b,...] [--no-isolation]
//   npm run fuzz -- --write-corpus        regenerate test/fuzz/corpus/ from the wire writers
//   npm run fuzz -- --replay FILE...      replay findings (exit 1 if any still fails)
//
// Environment: FUZZ_SECONDS (total, default 20), FUZZ_SEED (default: random,
// printed), FUZZ_TARGETS (comma-separated), FUZZ_VERBOSE=1.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const BUILD = path.join(REPO, '.fuzz-build');
const ENGINE = path.join(BUILD, 'test/fuzz/engine.js');
const CORPUS = path.join(HERE, 'corpus');
const FINDINGS = path.join(HERE, 'findings');
const ALL = ['ipv4', 'ipv6', 'tcp', 'udp', 'arp', 'checksum', 'dhcp', 'dhcpv6', 'ndp', 'dispatch'];
/** the dispatcher gets this many shares of the budget, every codec one */
const DISPATCH_WEIGHT = 6;

function die(msg, code = 2) {
  process.stderr.write(`fuzz: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    seconds: Number(process.env.FUZZ_SECONDS ?? 20),
    seed: process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31),
    targets: (process.env.FUZZ_TARGETS ?? '').split(',').filter(Boolean),
    isolate: true, build: true, inner: false, writeCorpus: false, replay: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i] ?? die(`${a} needs a value`);
    if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--targets') o.targets = v().split(',').filter(Boolean);
    else if (a === '--no-isolation') o.isolate = false;
    else if (a === '--no-build') o.build = false;
    else if (a === '--inner') o.inner = true;
    else if (a === '--write-corpus') o.writeCorpus = true;
    else if (a === '--replay') (o.replay = argv.slice(i + 1)), (i = argv.length);
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else die(`unknown argument ${a}`);
  }
  if (!(o.seconds > 0)) die('--seconds must be positive');
  if (!Number.isInteger(o.seed) || o.seed < 0) die('--seed must be a non-negative integer');
  for (const t of o.targets) if (!ALL.includes(t)) die(`unknown target ${t} (have ${ALL.join(', ')})`);
  if (o.targets.length === 0) o.targets = ALL;
  return o;
}

function build() {
  const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(HERE, 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) die('building the fuzz targets failed', 2);
  // src/ns/sys.ts finds the native shims relative to itself
  fs.rmSync(path.join(BUILD, 'native-shims'), { force: true });
  fs.symlinkSync('../native-shims', path.join(BUILD, 'native-shims'));
}

/** argv that runs this script again inside a new network namespace with lo up, or undefined if none can be made. */
function isolation(args) {
  const root = process.getuid?.() === 0;
  const unshare = root ? ['unshare', '-n'] : ['unshare', '-rn'];
  const probe = spawnSync(unshare[0], [...unshare.slice(1), 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    process.stderr.write(`fuzz: no private network namespace (${(probe.stderr || probe.error?.message || '').trim()}); ` +
      'the dispatcher target rewrites every destination to the loopback instead\n');
    return undefined;
  }
  // lo up; ICMP echo sockets allowed (as distributions do), so the echo path is fuzzed too
  const setup = 'ip link set lo up && { echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range 2>/dev/null || ' +
    'echo "0 0" > /proc/sys/net/ipv4/ping_group_range 2>/dev/null || true; } && exec "$@"';
  return [...unshare, 'sh', '-c', setup, 'sh', process.execPath, fileURLToPath(import.meta.url), '--inner', '--no-build', ...args];
}

function runEngine(target, seconds, seed) {
  return new Promise((resolve) => {
    const argv = [ENGINE, '--target', target, '--seconds', String(seconds), '--seed', String(seed), '--corpus', CORPUS, '--findings', FINDINGS];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const s = d.toString();
      for (const line of s.split('\n')) if (line && !line.startsWith('@@fuzz ')) process.stdout.write(`  ${line}\n`);
    });
    // an engine that does not stop is a hang: kill it, report it
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds * 3 + 60) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('@@fuzz '));
      const stats = line ? JSON.parse(line.slice(7)) : undefined;
      resolve({ target, code, signal, stats });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.build) build();
  if (o.writeCorpus) {
    const r = spawnSync(process.execPath, [ENGINE, '--write-corpus', CORPUS], { stdio: 'inherit', cwd: REPO });
    process.exit(r.status ?? 1);
  }
  if (o.replay.length > 0) {
    const r = spawnSync(process.execPath, [ENGINE, '--replay', ...o.replay.map((f) => path.resolve(f))], { stdio: 'inherit', cwd: REPO });
    process.exit(r.status ?? 1);
  }
  if (!o.inner && o.isolate) {
    const argv = isolation(['--seconds', String(o.seconds), '--seed', String(o.seed), '--targets', o.targets.join(',')]);
    if (argv) {
      const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, FUZZ_ISOLATED: '1' } });
      process.exit(r.status ?? 1);
    }
  }
  const weights = o.targets.map((t) => (t === 'dispatch' ? DISPATCH_WEIGHT : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const isolated = process.env.FUZZ_ISOLATED === '1';
  process.stdout.write(`fuzz: ${o.seconds} s over ${o.targets.length} target(s), seed ${o.seed}` +
    `${isolated ? ', in a private network namespace' : ', destinations rewritten to the loopback'} (rerun with FUZZ_SEED=${o.seed})\n`);
  const results = [];
  for (let i = 0; i < o.targets.length; i++) {
    const secs = Math.max(1, Math.round((o.seconds * weights[i] / total) * 10) / 10);
    results.push(await runEngine(o.targets[i], secs, (o.seed + i) >>> 0));
  }
  const rows = [['target', 'runs', 'exec/s', 'seconds', 'pool', 'behaviours', 'result']];
  let runs = 0;
  let secs = 0;
  let bad = 0;
  for (const r of results) {
    const s = r.stats;
    const ok = s && s.findings === 0 && r.code === 0;
    if (!ok) bad++;
    if (s) {
      runs += s.runs;
      secs += s.seconds;
    }
    rows.push([r.target, s?.runs ?? '-', s?.execsPerSec ?? '-', s?.seconds ?? '-', s?.pool ?? '-', s?.signatures ?? '-',
      ok ? 'ok' : s?.finding ? `FINDING: ${s.finding.slice(0, 70)} (${path.relative(REPO, s.file)})` : `engine failed (${r.signal ?? `exit ${r.code}`})`]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((row) => String(row[c]).length)));
  for (const row of rows) process.stdout.write(`${row.map((x, c) => (c === row.length - 1 ? String(x) : String(x).padEnd(w[c]))).join('  ')}\n`);
  process.stdout.write(`fuzz: ${runs} runs in ${secs.toFixed(1)} s (${Math.round(runs / Math.max(secs, 0.001))}/s), ` +
    `${bad === 0 ? 'no findings' : `${bad} target(s) failed; replay with: npm run fuzz -- --replay test/fuzz/findings/*.json`}\n`);
  process.exit(bad === 0 ? 0 : 1);
}

main().catch((e) => die(e?.stack ?? String(e), 2));
