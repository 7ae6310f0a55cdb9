// Runs scripts/podman/setup.sh once before the e2e files (as root only;
// E2E_SETUP=0 skips it). The script is idempotent: about 1 s once done, about
// 40 s the first time on a machine (apt-get, debootstrap of Debian 13).
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, REPO } from './harness.js';

/** Run directories of interrupted runs (the harness removes its own): older than 2 h. */
function removeStaleRuns(): void {
  const runs = join(CACHE, 'runs');
  let names: string[] = [];
  try {
    names = readdirSync(runs);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(runs, n);
    try {
      if (Date.now() - statSync(p).mtimeMs > 2 * 3600_000) rmSync(p, { recursive: true, force: true });
    } catch {
      /* another run's, or gone */
    }
  }
}

export default function setup(): void {
  if (process.env.E2E_SETUP === '0' || process.platform !== 'linux' || process.getuid?.() !== 0) return;
  const t0 = Date.now();
  const r = spawnSync('bash', [join(REPO, 'scripts/podman/setup.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stdout.write(r.stdout.replace(/^(?=.)/gm, '[e2e setup] '));
  if (r.status !== 0) {
    throw new Error(`scripts/podman/setup.sh failed (exit ${r.status}):\n${r.stderr}`);
  }
  removeStaleRuns();
  console.log(`[e2e setup] ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
