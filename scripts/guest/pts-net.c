/*
 * pts-net: the test guest's network client and server, built statically by
 * scripts/build-guest.sh. Busybox's nc has no UDP, copies through a small
 * buffer with a poll() per chunk (slow under TCG, where every system call
 * costs), and half-closes as soon as its input ends; this does none of that,
 * so the figures measure QEMU and the helper, not the guest's tools.
 *
 *   pts-net [-t SECS] udp ADDR PORT SIZE[,SIZE...]
 *       one datagram of each size (deterministic content), each expected back
 *       byte-identical within 1.5 s, 3 tries; prints sizes=1:ok,1400:ok,...
 *   pts-net [-t SECS] get ADDR PORT FILE
 *       connects, reads until the server closes, saves to FILE; never shuts
 *       its own side down first. Prints bytes=N.
 *   pts-net [-t SECS] put ADDR PORT FILE
 *       connects, sends "<size>\n" and FILE (the sink protocol of
 *       test/fixtures/net.mjs), then reads the reply until the server closes
 *       and prints it; its write side stays open. Prints the reply.
 *   pts-net [-t SECS] serve PORT FILE
 *       listens on [::]:PORT (IPv4 too), accepts one connection, sends FILE,
 *       shuts down its write side and reads until the peer closes. Prints
 *       bytes=N.
 *
 * ADDR is an IPv4 or IPv6 literal. Exit status 0 on success, 1 on failure,
 * 2 on bad usage; the whole run is killed by SIGALRM after SECS (default 120).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
#define MAXDGRAM 65507

static unsigned char buf[BUFSZ], out[MAXDGRAM + 1];

static int fail(const char *what)
{
	printf("error=%s errno=%d\n", what, errno);
	return 1;
}

static socklen_t parse_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)atoi(port));
		if (inet_pton(AF_INET6, host, &a->sin6_addr) == 1)
			return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)atoi(port));
		if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
			return sizeof(*a);
	}
	fprintf(stderr, "pts-net: bad address %s\n", host);
	exit(2);
}

static int tcp_connect(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	return fd;
}

/* Send the whole file; sendfile where it works, else read/write. */
static int send_file(int s, int f, off_t size)
{
	off_t off = 0;

	while (off < size) {
		ssize_t n = sendfile(s, f, &off, (size_t)(size - off));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS) && off == 0)
			break;
		return -1;
	}
	while (off < size) {
		ssize_t r = pread(f, buf, sizeof(buf), off), w = 0;

		if (r <= 0)
			return -1;
		while (w < r) {
			ssize_t n = write(s, buf + w, (size_t)(r - w));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			w += n;
		}
		off += r;
	}
	return 0;
}

static int cmd_get(char **a)
{
	long long total = 0;
	int s = tcp_connect(a[0], a[1]), f;

	if (s < 0)
		return fail("connect");
	f = open(a[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (f < 0)
		return fail("open");
	for (;;) {
		ssize_t n = read(s, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("bytes=%lld ", total);
			return fail("read");
		}
		if (n == 0)
			break;
		if (write(f, buf, (size_t)n) != n)
			return fail("write");
		total += n;
	}
	printf("bytes=%lld\n", total);
	return 0;
}

static int cmd_put(char **a)
{
	struct stat st;
	size_t got = 0;
	char head[32];
	int s, f = open(a[2], O_RDONLY);

	if (f < 0 || fstat(f, &st) < 0)
		return fail("open");
	s = tcp_connect(a[0], a[1]);
	if (s < 0)
		return fail("connect");
	snprintf(head, sizeof(head), "%lld\n", (long long)st.st_size);
	if (write(s, head, strlen(head)) != (ssize_t)strlen(head) || send_file(s, f, st.st_size) < 0)
		return fail("send");
	for (;;) {
		ssize_t n = read(s, buf + got, 4096 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read");
		if (n == 0 || (got += (size_t)n) >= 4096)
			break;
	}
	fwrite(buf, 1, got, stdout);
	return 0;
}

static int cmd_serve(char **a)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, l, s, f = open(a[1], O_RDONLY);
	struct stat st;
	long long total = 0;

	if (f < 0 || fstat(f, &st) < 0)
		return fail("open");
	sa.sin6_port = htons((unsigned short)atoi(a[0]));
	l = socket(AF_INET6, SOCK_STREAM, 0);
	if (l < 0)
		return fail("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
		return fail("listen");
	s = accept(l, NULL, NULL);
	if (s < 0)
		return fail("accept");
	if (send_file(s, f, st.st_size) < 0)
		return fail("send");
	shutdown(s, SHUT_WR);
	for (;;) {
		ssize_t n = read(s, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	printf("sent=%lld received=%lld\n", (long long)st.st_size, total);
	return 0;
}

static void fill(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((i * 131u + n * 7u + (i >> 8)) & 0xff);
}

static int cmd_udp(char **a)
{
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(a[0], a[1], &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0), all_ok = 1, first = 1;
	char *save, *tok, *sizes = strdup(a[2]);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return fail("connect");
	printf("sizes=");
	for (tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n = (size_t)atol(tok);
		const char *res = "timeout";
		char err[64], mism[64] = "";

		if (n > MAXDGRAM)
			n = MAXDGRAM;
		fill(out, n);
		for (int attempt = 0; attempt < 3 && !strcmp(res, "timeout"); attempt++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (send(fd, out, n, 0) < 0) {
				snprintf(err, sizeof(err), "send-errno%d", errno);
				res = err;
				break;
			}
			while (poll(&p, 1, 1500) > 0) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);

				if (r < 0) {
					snprintf(err, sizeof(err), "recv-errno%d", errno);
					res = err;
					break;
				}
				if ((size_t)r == n && !memcmp(buf, out, n)) {
					res = "ok";
					break;
				}
				/* maybe a late echo of an earlier datagram: keep waiting */
				snprintf(mism, sizeof(mism), "mismatch(len=%zd)", r);
			}
		}
		if (!strcmp(res, "timeout") && mism[0])
			res = mism;
		if (strcmp(res, "ok"))
			all_ok = 0;
		printf("%s%zu:%s", first ? "" : ",", n, res);
		first = 0;
	}
	printf("\n");
	return all_ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned secs = 120;
	int i = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "-t")) {
		secs = (unsigned)atoi(argv[2]);
		i = 3;
	}
	alarm(secs);
	if (argc - i == 4 && !strcmp(argv[i], "udp"))
		return cmd_udp(argv + i + 1);
	if (argc - i == 4 && !strcmp(argv[i], "get"))
		return cmd_get(argv + i + 1);
	if (argc - i == 4 && !strcmp(argv[i], "put"))
		return cmd_put(argv + i + 1);
	if (argc - i == 3 && !strcmp(argv[i], "serve"))
		return cmd_serve(argv + i + 1);
	fprintf(stderr, "usage: pts-net [-t SECS] udp ADDR PORT SIZES | get ADDR PORT FILE | put ADDR PORT FILE | serve PORT FILE\n");
	return 2;
}
