/* `tsecho client`: the seed's interactive client, done right.  Each line
 * read is sent as one message and answered with the seed's line
 * "<receive time>:<server time>:<send time>:<message>" and a line of
 * measurements (docs/ping.md).  Against a tsecho server the message travels
 * as the payload of a binary probe (four timestamps); against a text
 * server as the seed sends it, plus a line end (three timestamps). */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tsecho/buf.h>
#include <tsecho/clock.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>
#include <tsecho/sig.h>
#include <tsecho/proto.h>
#include <tsecho/stats.h>
#include <tsecho/text.h>
#include "commands.h"
#include "hello.h"
#include "report.h"
#include "target.h"

/* Exit statuses (docs/ping.md). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 2,
	EXIT_UNKNOWN_HOST = 3,
	EXIT_REFUSED = 4,
	EXIT_UNREACHABLE = 5,
	EXIT_TIMEOUT = 6,
	EXIT_LOST = 7,
};

static const char usage[] =
    "usage: tsecho client HOST[:PORT] [options]\n"
    "\n"
    "The interactive client of the Python tutorial tsecho grew from\n"
    "(docs/protocol.md, section 1): type a message, see it come back with\n"
    "the server's timestamp, and the round trip, clock offset and one-way\n"
    "delays it implies. An empty line, Ctrl+D or Ctrl+C ends it.\n"
    "\n"
    "  -W, --timeout DUR   wait this long to connect and for each reply (5s)\n"
    "  -4, -6              IPv4 or IPv6 only\n"
    "      --text          the tutorial's text protocol, without asking\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 done, 2 usage, 3 unknown host, 4 refused, 5 unreachable,\n"
    "6 timed out, 7 connection lost.\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = sig;
}

/* The seed's words for Ctrl+C; plainer ones for a SIGTERM. */
static void say_interrupted(void)
{
	printf(interrupted == SIGINT ? "\nCtrl+C detected. Exiting...\n"
				     : "\nTerminated. Exiting...\n");
}

struct client {
	int fd;
	int binary;
	int64_t timeout_ns;
	uint64_t seq;
	struct ts_session sess;
	struct ts_buf in;
	const char *where;
};

static int fail(int status, const char *where, const char *what)
{
	fprintf(stderr, "tsecho client: %s%s%s\n", what, where ? " " : "", where ? where : "");
	return status;
}

static int send_all(struct client *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (ts_wait_fd(c->fd, POLLOUT, c->timeout_ns) <= 0)
					return fail(EXIT_TIMEOUT, c->where, "timed out sending to");
				continue;
			}
			return fail(EXIT_LOST, c->where, "connection lost to");
		}
		off += (size_t)w;
	}
	return EXIT_OK;
}

/* Reads into c->in until done(c) says how long the answer is, within the
 * timeout; *t4 are the times of the read that completed it. */
static int read_answer(struct client *c, size_t (*done)(const struct client *c), int64_t *t4_raw_ns,
		       int64_t *t4_wall_ns)
{
	int64_t deadline_raw_ns = ts_raw_ns() + c->timeout_ns;
	uint8_t buf[65536];

	while (done(c) == 0) {
		int rc = ts_wait_fd(c->fd, POLLIN, deadline_raw_ns - ts_raw_ns());
		ssize_t n;

		if (rc == -EINTR && interrupted)
			return -1;
		if (rc == 0)
			return fail(EXIT_TIMEOUT, c->where, "no answer in time from");
		if (rc < 0)
			continue;
		n = recv(c->fd, buf, sizeof buf, 0);
		*t4_raw_ns = ts_raw_ns();
		*t4_wall_ns = ts_wall_ns();
		if (n == 0)
			return fail(EXIT_LOST, c->where, "connection closed by");
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return fail(EXIT_LOST, c->where, "connection lost to");
		}
		if (ts_buf_append(&c->in, buf, (size_t)n, 2 * TS_PROTO_FRAME_MAX) != 0)
			return fail(EXIT_LOST, c->where, "answer too long from");
	}
	return EXIT_OK;
}

static size_t frame_done(const struct client *c)
{
	struct ts_proto_hdr h;
	enum ts_decode r =
	    ts_proto_decode(ts_buf_bytes(&c->in), c->in.len, TS_PROTO_FRAME_MAX, &h, NULL);

	if (r == TS_DECODE_OK)
		return h.frame_len;
	/* A bad frame is "done" too: the caller finds out. */
	return r == TS_DECODE_BAD ? c->in.len : 0;
}

static size_t line_done(const struct client *c)
{
	const uint8_t *lf;

	if (c->in.len == 0)
		return 0; /* and its storage may be NULL */
	lf = memchr(ts_buf_bytes(&c->in), '\n', c->in.len);
	return lf ? (size_t)(lf - ts_buf_bytes(&c->in)) + 1 : 0;
}

static void print_time(int64_t wall_ns)
{
	char buf[32];

	ts_format_wall(buf, sizeof buf, wall_ns);
	fputs(buf, stdout);
}

