// fastio: the few system calls of pasta-ts's hot path, as a Node-API addon.
//
// Node's own handles cost microseconds per frame where the kernel needs one:
// a tap read through a stream handle delivers one frame per event-loop
// wakeup, fs.writeSync builds a context object per call, and dgram.send
// resolves its address string through dns.lookup and a nextTick before the
// datagram leaves. Here a readable descriptor is polled on libuv's own loop
// (uv_poll, no thread) and read until it is empty, calling back into
// JavaScript once per frame or datagram inside one callback scope per
// wakeup; writes and sends are one system call each.
//
// Exports (errors come back as negative errno values, never as exceptions,
// since an EAGAIN on the hot path is routine):
//   write(fd, buf, off, len)                  -> bytes written or -errno
//   udpSocket(v6, rcvbuf, sndbuf)             -> fd (bound to port 0) or -errno
//   sendTo4(fd, buf, off, len, addr, port[, seg])
//                                             -> bytes or -errno; addr a uint32
//   sendTo6(fd, buf, off, len, a, aoff, port[, seg])
//                                             -> bytes or -errno; a[aoff..+16)
//        seg < len: the bytes are datagrams of seg bytes each (the last may
//        be shorter), sent by one sendmsg() with UDP_SEGMENT: the kernel
//        builds one packet and cuts it up at the device (or the receiving
//        socket), instead of a route lookup and stack walk per datagram
//   close(fd)                                 -> 0 or -errno
//   netlinkSocket(protocol)                   -> fd of a blocking netlink socket (close-on-exec) or -errno:
//                                                loading ffi-rs for this one socket() was 4 ms of each start
//   tcpState(fd)                              -> the kernel's TCP state (TCP_INFO) or -errno
//   poll(fd, mode, buf, off, cap, addr, cb)   -> handle; until stop(handle):
//        mode 0 (read):  cb(n) for each read() of up to cap bytes into buf[off..]
//        mode 1 (recv4): cb(n, port) per datagram, its source address in
//                        addr[0..4); n > cap (the datagram's real length, its
//                        tail cut off) when it did not fit
//        mode 2 (recv6): likewise, the address in addr[0..16)
//        An end of file or a read error other than EAGAIN (mode 0) calls cb(0)
//        or cb(-errno) and stops the poll; in the recv modes an error calls
//        cb(-errno, -1) and (but for EBADF and ENOTSOCK) polling goes on.
//        mode 3 (stream): a connected or connecting TCP socket, polled for
//                        what pollEvents() set (at first: writable only).
//                        Writable: cb(0, 1). Readable: cb(n, 0) per read()
//                        until EAGAIN, n = 0 at end of file, -errno on an
//                        error, then cb(0, 2) after reads that got data (the
//                        burst is over); a short read is cb(n, 3) instead,
//                        the burst's last (no EAGAIN read follows it);
//                        nothing stops by itself.
//   pollEvents(handle, events)                stream mode: poll for events (1 readable, 2 writable; 0: nothing)
//   tcpConnect4(addr, port), tcpConnect6(a, aoff, port)
//                                             -> fd of a non-blocking TCP socket (TCP_NODELAY) whose
//                                                connect() is under way, or -errno
//   sockError(fd)                             -> SO_ERROR (0: connected) or -errno
//   shutdownWrite(fd)                         -> 0 or -errno (shutdown(SHUT_WR))
//   lingerZero(fd)                            -> 0 or -errno: close() then sends RST
//   timer(cb)                                 -> handle of a timer alone (no descriptor): cb(0, 4)
//                                                when it expires
//   pollTimer(handle, ms)                     (re)starts the one-shot timer of a stream-mode poll or
//                                             of timer(): cb(0, 4) after ms; 0 stops it. A libuv
//                                             timer costs no allocation when started again, where
//                                             Node's setTimeout makes objects and timer lists
//   stop(handle)                              stops polling and its timer (does not close fd);
//                                             a second stop does nothing
//   busyPoll(us)                              -> 0; after a poll's or timer's callback the loop polls
//                                             on (epoll_wait with timeout 0) for up to us microseconds,
//                                             adapting to the gaps between events (struct shared);
//                                             0 turns it off
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

/** reads per wakeup, so that one busy descriptor cannot starve the rest */
#define BURST 64

