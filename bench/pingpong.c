/*
 * pingpong: a closed-loop TCP load generator for bench/server_efficiency.sh.
 *
 * usage: pingpong -c CONNS -s SIZE -t SECONDS HOST PORT
 *
 * Opens CONNS non-blocking connections to HOST:PORT. Each one sends a tsecho
 * probe frame (docs/protocol.md) of SIZE bytes, waits until SIZE bytes have
 * come back, and only then sends the next: one message in flight per
 * connection, so the server's work per round trip, not buffering, sets the
 * pace. A probe is answered by a same-size reply from `tsecho server` and by
 * the same bytes from a plain echo server, so both can be measured with one
 * client. Each answer's header is checked (magic, version, type probe or
 * reply, frame_len, seq), so a server that drops, mangles or refuses frames
 * fails the run instead of producing a number.
 *
 * After SECONDS of CLOCK_MONOTONIC time from the start (connection setup
 * included) it prints
 *
 *	round_trips N seconds S
 *
 * and exits 0. Any connection error, or a connection still not established
 * at the end, exits 1 with one line on stderr; a usage error exits 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAGIC 0xC0545345u /* "\xC0TSE" */
#define PROBE_VERSION 1
#define PROBE_TYPE_PROBE 1
#define PROBE_TYPE_REPLY 2
#define PROBE_TYPE_ERROR 3
#define PROBE_HDR_BYTES 48
#define PROBE_MAX_FRAME_BYTES (1024 * 1024) /* the protocol's limit */

#define MAX_CONNS 10000
#define MAX_SECONDS 86400.0
#define EPOLL_BATCH 256
/* Reads go through one shared buffer; a reply larger than this takes
 * several reads, which is fine for a load generator. */
#define SCRATCH_BYTES 65536

struct conn {
	int fd;
	int index; /* for messages: "connection 3" */
	bool connected;
	bool want_out; /* EPOLLOUT is in the interest set */
	uint64_t seq;  /* of the probe in flight */
	size_t tx_off; /* bytes of the probe sent so far */
	size_t rx_len; /* bytes of the answer received so far */
	uint8_t tx_hdr[PROBE_HDR_BYTES];
	uint8_t rx_hdr[PROBE_HDR_BYTES];
	/* Why the connection failed, for main's message. */
	const char *err_what;
	int err_errno;    /* 0 when err_what says it all */
	char err_buf[64]; /* err_what, when it has to be formatted */
};

/* What every connection shares. */
struct bench {
	int epfd;
	size_t frame_bytes;
	const uint8_t *zeros; /* frame_bytes - 48 zero bytes: every payload */
	uint8_t *scratch;
	uint64_t round_trips;
	int connected;
};

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	/* Cannot fail for these two clocks with a valid pointer. */
	(void)clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int conn_fail(struct conn *c, const char *what, int err)
{
	c->err_what = what;
	c->err_errno = err;
	return -1;
}

static int conn_set_interest(struct bench *b, struct conn *c, bool want_out)
{
	struct epoll_event ev = {
		.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
		.data.ptr = c,
	};

	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return conn_fail(c, "epoll_ctl", errno);
	c->want_out = want_out;
	return 0;
}

/* Send what is left of the probe: the connection's header, then the shared
 * zero payload. A full socket buffer leaves the rest for EPOLLOUT. */
static int conn_flush(struct bench *b, struct conn *c)
{
	while (c->tx_off < b->frame_bytes) {
		struct iovec iov[2];
		struct msghdr msg;
		size_t n_iov = 0;
		size_t payload_off = 0;
		ssize_t n;

		if (c->tx_off < PROBE_HDR_BYTES) {
			iov[n_iov].iov_base = c->tx_hdr + c->tx_off;
			iov[n_iov].iov_len = PROBE_HDR_BYTES - c->tx_off;
			n_iov++;
		} else {
			payload_off = c->tx_off - PROBE_HDR_BYTES;
		}
		if (b->frame_bytes > PROBE_HDR_BYTES) {
			iov[n_iov].iov_base = (void *)(b->zeros + payload_off);
			iov[n_iov].iov_len = b->frame_bytes - PROBE_HDR_BYTES - payload_off;
			n_iov++;
		}
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = iov;
		msg.msg_iovlen = n_iov;
		/* MSG_NOSIGNAL: a server that closes shows up as EPIPE here,
		 * not as a SIGPIPE that kills us without a message. */
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return conn_fail(c, "send", errno);
		}
		c->tx_off += (size_t)n;
	}
	if ((c->tx_off < b->frame_bytes) != c->want_out)
		return conn_set_interest(b, c, c->tx_off < b->frame_bytes);
	return 0;
}

