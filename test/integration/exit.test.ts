// Issue 3: the helper exits with its command's status (128 + signal number if
// the command was killed by a signal), and refuses bad options with a
// non-zero status and a message naming the option or value, without running
// the command.
import { beforeAll, describe, expect, it } from 'vitest';
import { captured, dump, exitStatus, fakeHost, requirements, type FakeHostResult } from './harness.js';

const req = requirements();

describe.skipIf(req.skip)('exit status and option errors', () => {
  let r: FakeHostResult;
  beforeAll(async () => {
    r = await fakeHost(
      `. "$LIB"
      result exit7 $HELPER --config-net -- sh -c 'exit 7'
      result exit0 $HELPER --config-net -- sh -c 'exit 0'
      result sigterm $HELPER --config-net -- sh -c 'kill -TERM $$'
      result sigkill $HELPER --config-net -- sh -c 'kill -KILL $$'
      result mtu $HELPER --config-net --mtu 70000 -- sh -c 'echo COMMAND-RAN'
      result port $HELPER --config-net -t 70000 -- sh -c 'echo COMMAND-RAN'
      result bogus $HELPER --config-net --bogus -- sh -c 'echo COMMAND-RAN'
      true`,
      { timeoutMs: 60_000 },
    );
  }, 70_000);

  const status = (name: string) => {
    const rc = exitStatus(r.stdout, name);
    expect(rc, `no exit status for ${name}\n${dump(r)}`).toBeDefined();
    return rc!;
  };

  it("`-- sh -c 'exit 7'` exits 7, `exit 0` exits 0", () => {
    expect(status('exit7'), dump(r)).toBe(7);
    expect(status('exit0'), dump(r)).toBe(0);
  });

  it('a command killed by SIGTERM gives 143 (128 + 15)', () => {
    expect(status('sigterm'), dump(r)).toBe(143);
  });

  it('a command killed by SIGKILL gives 137 (128 + 9)', () => {
    expect(status('sigkill'), dump(r)).toBe(137);
  });

  for (const [name, opt, mention] of [
    ['mtu', '--mtu 70000', /70000/],
    ['port', '-t 70000', /70000/],
    ['bogus', '--bogus', /bogus/],
  ] as const) {
    it(`${opt} exits non-zero with a message naming it, without running the command`, () => {
      const out = captured(r.stdout, name);
      const err = captured(r.stdout, name, 'err');
      expect(status(name), `${opt} was accepted\n${dump(r)}`).not.toBe(0);
      expect(`${err}\n${out}`).toMatch(mention);
      expect(out).not.toContain('COMMAND-RAN');
    });
  }
});