enum { MODE_READ = 0, MODE_RECV4 = 1, MODE_RECV6 = 2, MODE_STREAM = 3, MODE_TIMER = 4 };
/** the callback's second argument when a timer expires */
#define KIND_TIMER 4

/**
 * Every poll's callbacks run in one async context, made once per Node
 * environment: a resource object, a name and an async context per
 * connection cost more than the connection's first segments.
 */
struct shared {
  napi_ref resource;
  napi_async_context actx;
  /**
   * Busy polling: after an event the loop polls on without sleeping (an
   * active idle handle makes libuv's epoll_wait return at once) for window
   * ns. The window adapts, as the kernel's halt polling does, between 0 and
   * max_ns (0: off): an event that came after the window closed but within
   * max_ns doubles it (a longer spin would have caught it), one that came
   * later than max_ns halves it (sleeping was right), so sparse traffic
   * soon spins not at all and request/response traffic is caught spinning.
   */
  uv_idle_t idle;
  int idle_init;
  uint64_t max_ns;
  uint64_t window;
  uint64_t last;
  /**
   * Bulk data (a read of SPIN_BULK bytes or more) turns polling off for
   * SPIN_BULK_NS: a wakeup is a small share of moving 64 KiB, and the CPU
   * polling would take is what the programs at either end need.
   */
  int bulk;
  uint64_t bulk_at;
};

#define SPIN_START_NS 10000u /* the first window after none, doubled from there */
#define SPIN_BULK 16384
#define SPIN_BULK_NS 2000000u

static void on_idle(uv_idle_t *h) {
  struct shared *sh = h->data;
  if (uv_hrtime() - sh->last > sh->window) uv_idle_stop(h);
}

/** An event was handled: adapt the window to the gap since the last one, and poll on for it. */
static void spin_mark(struct shared *sh) {
  if (!sh->max_ns) return;
  uint64_t now = uv_hrtime(), gap = now - sh->last;
  sh->last = now;
  if (sh->bulk) {
    sh->bulk = 0;
    sh->bulk_at = now;
  }
  if (now - sh->bulk_at < SPIN_BULK_NS) {
    uv_idle_stop(&sh->idle);
    return;
  }
  if (gap > sh->max_ns) sh->window = sh->window / 2 < SPIN_START_NS ? 0 : sh->window / 2;
  else if (gap > sh->window) {
    uint64_t w = sh->window ? sh->window * 2 : SPIN_START_NS;
    sh->window = w < sh->max_ns ? w : sh->max_ns;
  }
  if (sh->window && !uv_is_active((uv_handle_t *)&sh->idle)) uv_idle_start(&sh->idle, on_idle);
}

struct poller {
  uv_poll_t poll;
  /** stream mode and timer(): a one-shot timer (pollTimer) */
  uv_timer_t timer;
  napi_env env;
  struct shared *shared;
  napi_ref cb;
  napi_ref buf;
  napi_ref addr;
  uint8_t *data;
  size_t cap;
  uint8_t *addrp;
  int fd;
  int mode;
  /** what is polled for now: UV_READABLE | UV_WRITABLE (stream mode changes it) */
  int events;
  int stopped;
  /** libuv handles not yet closed (the poll, the timer) */
  int open;
  /** freed once both libuv has closed its handles and JavaScript has let go of it */
  int closed;
  int finalized;
};

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return NULL;                                                                                \
  } while (0)

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static int arg_int(napi_env env, napi_value v, int64_t *out) { return napi_get_value_int64(env, v, out) == napi_ok; }

/** buf[off, off+len) of a Buffer argument, checked against its size. */
static uint8_t *arg_span(napi_env env, napi_value b, napi_value o, napi_value l, size_t *len) {
  void *p;
  size_t size;
  int64_t off, n;
  if (napi_get_buffer_info(env, b, &p, &size) != napi_ok || !arg_int(env, o, &off) || !arg_int(env, l, &n)) return NULL;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > size) return NULL;
  *len = (size_t)n;
  return (uint8_t *)p + off;
}

static napi_value bad_args(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  int64_t fd;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint8_t *p = argc == 4 && arg_int(env, a[0], &fd) ? arg_span(env, a[1], a[2], a[3], &len) : NULL;
  if (!p) return bad_args(env, "write(fd, buffer, offset, length)");
  ssize_t n = write((int)fd, p, len);
  return num(env, n < 0 ? -errno : (double)n);
}

