// System calls that Node does not offer, through ffi-rs: libc directly where
// its calling convention fits, and the project's own libpts shim
// (native-shims/libpts.c) where it does not.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DataType } from 'ffi-rs';
import { NATIVE_DIR } from './native.js';

export { LAUNCHER } from './native.js';

type Ffi = typeof import('ffi-rs');
let ffiModule: Ffi | undefined;

/**
 * Loads ffi-rs on first use. Its loader asks process.report.getReport()
 * whether the C library is glibc or musl: a full diagnostic report that reads
 * /proc and lists the network interfaces, 5 to 10 ms of every start. The
 * dynamic loader's file answers the same question.
 */
function ffi(): Ffi {
  if (ffiModule) return ffiModule;
  const report = process.report as unknown as { getReport: () => object };
  const getReport = report.getReport;
  const musl = fs.existsSync(`/lib/ld-musl-${process.arch === 'x64' ? 'x86_64' : process.arch}.so.1`);
  report.getReport = () => ({ header: musl ? {} : { glibcVersionRuntime: 'glibc' } });
  try {
    ffiModule = createRequire(import.meta.url)('ffi-rs') as Ffi;
  } finally {
    report.getReport = getReport;
  }
  return ffiModule;
}

/** ffi-rs's type tags (an enum of numbers, read once ffi-rs is loaded). */
const T = {
  get I32(): DataType { return ffi().DataType.I32; },
  get String(): DataType { return ffi().DataType.String; },
  get U8Array(): DataType { return ffi().DataType.U8Array; },
  get I32Array(): DataType { return ffi().DataType.I32Array; },
};

let opened = false;
function ensureOpen(): void {
  if (opened) return;
  const { open } = ffi();
  open({ library: 'libc', path: '' });
  open({ library: 'pts', path: path.join(NATIVE_DIR, 'libpts.so') });
  opened = true;
}

function call(library: string, funcName: string, paramsType: DataType[], paramsValue: unknown[]): number {
  ensureOpen();
  return ffi().load({ library, funcName, retType: T.I32, paramsType, paramsValue }) as number;
}

/**
 * Replaces this process with another program (argv[0] included in args),
 * passing on the standard descriptors and those in keep. Returns only on failure.
 */
export function execv(file: string, args: readonly string[], keep: readonly number[] = []): number {
  const blob = Buffer.from(args.map((a) => `${a}\0`).join(''));
  return call('pts', 'pts_execv', [T.String, T.U8Array, T.I32, T.I32, T.I32Array, T.I32],
    [file, blob, blob.length, args.length, keep.length > 0 ? [...keep] : [0], keep.length]);
}

/** A connected, non-blocking ping socket (ICMP or ICMPv6 echo), or -errno. */
export function pingSocket(family: 4 | 6, addr: Uint8Array): number {
  return call('pts', 'pts_ping_socket', [T.I32, T.U8Array], [family === 6 ? 10 : 2, Buffer.from(addr)]);
}

export function closeFd(fd: number): number {
  return call('pts', 'pts_close', [T.I32], [fd]);
}

const NETLINK_ROUTE = 0;
const NETLINK_SOCK_DIAG = 4;

/** A blocking netlink socket (NETLINK_ROUTE unless told) in this thread's network namespace, or -1. */
export function netlinkSocket(protocol = NETLINK_ROUTE): number {
  const AF_NETLINK = 16;
  const SOCK_RAW = 3;
  const SOCK_CLOEXEC = 0o2000000;
  return call('libc', 'socket', [T.I32, T.I32, T.I32], [AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol]);
}

/** A blocking NETLINK_SOCK_DIAG socket in this thread's network namespace, or -1. */
export function sockDiagSocket(): number {
  return netlinkSocket(NETLINK_SOCK_DIAG);
}

export function dup2(from: number, to: number): number {
  return call('libc', 'dup2', [T.I32, T.I32], [from, to]);
}

/** Asks the namespace agent for a socket bound there ('tcp' also listening): fd or -errno. */
export function agentBind(agent: number, kind: 'tcp' | 'udp', family: 4 | 6, addr: Uint8Array, port: number): number {
  return call('pts', 'pts_agent_bind', [T.I32, T.I32, T.I32, T.U8Array, T.I32],
    [agent, kind === 'tcp' ? 1 : 2, family === 6 ? 10 : 2, Buffer.from(addr), port]);
}

/** The request kind that asks the namespace agent for a NETLINK_SOCK_DIAG socket (launch.c) */
const AGENT_SOCK_DIAG = 100;

/** A NETLINK_SOCK_DIAG socket made by the namespace agent (so, in the namespace): fd or -errno. */
export function agentSockDiag(agent: number): number {
  return call('pts', 'pts_agent_bind', [T.I32, T.I32, T.I32, T.U8Array, T.I32], [agent, AGENT_SOCK_DIAG, 0, Buffer.alloc(16), 0]);
}

/** Drops all capabilities of the calling thread, and with nnp sets no_new_privs; 0 or -errno. */
export function dropCapabilities(nnp: boolean): number {
  return call('pts', 'pts_drop_caps', [T.I32], [nnp ? 1 : 0]);
}

export const TCP_CLOSE = 7;

/** The kernel's TCP state of a socket descriptor (TCP_CLOSE after a reset), or -errno. */
export function tcpState(fd: number): number {
  return call('pts', 'pts_tcp_state', [T.I32], [fd]);
}

/** A socket pair for the launcher's --send-fd: [ours (close-on-exec), the launcher's (inheritable)], or -errno. */
export function nsSocketPair(): [number, number] | number {
  const r = call('pts', 'pts_socketpair', [], []);
  return r < 0 ? r : [r & 0xffff, r >>> 16];
}

/**
 * Receives the namespace handles the launcher sent with --send-fd: the same
 * six numbers as PASTA_TS_NS_FDS (TAP, NETNS, NETLINK, IFINDEX, AGENT,
 * AGENTPID), or -errno.
 */
export function recvNsHandles(sock: number): number[] | number {
  const rc = call('pts', 'pts_recv_ns', [T.I32], [sock]);
  if (rc < 0) return rc;
  return [0, 1, 2, 3, 4, 5].map((i) => call('pts', 'pts_ns_received', [T.I32], [i]));
}

/** Starts a new session (a daemon leaves its caller's terminal and process group): the session ID or -1. */
export function setsid(): number {
  return call('libc', 'setsid', [], []);
}
