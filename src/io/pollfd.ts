// Node's public net.Socket refuses character devices and datagram sockets,
// but its pipe handle polls any file descriptor on the event loop and reads
// from it with read(): one frame per read on a tap, one datagram per read on
// a ping socket.
import net from 'node:net';

interface PipeHandle {
  open(fd: number): number;
}

/** A readable stream on fd, driven by libuv's loop (no threadpool). */
export function fdReader(fd: number, opts: Omit<net.SocketConstructorOpts, 'fd' | 'handle'> = {}): net.Socket {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { Pipe, constants } = (process as any).binding('pipe_wrap');
  const handle: PipeHandle = new Pipe(constants.SOCKET);
  const rc = handle.open(fd);
  if (rc !== 0) throw new Error(`cannot poll fd ${fd}: error ${rc}`);
  return new net.Socket({ ...opts, handle: handle as never, readable: true, writable: false } as net.SocketConstructorOpts);
}