static napi_value js_udp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  bool v6;
  int64_t rcv, snd;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 3 || napi_get_value_bool(env, a[0], &v6) != napi_ok || !arg_int(env, a[1], &rcv) || !arg_int(env, a[2], &snd))
    return bad_args(env, "udpSocket(v6, rcvbuf, sndbuf)");
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int one = 1, r = (int)rcv, s = (int)snd;
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (r > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r, sizeof r);
  if (s > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &s, sizeof s);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_family = v6 ? AF_INET6 : AF_INET;
  if (bind(fd, (struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  return num(env, fd);
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/** sendto(), or with seg < len one sendmsg() of datagrams of seg bytes (UDP_SEGMENT); bytes or -errno. */
static double send_dgrams(int fd, const uint8_t *p, size_t len, int64_t seg, const struct sockaddr *sa, socklen_t salen) {
  ssize_t n;
  if (seg <= 0 || (size_t)seg >= len) {
    n = sendto(fd, p, len, MSG_DONTWAIT, sa, salen);
  } else {
    union {
      char buf[CMSG_SPACE(sizeof(uint16_t))];
      struct cmsghdr align;
    } ctrl;
    memset(&ctrl, 0, sizeof ctrl);
    struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
    struct msghdr mh = {.msg_name = (void *)sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctrl.buf, .msg_controllen = sizeof ctrl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t s = (uint16_t)seg;
    memcpy(CMSG_DATA(c), &s, sizeof s);
    n = sendmsg(fd, &mh, MSG_DONTWAIT);
  }
  return n < 0 ? -errno : (double)n;
}

/** The optional segment size argument: 0 when absent; false if it is not a size. */
static int arg_seg(napi_env env, size_t argc, size_t at, napi_value *a, int64_t *seg) {
  *seg = 0;
  if (argc <= at) return 1;
  return arg_int(env, a[at], seg) && *seg >= 0 && *seg <= 0xffff;
}

static napi_value js_send_to4(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  int64_t fd, addr, port, seg;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint8_t *p = (argc == 6 || argc == 7) && arg_int(env, a[0], &fd) && arg_int(env, a[4], &addr) && arg_int(env, a[5], &port) &&
                       arg_seg(env, argc, 6, a, &seg)
                   ? arg_span(env, a[1], a[2], a[3], &len)
                   : NULL;
  if (!p) return bad_args(env, "sendTo4(fd, buffer, offset, length, addr, port[, segment])");
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl((uint32_t)addr)};
  return num(env, send_dgrams((int)fd, p, len, seg, (struct sockaddr *)&sin, sizeof sin));
}

static napi_value js_send_to6(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  int64_t fd, aoff, port, seg;
  size_t len, alen;
  void *ap;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint8_t *p = (argc == 7 || argc == 8) && arg_int(env, a[0], &fd) && arg_int(env, a[5], &aoff) && arg_int(env, a[6], &port) &&
                       arg_seg(env, argc, 7, a, &seg) && napi_get_buffer_info(env, a[4], &ap, &alen) == napi_ok && aoff >= 0 &&
                       (uint64_t)aoff + 16 <= alen
                   ? arg_span(env, a[1], a[2], a[3], &len)
                   : NULL;
  if (!p) return bad_args(env, "sendTo6(fd, buffer, offset, length, addrBuffer, addrOffset, port[, segment])");
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons((uint16_t)port);
  memcpy(&sin6.sin6_addr, (uint8_t *)ap + aoff, 16);
  return num(env, send_dgrams((int)fd, p, len, seg, (struct sockaddr *)&sin6, sizeof sin6));
}

/** The one descriptor argument of close() and tcpState() (netlinkSocket()'s protocol), or -1 (an exception pending). */
static int arg_fd1(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value a[1];
  int64_t fd;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc != 1 || !arg_int(env, a[0], &fd) || fd < 0 || fd > INT32_MAX) {
    bad_args(env, usage);
    return -1;
  }
  return (int)fd;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  int fd = arg_fd1(env, info, "close(fd)");
  if (fd < 0) return NULL;
  return num(env, close(fd) < 0 ? -errno : 0);
}

static napi_value js_netlink_socket(napi_env env, napi_callback_info info) {
  int proto = arg_fd1(env, info, "netlinkSocket(protocol)");
  if (proto < 0) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  return num(env, fd < 0 ? -errno : fd);
}

static napi_value js_tcp_state(napi_env env, napi_callback_info info) {
  int fd = arg_fd1(env, info, "tcpState(fd)");
  if (fd < 0) return NULL;
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return num(env, -errno);
  return num(env, ti.tcpi_state);
}

static void poller_closed(uv_handle_t *h) {
  struct poller *p = h->data;
  if (--p->open > 0) return;
  napi_delete_reference(p->env, p->cb);
  if (p->buf) napi_delete_reference(p->env, p->buf);
  if (p->addr) napi_delete_reference(p->env, p->addr);
  p->closed = 1;
  if (p->finalized) free(p);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct poller *p = data;
  p->finalized = 1;
  if (p->closed) free(p);
}

static void poller_stop(struct poller *p) {
  if (p->stopped) return;
  p->stopped = 1;
  if (p->mode != MODE_TIMER) {
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, poller_closed);
  }
  if (p->mode == MODE_STREAM || p->mode == MODE_TIMER) {
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, poller_closed);
  }
}