/* The measurement line, from this sample and the session so far. */
static void print_measures(struct client *c, const struct ts_sample *s)
{
	double offset_ns = 0, bound_ns = 0;
	double ms = (double)TS_NS_PER_MS;

	ts_session_reply(&c->sess, s);
	ts_session_offset(&c->sess, &offset_ns, &bound_ns);
	printf("rtt %.3f ms", (double)s->rtt_ns / ms);
	if (c->binary)
		printf(", server residence %.3f ms", (double)ts_residence_ns(s) / ms);
	printf(", offset %+.3f ms +/- %.3f ms", ts_round_zero(offset_ns / ms, 3), bound_ns / ms);
	if (c->binary)
		printf(", forward %.3f ms, backward %.3f ms",
		       ((double)(s->t2_wall_ns - s->t1_wall_ns) - offset_ns) / ms,
		       ((double)(s->t4_wall_ns - s->t3_wall_ns) + offset_ns) / ms);
	putchar('\n');
}

static int exchange_binary(struct client *c, const char *msg, size_t len)
{
	struct ts_proto_hdr h = {
		.version = TS_PROTO_VERSION,
		.type = TS_MSG_PROBE,
		.hdr_len = TS_PROTO_HDR_LEN,
		.frame_len = (uint32_t)(TS_PROTO_HDR_LEN + len),
		.seq = ++c->seq,
	};
	struct ts_sample s = { .seq = c->seq, .server_times = 1 };
	uint8_t *frame = malloc(TS_PROTO_HDR_LEN + len);
	int64_t t1_raw_ns, t4_raw_ns = 0;
	struct ts_proto_hdr reply;
	int rc;

	if (!frame)
		return fail(EXIT_LOST, NULL, "out of memory");
	memcpy(frame + TS_PROTO_HDR_LEN, msg, len);
	ts_session_sent(&c->sess, c->seq);
	t1_raw_ns = ts_raw_ns();
	s.t1_wall_ns = ts_wall_ns();
	h.t1_wall_ns = (uint64_t)s.t1_wall_ns;
	ts_proto_encode_hdr(frame, &h);
	rc = send_all(c, frame, h.frame_len);
	free(frame);
	if (rc == EXIT_OK)
		rc = read_answer(c, frame_done, &t4_raw_ns, &s.t4_wall_ns);
	if (rc != EXIT_OK)
		return rc;
	if (ts_proto_decode(ts_buf_bytes(&c->in), c->in.len, TS_PROTO_FRAME_MAX, &reply, NULL) !=
		TS_DECODE_OK ||
	    reply.type != TS_MSG_REPLY || reply.seq != c->seq || reply.frame_len != h.frame_len)
		return fail(EXIT_LOST, c->where, "unexpected answer from");
	s.rtt_ns = t4_raw_ns - t1_raw_ns;
	s.t2_wall_ns = (int64_t)reply.t2_wall_ns;
	s.t3_wall_ns = (int64_t)reply.t3_wall_ns;
	print_time(s.t4_wall_ns);
	putchar(':');
	print_time(s.t2_wall_ns);
	putchar(':');
	print_time(s.t1_wall_ns);
	putchar(':');
	fwrite(ts_buf_bytes(&c->in) + reply.hdr_len, 1, reply.frame_len - reply.hdr_len, stdout);
	putchar('\n');
	ts_buf_consume(&c->in, reply.frame_len);
	print_measures(c, &s);
	return EXIT_OK;
}

static int exchange_text(struct client *c, const char *msg, size_t len)
{
	char t1[32];
	int n;
	size_t line_len, out_len;
	struct ts_sample s = { .seq = ++c->seq, .server_times = 1 };
	int64_t t1_raw_ns, t4_raw_ns = 0;
	uint8_t *out;
	const uint8_t *line, *colon;
	int rc;

	ts_session_sent(&c->sess, c->seq);
	t1_raw_ns = ts_raw_ns();
	s.t1_wall_ns = ts_wall_ns();
	n = ts_format_wall(t1, sizeof t1, s.t1_wall_ns);
	/* The seed's message, "<send time>:<message>", and a line end so that
	 * the answer's end can be found. */
	out_len = (size_t)n + 1 + len + 1;
	out = malloc(out_len);
	if (!out)
		return fail(EXIT_LOST, NULL, "out of memory");
	memcpy(out, t1, (size_t)n);
	out[n] = ':';
	memcpy(out + n + 1, msg, len);
	out[out_len - 1] = '\n';
	rc = send_all(c, out, out_len);
	free(out);
	if (rc == EXIT_OK)
		rc = read_answer(c, line_done, &t4_raw_ns, &s.t4_wall_ns);
	if (rc != EXIT_OK)
		return rc;
	line = ts_buf_bytes(&c->in);
	line_len = line_done(c);
	colon = memchr(line, ':', line_len);
	if (!colon || ts_text_parse_time(line, (size_t)(colon - line), &s.t2_wall_ns) != 0)
		return fail(EXIT_LOST, c->where, "unexpected answer from");
	s.t3_wall_ns = s.t2_wall_ns;
	s.rtt_ns = t4_raw_ns - t1_raw_ns;
	print_time(s.t4_wall_ns);
	putchar(':');
	fwrite(line, 1, line_len - 1, stdout);
	putchar('\n');
	ts_buf_consume(&c->in, line_len);
	print_measures(c, &s);
	return EXIT_OK;
}

