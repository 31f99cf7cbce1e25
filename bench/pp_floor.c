/*
 * pp_floor: the latency floor for bench/ping_latency.sh.
 *
 * The least a TCP ping-pong over loopback can cost from user space: one
 * blocking client, one blocking server, TCP_NODELAY on both ends, no framing,
 * no timestamps on the wire, no event loop. Each round trip is one write and
 * one (usually) read on each side. Whatever tsecho ping measures above this is
 * tsecho's own overhead.
 *
 * usage:
 *   pp_floor server [-s SIZE]
 *   pp_floor client -c COUNT -s SIZE HOST PORT
 *
 * The server listens on 127.0.0.1 with a free port, prints
 * "listening on tcp 127.0.0.1:PORT" (flushed), and serves one connection at a
 * time: it reads exactly SIZE bytes (default 64) and writes them back, until
 * the client closes. SIGTERM's default action ends it.
 *
 * The client connects to HOST PORT, runs WARMUP_ROUNDS untimed round trips,
 * then COUNT timed ones, each from just before its write to just after the
 * read that completes the reply, on CLOCK_MONOTONIC; it checks every reply is
 * the bytes it sent (outside the timed window), and prints
 * "median_rtt_us X p99_rtt_us Y count N". Percentiles are nearest-rank over
 * the exact samples: the smallest sample with at least P% of the samples at
 * or below it. A reply that does not come within IO_TIMEOUT_S is an error.
 *
 * Exit status: 0 done, 1 a system call failed or the peer misbehaved, 2 usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_ROUNDS 1000
#define DEFAULT_SIZE 64
#define MAX_SIZE (1024 * 1024)
/* 10 million samples of 8 bytes: 80 MB, far beyond any sensible run. */
#define MAX_COUNT 10000000UL
/* Client side only: a reply this late means the server is stuck. */
#define IO_TIMEOUT_S 5

static const char *prog = "pp_floor";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s server [-s SIZE]\n"
		"       %s client -c COUNT -s SIZE HOST PORT\n",
		prog, prog);
}

/* Parse a whole decimal number in [min, max] into *out.
 * Returns 0, or -1 after printing why it is not one. */
static int parse_ulong(const char *what, const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9') {
		fprintf(stderr, "%s: %s must be a whole number: '%s'\n", prog, what, s);
		return -1;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0') {
		fprintf(stderr, "%s: %s must be a whole number: '%s'\n", prog, what, s);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		fprintf(stderr, "%s: %s must be %lu..%lu: '%s'\n", prog, what, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; checked anyway. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("pp_floor: clock_gettime");
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read exactly len bytes. Returns len, 0 on end-of-file before the first
 * byte, -1 with errno set on an error, or -2 on end-of-file mid-message. */
static ssize_t read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return off == 0 ? 0 : -2;
		off += (size_t)n;
	}
	return (ssize_t)len;
}

/* Write all of buf. Returns 0, or -1 with errno set. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

static int set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
		perror("pp_floor: setsockopt TCP_NODELAY");
		return -1;
	}
	return 0;
}

/* A peer that goes away must show up as EPIPE from write, not kill us. */
static int ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0) {
		perror("pp_floor: sigaction SIGPIPE");
		return -1;
	}
	return 0;
}

/* Bound to 127.0.0.1 on a free port, listening; *port_out gets the port.
 * Returns the fd, or -1 after printing why. */
static int listen_loopback(unsigned *port_out)
{
	struct sockaddr_in sin;
	socklen_t sin_len = sizeof(sin);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("pp_floor: socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		perror("pp_floor: setsockopt SO_REUSEADDR");
		goto fail;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("pp_floor: bind 127.0.0.1:0");
		goto fail;
	}
	if (listen(fd, 16) != 0) {
		perror("pp_floor: listen");
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &sin_len) != 0) {
		perror("pp_floor: getsockname");
		goto fail;
	}
	*port_out = ntohs(sin.sin_port);
	return fd;
fail:
	close(fd);
	return -1;
}

/* Echo SIZE-byte messages on one connection until the client closes it.
 * A connection that breaks is reported and dropped; the server goes on. */
static void serve_conn(int fd, uint8_t *buf, size_t size)
{
	for (;;) {
		ssize_t n = read_exact(fd, buf, size);
		if (n == 0)
			return;
		if (n == -2) {
			fprintf(stderr, "pp_floor: client closed mid-message\n");
			return;
		}
		if (n < 0) {
			perror("pp_floor: read");
			return;
		}
		if (write_all(fd, buf, size) != 0) {
			perror("pp_floor: write");
			return;
		}
	}
}

static int run_server(size_t size)
{
	uint8_t *buf;
	unsigned port;
	int lfd;

	if (ignore_sigpipe() != 0)
		return 1;
	buf = malloc(size);
	if (buf == NULL) {
		perror("pp_floor: malloc");
		return 1;
	}
	lfd = listen_loopback(&port);
	if (lfd < 0) {
		free(buf);
		return 1;
	}
	if (printf("listening on tcp 127.0.0.1:%u\n", port) < 0 || fflush(stdout) != 0) {
		perror("pp_floor: stdout");
		close(lfd);
		free(buf);
		return 1;
	}
	/* Runs until a signal ends the process. */
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("pp_floor: accept");
			close(lfd);
			free(buf);
			return 1;
		}
		if (set_nodelay(fd) == 0)
			serve_conn(fd, buf, size);
		if (close(fd) != 0)
			perror("pp_floor: close");
	}
}

