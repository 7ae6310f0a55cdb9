/*
 * pasta-ts front: the program Podman, Buildah, libvirt or a user starts.
 *
 * A daemon must be a different process from the one its caller waits for
 * (Podman takes "the process I started exited 0" as "the namespace is
 * ready"). Node cannot fork, so a Node entry point has to start a second Node
 * for the daemon: two start-ups, each 20 to 40 ms. This front costs one:
 *
 *   front ── fork ──> node dist/bundle/main.js ARGV0 ARGS...
 *     │                 (PASTA_TS_FRONT_FD=N: the write end of a pipe)
 *     └─ waits: one byte on the pipe means "ready, I am the daemon now":
 *        exit 0 at once. End of file means "I run in the foreground (or
 *        failed)": wait for the child and exit with its status.
 *
 * For Podman's plain argv the child runs the launcher first, which configures
 * the namespace and writes the byte before it becomes Node (the quick start,
 * below).
 *
 * Signals sent to the front by another process (kill) go on to the child; a
 * terminal's signals reach the child directly, as it shares the front's
 * process group.
 *
 * The program's mode follows the name it is called by (pasta, passt,
 * slirp4netns...), so the front passes its own argv[0] on. One answer is
 * given here: Podman 4 runs `slirp4netns --help` before every container
 * start, and the build leaves that text in dist/bundle/slirp4netns-help.txt. Node is found
 * through PASTA_TS_NODE or PATH; the program next to this file's directory
 * (native-shims/build/../../dist/bundle/main.js).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child;

/* Node reads this environment at every start-up and pasta-ts never needs it
 * (a certificate bundle: 35 ms here); stage 2 gives it back to a command. */
static const char *const node_only_env[] = { "NODE_EXTRA_CA_CERTS", NULL };

static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* a terminal's signal (SI_KERNEL) has reached the child already */
	if (child > 0 && si->si_code <= 0)
		kill(child, sig);
}

/* `slirp4netns --help` from the copy the build made; 0 if there is none. */
static int slirp_help(const char *root, const char *argv0)
{
	const char *name = strrchr(argv0, '/');
	char path[PATH_MAX + 64], buf[4096];
	ssize_t n;
	int fd;

	name = name ? name + 1 : argv0;
	if (!strstr(name, "slirp4netns"))
		return 0;
	snprintf(path, sizeof(path), "%s/dist/bundle/slirp4netns-help.txt", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			exit(1);
	}
	close(fd);
	return 1;
}

/*
 * The quick start. Podman and Buildah wait for their helper's readiness
 * before they start the container, and Node takes 30 ms to start here: for
 * their plain argv (pasta without -p, as Podman 5 and Buildah 1.39 pass it;
 * slirp4netns as Podman 4 passes it), the launcher configures the namespace
 * and says ready before it becomes Node (see launch.c, netconf.c). Only an
 * argv made of the options below, each once, qualifies, and only values that
 * Node would take too: what Node would reject, or what needs sockets bound
 * before "ready" (-t/-u with ports, -T/-U, --api-socket), goes to Node as
 * before, which then says why. PASTA_TS_QUICK=0 turns it off.
 */
struct quick {
	const char *arg[24]; /* the launcher's options */
	int n;
};

static void add(struct quick *q, const char *a)
{
	if (q->n < (int)(sizeof(q->arg) / sizeof(q->arg[0])))
		q->arg[q->n++] = a;
}

/* A descriptor number as slirp4netns's -e and -r take it, and open. */
static int open_fd(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && !*end && n >= 0 && n < 1024 && fcntl((int)n, F_GETFD) >= 0;
}

/* digits only, no leading zero, in [lo, hi] */
static int number_in(const char *s, long lo, long hi)
{
	char *end;
	long n = strtol(s, &end, 10);
	return s[0] >= '1' && s[0] <= '9' && !*end && n >= lo && n <= hi;
}

/* An address Node's option parsing takes for --dns-forward and --map-guest-addr. */
static int plain_addr(const char *s)
{
	unsigned char a[16];
	char back[INET_ADDRSTRLEN];

	if (inet_pton(AF_INET, s, a) == 1) {
		/* dotted quad as written (no leading zeros), not 0/8, 127/8 or 224/3 */
		return inet_ntop(AF_INET, a, back, sizeof(back)) && !strcmp(back, s) &&
		       a[0] != 0 && a[0] != 127 && a[0] < 224;
	}
	if (inet_pton(AF_INET6, s, a) != 1 || a[0] == 0xff)
		return 0;
	/* ::, ::1, v4-mapped and v4-compatible addresses are refused somewhere */
	for (int i = 0; i < 10; i++)
		if (a[i])
			return 1;
	return 0;
}

/*
 * Long options as "--name VALUE" or "--name=VALUE", short ones as "-x VALUE":
 * the index of argv[*i] in names (moving *i past a value, put in *val), or
 * -1 if it is none of them or has no value.
 */
struct opt {
	const char *lng, *shrt;
	int arg;
};

