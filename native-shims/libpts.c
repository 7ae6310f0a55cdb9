/*
 * libpts: the few system calls pasta-ts needs that ffi-rs cannot express
 * directly (NULL-terminated argv arrays, sockaddr structures). Loaded with
 * ffi-rs; every function returns -errno on failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/*
 * execv() with arguments packed as NUL-terminated strings in one blob.
 * Node marks the descriptors it inherited close-on-exec and may have made
 * them non-blocking: the new program gets back the standard ones and those in
 * keep[] (e.g. slirp4netns's ready and exit descriptors) as a shell would
 * pass them.
 */
static void pass_on(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

int pts_execv(const char *path, const char *blob, int blob_len, int argc, const int *keep, int nkeep)
{
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	const char *p = blob;

	for (int i = 0; i < nkeep; i++)
		pass_on(keep[i]);
	for (int fd = 0; fd <= 2; fd++) {
		int fl;
		pass_on(fd);
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}

	if (!argv)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		if (p >= blob + blob_len)
			return -EINVAL;
		argv[i] = (char *)p;
		p += strlen(p) + 1;
	}
	execv(path, argv);
	free(argv);
	return -errno;
}

/*
 * An ICMP or ICMPv6 "ping" socket (SOCK_DGRAM, as an unprivileged user may
 * open one), non-blocking, connected to addr (4 or 16 bytes).
 */
int pts_ping_socket(int family, const unsigned char *addr)
{
	int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	int rc;

	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
		memcpy(&sa.sin6_addr, addr, 16);
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		memcpy(&sa.sin_addr, addr, 4);
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * A SOCK_SEQPACKET socket pair for the launcher's --send-fd: ours (first,
 * close-on-exec) in the low 16 bits, the launcher's (inheritable) above.
 */
int pts_socketpair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	if (sv[0] > 0xffff || sv[1] > 0x7fff) {
		close(sv[0]);
		close(sv[1]);
		return -EMFILE;
	}
	fcntl(sv[1], F_SETFD, 0);
	return sv[0] | (sv[1] << 16);
}

static int ns_received[6];

/*
 * Receives what the launcher sends with --send-fd (launch.c, send_ns):
 * afterwards pts_ns_received(0..5) gives TAP (-1 if none), NETNS, NETLINK,
 * IFINDEX, AGENT (-1 if none) and AGENTPID, as PASTA_TS_NS_FDS lists them.
 * Returns 0 or -errno.
 */
int pts_recv_ns(int sock)
{
	int data[3] = { 0, -1, 0 }, fds[4] = { -1, -1, -1, -1 }, n;
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t len = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	if (len < 0)
		return -errno;
	if (len != (ssize_t)sizeof(data))
		return -EPROTO;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (n < 3 || n > 4)
		return -EPROTO;
	memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)n);
	if (!data[2]) {
		close(fds[0]); /* the placeholder for a missing tap */
		fds[0] = -1;
	}
	ns_received[0] = fds[0];
	ns_received[1] = fds[1];
	ns_received[2] = fds[2];
	ns_received[3] = data[0];
	ns_received[4] = n == 4 ? fds[3] : -1;
	ns_received[5] = n == 4 ? data[1] : -1;
	return 0;
}

int pts_ns_received(int i)
{
	return i >= 0 && i < 6 ? ns_received[i] : -EINVAL;
}

int pts_close(int fd)
{
	return close(fd) ? -errno : 0;
}

/*
 * Asks the namespace agent (native-shims/launch.c, agent_loop) over its
 * SOCK_SEQPACKET socket for a socket bound there: SOCK_STREAM (listening) or
 * SOCK_DGRAM, addr 4 or 16 bytes. Returns the descriptor or -errno.
 */
int pts_agent_bind(int agent, int type, int family, const unsigned char *addr, int port)
{
	struct {
		int kind;
		int family;
		unsigned char addr[16];
		int port;
	} req;
	int res = 0, fd = -1;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &res, .iov_len = sizeof(res) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	memset(&req, 0, sizeof(req));
	req.kind = type;
	req.family = family;
	memcpy(req.addr, addr, family == AF_INET6 ? 16 : 4);
	req.port = port;
	if (send(agent, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
		return -errno;
	if (recvmsg(agent, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -EPIPE;
	if (res < 0)
		return res;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Drops every capability of the calling thread (threads created later inherit
 * the empty sets) and, with nnp, sets no_new_privs: after set-up the helper
 * needs no privilege in any user namespace. Returns 0 or -errno.
 */
int pts_drop_caps(int nnp)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

/* tcpi_state of a TCP socket (TCP_CLOSE_WAIT after a FIN, TCP_CLOSE after a reset), or -errno. */
int pts_tcp_state(int fd)
{
	unsigned char info[104];
	socklen_t len = sizeof(info);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len))
		return -errno;
	return info[0];
}
