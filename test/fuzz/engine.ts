// The fuzzing engine: one target, mutation of a pool of inputs for a bounded
// time, with behaviour signatures as feedback (an input whose target-reported
// behaviour is new joins the pool). There is no code-coverage instrumentation:
// Jazzer.js, the coverage-guided fuzzer on npm, ships a native addon that
// needs glibc 2.38 (Debian 12 has 2.36), and its older releases download or
// build libFuzzer from outside the registry. See test/fuzz/README.md.
//
//   node .fuzz-build/test/fuzz/engine.js --target NAME [--seconds S] [--seed N]
//        [--corpus DIR] [--findings DIR] [--max-runs N]
//   node .fuzz-build/test/fuzz/engine.js --replay FILE...     (findings or corpus files)
//   node .fuzz-build/test/fuzz/engine.js --write-corpus DIR   (seed files from the wire writers)
//
// The last stdout line is "@@fuzz {json}" with the run's figures.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Rng, rng } from '../unit/helpers/rng.js';
import type { FuzzTarget } from './check.js';
import { mutateBytes } from './mutate.js';
import { TARGETS, targetByName } from './targets/index.js';

interface Args {
  target?: string;
  seconds: number;
  seed: number;
  corpus?: string;
  findings: string;
  maxRuns: number;
  replay: string[];
  writeCorpus?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 10, seed: (Date.now() ^ (process.pid << 16)) >>> 0, findings: 'test/fuzz/findings', maxRuns: Infinity, replay: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--target') a.target = v();
    else if (k === '--seconds') a.seconds = Number(v());
    else if (k === '--seed') a.seed = Number(v()) >>> 0;
    else if (k === '--corpus') a.corpus = v();
    else if (k === '--findings') a.findings = v();
    else if (k === '--max-runs') a.maxRuns = Number(v());
    else if (k === '--write-corpus') a.writeCorpus = v();
    else if (k === '--replay') a.replay.push(...argv.slice(i + 1)), (i = argv.length);
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** A saved finding: the failing input and, for stateful targets, the inputs before it since the last reset. */
export interface FindingFile {
  target: string;
  message: string;
  stack?: string;
  seed: number;
  /** hex */
  input: string;
  /** hex, oldest first; replayed before input */
  history: string[];
  /** whether input alone, on a fresh target, fails too */
  alone: boolean;
  /** the stateful target's configuration (FuzzTarget.config) */
  config?: number;
}

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0];

/** Runs history then input on a freshly reset target; resolves with the error thrown, if any. */
export async function replay(t: FuzzTarget, input: Buffer, history: Buffer[] = [], config?: number): Promise<unknown> {
  t.reset?.(config);
  try {
    for (const h of history) {
      t.run(h);
      if (t.settle) await t.settle();
    }
    t.run(input);
    if (t.settle) await t.settle();
  } catch (e) {
    return e ?? new Error('undefined thrown');
  }
  return undefined;
}

/** Shrinks a failing stateless input while it still fails with the same first message line. */
async function minimize(t: FuzzTarget, input: Buffer, msg: string, deadline: number, config?: number): Promise<Buffer> {
  let best = input;
  const fails = async (b: Buffer): Promise<boolean> => {
    const e = await replay(t, b, [], config);
    return e !== undefined && firstLine(e) === msg;
  };
  for (let chunk = best.length >> 1; chunk >= 1 && Date.now() < deadline; chunk >>= 1) {
    for (let p = 0; p + chunk <= best.length && Date.now() < deadline;) {
      const cand = Buffer.concat([best.subarray(0, p), best.subarray(p + chunk)]);
      if (await fails(cand)) best = cand;
      else p += chunk;
    }
  }
  for (let p = 0; p < best.length && Date.now() < deadline; p++) {
    if (best[p] === 0) continue;
    const cand = Buffer.from(best);
    cand[p] = 0;
    if (await fails(cand)) best = cand;
  }
  return best;
}

interface Stats {
  target: string;
  seed: number;
  runs: number;
  seconds: number;
  execsPerSec: number;
  pool: number;
  signatures: number;
  findings: number;
  finding?: string;
  file?: string;
}

