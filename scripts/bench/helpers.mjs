// The network helpers the benchmark compares, and how to start each.
//
// Inside the fake host every helper runs as uid 1000 without capabilities
// there (an `unshare -U --map-user=1000` wrapper, as in the integration
// tests), like an ordinary user on a real machine.
//
// Each entry gives:
//   start(guest)   argv that starts the helper with a namespace in which the
//                  long-lived command `guest` runs; the helper must be the
//                  process that argv starts (exec chains are fine) and the
//                  guest one of its descendants.
//   startup()      argv that starts the helper with the network configured,
//                  runs `true` in it and exits (the start-up metric).
//   gateway        the address in the namespace that reaches the host's
//                  loopback.
//   installed()    whether it can run here.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const AS_USER = ['unshare', '-U', '--map-user=1000', '--map-group=1000', '--'];

/** Absolute path of an executable found on PATH (or the path itself), else undefined. */
export function which(cmd) {
  const dirs = cmd.includes('/') ? [''] : (process.env.PATH ?? '').split(delimiter);
  for (const d of dirs) {
    const p = d ? join(d, cmd) : cmd;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

const readable = (p) => {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

/** A helper with pasta's command mode: `HELPER --config-net -- COMMAND`. */
function commandMode(name, cmd, extraCheck = () => true) {
  return {
    name,
    command: cmd.join(' '),
    gateway: '192.0.2.1',
    start: (guest) => [...cmd, '--config-net', '-q', '--', ...guest],
    startup: () => [...cmd, '--config-net', '-q', '--', 'true'],
    installed: () => which(cmd[0]) !== undefined && extraCheck(),
  };
}

// slirp4netns has no command mode: a namespace holder made with `unshare -rn`
// (in the same user namespace as slirp4netns, as a rootless user does it)
// runs the command, and slirp4netns attaches to it. 10.0.2.2 is its gateway,
// which reaches the host's loopback (the default, --disable-host-loopback
// not given).
const SLIRP = 'slirp4netns --configure --mtu=65520 --enable-ipv6';
// slirp4netns must not look at the holder before `unshare` has made its
// namespaces and written its uid map (or it joins the wrong user namespace):
// wait for that, at most 5 s.
const AWAIT_HOLDER = `i=0; until [ "$(readlink /proc/$h/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
  grep -q . /proc/$h/uid_map 2>/dev/null || [ $i -ge 1000 ]; do i=$((i+1)); sleep 0.005; done`;
const slirp = {
  name: 'slirp4netns',
  command: SLIRP,
  gateway: '10.0.2.2',
  start: (guest) => ['sh', '-c', `unshare -rn ${guest.join(' ')} & h=$!; ${AWAIT_HOLDER}; exec ${SLIRP} "$h" tap0 >/dev/null`],
  // time until a command in the namespace sees its default route, plus
  // stopping slirp4netns: the nearest thing to `--config-net -- true`
  startup: () => [
    'sh',
    '-c',
    `unshare -rn sh -c 'until ip -4 route show default | grep -q .; do sleep 0.005; done' & h=$!; ${AWAIT_HOLDER}
     ${SLIRP} "$h" tap0 >/dev/null 2>&1 & s=$!
     wait "$h"; st=$?; kill "$s"; wait "$s" 2>/dev/null; exit "$st"`,
  ],
  installed: () => which('slirp4netns') !== undefined,
};

/**
 * All helpers, in table order. pastaTs is the pasta-ts command line as words;
 * pastaTsB, if given, a second pasta-ts build shown as pasta-ts-b (an A/B
 * comparison in one interleaved run; never counted as a peer).
 */
export function helperTable(pastaTs, pastaTsB) {
  // the default `node <repo>/bin/pasta-ts.js` needs the compiled dist/
  const script = pastaTs.find((w) => w.endsWith('.js'));
  return [
    commandMode('pasta', ['pasta']),
    slirp,
    commandMode('pasta-ts', pastaTs, () => !script || readable(script.replace(/bin\/pasta-ts\.js$/, 'dist/bundle/main.js'))),
    ...(pastaTsB ? [commandMode('pasta-ts-b', pastaTsB)] : []),
  ];
}
