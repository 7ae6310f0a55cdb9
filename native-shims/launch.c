/*
 * pasta-ts-launch: the single-threaded part of pasta-ts.
 *
 * Node is multithreaded from its first instruction, and the kernel refuses
 * unshare(CLONE_NEWUSER) and setns(userns) to a multithreaded process. So the
 * user namespace is made or joined here, before Node runs; a short-lived
 * child then enters (or creates) the target network namespace, opens the tap
 * device and a netlink socket there and passes the descriptors back, so that
 * this process, and the Node process it becomes, never leaves the host's
 * network namespace.
 *
 *   pasta-ts-launch ns [--userns PATH] [--new-userns] [--netns PATH|--new-netns]
 *                   [--tap NAME] [--vnet-hdr] [--agent] -- PROGRAM [ARG]...
 *       Sets PASTA_TS_NS_FDS=TAP,NETNS,NETLINK,IFINDEX,AGENT,AGENTPID in
 *       PROGRAM's environment. With --agent the child stays in the namespace
 *       and makes bound sockets there on request (see agent_loop).
 *   pasta-ts-launch ns --netns PATH --tap NAME PLAN --ready-fd N [--daemon]
 *                   [--pid-file FILE] -- PROGRAM [ARG]...
 *       The quick start (front.c): also configures the namespace
 *       (netconf.c), drops all capabilities, writes "1" to fd N ("ready")
 *       and then runs PROGRAM with PASTA_TS_NS_CONFIGURED=1. PLAN is
 *       --configure-net (the host's addresses and routes, as pasta
 *       --config-net), or a fixed one:
 *       --address4 A/LEN --gateway4 G [--address6 A/LEN --gateway6 G]
 *       --mtu N --ifname NAME (slirp4netns's). --daemon: before "ready", let
 *       go of stdin, stdout and stderr, write FILE and start a session. If
 *       the plan cannot be made here, PROGRAM runs as it is, and Node does
 *       it all.
 *   pasta-ts-launch ns ... --send-fd N
 *       Instead of running a program, sends the same descriptors over the
 *       UNIX socket N (see send_ns) and exits: a Node process that is already
 *       in the right user namespace opens the namespace's handles this way
 *       without starting again.
 *   pasta-ts-launch enter --netns PATH [--wait-fd N] -- COMMAND [ARG]...
 *       Enters the network namespace at PATH (e.g. /proc/PID/fd/N) and runs
 *       COMMAND, after a byte (or end of file) on fd N if given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netconf.h"

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pasta-ts: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

static int same_ns(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) || stat(b, &sb))
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void join_ns(const char *path, int type, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("cannot open %s namespace %s: %s", what, path, strerror(errno));
	if (setns(fd, type))
		die("cannot join %s namespace %s: %s", what, path, strerror(errno));
	close(fd);
}

static void join_userns(const char *path)
{
	if (same_ns(path, "/proc/self/ns/user"))
		return; /* already there: Podman starts us inside its namespace */
	join_ns(path, CLONE_NEWUSER, "user");
}

static void new_userns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWUSER))
		die("cannot create a user namespace: %s", strerror(errno));
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
}

static void send_fds(int sock, int *fds, int n, int ifindex)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = &ifindex, .iov_len = sizeof(ifindex) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c;

	if (n == 0) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		if (sendmsg(sock, &mh, 0) < 0)
			die("sendmsg: %s", strerror(errno));
		return;
	}
	c = CMSG_FIRSTHDR(&mh);
	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	if (sendmsg(sock, &mh, 0) < 0)
		die("sendmsg: %s", strerror(errno));
}

static int recv_fds(int sock, int *fds, int n, int *ifindex)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = ifindex, .iov_len = sizeof(*ifindex) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n))
		return -1;
	memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
	return 0;
}

/*
 * --send-fd: one SOCK_SEQPACKET message with TAP, NETNS, NETLINK and, with an
 * agent, AGENT as SCM_RIGHTS, and { IFINDEX, AGENTPID or -1, has TAP } as
 * data. libpts's pts_recv_ns reads it.
 */