/* Start the next round trip: t1 is taken just before the first send, as
 * docs/protocol.md asks; the payload stays zero. */
static int conn_send_probe(struct bench *b, struct conn *c)
{
	uint8_t *h = c->tx_hdr;

	c->seq++;
	c->tx_off = 0;
	c->rx_len = 0;
	put_be32(h + 0, PROBE_MAGIC);
	h[4] = PROBE_VERSION;
	h[5] = PROBE_TYPE_PROBE;
	put_be16(h + 6, PROBE_HDR_BYTES);
	put_be32(h + 8, (uint32_t)b->frame_bytes);
	put_be16(h + 12, 0); /* status */
	put_be16(h + 14, 0); /* flags */
	put_be64(h + 16, c->seq);
	put_be64(h + 32, 0); /* t2 */
	put_be64(h + 40, 0); /* t3 */
	put_be64(h + 24, (uint64_t)clock_ns(CLOCK_REALTIME));
	return conn_flush(b, c);
}

/* The answer's header is complete: is it the answer to our probe? A plain
 * echo server returns the probe itself (type 1), tsecho a reply (type 2). */
static int conn_check_header(const struct bench *b, struct conn *c)
{
	const uint8_t *h = c->rx_hdr;
	uint8_t type = h[5];

	if (get_be32(h) != PROBE_MAGIC)
		return conn_fail(c, "answer does not start with the probe magic", 0);
	if (h[4] != PROBE_VERSION)
		return conn_fail(c, "answer has another protocol version", 0);
	if (type == PROBE_TYPE_ERROR) {
		snprintf(c->err_buf, sizeof c->err_buf,
			 "server answered with an error frame, status %u",
			 (unsigned)get_be16(h + 12));
		return conn_fail(c, c->err_buf, 0);
	}
	if (type != PROBE_TYPE_PROBE && type != PROBE_TYPE_REPLY)
		return conn_fail(c, "answer has an unexpected type", 0);
	if (get_be16(h + 6) != PROBE_HDR_BYTES)
		return conn_fail(c, "answer's hdr_len differs from the probe's", 0);
	if (get_be32(h + 8) != b->frame_bytes)
		return conn_fail(c, "answer's frame_len differs from the probe's", 0);
	if (get_be64(h + 16) != c->seq)
		return conn_fail(c, "answer's seq is not the probe's", 0);
	return 0;
}

/* One read per readiness event, so each connection gets a bounded share of
 * the loop. Never reads past the end of the current answer: with one probe
 * in flight, more bytes would be a server bug, caught by the next header. */
