// Harness of the QEMU end-to-end test (qemu.test.ts): a real Linux guest,
// booted by QEMU inside the fake host (harness.ts), gets its network from the
// helper under test in passt mode over QEMU's stream netdev (a UNIX socket,
// frames with a 4-byte length).
//
// The helper is the command line in PASST_TS_BIN (split on spaces), default
// `node <repo>/bin/passt-ts.js`. Validate the test against Debian's passt:
//   PASST_TS_BIN=passt npx vitest run test/integration/qemu.test.ts
//
// The guest (Debian's kernel, a busybox initramfs, /init from scripts/guest)
// is built by scripts/build-guest.sh into PASTA_TS_GUEST_DIR (default
// /var/tmp/pasta-ts-guest) and reused while its inputs are unchanged. Its
// /init reads its steps from the kernel command line (pts.NAME=VALUE) and
// prints "@@ LABEL ok|fail k=v" lines on the serial console, which the fake
// host script below copies to its stdout, next to its own tagged lines.
//
// QEMU runs with TCG unless real hardware KVM (kvm_intel/kvm_amd) is loaded
// and /dev/kvm is usable by the fake host's user; PASTA_TS_QEMU_ACCEL=tcg|kvm
// forces one.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, REPO, fakeHost, type FakeHostResult } from './harness.js';

export const GUEST_DIR = process.env.PASTA_TS_GUEST_DIR?.trim() || '/var/tmp/pasta-ts-guest';
const BUILD = join(REPO, 'scripts/build-guest.sh');
/** The fake host's unprivileged helper user (as in harness.ts). */
const AS_USER = 'unshare -U --map-user=1000 --map-group=1000 --';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** The passt-mode helper under test as a command string. */
export function passtCommand(): string {
  const raw = process.env.PASST_TS_BIN?.trim() || `${process.execPath} ${join(REPO, 'bin/passt-ts.js')}`;
  return raw.split(/\s+/).join(' ');
}

/** True when the helper under test is not pasta-ts's own (PASST_TS_BIN given). */
export const externalHelper = () => !!process.env.PASST_TS_BIN?.trim();