/* Connected to HOST PORT (first address that accepts), with TCP_NODELAY and
 * send/receive timeouts. Returns the fd, or -1 after printing why. */
static int connect_to(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S, .tv_usec = 0 };
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "pp_floor: %s port %s: %s\n", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "pp_floor: cannot connect to %s port %s: %s\n", host, port,
			strerror(errno));
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	if (set_nodelay(fd) != 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		perror("pp_floor: setsockopt SO_RCVTIMEO/SO_SNDTIMEO");
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* One round trip of size bytes: send out, read the reply into in, check it.
 * *rtt_ns gets the time from before the write to after the completing read.
 * Returns 0, or -1 after printing why. */
static int round_trip(int fd, const uint8_t *out, uint8_t *in, size_t size, uint64_t *rtt_ns)
{
	uint64_t t0, t1;
	ssize_t n;
	int err;

	t0 = mono_ns();
	if (write_all(fd, out, size) != 0) {
		perror("pp_floor: write");
		return -1;
	}
	n = read_exact(fd, in, size);
	err = errno;
	t1 = mono_ns();
	errno = err;
	if (n == -1) {
		/* SO_RCVTIMEO expired: EAGAIN (or EWOULDBLOCK) from a blocking read. */
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fprintf(stderr, "pp_floor: no reply within %d s\n", IO_TIMEOUT_S);
		else
			perror("pp_floor: read");
		return -1;
	}
	if (n <= 0) {
		fprintf(stderr, "pp_floor: server closed the connection\n");
		return -1;
	}
	if (memcmp(out, in, size) != 0) {
		fprintf(stderr, "pp_floor: the reply differs from what was sent\n");
		return -1;
	}
	*rtt_ns = t1 - t0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted samples, pct in (0, 100]. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned pct)
{
	/* rank = ceil(pct/100 * n), 1-based; integer maths, no rounding error. */
	size_t rank = (n * pct + 99) / 100;

	return sorted[rank == 0 ? 0 : rank - 1];
}

static int run_client(unsigned long count, size_t size, const char *host, const char *port)
{
	uint64_t *rtt_ns = NULL, median_ns, p99_ns, unused_ns;
	uint8_t *out = NULL, *in = NULL;
	unsigned long i;
	int fd = -1, status = 1;

	if (ignore_sigpipe() != 0)
		return 1;
	rtt_ns = malloc(count * sizeof(*rtt_ns));
	out = malloc(size);
	in = malloc(size);
	if (rtt_ns == NULL || out == NULL || in == NULL) {
		perror("pp_floor: malloc");
		goto done;
	}
	memset(out, 0xA5, size);
	fd = connect_to(host, port);
	if (fd < 0)
		goto done;
	/* The first bytes change every round, so a stale or misordered reply
	 * would not pass the check. */
	for (i = 0; i < WARMUP_ROUNDS + count; i++) {
		uint64_t *slot = i < WARMUP_ROUNDS ? &unused_ns : &rtt_ns[i - WARMUP_ROUNDS];
		memcpy(out, &i, size < sizeof(i) ? size : sizeof(i));
		if (round_trip(fd, out, in, size, slot) != 0)
			goto done;
	}
	qsort(rtt_ns, count, sizeof(*rtt_ns), cmp_u64);
	median_ns = percentile(rtt_ns, count, 50);
	p99_ns = percentile(rtt_ns, count, 99);
	if (printf("median_rtt_us %.3f p99_rtt_us %.3f count %lu\n", (double)median_ns / 1e3,
		   (double)p99_ns / 1e3, count) < 0 ||
	    fflush(stdout) != 0) {
		perror("pp_floor: stdout");
		goto done;
	}
	status = 0;
done:
	if (fd >= 0 && close(fd) != 0) {
		perror("pp_floor: close");
		status = 1;
	}
	free(in);
	free(out);
	free(rtt_ns);
	return status;
}

int main(int argc, char **argv)
{
	unsigned long count = 0, size = DEFAULT_SIZE, port_num;
	int have_count = 0, opt, is_server;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "server") == 0) {
		is_server = 1;
	} else if (strcmp(argv[1], "client") == 0) {
		is_server = 0;
	} else {
		fprintf(stderr, "%s: unknown mode '%s'\n", prog, argv[1]);
		usage();
		return 2;
	}
	/* getopt over the arguments after the mode: argv[1] plays argv[0]. */
	argc--;
	argv++;
	while ((opt = getopt(argc, argv, is_server ? "s:" : "c:s:")) != -1) {
		switch (opt) {
		case 'c':
			if (parse_ulong("COUNT", optarg, 1, MAX_COUNT, &count) != 0)
				return 2;
			have_count = 1;
			break;
		case 's':
			if (parse_ulong("SIZE", optarg, 1, MAX_SIZE, &size) != 0)
				return 2;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (is_server) {
		if (optind != argc) {
			usage();
			return 2;
		}
		return run_server(size);
	}
	if (!have_count || argc - optind != 2) {
		usage();
		return 2;
	}
	if (parse_ulong("PORT", argv[optind + 1], 1, 65535, &port_num) != 0)
		return 2;
	return run_client(count, size, argv[optind], argv[optind + 1]);
}