static int conn_read(struct bench *b, struct conn *c)
{
	size_t want = b->frame_bytes - c->rx_len;
	size_t before = c->rx_len;
	ssize_t n;

	if (want > SCRATCH_BYTES)
		want = SCRATCH_BYTES;
	do {
		n = recv(c->fd, b->scratch, want, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return conn_fail(c, "recv", errno);
	}
	if (n == 0)
		return conn_fail(c, "server closed the connection", 0);
	c->rx_len += (size_t)n;

	if (before < PROBE_HDR_BYTES) {
		size_t take = PROBE_HDR_BYTES - before;
		if (take > (size_t)n)
			take = (size_t)n;
		memcpy(c->rx_hdr + before, b->scratch, take);
		if (c->rx_len >= PROBE_HDR_BYTES && conn_check_header(b, c) != 0)
			return -1;
	}
	if (c->rx_len < b->frame_bytes)
		return 0;
	/* An echo cannot outrun the probe; anything that does is broken. */
	if (c->tx_off < b->frame_bytes)
		return conn_fail(c, "answer complete before the probe was sent", 0);
	b->round_trips++;
	return conn_send_probe(b, c);
}

static int conn_on_connected(struct bench *b, struct conn *c)
{
	int soerr = 0;
	socklen_t len = sizeof soerr;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		return conn_fail(c, "getsockopt SO_ERROR", errno);
	if (soerr != 0)
		return conn_fail(c, "connect", soerr);
	c->connected = true;
	b->connected++;
	/* Registered for EPOLLOUT alone while connecting: add EPOLLIN. The
	 * first send then drops EPOLLOUT if it completes, or still needs it. */
	if (conn_set_interest(b, c, true) != 0)
		return -1;
	return conn_send_probe(b, c);
}

static int conn_on_event(struct bench *b, struct conn *c, uint32_t events)
{
	if (!c->connected)
		return conn_on_connected(b, c);
	if (events & EPOLLERR) {
		int soerr = 0;
		socklen_t len = sizeof soerr;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			return conn_fail(c, "getsockopt SO_ERROR", errno);
		return conn_fail(c, "socket error", soerr);
	}
	if ((events & EPOLLOUT) && conn_flush(b, c) != 0)
		return -1;
	/* EPOLLHUP without EPOLLIN still needs a read to see why. */
	if (events & (EPOLLIN | EPOLLHUP))
		return conn_read(b, c);
	return 0;
}

/* Start a non-blocking connect. Returns 0, or -1 with c's error set. */
static int conn_open(struct bench *b, struct conn *c, const struct addrinfo *ai)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
	if (c->fd < 0)
		return conn_fail(c, "socket", errno);
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		return conn_fail(c, "setsockopt TCP_NODELAY", errno);
	/* The connected socket reports EPOLLOUT once the handshake is done
	 * (or EPOLLERR if it failed), even when connect returned 0 at once. */
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		return conn_fail(c, "connect", errno);
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		return conn_fail(c, "epoll_ctl", errno);
	c->want_out = true;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pingpong -c CONNS -s SIZE -t SECONDS HOST PORT\n"
		"  CONNS 1..%d, SIZE %d..%d bytes, SECONDS > 0 "
		"(fractions allowed, at most %.0f)\n",
		MAX_CONNS, PROBE_HDR_BYTES, PROBE_MAX_FRAME_BYTES, MAX_SECONDS);
}

/* Parse a whole decimal number in [min, max]. Returns 0 or -1. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, int64_t *out_ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > MAX_SECONDS)
		return -1;
	*out_ns = (int64_t)(v * 1e9);
	return *out_ns > 0 ? 0 : -1;
}

static void report_conn_error(const struct conn *c)
{
	if (c->err_errno != 0)
		fprintf(stderr, "pingpong: connection %d: %s: %s\n", c->index, c->err_what,
			strerror(c->err_errno));
	else
		fprintf(stderr, "pingpong: connection %d: %s\n", c->index, c->err_what);
}

/* Run the event loop until deadline_mono_ns. Returns 0, or -1 after
 * printing which connection failed and why. */
static int run(struct bench *b, struct conn *conns, int n_conns, int64_t deadline_mono_ns)
{
	struct epoll_event events[EPOLL_BATCH];
	int64_t now_mono_ns;

	while ((now_mono_ns = clock_ns(CLOCK_MONOTONIC)) < deadline_mono_ns) {
		int64_t left_ns = deadline_mono_ns - now_mono_ns;
		/* Round up so we never wake just before the deadline and spin. */
		int64_t timeout_ms = (left_ns + 999999) / 1000000;
		int n = epoll_wait(b->epfd, events, EPOLL_BATCH,
				   timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pingpong: epoll_wait");
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (conn_on_event(b, c, events[i].events) != 0) {
				report_conn_error(c);
				return -1;
			}
		}
	}
	if (b->connected < n_conns) {
		for (int i = 0; i < n_conns; i++) {
			if (!conns[i].connected) {
				conn_fail(&conns[i], "connect timed out", 0);
				report_conn_error(&conns[i]);
				break;
			}
		}
		return -1;
	}
	return 0;
}

struct opts {
	long n_conns;
	long frame_bytes;
	int64_t duration_ns;
	const char *host;
	const char *port;
};