static int open_connection(struct client *c, struct ts_target *t, int text)
{
	char buf[160];
	int sys_errno = 0;
	enum ts_target_err err = ts_target_connect(t, c->timeout_ns, &c->fd, &sys_errno);
	static const int status[] = {
		[TS_TARGET_BAD_ARG] = EXIT_USAGE,   [TS_TARGET_UNKNOWN_HOST] = EXIT_UNKNOWN_HOST,
		[TS_TARGET_REFUSED] = EXIT_REFUSED, [TS_TARGET_UNREACHABLE] = EXIT_UNREACHABLE,
		[TS_TARGET_TIMEOUT] = EXIT_TIMEOUT, [TS_TARGET_OTHER] = EXIT_LOST,
		[TS_TARGET_OPTION] = EXIT_USAGE,
	};

	if (err != TS_TARGET_OK) {
		char name[sizeof t->host + 16];

		fprintf(stderr, "tsecho client: %s: %s\n", ts_target_name(t, name, sizeof name),
			ts_target_strerror(err, sys_errno, buf, sizeof buf));
		return status[err];
	}
	c->binary = 0;
	if (text)
		return EXIT_OK;
	switch (ts_hello(c->fd, c->timeout_ns, buf, sizeof buf)) {
	case TS_HELLO_TSECHO:
		c->binary = 1;
		return EXIT_OK;
	case TS_HELLO_TEXT:
		return EXIT_OK;
	default:
		fprintf(stderr, "tsecho client: %s: %s\n", t->addr_text, buf);
		return strstr(buf, "no answer") ? EXIT_TIMEOUT : EXIT_LOST;
	}
}

/* Reads lines and exchanges them until an empty line, end of input or
 * Ctrl+C. */
static int converse(struct client *c)
{
	int tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	int rc = EXIT_OK;

	if (tty) {
		printf("Type messages and press Enter\n");
		printf("To quit: Ctrl+C or Ctrl+D\n");
	}
	for (;;) {
		ssize_t n;

		if (tty) {
			printf("> ");
			fflush(stdout);
		}
		errno = 0;
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (interrupted)
				say_interrupted();
			else if (tty)
				printf("Ctrl+D detected. Exiting...\n");
			break;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			break;
		if ((size_t)n > TS_PROTO_FRAME_MAX - TS_PROTO_HDR_LEN) {
			fprintf(stderr, "tsecho client: message too long (%zd bytes; at most %u)\n",
				n, TS_PROTO_FRAME_MAX - TS_PROTO_HDR_LEN);
			continue;
		}
		rc = c->binary ? exchange_binary(c, line, (size_t)n)
			       : exchange_text(c, line, (size_t)n);
		fflush(stdout);
		if (rc != EXIT_OK || interrupted) {
			if (interrupted) {
				say_interrupted();
				rc = EXIT_OK;
			}
			break;
		}
	}
	free(line);
	return rc;
}

int ts_cmd_client(int argc, char **argv)
{
	static const struct option options[] = {
		{ "timeout", required_argument, NULL, 'W' },
		{ "text", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client c = { .fd = -1, .timeout_ns = 5 * TS_NS_PER_S };
	struct ts_target t = { .socktype = SOCK_STREAM };
	int text = 0, opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "W:46h", options, NULL)) != -1) {
		switch (opt) {
		case 'W':
			if (ts_parse_duration_ns(optarg, TS_NS_PER_MS, 3600 * TS_NS_PER_S,
						 &c.timeout_ns) != 0)
				return fail(EXIT_USAGE, optarg, "invalid timeout (want 1ms..1h):");
			break;
		case '4':
			t.family = AF_INET;
			break;
		case '6':
			t.family = AF_INET6;
			break;
		case 't':
			text = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		default:
			return fail(EXIT_USAGE, argv[optind - 1], "bad option or missing value:");
		}
	}
	if (argc - optind != 1)
		return fail(EXIT_USAGE, NULL, "want one HOST[:PORT] (see --help)");
	if (ts_target_parse(&t, argv[optind], 12345) != TS_TARGET_OK)
		return fail(EXIT_USAGE, argv[optind], "bad HOST[:PORT]:");
	if (ts_signals_install(on_sigint) != 0)
		return fail(EXIT_LOST, NULL, "cannot set up signals");
	if (ts_session_init(&c.sess) != 0)
		return fail(EXIT_LOST, NULL, "out of memory");
	rc = open_connection(&c, &t, text);
	c.where = t.addr_text;
	if (rc == EXIT_OK)
		rc = converse(&c);
	if (c.fd >= 0)
		close(c.fd);
	ts_buf_free(&c.in);
	ts_session_fini(&c.sess);
	return rc;
}