/** One read or recvmsg; returns its length, or -errno. Fills the source for recv modes. */
static ssize_t poller_read1(struct poller *p, int *port) {
  if (p->mode == MODE_READ) {
    ssize_t n = read(p->fd, p->data, p->cap);
    return n < 0 ? -errno : n;
  }
  struct sockaddr_storage ss;
  struct iovec iov = {.iov_base = p->data, .iov_len = p->cap};
  struct msghdr mh = {.msg_name = &ss, .msg_namelen = sizeof ss, .msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) return -errno;
  if (p->mode == MODE_RECV4 && ss.ss_family == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    memcpy(p->addrp, &s->sin_addr, 4);
    *port = ntohs(s->sin_port);
  } else if (p->mode == MODE_RECV6 && ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    memcpy(p->addrp, &s->sin6_addr, 16);
    *port = ntohs(s->sin6_port);
  } else {
    *port = -1; /* not of the socket's family: the caller drops it */
  }
  return n; /* MSG_TRUNC: the datagram's real length, possibly more than cap */
}

/** cb(a, b); false if it threw (the exception stays pending). */
static int call2(struct poller *p, napi_value global, napi_value cb, double a, double b) {
  napi_value argv[2], ret;
  argv[0] = num(p->env, a);
  argv[1] = num(p->env, b);
  return napi_call_function(p->env, global, cb, 2, argv, &ret) == napi_ok;
}

static void poll_stream(struct poller *p, int status, int events, napi_value global, napi_value cb) {
  if (status < 0) {
    /* libuv reports EPOLLERR as UV_EBADF (and stops polling): the socket's own error says more */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err > 0) status = -err;
    call2(p, global, cb, status, 0);
    return;
  }
  if ((events & UV_WRITABLE) && (p->events & UV_WRITABLE) && !call2(p, global, cb, 0, 1)) return;
  if (!(events & UV_READABLE)) return;
  /* JavaScript may pause reading (or stop) from within the callback */
  int got = 0;
  for (int i = 0; i < BURST && !p->stopped && (p->events & UV_READABLE); i++) {
    ssize_t n = read(p->fd, p->data, p->cap);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    /* A short read emptied the receive queue: this read ends the burst, and
       the read that would only say EAGAIN is saved (level-triggered polling
       reports what arrives after it). */
    int last = n > 0 && (size_t)n < p->cap;
    if (n >= SPIN_BULK) p->shared->bulk = 1;
    if (!call2(p, global, cb, n < 0 ? -errno : (double)n, last ? 3 : 0)) return;
    if (n <= 0 || last) return;
    got++;
  }
  if (got && !p->stopped) call2(p, global, cb, 0, 2); /* the burst is over */
}

/** The scopes a callback into JavaScript runs in. */
struct scopes {
  napi_handle_scope hs;
  napi_callback_scope cs;
};