static void send_ns(int sock, const int *fds, int n, int ifindex, int agent_pid, int has_tap)
{
	int data[3] = { ifindex, agent_pid, has_tap };
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		die("cannot hand over the namespace's descriptors: %s", strerror(errno));
}

/* One request from Node: make a socket bound in this namespace. */
/* ...or, as kind, a NETLINK_SOCK_DIAG socket for the namespace's listening ports */
#define AGENT_SOCK_DIAG 100

struct agent_req {
	int kind; /* SOCK_STREAM (listening), SOCK_DGRAM, or AGENT_SOCK_DIAG */
	int family;
	unsigned char addr[16];
	int port;
};

static int agent_bind(const struct agent_req *r)
{
	int fd, one = 1, rc;

	if (r->kind == AGENT_SOCK_DIAG) {
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		return fd < 0 ? -errno : fd;
	}
	if (r->kind != SOCK_STREAM && r->kind != SOCK_DGRAM)
		return -EINVAL;
	fd = socket(r->family, r->kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r->family == AF_INET6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((unsigned short)r->port) };
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		memcpy(&sa.sin6_addr, r->addr, 16);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)r->port) };
		memcpy(&sa.sin_addr, r->addr, 4);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (!rc && r->kind == SOCK_STREAM)
		rc = listen(fd, 128);
	if (rc) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * The namespace agent: stays in the target namespace and makes bound sockets
 * there on request (for -T/-U and automatic forwarding), answering with the
 * descriptor, or with -errno and none; and a NETLINK_SOCK_DIAG socket, with
 * which Node reads the namespace's listening ports. Ends when Node closes
 * its end.
 */
static void agent_loop(int sock)
{
	struct agent_req r;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* binding ports below 1024 in the namespace is all the agent may do */
	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1u << CAP_NET_BIND_SERVICE;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (syscall(SYS_capset, &h, d))
		die("capset: %s", strerror(errno));
	for (;;) {
		ssize_t n = recv(sock, &r, sizeof(r), 0);
		int fd, res;

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
		if (n != (ssize_t)sizeof(r)) {
			res = -EINVAL;
			send_fds(sock, NULL, 0, res);
			continue;
		}
		fd = agent_bind(&r);
		res = fd < 0 ? fd : 0;
		send_fds(sock, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1, res);
		if (fd >= 0)
			close(fd);
	}
}

/* In the child: enter the target netns, open tap and netlink there. */
static void ns_child(int sock, int agent, const char *netns, int new_netns, const char *tap, int vnet_hdr,
		     const struct nc_plan *plan)
{
	int fds[3];
	int ifindex = 0;

	if (new_netns) {
		if (unshare(CLONE_NEWNET))
			die("cannot create a network namespace: %s", strerror(errno));
	} else {
		join_ns(netns, CLONE_NEWNET, "network");
	}

	fds[0] = -1;
	if (tap) {
		struct ifreq ifr;
		fds[0] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[0] < 0)
			die("cannot open /dev/net/tun: %s", strerror(errno));
		memset(&ifr, 0, sizeof(ifr));
		strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
		if (ioctl(fds[0], TUNSETIFF, &ifr))
			die("cannot create tap device %s: %s", tap, strerror(errno));
		if (vnet_hdr) {
			int len = 10; /* struct virtio_net_hdr */
			if (ioctl(fds[0], TUNSETVNETHDRSZ, &len))
				die("TUNSETVNETHDRSZ: %s", strerror(errno));
			if (ioctl(fds[0], TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6))
				die("TUNSETOFFLOAD: %s", strerror(errno));
		}
		{
			int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (s < 0 || ioctl(s, SIOCGIFINDEX, &ifr))
				die("cannot find tap device %s: %s", tap, strerror(errno));
			ifindex = ifr.ifr_ifindex;
			close(s);
		}
	}
	fds[1] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fds[2] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fds[1] < 0 || fds[2] < 0)
		die("cannot open namespace handles: %s", strerror(errno));
	if (plan) {
		char why[256];
		if (nc_configure(fds[2], ifindex, plan, why, sizeof(why)))
			die("%s", why);
	}
	if (fds[0] < 0)
		fds[0] = dup(fds[1]); /* placeholder, keeps the message shape */
	send_fds(sock, fds, 3, ifindex);
	if (agent < 0)
		_exit(0);
	close(sock);
	for (int k = 0; k < 3; k++)
		close(fds[k]);
	agent_loop(agent);
}

