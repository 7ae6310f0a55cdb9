// System calls that Node does not offer, through ffi-rs: libc directly where
// its calling convention fits, and the project's own libpts shim
// (native-shims/libpts.c) where it does not.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType, load, open } from 'ffi-rs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const NATIVE_DIR = path.resolve(here, '../../native-shims/build');
export const LAUNCHER = path.join(NATIVE_DIR, 'pasta-ts-launch');

let opened = false;
function ensureOpen(): void {
  if (opened) return;
  open({ library: 'libc', path: '' });
  open({ library: 'pts', path: path.join(NATIVE_DIR, 'libpts.so') });
  opened = true;
}

function call(library: string, funcName: string, paramsType: DataType[], paramsValue: unknown[]): number {
  ensureOpen();
  return load({ library, funcName, retType: DataType.I32, paramsType, paramsValue }) as number;
}

/**
 * Replaces this process with another program (argv[0] included in args),
 * passing on the standard descriptors and those in keep. Returns only on failure.
 */
export function execv(file: string, args: readonly string[], keep: readonly number[] = []): number {
  const blob = Buffer.from(args.map((a) => `${a}\0`).join(''));
  return call('pts', 'pts_execv', [DataType.String, DataType.U8Array, DataType.I32, DataType.I32, DataType.I32Array, DataType.I32],
    [file, blob, blob.length, args.length, keep.length > 0 ? [...keep] : [0], keep.length]);
}

/** A connected, non-blocking ping socket (ICMP or ICMPv6 echo), or -errno. */
export function pingSocket(family: 4 | 6, addr: Uint8Array): number {
  return call('pts', 'pts_ping_socket', [DataType.I32, DataType.U8Array], [family === 6 ? 10 : 2, Buffer.from(addr)]);
}

export function closeFd(fd: number): number {
  return call('pts', 'pts_close', [DataType.I32], [fd]);
}

/** A blocking NETLINK_ROUTE socket in this thread's network namespace, or -1. */
export function netlinkSocket(): number {
  const AF_NETLINK = 16;
  const SOCK_RAW = 3;
  const SOCK_CLOEXEC = 0o2000000;
  return call('libc', 'socket', [DataType.I32, DataType.I32, DataType.I32], [AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0]);
}

export function dup2(from: number, to: number): number {
  return call('libc', 'dup2', [DataType.I32, DataType.I32], [from, to]);
}

/** Asks the namespace agent for a socket bound there ('tcp' also listening): fd or -errno. */
export function agentBind(agent: number, kind: 'tcp' | 'udp', family: 4 | 6, addr: Uint8Array, port: number): number {
  return call('pts', 'pts_agent_bind', [DataType.I32, DataType.I32, DataType.I32, DataType.U8Array, DataType.I32],
    [agent, kind === 'tcp' ? 1 : 2, family === 6 ? 10 : 2, Buffer.from(addr), port]);
}

/** Drops all capabilities of the calling thread, and with nnp sets no_new_privs; 0 or -errno. */
export function dropCapabilities(nnp: boolean): number {
  return call('pts', 'pts_drop_caps', [DataType.I32], [nnp ? 1 : 0]);
}

export const TCP_CLOSE = 7;

/** The kernel's TCP state of a socket descriptor (TCP_CLOSE after a reset), or -errno. */
export function tcpState(fd: number): number {
  return call('pts', 'pts_tcp_state', [DataType.I32], [fd]);
}