/** Opens the scopes and gets the callback; false if that failed (nothing to close then). */
static int enter(struct poller *p, struct scopes *sc, napi_value *global, napi_value *cb) {
  napi_env env = p->env;
  napi_value resource;
  if (napi_open_handle_scope(env, &sc->hs) != napi_ok) return 0;
  napi_get_reference_value(env, p->shared->resource, &resource);
  napi_get_reference_value(env, p->cb, cb);
  napi_get_global(env, global);
  if (napi_open_callback_scope(env, resource, p->shared->actx, &sc->cs) != napi_ok) {
    napi_close_handle_scope(env, sc->hs);
    return 0;
  }
  return 1;
}

/**
 * Raises what the callback threw as an uncaught exception and closes the
 * scopes; the event is then handled, which busy polling counts (spin_mark).
 */
static void leave(struct poller *p, struct scopes *sc) {
  napi_env env = p->env;
  struct shared *sh = p->shared; /* (taken before JavaScript's microtasks run) */
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_callback_scope(env, sc->cs);
  napi_close_handle_scope(env, sc->hs);
  spin_mark(sh);
}

static void on_timer(uv_timer_t *t) {
  struct poller *p = t->data;
  struct scopes sc;
  napi_value global, cb;
  if (p->stopped || !enter(p, &sc, &global, &cb)) return;
  call2(p, global, cb, 0, KIND_TIMER);
  leave(p, &sc);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct poller *p = h->data;
  napi_env env = p->env;
  struct scopes sc;
  napi_value cb, global, argv[2], ret;
  if (!enter(p, &sc, &global, &cb)) return;
  int argc = p->mode == MODE_READ ? 1 : 2;
  if (p->mode == MODE_STREAM) {
    poll_stream(p, status, events, global, cb);
  } else if (status < 0) {
    argv[0] = num(env, status);
    argv[1] = num(env, -1);
    poller_stop(p);
    napi_call_function(env, global, cb, argc, argv, &ret);
  } else {
    for (int i = 0; i < BURST && !p->stopped; i++) {
      int port = -1;
      ssize_t n = poller_read1(p, &port);
      if (n == -EAGAIN || n == -EWOULDBLOCK) break;
      if (n == -EINTR) continue;
      /* a UDP socket reports an ICMP error for an earlier datagram and reads on */
      int fatal = p->mode == MODE_READ ? n <= 0 : n == -EBADF || n == -ENOTSOCK;
      if (n >= SPIN_BULK) p->shared->bulk = 1;
      if (fatal) poller_stop(p);
      argv[0] = num(env, (double)n);
      argv[1] = num(env, port);
      if (napi_call_function(env, global, cb, argc, argv, &ret) != napi_ok) break; /* an exception: raised below */
      if (fatal) break;
    }
  }
  leave(p, &sc);
}

static void shared_closed(uv_handle_t *h) { free(h->data); }

static void shared_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  struct shared *sh = data;
  napi_async_destroy(env, sh->actx);
  napi_delete_reference(env, sh->resource);
  if (sh->idle_init) uv_close((uv_handle_t *)&sh->idle, shared_closed);
  else free(sh);
}