/*
 * The namespace is configured. As a daemon, first what run.ts's ready() does:
 * stdin, stdout and stderr go (Podman reads the latter two until nobody holds
 * them), then the PID file; then the byte the caller waits for, and a session
 * of our own. fd stays open: Node writes there too (the daemon, and finds the
 * front gone) or closes it (slirp4netns's ready descriptor).
 */
static void announce_ready(int fd, int daemon, const char *pid_file)
{
	if (daemon) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (pid_file) {
			char pid[24];
			int pf = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
			if (pf < 0 || write(pf, pid, (size_t)len) != len)
				die("cannot write PID file %s: %s", pid_file, strerror(errno));
			close(pf);
		}
		if (null < 0)
			die("cannot open /dev/null: %s", strerror(errno));
		for (int std = 0; std < 3; std++)
			dup2(null, std);
		close(null);
	}
	if (write(fd, "1", 1) != 1) {
		/* the caller has gone: go on all the same, as Node would */
	}
	/* out of the caller's session and process group, as ready() does */
	if (daemon)
		setsid();
}

/*
 * The quick start's Node needs no privilege: the namespace is configured and
 * its descriptors are open. Dropped here, before Node's threads exist, they
 * are gone from every thread, and the empty bounding set keeps execve from
 * giving root (in the caller's user namespace) all of them back.
 */
static void drop_all_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); /* EPERM without CAP_SETPCAP: then exec gives none anyway */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d))
		die("capset: %s", strerror(errno));
}

static int usage(void)
{
	fprintf(stderr, "usage: pasta-ts-launch ns|enter ... -- PROGRAM [ARG]...\n");
	return 2;
}