/* Returns 0 to run, 1 after printing help, -1 after printing a usage
 * error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:s:t:h")) != -1) {
		switch (opt) {
		case 'c':
			if (parse_long(optarg, 1, MAX_CONNS, &o->n_conns) != 0) {
				fprintf(stderr,
					"pingpong: -c must be a whole "
					"number from 1 to %d\n",
					MAX_CONNS);
				return -1;
			}
			break;
		case 's':
			if (parse_long(optarg, PROBE_HDR_BYTES, PROBE_MAX_FRAME_BYTES,
				       &o->frame_bytes) != 0) {
				fprintf(stderr,
					"pingpong: -s must be a whole "
					"number of bytes from %d to %d\n",
					PROBE_HDR_BYTES, PROBE_MAX_FRAME_BYTES);
				return -1;
			}
			break;
		case 't':
			if (parse_seconds(optarg, &o->duration_ns) != 0) {
				fprintf(stderr,
					"pingpong: -t must be a number "
					"of seconds above 0 and at most %.0f\n",
					MAX_SECONDS);
				return -1;
			}
			break;
		case 'h':
			usage();
			return 1;
		default:
			usage();
			return -1;
		}
	}
	if (argc - optind != 2 || o->n_conns == 0 || o->frame_bytes == 0 || o->duration_ns == 0) {
		usage();
		return -1;
	}
	o->host = argv[optind];
	o->port = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct addrinfo hints, *ai = NULL;
	struct bench b = { .epfd = -1 };
	struct conn *conns = NULL;
	uint8_t *zeros = NULL;
	long n_conns;
	int64_t start_mono_ns;
	int exit_code = 1;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	n_conns = o.n_conns;

	/* The deadline covers everything from here on, connection setup
	 * included, so the run is bounded even when the server never answers.
	 * (A host name lookup is bounded by the resolver's own timeouts; the
	 * benchmark passes a numeric address.) */
	start_mono_ns = clock_ns(CLOCK_MONOTONIC);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(o.host, o.port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "pingpong: %s port %s: %s\n", o.host, o.port, gai_strerror(rc));
		return 1;
	}

	b.frame_bytes = (size_t)o.frame_bytes;
	conns = calloc((size_t)n_conns, sizeof *conns);
	/* +1: calloc(0) may return NULL when SIZE is exactly the header. */
	zeros = calloc(b.frame_bytes - PROBE_HDR_BYTES + 1, 1);
	b.zeros = zeros;
	b.scratch = malloc(SCRATCH_BYTES);
	if (conns == NULL || zeros == NULL || b.scratch == NULL) {
		fprintf(stderr, "pingpong: out of memory\n");
		goto out;
	}
	for (long i = 0; i < n_conns; i++) {
		conns[i].fd = -1;
		conns[i].index = (int)i;
	}
	b.epfd = epoll_create1(0);
	if (b.epfd < 0) {
		perror("pingpong: epoll_create1");
		goto out;
	}
	/* Only the first address is tried: this is a benchmark against one
	 * known server, not a general client. */
	for (long i = 0; i < n_conns; i++) {
		if (conn_open(&b, &conns[i], ai) != 0) {
			report_conn_error(&conns[i]);
			goto out;
		}
	}

	if (run(&b, conns, (int)n_conns, start_mono_ns + o.duration_ns) != 0)
		goto out;
	if (printf("round_trips %" PRIu64 " seconds %.3f\n", b.round_trips,
		   (double)(clock_ns(CLOCK_MONOTONIC) - start_mono_ns) / 1e9) < 0 ||
	    fflush(stdout) != 0) {
		perror("pingpong: stdout");
		goto out;
	}
	exit_code = 0;

out:
	if (conns != NULL) {
		for (long i = 0; i < n_conns; i++) {
			if (conns[i].fd >= 0 && close(conns[i].fd) != 0)
				perror("pingpong: close");
		}
	}
	if (b.epfd >= 0 && close(b.epfd) != 0)
		perror("pingpong: close");
	free(conns);
	free(zeros);
	free(b.scratch);
	freeaddrinfo(ai);
	return exit_code;
}