/** This environment's one async context for callbacks, made on first use; NULL if that failed. */
static struct shared *shared_of(napi_env env) {
  struct shared *sh = NULL;
  if (napi_get_instance_data(env, (void **)&sh) == napi_ok && sh) return sh;
  sh = calloc(1, sizeof *sh);
  if (!sh) return NULL;
  napi_value resource, name;
  if (napi_create_object(env, &resource) != napi_ok || napi_create_string_utf8(env, "pasta-ts:poll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &sh->actx) != napi_ok) {
    free(sh);
    return NULL;
  }
  napi_create_reference(env, resource, 1, &sh->resource);
  if (napi_set_instance_data(env, sh, shared_finalize, NULL) != napi_ok) {
    napi_async_destroy(env, sh->actx);
    napi_delete_reference(env, sh->resource);
    free(sh);
    return NULL;
  }
  return sh;
}

/** A zeroed poller with this environment's async context; NULL after throwing ("what: ..."). */
static struct poller *poller_new(napi_env env, int mode, int fd, const char *what) {
  char msg[64];
  struct poller *p = calloc(1, sizeof *p);
  if (p && (p->shared = shared_of(env))) {
    p->env = env;
    p->mode = mode;
    p->fd = fd;
    return p;
  }
  snprintf(msg, sizeof msg, "%s: %s", what, p ? "no async context" : "out of memory");
  free(p);
  bad_args(env, msg);
  return NULL;
}

/** Adds the poller's one-shot timer (pollTimer), a handle of its own to close. */
static void poller_timer_init(uv_loop_t *loop, struct poller *p) {
  uv_timer_init(loop, &p->timer); /* cannot fail */
  p->timer.data = p;
  p->open++;
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  int64_t fd, mode;
  size_t cap;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint8_t *data = argc == 7 && arg_int(env, a[0], &fd) && arg_int(env, a[1], &mode) && mode >= MODE_READ && mode <= MODE_STREAM
                      ? arg_span(env, a[2], a[3], a[4], &cap)
                      : NULL;
  if (!data || cap == 0 || napi_typeof(env, a[6], &t) != napi_ok || t != napi_function)
    return bad_args(env, "poll(fd, mode, buffer, offset, capacity, addrBuffer, callback)");
  void *ap = NULL;
  size_t alen = 0;
  if ((mode == MODE_RECV4 || mode == MODE_RECV6) && (napi_get_buffer_info(env, a[5], &ap, &alen) != napi_ok || alen < (mode == MODE_RECV6 ? 16u : 4u)))
    return bad_args(env, "poll: the address buffer must hold 4 (IPv4) or 16 (IPv6) bytes");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct poller *p = poller_new(env, (int)mode, (int)fd, "poll");
  if (!p) return NULL;
  p->data = data;
  p->cap = cap;
  p->addrp = ap;
  p->events = mode == MODE_STREAM ? UV_WRITABLE : UV_READABLE;
  p->poll.data = p;
  int rc = uv_poll_init(loop, &p->poll, p->fd);
  if (rc == 0) rc = uv_poll_start(&p->poll, p->events, on_poll);
  if (rc != 0) {
    /* a failed uv_poll_init leaves nothing to close; a failed start does */
    if (p->poll.loop == loop && p->poll.type == UV_POLL) uv_close((uv_handle_t *)&p->poll, (uv_close_cb)free);
    else free(p);
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
  p->open = 1;
  if (mode == MODE_STREAM) poller_timer_init(loop, p);
  napi_value ext;
  napi_create_reference(env, a[6], 1, &p->cb);
  napi_create_reference(env, a[2], 1, &p->buf);
  if (mode == MODE_RECV4 || mode == MODE_RECV6) napi_create_reference(env, a[5], 1, &p->addr);
  CHECK(napi_create_external(env, p, poller_finalize, NULL, &ext));
  return ext;
}

static napi_value js_timer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1], ext;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 1 || napi_typeof(env, a[0], &t) != napi_ok || t != napi_function) return bad_args(env, "timer(callback)");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct poller *p = poller_new(env, MODE_TIMER, -1, "timer");
  if (!p) return NULL;
  poller_timer_init(loop, p);
  napi_create_reference(env, a[0], 1, &p->cb);
  CHECK(napi_create_external(env, p, poller_finalize, NULL, &ext));
  return ext;
}

/** Arguments (handle, n) with lo <= n <= hi: the poller, or NULL (an exception is pending). */
static struct poller *arg_handle_int(napi_env env, napi_callback_info info, int64_t lo, int64_t hi, int64_t *n, const char *usage) {
  size_t argc = 2;
  napi_value a[2];
  struct poller *p;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok) return NULL;
  if (argc != 2 || napi_get_value_external(env, a[0], (void **)&p) != napi_ok || !arg_int(env, a[1], n) || *n < lo || *n > hi) {
    bad_args(env, usage);
    return NULL;
  }
  return p;
}

static napi_value js_poll_timer(napi_env env, napi_callback_info info) {
  int64_t ms;
  struct poller *p = arg_handle_int(env, info, 0, 0x7fffffff, &ms, "pollTimer(handle, ms)");
  if (!p || p->stopped) return NULL;
  if (p->mode != MODE_STREAM && p->mode != MODE_TIMER) return bad_args(env, "pollTimer: a stream poll or a timer() only");
  if (ms == 0) uv_timer_stop(&p->timer);
  else uv_timer_start(&p->timer, on_timer, (uint64_t)ms, 0);
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  void *p;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 1 || napi_get_value_external(env, a[0], &p) != napi_ok) return bad_args(env, "stop(handle)");
  poller_stop(p);
  return NULL;
}