static int next_opt(const struct opt *opts, int nopts, int argc, char **argv, int *i, const char **val)
{
	const char *a = argv[*i], *eq = strchr(a, '=');
	size_t len = eq && !strncmp(a, "--", 2) ? (size_t)(eq - a) : strlen(a);
	int k;

	for (k = 0; k < nopts; k++) {
		if ((strlen(opts[k].lng) == len && !strncmp(a, opts[k].lng, len)) ||
		    (opts[k].shrt && !strcmp(a, opts[k].shrt)))
			break;
	}
	if (k == nopts)
		return -1;
	*val = NULL;
	if (opts[k].arg) {
		if (len < strlen(a))
			*val = eq + 1;
		else if (*i + 1 < argc)
			*val = argv[++*i];
		else
			return -1;
	} else if (len != strlen(a)) {
		return -1; /* --config-net=... */
	}
	return k;
}

/* pasta: Podman 5's and Buildah 1.39's argv without published ports */
static int quick_pasta(int argc, char **argv, struct quick *q, const char *ready_fd)
{
	enum { CONFIG_NET, QUIET, NO_MAP_GW, T, U, TT, UU, DNS_FWD, MAP_GUEST, NETNS, PID, NOPTS };
	static const struct opt opts[NOPTS] = {
		[CONFIG_NET] = { "--config-net", NULL, 0 }, [QUIET] = { "--quiet", "-q", 0 },
		[NO_MAP_GW] = { "--no-map-gw", NULL, 0 }, [T] = { "--tcp-ports", "-t", 1 },
		[U] = { "--udp-ports", "-u", 1 }, [TT] = { "--tcp-ns", "-T", 1 }, [UU] = { "--udp-ns", "-U", 1 },
		[DNS_FWD] = { "--dns-forward", NULL, 1 }, [MAP_GUEST] = { "--map-guest-addr", NULL, 1 },
		[NETNS] = { "--netns", NULL, 1 }, [PID] = { "--pid", "-P", 1 },
	};
	int seen[NOPTS] = { 0 };
	const char *netns = NULL, *pid_file = NULL;

	for (int i = 1; i < argc; i++) {
		const char *val;
		int k = next_opt(opts, NOPTS, argc, argv, &i, &val);

		if (k < 0 || seen[k]++)
			return 0;
		switch (k) {
		case T: case U: case TT: case UU:
			if (strcmp(val, "none"))
				return 0;
			break;
		case DNS_FWD:
			if (!plain_addr(val))
				return 0;
			break;
		case MAP_GUEST:
			if (strcmp(val, "none") && !plain_addr(val))
				return 0;
			break;
		case NETNS:
			if (val[0] != '/' || strlen(val) >= PATH_MAX)
				return 0;
			netns = val;
			break;
		case PID:
			if (!val[0] || strlen(val) >= PATH_MAX)
				return 0;
			pid_file = val;
			break;
		}
	}
	/* without -t/-u/-T/-U none, pasta's defaults forward ports */
	if (!(seen[CONFIG_NET] && seen[NETNS] && seen[T] && seen[U] && seen[TT] && seen[UU]))
		return 0;
	add(q, "--netns"), add(q, netns), add(q, "--configure-net"), add(q, "--daemon");
	add(q, "--ready-fd"), add(q, ready_fd);
	if (pid_file)
		add(q, "--pid-file"), add(q, pid_file);
	return 1;
}

/*
 * slirp4netns: Podman 4.3.1's argv without --api-socket or --cidr,
 * --netns-type=path. slirp4netns stays in the foreground; its caller waits
 * for "1" on the -r descriptor, which the launcher writes.
 */
