/*
 * echo_threaded: the baseline server for bench/server_efficiency.sh.
 *
 * A deliberately plain TCP echo server: blocking sockets, one thread per
 * connection, every byte read is written back unchanged. It is the design a
 * careful programmer writes first, so it is the bar an event-driven server
 * has to clear on CPU time per round trip.
 *
 * usage: echo_threaded [PORT]
 *
 * Listens on 127.0.0.1 (PORT 0, the default, picks a free port) and prints
 * "listening on tcp 127.0.0.1:PORT", flushed, once bound: the same line as
 * `tsecho server`, so the benchmark script reads the port the same way for
 * both. There is no shutdown path: SIGTERM's default action ends the process,
 * and that is all the benchmark needs.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Large enough that a 64 KiB message needs few reads, small enough for a
 * thread stack. */
#define ECHO_BUF_BYTES 16384

/* Write all of buf, looping on partial writes and EINTR.
 * Returns 0, or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* One connection's thread: echo until end-of-file or an error. The fd is
 * passed by value in the pointer so no allocation has to be freed. */
static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t buf[ECHO_BUF_BYTES];
	int rc = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		rc = write_all(fd, buf, (size_t)n);
		if (rc != 0)
			break;
	}
	/* A client that exits with replies in flight resets the connection:
	 * that is the normal end of a benchmark run, not worth a message. */
	if (rc != 0 && rc != -ECONNRESET && rc != -EPIPE)
		fprintf(stderr, "echo_threaded: connection: %s\n", strerror(-rc));
	if (close(fd) != 0)
		fprintf(stderr, "echo_threaded: close: %s\n", strerror(errno));
	return NULL;
}

/* Parse PORT (0..65535). Returns 0, or -1 when it is not a port number. */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Bind and listen on 127.0.0.1:port. Returns the listening fd, or -1 after
 * printing why. On success *bound_port is the port actually bound. */
static int listen_loopback(uint16_t port, uint16_t *bound_port)
{
	struct sockaddr_in addr;
	socklen_t addr_len = sizeof addr;
	int one = 1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("echo_threaded: socket");
		return -1;
	}
	/* Repeated benchmark runs on a fixed port must not trip on TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
		perror("echo_threaded: setsockopt SO_REUSEADDR");
		goto fail;
	}
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		perror("echo_threaded: bind 127.0.0.1");
		goto fail;
	}
	if (listen(fd, SOMAXCONN) != 0) {
		perror("echo_threaded: listen");
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
		perror("echo_threaded: getsockname");
		goto fail;
	}
	*bound_port = ntohs(addr.sin_port);
	return fd;

fail:
	if (close(fd) != 0)
		perror("echo_threaded: close");
	return -1;
}

/* Give a connection its thread, or close it. Failing to serve one client
 * (no memory for a thread, say) must not stop the server. */
static void serve(int fd, const pthread_attr_t *attr)
{
	pthread_t tid;
	int one = 1;
	int rc;

	/* Ping-pong with small messages: without TCP_NODELAY, Nagle plus
	 * delayed ACKs would hold replies back and measure the timers. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
		perror("echo_threaded: setsockopt TCP_NODELAY");
		goto drop;
	}
	rc = pthread_create(&tid, attr, echo_conn, (void *)(intptr_t)fd);
	if (rc != 0) {
		fprintf(stderr, "echo_threaded: pthread_create: %s\n", strerror(rc));
		goto drop;
	}
	return;

drop:
	if (close(fd) != 0)
		perror("echo_threaded: close");
}

int main(int argc, char **argv)
{
	/* After a failed accept for lack of descriptors or memory, pause so
	 * the loop does not spin while connections end and free some. */
	const struct timespec backoff = { .tv_sec = 0, .tv_nsec = 10000000 };
	struct sigaction sa;
	pthread_attr_t attr;
	uint16_t port = 0;
	uint16_t bound_port;
	int lfd;
	int rc;

	if (argc > 2 || (argc == 2 && parse_port(argv[1], &port) != 0)) {
		fprintf(stderr, "usage: echo_threaded [PORT]  (0..65535, "
				"default 0 = any free port)\n");
		return 2;
	}

	/* A write to a connection the client has closed must fail with EPIPE
	 * in that connection's thread, not kill the whole server. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0) {
		perror("echo_threaded: ignoring SIGPIPE");
		return 1;
	}

	rc = pthread_attr_init(&attr);
	if (rc == 0)
		rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (rc != 0) {
		fprintf(stderr, "echo_threaded: pthread attributes: %s\n", strerror(rc));
		return 1;
	}

	lfd = listen_loopback(port, &bound_port);
	if (lfd < 0)
		return 1;
	if (printf("listening on tcp 127.0.0.1:%u\n", (unsigned)bound_port) < 0 ||
	    fflush(stdout) != 0) {
		perror("echo_threaded: stdout");
		return 1;
	}

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			serve(fd, &attr);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED: /* the client gave up before we accepted */
			break;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			perror("echo_threaded: accept");
			if (nanosleep(&backoff, NULL) != 0 && errno != EINTR)
				perror("echo_threaded: nanosleep");
			break;
		default:
			perror("echo_threaded: accept");
			return 1;
		}
	}
}