static napi_value js_poll_events(napi_env env, napi_callback_info info) {
  int64_t ev;
  struct poller *p = arg_handle_int(env, info, 0, 3, &ev, "pollEvents(handle, events)");
  if (!p || p->stopped || p->mode != MODE_STREAM || p->events == (int)ev) return NULL;
  p->events = (int)ev;
  int rc = ev ? uv_poll_start(&p->poll, p->events, on_poll) : uv_poll_stop(&p->poll);
  if (rc != 0) napi_throw_error(env, NULL, uv_strerror(rc));
  return NULL;
}

/** A non-blocking TCP socket connecting to sa, or -errno. */
static int tcp_connect(const struct sockaddr *sa, socklen_t len) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static napi_value js_tcp_connect4(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  int64_t addr, port;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 2 || !arg_int(env, a[0], &addr) || !arg_int(env, a[1], &port)) return bad_args(env, "tcpConnect4(addr, port)");
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl((uint32_t)addr)};
  return num(env, tcp_connect((struct sockaddr *)&sin, sizeof sin));
}

static napi_value js_tcp_connect6(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  int64_t aoff, port;
  void *ap;
  size_t alen;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 3 || napi_get_buffer_info(env, a[0], &ap, &alen) != napi_ok || !arg_int(env, a[1], &aoff) || !arg_int(env, a[2], &port) ||
      aoff < 0 || (uint64_t)aoff + 16 > alen)
    return bad_args(env, "tcpConnect6(addrBuffer, addrOffset, port)");
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons((uint16_t)port);
  memcpy(&sin6.sin6_addr, (uint8_t *)ap + aoff, 16);
  return num(env, tcp_connect((struct sockaddr *)&sin6, sizeof sin6));
}

static napi_value js_sock_error(napi_env env, napi_callback_info info) {
  int fd = arg_fd1(env, info, "sockError(fd)");
  if (fd < 0) return NULL;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return num(env, -errno);
  return num(env, err);
}

static napi_value js_shutdown_write(napi_env env, napi_callback_info info) {
  int fd = arg_fd1(env, info, "shutdownWrite(fd)");
  if (fd < 0) return NULL;
  return num(env, shutdown(fd, SHUT_WR) < 0 ? -errno : 0);
}

static napi_value js_linger_zero(napi_env env, napi_callback_info info) {
  int fd = arg_fd1(env, info, "lingerZero(fd)");
  if (fd < 0) return NULL;
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  return num(env, setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0 ? -errno : 0);
}

/** busyPoll(us): busy polling after events, for at most us microseconds (0: off). */
static napi_value js_busy_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  int64_t us;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc != 1 || !arg_int(env, a[0], &us) || us < 0 || us > 1000000) return bad_args(env, "busyPoll(microseconds 0..1000000)");
  struct shared *sh = shared_of(env);
  if (!sh) return bad_args(env, "busyPoll: no async context");
  if (!sh->idle_init) {
    uv_loop_t *loop;
    CHECK(napi_get_uv_event_loop(env, &loop));
    uv_idle_init(loop, &sh->idle); /* cannot fail */
    uv_unref((uv_handle_t *)&sh->idle); /* polling on does not keep the process alive */
    sh->idle.data = sh;
    sh->idle_init = 1;
  }
  sh->max_ns = (uint64_t)us * 1000;
  sh->window = 0;
  if (!us) uv_idle_stop(&sh->idle);
  return num(env, 0);
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"write", js_write},   {"udpSocket", js_udp_socket}, {"sendTo4", js_send_to4}, {"sendTo6", js_send_to6},
             {"close", js_close},   {"poll", js_poll},            {"stop", js_stop},        {"tcpState", js_tcp_state},
             {"pollEvents", js_poll_events}, {"tcpConnect4", js_tcp_connect4}, {"tcpConnect6", js_tcp_connect6},
             {"sockError", js_sock_error}, {"shutdownWrite", js_shutdown_write}, {"lingerZero", js_linger_zero},
             {"timer", js_timer}, {"pollTimer", js_poll_timer}, {"busyPoll", js_busy_poll}, {"netlinkSocket", js_netlink_socket}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