async function fuzz(t: FuzzTarget, a: Args): Promise<Stats> {
  const r: Rng = rng(a.seed);
  await t.setup?.();
  t.reset?.();
  const pool: Buffer[] = [];
  const sigs = new Map<string, number>();
  if (a.corpus) {
    const dir = path.join(a.corpus, t.name);
    if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir).sort()) pool.push(fs.readFileSync(path.join(dir, f)));
  }
  pool.push(...t.seeds());
  const seedCount = pool.length;
  const history: Buffer[] = [];
  let sinceReset = 0;
  let runs = 0;
  let finding: { error: unknown; input: Buffer } | undefined;
  const t0 = Date.now();
  const deadline = t0 + a.seconds * 1000;
  let asyncError: unknown;
  const onAsync = (e: unknown): void => {
    asyncError ??= e ?? new Error('undefined rejection');
  };
  process.on('uncaughtException', onAsync);
  process.on('unhandledRejection', onAsync);

  const runOne = (input: Buffer): boolean => {
    runs++;
    if (t.resetEvery && ++sinceReset > t.resetEvery) {
      t.reset!();
      sinceReset = 1;
      history.length = 0;
    }
    if (t.resetEvery) history.push(input);
    let sig: string | undefined;
    try {
      sig = t.run(input);
    } catch (e) {
      finding = { error: e, input };
      return false;
    }
    if (sig !== undefined) {
      const n = sigs.get(sig);
      sigs.set(sig, (n ?? 0) + 1);
      if (n === undefined && runs > seedCount) {
        if (pool.length < 4096) pool.push(input);
        else pool[seedCount + r.int(pool.length - seedCount)] = input;
      }
    }
    return true;
  };

  const settle = async (): Promise<boolean> => {
    try {
      if (t.settle) await t.settle();
      else await new Promise((res) => setImmediate(res));
    } catch (e) {
      finding = { error: e, input: history[history.length - 1] ?? Buffer.alloc(0) };
      return false;
    }
    if (asyncError !== undefined) {
      finding = { error: asyncError, input: history[history.length - 1] ?? Buffer.alloc(0) };
      return false;
    }
    return true;
  };

  // every seed first
  for (const s of pool.slice()) if (!runOne(s) || (t.yieldEvery && !(await settle()))) break;
  const every = t.yieldEvery ?? 512;
  outer: while (!finding && Date.now() < deadline && runs < a.maxRuns) {
    for (let i = 0; i < every; i++) {
      const base = pool[r.next() < 0.2 ? r.int(Math.min(pool.length, seedCount)) : r.int(pool.length)];
      const input = (t.mutate && r.next() < 0.6 ? t.mutate(base, r) : undefined) ?? mutateBytes(base, r, t.maxLen, pool);
      if (!runOne(input)) break outer;
    }
    if (!(await settle())) break;
  }
  const seconds = (Date.now() - t0) / 1000;
  const stats: Stats = {
    target: t.name, seed: a.seed, runs, seconds: Math.round(seconds * 10) / 10, execsPerSec: Math.round(runs / Math.max(seconds, 0.001)),
    pool: pool.length, signatures: sigs.size, findings: finding ? 1 : 0,
  };
  if (finding) {
    const msg = firstLine(finding.error);
    const stateful = t.resetEvery !== undefined;
    const hist = stateful ? history.slice(0, -1) : [];
    const config = t.config?.();
    const aloneErr = await replay(t, finding.input, [], config);
    const alone = aloneErr !== undefined && firstLine(aloneErr) === msg;
    const input = alone ? await minimize(t, finding.input, msg, Date.now() + 5000, config) : finding.input;
    const f: FindingFile = {
      target: t.name, message: String((finding.error as Error)?.message ?? finding.error), stack: (finding.error as Error)?.stack,
      seed: a.seed, input: input.toString('hex'), history: alone ? [] : hist.map((h) => h.toString('hex')), alone, config,
    };
    fs.mkdirSync(a.findings, { recursive: true });
    const file = path.join(a.findings, `${t.name}-${createHash('sha1').update(f.input).update(f.history.join()).digest('hex').slice(0, 10)}.json`);
    fs.writeFileSync(file, `${JSON.stringify(f, null, 2)}\n`);
    stats.finding = msg;
    stats.file = file;
    process.stdout.write(`FINDING in ${t.name}: ${msg}\n  input (${input.length} bytes${alone ? '' : `, after ${hist.length} earlier inputs`}): ${input.toString('hex').slice(0, 400)}\n  saved to ${file}\n${f.stack ?? ''}\n`);
  }
  process.off('uncaughtException', onAsync);
  process.off('unhandledRejection', onAsync);
  t.reset?.();
  await t.teardown?.();
  return stats;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.writeCorpus) {
    for (const t of TARGETS) {
      const dir = path.join(a.writeCorpus, t.name);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      t.seeds().forEach((s, i) => fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(2, '0')}.bin`), s));
    }
    return;
  }
  if (a.replay.length > 0) {
    let failed = 0;
    for (const file of a.replay) {
      const f = JSON.parse(fs.readFileSync(file, 'utf8')) as FindingFile;
      const t = targetByName(f.target);
      await t.setup?.();
      const e = await replay(t, Buffer.from(f.input, 'hex'), f.history.map((h) => Buffer.from(h, 'hex')), f.config);
      t.reset?.();
      await t.teardown?.();
      if (e !== undefined) failed++;
      process.stdout.write(`${file}: ${e === undefined ? 'passes' : `FAILS: ${firstLine(e)}`}\n`);
    }
    process.exitCode = failed > 0 ? 1 : 0;
    return;
  }
  if (!a.target) throw new Error(`--target needed: ${TARGETS.map((t) => t.name).join(', ')}`);
  const stats = await fuzz(targetByName(a.target), a);
  process.stdout.write(`@@fuzz ${JSON.stringify(stats)}\n`);
  process.exitCode = stats.findings > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('test', 'fuzz', 'engine.js'))) {
  main().then(
    () => process.exit(),
    (e) => {
      process.stderr.write(`fuzz engine: ${(e as Error)?.stack ?? e}\n`);
      process.exit(2);
    },
  );
}
