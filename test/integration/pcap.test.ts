// Issue 4: -p/--pcap FILE records every frame crossing the tap, readable by tcpdump.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, fakeHost, requirements, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('packet capture', () => {
  let r: FakeHostResult;
  let text = '';
  const dir = mkdtempSync('/tmp/pasta-ts-pcap-');
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      $HELPER --config-net -p "$T/cap.pcap" -t none -u none -T none -U none -- ping -c 2 -W 2 203.0.113.5 >/dev/null
      result pcap base64 -w0 "$T/cap.pcap"
      true`,
      { timeoutMs: 60_000 },
    );
    // tcpdump runs outside the fake host: in a user namespace it cannot drop privileges
    const file = join(dir, 'cap.pcap');
    writeFileSync(file, Buffer.from(captured(r.stdout, 'pcap'), 'base64'));
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    text = (await execa('tcpdump', ['-n', '-r', file], { reject: false })).stdout;
  }, 70_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tcpdump reads the file and sees both directions of the ping', () => {
    expect(text.match(/192\.0\.2\.2 > 203\.0\.113\.5: ICMP echo request/g)?.length, `${text}\n${dump(r)}`).toBe(2);
    expect(text.match(/203\.0\.113\.5 > 192\.0\.2\.2: ICMP echo reply/g)?.length, text).toBe(2);
    expect(text).toMatch(/ARP, Reply 192\.0\.2\.1 is-at 9a:55:9a:55:9a:55/);
  });
});