static int quick_slirp(int argc, char **argv, struct quick *q)
{
	enum { CONFIGURE, EXIT_FD, READY_FD, MTU, IPV6, NO_LOOPBACK, NETNS_TYPE, SANDBOX, SECCOMP, NOPTS };
	static const struct opt opts[NOPTS] = {
		[CONFIGURE] = { "--configure", "-c", 0 }, [EXIT_FD] = { "--exit-fd", "-e", 1 },
		[READY_FD] = { "--ready-fd", "-r", 1 }, [MTU] = { "--mtu", "-m", 1 }, [IPV6] = { "--enable-ipv6", "-6", 0 },
		[NO_LOOPBACK] = { "--disable-host-loopback", NULL, 0 }, [NETNS_TYPE] = { "--netns-type", NULL, 1 },
		[SANDBOX] = { "--enable-sandbox", NULL, 0 }, [SECCOMP] = { "--enable-seccomp", NULL, 0 },
	};
	int seen[NOPTS] = { 0 }, nargs = 0;
	const char *args[2] = { NULL, "tap0" }, *ready = NULL, *mtu = "1500";

	for (int i = 1; i < argc; i++) {
		const char *val;
		int k;

		if (argv[i][0] != '-') {
			if (nargs == 2)
				return 0;
			args[nargs++] = argv[i];
			continue;
		}
		k = next_opt(opts, NOPTS, argc, argv, &i, &val);
		if (k < 0 || seen[k]++)
			return 0;
		switch (k) {
		case EXIT_FD:
			if (!open_fd(val))
				return 0;
			break;
		case READY_FD:
			if (!open_fd(val))
				return 0;
			ready = val;
			break;
		case MTU:
			if (!number_in(val, 1280, 65520))
				return 0;
			mtu = val;
			break;
		case NETNS_TYPE:
			if (strcmp(val, "path"))
				return 0;
			break;
		}
	}
	if (!seen[CONFIGURE] || !ready || !seen[NETNS_TYPE] || nargs < 1 || args[0][0] != '/' ||
	    strlen(args[0]) >= PATH_MAX || !args[1][0] || strlen(args[1]) > 15 ||
	    strspn(args[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(args[1]))
		return 0;
	/* src/cli/slirp4netns.ts's translation for the default --cidr 10.0.2.0/24 */
	add(q, "--netns"), add(q, args[0]), add(q, "--address4"), add(q, "10.0.2.100/24");
	add(q, "--gateway4"), add(q, "10.0.2.2");
	if (seen[IPV6])
		add(q, "--address6"), add(q, "fd00::100/64"), add(q, "--gateway6"), add(q, "fd00::2");
	add(q, "--mtu"), add(q, mtu), add(q, "--ifname"), add(q, args[1]), add(q, "--ready-fd"), add(q, ready);
	return 1;
}

static int quick_args(int argc, char **argv, struct quick *q, const char *front_fd)
{
	const char *name = strrchr(argv[0], '/');
	const char *v = getenv("PASTA_TS_QUICK");

	name = name ? name + 1 : argv[0];
	if (v && !strcmp(v, "0"))
		return 0;
	if (strstr(name, "slirp4netns"))
		return quick_slirp(argc, argv, q);
	if (strstr(name, "pasta"))
		return quick_pasta(argc, argv, q, front_fd);
	return 0;
}

static void die(const char *what)
{
	fprintf(stderr, "pasta-ts: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	char self[PATH_MAX], script[PATH_MAX + 32], launcher[PATH_MAX + 64], fdenv[16], **nargv;
	struct quick q = { 0 };
	int n = 0, quick;
	const char *node = getenv("PASTA_TS_NODE");
	struct sigaction sa;
	ssize_t len;
	int p[2], status;
	char *slash;

	(void)argc;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		die("cannot find myself (/proc/self/exe)");
	self[len] = '\0';
	/* .../native-shims/build/pasta-ts -> .../ */
	for (int up = 0; up < 3; up++) {
		slash = strrchr(self, '/');
		if (!slash)
			die("unexpected location");
		*slash = '\0';
	}
	snprintf(script, sizeof(script), "%s/dist/bundle/main.js", self);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) && slirp_help(self, argv[0]))
		return 0;

	snprintf(launcher, sizeof(launcher), "%s/native-shims/build/pasta-ts-launch", self);
	/* before the pipe, whose descriptors must not pass for the caller's (-r);
	 * fdenv is filled in below */
	quick = quick_args(argc, argv, &q, fdenv);
	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	snprintf(fdenv, sizeof(fdenv), "%d", p[1]);

	nargv = calloc((size_t)argc + 40, sizeof(*nargv));
	if (!nargv)
		die("calloc");
	if (quick) {
		const char *pre[] = { launcher, "ns", "--tap", "pts%d", "--vnet-hdr" };
		for (size_t k = 0; k < sizeof(pre) / sizeof(pre[0]); k++)
			nargv[n++] = (char *)pre[k];
		for (int k = 0; k < q.n; k++)
			nargv[n++] = (char *)q.arg[k];
		nargv[n++] = "--";
	}
	nargv[n++] = (char *)(node && *node ? node : "node");
	nargv[n++] = script;
	for (int i = 0; i < argc; i++)
		nargv[n++] = argv[i]; /* argv[0]: the name we were called by */

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		sigaction(sigs[k], &sa, NULL);

	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
			signal(sigs[k], SIG_DFL);
		close(p[0]);
		/* the write end survives exec */
		fcntl(p[1], F_SETFD, 0);
		setenv("PASTA_TS_FRONT_FD", fdenv, 1);
		for (const char *const *e = node_only_env; *e; e++) {
			const char *v = getenv(*e);
			char saved[64];
			if (!v)
				continue;
			snprintf(saved, sizeof(saved), "PASTA_TS_SAVED_%s", *e);
			setenv(saved, v, 1);
			unsetenv(*e);
		}
		execvp(nargv[0], nargv);
		fprintf(stderr, "pasta-ts: cannot run %s: %s\n", nargv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);

	for (;;) {
		char c;
		ssize_t n = read(p[0], &c, 1);
		if (n == 1)
			return 0; /* the daemon is ready */
		if (n == 0)
			break;
		if (errno != EINTR)
			break;
	}
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