static int cmd_ns(int argc, char **argv)
{
	const char *userns = NULL, *netns = NULL, *tap = NULL, *pid_file = NULL;
	int new_user = 0, new_net = 0, vnet_hdr = 0, want_agent = 0, send_fd = -1, i;
	int configure = 0, daemon = 0, ready_fd = -1;
	const char *addr4 = NULL, *gw4 = NULL, *addr6 = NULL, *gw6 = NULL, *mtu = NULL, *ifname = NULL;
	static struct nc_plan plan;
	int sv[2], av[2] = { -1, -1 }, fds[3], ifindex = 0;
	char env[128];
	pid_t pid;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--userns") && i + 1 < argc) {
			userns = argv[++i];
		} else if (!strcmp(argv[i], "--new-userns")) {
			new_user = 1;
		} else if (!strcmp(argv[i], "--netns") && i + 1 < argc) {
			netns = argv[++i];
		} else if (!strcmp(argv[i], "--new-netns")) {
			new_net = 1;
		} else if (!strcmp(argv[i], "--tap") && i + 1 < argc) {
			tap = argv[++i];
		} else if (!strcmp(argv[i], "--vnet-hdr")) {
			vnet_hdr = 1;
		} else if (!strcmp(argv[i], "--agent")) {
			want_agent = 1;
		} else if (!strcmp(argv[i], "--send-fd") && i + 1 < argc) {
			send_fd = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--configure-net")) {
			configure = 1;
		} else if (!strcmp(argv[i], "--daemon")) {
			daemon = 1;
		} else if (!strcmp(argv[i], "--address4") && i + 1 < argc) {
			addr4 = argv[++i];
		} else if (!strcmp(argv[i], "--gateway4") && i + 1 < argc) {
			gw4 = argv[++i];
		} else if (!strcmp(argv[i], "--address6") && i + 1 < argc) {
			addr6 = argv[++i];
		} else if (!strcmp(argv[i], "--gateway6") && i + 1 < argc) {
			gw6 = argv[++i];
		} else if (!strcmp(argv[i], "--mtu") && i + 1 < argc) {
			mtu = argv[++i];
		} else if (!strcmp(argv[i], "--ifname") && i + 1 < argc) {
			ifname = argv[++i];
		} else if (!strcmp(argv[i], "--ready-fd") && i + 1 < argc) {
			ready_fd = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--pid-file") && i + 1 < argc) {
			pid_file = argv[++i];
		} else {
			return usage();
		}
	}
	if ((send_fd < 0 && i >= argc) || (!netns && !new_net))
		return usage();
	if (configure && addr4)
		return usage();
	if (configure || addr4) {
		char why[256];
		int rc;

		if (send_fd >= 0 || ready_fd < 0 || !tap || want_agent || new_user || new_net)
			return usage();
		/* the host's configuration is read here, in its namespace, as Node would */
		rc = configure ? nc_plan_host(&plan, why, sizeof(why))
			       : nc_plan_fixed(&plan, addr4, gw4, addr6, gw6, mtu, ifname, why, sizeof(why));
		if (rc) {
			execvp(argv[i], argv + i); /* Node plans, and says why not */
			die("cannot run %s: %s", argv[i], strerror(errno));
		}
		configure = 1;
	}
	if (userns)
		join_userns(userns);
	if (new_user)
		new_userns();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %s", strerror(errno));
	if (want_agent && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, av))
		die("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		if (av[0] >= 0)
			close(av[0]);
		ns_child(sv[1], av[1], netns, new_net, tap, vnet_hdr, configure ? &plan : NULL);
	}
	close(sv[1]);
	if (av[1] >= 0)
		close(av[1]);
	if (recv_fds(sv[0], fds, 3, &ifindex)) {
		int status;
		waitpid(pid, &status, 0);
		exit(1); /* the child said why */
	}
	close(sv[0]);
	if (send_fd >= 0) {
		int all[4] = { fds[0], fds[1], fds[2], av[0] };
		int status;

		send_ns(send_fd, all, want_agent ? 4 : 3, ifindex, want_agent ? (int)pid : -1, tap != NULL);
		/* The agent dies with its parent (PR_SET_PDEATHSIG): stay until it
		 * ends, which it does when the caller closes its socket. */
		for (int k = 0; k < 3; k++)
			close(fds[k]);
		if (av[0] >= 0)
			close(av[0]);
		close(send_fd);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		exit(0);
	}
	if (!want_agent) {
		int status;
		waitpid(pid, &status, 0);
	} else {
		int fl = fcntl(av[0], F_GETFD);
		fcntl(av[0], F_SETFD, fl & ~FD_CLOEXEC);
	}

	/* Hand them over without close-on-exec. */
	for (int k = 0; k < 3; k++) {
		int fl = fcntl(fds[k], F_GETFD);
		fcntl(fds[k], F_SETFD, fl & ~FD_CLOEXEC);
	}
	snprintf(env, sizeof(env), "%d,%d,%d,%d,%d,%d", tap ? fds[0] : -1, fds[1], fds[2], ifindex,
		 want_agent ? av[0] : -1, want_agent ? (int)pid : -1);
	setenv("PASTA_TS_NS_FDS", env, 1);
	if (configure) {
		drop_all_caps();
		announce_ready(ready_fd, daemon, pid_file);
		setenv("PASTA_TS_NS_CONFIGURED", "1", 1);
	}
	execvp(argv[i], argv + i);
	die("cannot run %s: %s", argv[i], strerror(errno));
	return 1;
}

static int cmd_enter(int argc, char **argv)
{
	const char *netns = NULL;
	int nsfd, i, wait_fd = -1;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--netns") && i + 1 < argc) {
			netns = argv[++i];
		} else if (!strcmp(argv[i], "--wait-fd") && i + 1 < argc) {
			wait_fd = atoi(argv[++i]);
		} else {
			return usage();
		}
	}
	if (i >= argc || !netns)
		return usage();
	if (wait_fd >= 0) {
		/* the helper says go once it has dropped its own privileges */
		char c;
		while (read(wait_fd, &c, 1) < 0 && errno == EINTR)
			;
		close(wait_fd);
	}
	nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET))
		die("cannot enter the network namespace: %s", strerror(errno));
	close(nsfd);
	execvp(argv[i], argv + i);
	fprintf(stderr, "pasta-ts: cannot run %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "ns"))
		return cmd_ns(argc - 2, argv + 2);
	if (!strcmp(argv[1], "enter"))
		return cmd_enter(argc - 2, argv + 2);
	return usage();
}
