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
 * The quick start. Podman and Buildah wait for the foreground process before
 * they start the container, and Node takes 30 ms to start here: for their
 * plain argv (no -p), the launcher configures the namespace and tells the
 * front "ready" before it becomes Node (see launch.c, netconf.c). Only an
 * argv made of these options, each once, qualifies, and only values that
 * Node would take too: what Node would reject, or what needs sockets bound
 * before "ready" (-t/-u with ports, -T/-U), goes to Node as before, which
 * then says why. PASTA_TS_QUICK=0 turns it off.
 */
struct quick {
	const char *netns, *pid_file;
};

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

static int quick_args(int argc, char **argv, struct quick *q)
{
	enum { CONFIG_NET, QUIET, NO_MAP_GW, T, U, TT, UU, DNS_FWD, MAP_GUEST, NETNS, PID, NOPTS };
	static const struct {
		const char *lng, *shrt;
		int arg;
	} opts[NOPTS] = {
		[CONFIG_NET] = { "--config-net", NULL, 0 }, [QUIET] = { "--quiet", "-q", 0 },
		[NO_MAP_GW] = { "--no-map-gw", NULL, 0 }, [T] = { "--tcp-ports", "-t", 1 },
		[U] = { "--udp-ports", "-u", 1 }, [TT] = { "--tcp-ns", "-T", 1 }, [UU] = { "--udp-ns", "-U", 1 },
		[DNS_FWD] = { "--dns-forward", NULL, 1 }, [MAP_GUEST] = { "--map-guest-addr", NULL, 1 },
		[NETNS] = { "--netns", NULL, 1 }, [PID] = { "--pid", "-P", 1 },
	};
	int seen[NOPTS] = { 0 };
	const char *name = strrchr(argv[0], '/');
	const char *v = getenv("PASTA_TS_QUICK");

	name = name ? name + 1 : argv[0];
	if ((v && !strcmp(v, "0")) || !strstr(name, "pasta"))
		return 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq = strchr(a, '=');
		size_t len = eq && !strncmp(a, "--", 2) ? (size_t)(eq - a) : strlen(a);
		int k;

		for (k = 0; k < NOPTS; k++) {
			if ((strlen(opts[k].lng) == len && !strncmp(a, opts[k].lng, len)) ||
			    (opts[k].shrt && !strcmp(a, opts[k].shrt)))
				break;
		}
		if (k == NOPTS || seen[k]++)
			return 0;
		if (opts[k].arg) {
			if (eq && len < strlen(a))
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return 0;
		} else if (len != strlen(a)) {
			return 0; /* --config-net=... */
		}
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
			q->netns = val;
			break;
		case PID:
			if (!val[0] || strlen(val) >= PATH_MAX)
				return 0;
			q->pid_file = val;
			break;
		}
	}
	/* without -t/-u/-T/-U none, pasta's defaults forward ports */
	return seen[CONFIG_NET] && seen[NETNS] && seen[T] && seen[U] && seen[TT] && seen[UU];
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
	quick = quick_args(argc, argv, &q);

	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	snprintf(fdenv, sizeof(fdenv), "%d", p[1]);

	nargv = calloc((size_t)argc + 20, sizeof(*nargv));
	if (!nargv)
		die("calloc");
	if (quick) {
		const char *pre[] = { launcher, "ns", "--netns", q.netns, "--tap", "pts%d", "--vnet-hdr",
				      "--configure-net", "--ready-fd", fdenv };
		for (size_t k = 0; k < sizeof(pre) / sizeof(pre[0]); k++)
			nargv[n++] = (char *)pre[k];
		if (q.pid_file) {
			nargv[n++] = "--pid-file";
			nargv[n++] = (char *)q.pid_file;
		}
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
