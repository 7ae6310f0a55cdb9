// Issue 7: a frame flood. Inside the helper's namespace, test/fixtures/flood.c
// (compiled here with cc) writes ~90 000 hostile frames to the namespace's
// interface with an AF_PACKET socket: every EtherType, every IPv4 protocol
// and IPv6 next header, TCP segments with every data offset and every option
// length byte, then random, truncated and corrupted frames of every size up
// to the largest the interface takes, bad header lengths, IPv6 extension
// header chains and fragments. Afterwards the helper must still be running
// and move 32 MiB intact, and with -d its drop counts appear at exit.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, captured, dump, fakeHost, requirements, tagged, taggedLines, type FakeHostResult } from './harness.js';

const req = requirements();
const BULK = 32 * 1024 * 1024;

/** "frames in N, out M; dropped: a=1 b=2" from the helper's exit line. */
function parseSummary(line: string): { framesIn: number; framesOut: number; drops: Map<string, number> } | undefined {
  const m = /frames in (\d+), out (\d+); dropped: (.*)$/.exec(line);
  if (!m) return undefined;
  const drops = new Map<string, number>();
  if (m[3].trim() !== 'none') for (const kv of m[3].trim().split(/\s+/)) drops.set(kv.split('=')[0], Number(kv.split('=')[1]));
  return { framesIn: Number(m[1]), framesOut: Number(m[2]), drops };
}

describe.skipIf(req.skip)('frame flood', () => {
  let r: FakeHostResult;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync('/tmp/pasta-ts-flood-');
    chmodSync(dir, 0o755);
    const cc = spawnSync('cc', ['-O2', '-Wall', '-o', join(dir, 'flood'), join(FIXTURES, 'flood.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cannot compile test/fixtures/flood.c (cc from gcc, scripts/setup-host.sh): ${cc.stderr || cc.error?.message}`);
    r = await fakeHost(
      `. "$LIB"
      serve sink up serve-sink --tcp 203.0.113.5:9000 || exit 1
      $HELPER -d --config-net -- sh -c '
        . "$LIB"
        dev=$(ip -o link show | awk -F": " "\\$2 != \\"lo\\" { sub(/@.*/, \\"\\", \\$2); print \\$2; exit }")
        echo "@@ dev $dev"
        "$FLOOD" "$dev" 7 20000 > "$T/flood.out" 2>&1
        echo "@@ flood rc=$?"
        tag flood-out < "$T/flood.out"
        # frames the kernel dropped before the helper read them (the tap queue was full)
        awk -v d="$dev:" "\\$1 == d { print \\"@@ netdev tx_packets=\\" \\$11 \\" tx_drop=\\" \\$13 }" /proc/net/dev
        net client-send --label after --tcp 203.0.113.5:9000 --bytes ${BULK} --seed flood --timeout 60000
      ' 2> "$T/helper.log"
      echo "@@ helper rc=$?"
      grep -E "frames in [0-9]+, out [0-9]+; dropped: " "$T/helper.log" | tail -n 1 | tag summary
      grep -iE "uncaught|TypeError|RangeError|ERROR" "$T/helper.log" | head -n 20 | tag helper-errors
      `,
      { timeoutMs: 240_000, env: { FLOOD: join(dir, 'flood') } },
    );
  }, 260_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the flood tool ran in the namespace and sent every pass', () => {
    expect(tagged(r.stdout, 'flood')?.status, dump(r)).toBe('rc=0');
    const out = captured(r.stdout, 'flood');
    const total = /flood sent=(\d+) failed=(\d+)/.exec(out);
    expect(total, out).not.toBeNull();
    expect(Number(total![1])).toBeGreaterThan(88_000);
    for (const pass of ['ethertype', 'proto', 'tcpopt', 'random']) expect(out).toMatch(new RegExp(`pass=${pass} sent=\\d+`));
    expect(out).toMatch(/pass=ethertype sent=65536/);
  });

  it('afterwards the helper still moves 32 MiB intact', () => {
    const t = tagged(r.stdout, 'after');
    expect(t, dump(r)).toBeDefined();
    expect(t!.status, `${t!.line}\n${dump(r)}`).toBe('ok');
    expect(Number(t!.fields.bytes)).toBe(BULK);
  });

  it('the helper exits 0, with no error logged', () => {
    expect(tagged(r.stdout, 'helper')?.status, dump(r)).toBe('rc=0');
    expect(taggedLines(r.stdout, 'helper-errors'), dump(r)).toEqual([]);
  });

  it('with -d the drop counts appear in the log at exit and account for the flood', () => {
    const line = taggedLines(r.stdout, 'summary')[0] ?? '';
    const s = parseSummary(line);
    expect(s, `no "dropped:" line at exit\n${dump(r)}`).toBeDefined();
    const sent = Number(/flood sent=(\d+)/.exec(captured(r.stdout, 'flood'))![1]);
    const nd = tagged(r.stdout, 'netdev');
    const txDrop = Number(nd?.fields.tx_drop ?? 0);
    console.log(`flood: ${sent} frames sent, ${txDrop} dropped by the tap queue; helper: ${line}`);
    // every frame that reached the tap was read and counted (plus the guest's own and the transfer's)
    expect(s!.framesIn, line).toBeGreaterThanOrEqual(sent - txDrop);
    const total = [...s!.drops.values()].reduce((a, b) => a + b, 0);
    expect(total, line).toBeGreaterThan(sent / 2);
    for (const reason of ['ethertype', 'ipv4_bad_header', 'ipv4_truncated', 'ipv4_fragment', 'ipv4_protocol', 'ipv6_truncated',
      'ipv6_fragment', 'ipv6_protocol', 'tcp_malformed', 'udp_malformed', 'arp_malformed']) {
      expect(s!.drops.get(reason) ?? 0, `${reason} in ${line}`).toBeGreaterThan(0);
    }
  });
});