/** Whether `<helper> --help` mentions an option. */
export function helperMentions(option: string): boolean {
  const [cmd, ...args] = passtCommand().split(' ');
  const r = spawnSync(cmd, [...args, '--help'], { encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.includes(option);
}

// ---- the guest image ----------------------------------------------------------------

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** 'pvh': uncompressed vmlinux loaded directly; 'bzimage': through the BIOS. */
  kind: string;
  kernelVersion: string;
  buildMs: number;
  buildLog: string;
}

export type GuestStatus = { skip: true; reason: string } | { skip: false; image: GuestImage };

let status: GuestStatus | undefined;

/**
 * Build (or reuse) the guest with scripts/build-guest.sh. Skips only when
 * packages are missing and this process is not root (as root the script
 * installs them); any other failure throws.
 */
export function guestImage(): GuestStatus {
  if (status) return status;
  const t0 = Date.now();
  const r = spawnSync('bash', [BUILD, GUEST_DIR], {
    encoding: 'utf8',
    timeout: 20 * 60_000,
    env: { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` },
  });
  const buildMs = Date.now() - t0;
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.status === 3 && !isRoot()) {
    status = { skip: true, reason: `guest image cannot be built as non-root: ${log.replace(/\s*\n\s*/g, '; ')}` };
    console.warn(`[qemu] SKIPPED: ${status.reason}`);
    return status;
  }
  if (r.status !== 0) {
    throw new Error(`scripts/build-guest.sh failed (status ${r.status ?? r.signal ?? r.error?.message}):\n${log}`);
  }
  const env = Object.fromEntries(
    readFileSync(join(GUEST_DIR, 'guest.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const image: GuestImage = {
    dir: GUEST_DIR,
    kernel: join(GUEST_DIR, 'kernel'),
    initrd: join(GUEST_DIR, 'initrd.cpio.gz'),
    kind: env.KERNEL_KIND ?? '?',
    kernelVersion: env.KERNEL_VERSION ?? '?',
    buildMs,
    buildLog: log,
  };
  for (const f of [image.kernel, image.initrd]) {
    if (!existsSync(f)) throw new Error(`scripts/build-guest.sh left no ${f}:\n${log}`);
  }
  console.log(`@@ guest-build ok ms=${buildMs} kind=${image.kind} kernel=${image.kernelVersion}`);
  status = { skip: false, image };
  return status;
}

/** sha256 of the test data stream (fixtures/net.mjs `hash`). */
export function dataSha(bytes: number, seed: string): string {
  const r = spawnSync(process.execPath, [join(FIXTURES, 'net.mjs'), 'hash', '--bytes', String(bytes), '--seed', seed], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`net.mjs hash failed: ${r.stderr}`);
  return r.stdout.trim();
}

// ---- one guest run ------------------------------------------------------------------------

export interface GuestRunOptions {
  /** Options of the helper after `-f -1 -s SOCKET`. */
  helperArgs: string[];
  /** Guest parameters (kernel command line words pts.NAME=VALUE). */
  params: Record<string, string | number>;
  /** Bytes the upstream data sources send, per family (seeds "dl4", "dl6"). */
  bytes4?: number;
  bytes6?: number;
  /** Host port forwarded to the guest's pts.fwdport; the host connects once the guest says fwd-ready. */
  fwdHostPort?: number;
  /** QEMU is killed after this many seconds (default 240). */
  qemuTimeoutS?: number;
  /** The whole fake host is killed after this (default qemuTimeoutS + 60 s). */
  timeoutMs?: number;
}

// Runs in the fake host (see harness.ts). Servers: netns "up" has the data
// sink (9000) and sources (9001) and a UDP echo (9002) on 203.0.113.5 and
// 2001:db8::5; the host's loopback has a banner (9100) and a DNS server (53,
// the fake host's resolv.conf names 127.0.0.1). Then the helper, then QEMU,
// whose serial console goes to $T/console.raw; when the guest prints
// fwd-ready the host fetches the file it serves through the forwarded port.
const SCRIPT = String.raw`
. "$LIB"
serve sink up serve-sink --tcp 203.0.113.5:9000 --tcp '[2001:db8::5]:9000' || exit 1
serve src4 up serve-source --tcp 203.0.113.5:9001 --bytes "$BYTES4" --seed dl4 || exit 1
serve src6 up serve-source --tcp '[2001:db8::5]:9001' --bytes "$BYTES6" --seed dl6 || exit 1
serve echo up udp-echo --udp 203.0.113.5:9002 --udp '[2001:db8::5]:9002' || exit 1
serve banner serve-banner --tcp 127.0.0.1:9100 --text host-loopback || exit 1
serve dns dns-server --udp 127.0.0.1:53 || exit 1

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

accel=tcg cpu=
case "$PASTA_TS_QEMU_ACCEL" in
  kvm) accel=kvm cpu="-cpu host" ;;
  tcg) ;;
  *) if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
       accel=kvm cpu="-cpu host"
     fi ;;
esac
echo "@@ accel ok accel=$accel"

t=$(now_ms)
$PASST -f -1 -s "$T/passt.sock" $HELPER_ARGS >"$T/helper.log" 2>&1 &
hp=$!
i=0
while [ ! -S "$T/passt.sock" ]; do
  i=$((i + 1))
  if [ $i -gt 200 ] || ! kill -0 $hp 2>/dev/null; then
    echo "@@ helper-start fail ms=$(( $(now_ms) - t ))"
    tail -n 100 "$T/helper.log" | tag helper-log
    exit 1
  fi
  sleep 0.05
done
echo "@@ helper-start ok ms=$(( $(now_ms) - t ))"

t0=$(now_ms)
timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel $accel $cpu -m 256 -smp 1 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
  -netdev "stream,id=n0,server=off,addr.type=unix,addr.path=$T/passt.sock" \
  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile= \
  </dev/null >"$T/console.raw" 2>"$T/qemu.err" &
qp=$!
booted= fwd=
while kill -0 $qp 2>/dev/null; do
  if [ -z "$booted" ] && grep -q '^@@ boot ' "$T/console.raw"; then
    booted=1
    echo "@@ time-boot ok ms=$(( $(now_ms) - t0 ))"
  fi
  if [ -z "$fwd" ] && [ -n "$FWD_PORT" ] && grep -q '^@@ fwd-ready ' "$T/console.raw"; then
    fwd=1
    net client-recv --label fwd-host --tcp "127.0.0.1:$FWD_PORT" --bytes "$BYTES4" --seed dl4 --timeout 60000
  fi
  sleep 0.1
done
wait $qp
qrc=$?
echo "@@ qemu rc=$qrc ms=$(( $(now_ms) - t0 ))"

# with -1 the helper quits once QEMU has gone
t=$(now_ms)
i=0
while kill -0 $hp 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $hp 2>/dev/null; then
  echo "@@ helper-exit fail still-running-after-ms=$(( $(now_ms) - t ))"
  kill $hp
else
  wait $hp
  echo "@@ helper-exit ok rc=$? ms=$(( $(now_ms) - t ))"
fi

tr -d '\r' <"$T/console.raw"
tag qemu-err <"$T/qemu.err"
grep -v 'Failed to send .* to syslog' "$T/helper.log" | tail -n 100 | tag helper-log
true
`;

/** Boot the guest once in a fresh fake host with the helper under test. */
export function runGuest(image: GuestImage, o: GuestRunOptions): Promise<FakeHostResult> {
  const qemuTimeoutS = o.qemuTimeoutS ?? 240;
  const params = Object.entries(o.params)
    .map(([k, v]) => `pts.${k}=${v}`)
    .join(' ');
  const append = `console=ttyS0 loglevel=1 quiet panic=-1 ${params}`;
  return fakeHost(SCRIPT, {
    timeoutMs: o.timeoutMs ?? (qemuTimeoutS + 60) * 1000,
    env: {
      PASST: `${AS_USER} ${passtCommand()}`,
      HELPER_ARGS: o.helperArgs.join(' '),
      KERNEL: image.kernel,
      INITRD: image.initrd,
      APPEND: append,
      BYTES4: String(o.bytes4 ?? 0),
      BYTES6: String(o.bytes6 ?? 0),
      FWD_PORT: o.fwdHostPort ? String(o.fwdHostPort) : '',
      QEMU_TIMEOUT: String(qemuTimeoutS),
    },
  });
}
