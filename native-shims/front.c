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

static void die(const char *what)
{
	fprintf(stderr, "pasta-ts: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	char self[PATH_MAX], script[PATH_MAX + 32], fdenv[16], **nargv;
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

	nargv = calloc((size_t)argc + 3, sizeof(*nargv));
	if (!nargv)
		die("calloc");
	nargv[0] = (char *)(node && *node ? node : "node");
	nargv[1] = script;
	for (int i = 0; i < argc; i++)
		nargv[i + 2] = argv[i]; /* argv[0]: the name we were called by */

	if (pipe2(p, O_CLOEXEC))
		die("pipe");

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
		snprintf(fdenv, sizeof(fdenv), "%d", p[1]);
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
