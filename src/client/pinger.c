/* What every ping mode shares: send-time bookkeeping, reply accounting and
 * its per-probe line, and stream I/O. */
#define _GNU_SOURCE
#include "config.h"

#include "pinger.h"

#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <tsecho/clock.h>
#include <tsecho/kts.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>

enum {
	OUT_MAX = 1 << 20,
	DATAGRAMS_PER_READY = 64, /* a bounded share of work per wake-up */
};

int64_t ts_pinger_sent(struct ts_pinger *p, uint64_t seq, int64_t raw_ns, int64_t wall_ns)
{
	struct ts_send_slot *slot = &p->slots[seq % p->window];

	slot->raw_ns = raw_ns;
	slot->wall_ns = wall_ns;
	slot->failed = 0;
	ts_session_sent(&p->sess, seq);
	if (p->hooks.sent)
		p->hooks.sent(p->hooks.arg, seq);
	return wall_ns;
}

const struct ts_send_slot *ts_pinger_slot(const struct ts_pinger *p, uint64_t seq)
{
	if (seq >= p->sess.next_seq || p->sess.next_seq - seq > p->window)
		return NULL;
	return &p->slots[seq % p->window];
}

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

/* The per-reply line of the binary protocol: one-way delays with the
 * offset estimated so far (or raw with --synced). */
static void print_probe_line(struct ts_pinger *p, const struct ts_sample *s, size_t bytes,
			     const char *dup)
{
	double offset_ns = 0, bound_ns = 0;

	if (!p->opt->synced)
		ts_session_offset(&p->sess, &offset_ns, &bound_ns);
	printf("%zu bytes from %s: seq=%" PRIu64
	       " rtt=%.3f ms net=%.3f ms fwd=%.3f ms bwd=%.3f ms%s\n",
	       bytes, p->target.addr_text, s->seq, ms((double)s->rtt_ns),
	       ms((double)ts_net_rtt_ns(s)),
	       ms((double)(s->t2_wall_ns - s->t1_wall_ns) - offset_ns),
	       ms((double)(s->t4_wall_ns - s->t3_wall_ns) + offset_ns), dup);
}

void ts_pinger_got(struct ts_pinger *p, const struct ts_sample *s, size_t bytes)
{
	enum ts_reply_kind kind = ts_session_reply(&p->sess, s);
	const char *dup = kind == TS_REPLY_DUPLICATE ? " (DUP!)" : "";

	if (kind == TS_REPLY_UNKNOWN)
		return;
	if (p->hooks.reply)
		p->hooks.reply(p->hooks.arg, s, kind);
	if (kind == TS_REPLY_NEW && (p->opt->samples || p->opt->report_path)) {
		if (p->n_samples == p->samples_cap) {
			size_t cap = p->samples_cap ? 2 * p->samples_cap : 1024;
			struct ts_sample *grown = realloc(p->samples, cap * sizeof *grown);
			if (grown) {
				p->samples = grown;
				p->samples_cap = cap;
			}
		}
		if (p->n_samples < p->samples_cap)
			p->samples[p->n_samples++] = *s;
	}
	if (p->opt->quiet || p->opt->json)
		return;
	if (p->mode == &ts_mode_probe || p->mode == &ts_mode_stamp)
		print_probe_line(p, s, bytes, dup);
	else if (p->mode == &ts_mode_connect)
		printf("connected to %s: seq=%" PRIu64 " time=%.3f ms\n", p->target.addr_text,
		       s->seq, ms((double)s->rtt_ns));
	else
		printf("%zu bytes from %s: seq=%" PRIu64 " rtt=%.3f ms%s\n", bytes,
		       p->target.addr_text, s->seq, ms((double)s->rtt_ns), dup);
}

void ts_pinger_failed(struct ts_pinger *p, uint64_t seq, const char *why)
{
	if (ts_pinger_slot(p, seq))
		p->slots[seq % p->window].failed = 1;
	if (p->hooks.lost)
		p->hooks.lost(p->hooks.arg, seq, why);
	if (!p->opt->quiet && !p->opt->json)
		printf("seq=%" PRIu64 ": %s\n", seq, why);
}

void ts_pinger_unreachable(struct ts_pinger *p, uint64_t before_seq)
{
	uint64_t low = p->sess.next_seq > p->window ? p->sess.next_seq - p->window : 0;

	if (low <= p->sess.highest_rx)
		low = p->sess.highest_rx + 1;
	for (uint64_t seq = before_seq; seq-- > low;) {
		const struct ts_send_slot *slot = ts_pinger_slot(p, seq);
		if (slot && !slot->failed && !ts_session_answered(&p->sess, seq)) {
			ts_pinger_failed(p, seq, "port unreachable");
			return;
		}
	}
}

int ts_pinger_flush(struct ts_pinger *p)
{
	while (p->out.len > 0) {
		ssize_t w = send(p->fd, ts_buf_bytes(&p->out), p->out.len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			snprintf(p->error, sizeof p->error, "send: %s", strerror(errno));
			return -1;
		}
		ts_buf_consume(&p->out, (size_t)w);
	}
	return 0;
}

int ts_pinger_write(struct ts_pinger *p, const void *data, size_t len)
{
	size_t sent = 0;

	if (p->out.len == 0) {
		ssize_t w = send(p->fd, data, len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(p->error, sizeof p->error, "send: %s", strerror(errno));
			return -1;
		}
		if (w > 0)
			sent = (size_t)w;
	}
	if (ts_buf_append(&p->out, (const uint8_t *)data + sent, len - sent, OUT_MAX) != 0) {
		snprintf(p->error, sizeof p->error, "the server is not reading its replies");
		return -1;
	}
	return 0;
}

/* One read into scratch: recv, or with kernel timestamps on, recvmsg
 * that also gives p->kt the reply's kernel receive time. */
static ssize_t read_once(struct ts_pinger *p, int flags)
{
	if (p->test_read_delay_ns > 0) {
		struct timespec d = { (time_t)(p->test_read_delay_ns / TS_NS_PER_S),
				      (long)(p->test_read_delay_ns % TS_NS_PER_S) };
		nanosleep(&d, NULL);
	}
	if (p->kt && p->kt->rx)
		return ts_kts_recv(p->fd, p->scratch, p->scratch_cap, flags, NULL, NULL,
				   &p->kt->rx_ns);
	return recv(p->fd, p->scratch, p->scratch_cap, flags);
}

int ts_pinger_read_stream(struct ts_pinger *p,
			  long (*parse)(struct ts_pinger *p, const uint8_t *buf, size_t len,
					int64_t t4_raw_ns, int64_t t4_wall_ns))
{
	ssize_t n = read_once(p, 0);
	int64_t t4_raw_ns, t4_wall_ns;
	long used;

	ts_clock_pair(&t4_wall_ns, &t4_raw_ns); /* t4, as one moment (t1 too) */

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		snprintf(p->error, sizeof p->error, "connection lost: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		snprintf(p->error, sizeof p->error, "connection closed by the server");
		return -1;
	}
	if (p->in.len == 0) {
		/* The common case: whole replies straight from the read. */
		used = parse(p, p->scratch, (size_t)n, t4_raw_ns, t4_wall_ns);
		if (used < 0)
			return -1;
		if (ts_buf_append(&p->in, p->scratch + used, (size_t)n - (size_t)used, 2 * OUT_MAX))
			goto too_big;
		return 0;
	}
	if (ts_buf_append(&p->in, p->scratch, (size_t)n, 2 * OUT_MAX) != 0)
		goto too_big;
	used = parse(p, ts_buf_bytes(&p->in), p->in.len, t4_raw_ns, t4_wall_ns);
	if (used < 0)
		return -1;
	ts_buf_consume(&p->in, (size_t)used);
	return 0;
too_big:
	snprintf(p->error, sizeof p->error, "reply too long");
	return -1;
}

int ts_pinger_read_datagrams(struct ts_pinger *p, ts_datagram_fn *take)
{
	for (int i = 0; i < DATAGRAMS_PER_READY; i++) {
		ssize_t n = read_once(p, i ? MSG_DONTWAIT : 0);
		int64_t t4_raw_ns, t4_wall_ns;

		ts_clock_pair(&t4_wall_ns, &t4_raw_ns);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* An ICMP port unreachable, for what was sent last. */
			if (errno == ECONNREFUSED)
				ts_pinger_unreachable(p, p->sess.next_seq);
			continue;
		}
		take(p, p->scratch, (size_t)n, t4_raw_ns, t4_wall_ns);
	}
	return 0;
}

int ts_pinger_connect(struct ts_pinger *p)
{
	char buf[128];
	int sys_errno = 0;
	enum ts_target_err err =
	    ts_target_connect(&p->target, p->opt->timeout_ns, &p->fd, &sys_errno);

	if (err == TS_TARGET_OK)
		return 0;
	char name[sizeof p->target.host + 16];

	snprintf(p->error, sizeof p->error, "%s: %s", ts_target_name(&p->target, name, sizeof name),
		 ts_target_strerror(err, sys_errno, buf, sizeof buf));
	return -1;
}

/* A random shift of the next send, within +-jitter of the interval, so
 * that many probers started together do not stay in step. */
static int64_t jitter_ns(struct ts_pinger *p)
{
	double span_ns = p->opt->jitter * (double)p->opt->interval_ns;
	double u;

	if (span_ns <= 0)
		return 0;
	/* xorshift64: statistical quality is not at stake here. */
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	u = (double)(p->rng >> 11) / 9007199254740992.0; /* [0, 1) */
	return (int64_t)((2 * u - 1) * span_ns);
}

/* The first probe not yet answered or given up on, from *oldest on;
 * prints a line for each one that timed out. */
static void expire(struct ts_pinger *p, uint64_t *oldest, uint64_t next_seq, int64_t now_raw_ns)
{
	while (*oldest < next_seq) {
		const struct ts_send_slot *slot = ts_pinger_slot(p, *oldest);
		char why[64];

		if (slot && !slot->failed && !ts_session_answered(&p->sess, *oldest)) {
			if (slot->raw_ns + p->opt->timeout_ns > now_raw_ns)
				return;
			snprintf(why, sizeof why, "no reply within %.3f s",
				 (double)p->opt->timeout_ns / TS_NS_PER_S);
			ts_pinger_failed(p, *oldest, why);
		}
		(*oldest)++;
	}
}

/* --busy-poll: asks the socket, without sleeping, whether the reply is
 * there, for up to spin_ns; the read that follows then finds it without a
 * wake-up. */
static void spin_for_reply(struct ts_pinger *p, int64_t spin_ns)
{
	int64_t until_raw_ns = ts_raw_ns() + spin_ns;
	char b;

	while (ts_raw_ns() < until_raw_ns) {
		ssize_t n = recv(p->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return; /* a reply, the end, or an error: the read sees it */
	}
}

int ts_pinger_run(struct ts_pinger *p, const atomic_int *stop)
{
	const struct ts_ping_opts *opt = p->opt;
	uint64_t next_seq = 1, oldest = 1;
	int64_t next_send_raw_ns = ts_raw_ns();
	int64_t end_raw_ns = opt->deadline_ns > 0 ? next_send_raw_ns + opt->deadline_ns : INT64_MAX;

	while (!atomic_load(stop)) {
		int64_t now_raw_ns = ts_raw_ns();
		int done_sending = opt->count && next_seq > opt->count;
		/* Ping-pong and one-at-a-time modes wait for the last probe
		 * to be answered or given up on. */
		int gated = (opt->interval_ns == 0 || p->mode->one_at_a_time) && oldest < next_seq;
		int64_t wake_raw_ns = INT64_MAX;
		struct pollfd pfd;
		int rc;

		if (now_raw_ns >= end_raw_ns)
			return 0; /* -w: the deadline ends the run, as in ping(8) */
		expire(p, &oldest, next_seq, now_raw_ns);
		gated = gated && oldest < next_seq;
		if (done_sending && oldest >= next_seq)
			return 0;
		if (!done_sending && !gated && now_raw_ns >= next_send_raw_ns) {
			if (p->mode->send(p, next_seq++) != 0)
				return -1;
			next_send_raw_ns += opt->interval_ns + jitter_ns(p);
			/* Late (a stall, a slow reply): no burst to catch up. */
			if (next_send_raw_ns < now_raw_ns)
				next_send_raw_ns = now_raw_ns;
			continue;
		}
		if (!done_sending && !gated)
			wake_raw_ns = next_send_raw_ns;
		if (end_raw_ns < wake_raw_ns)
			wake_raw_ns = end_raw_ns;
		if (oldest < next_seq) {
			const struct ts_send_slot *slot = ts_pinger_slot(p, oldest);
			if (slot && slot->raw_ns + opt->timeout_ns < wake_raw_ns)
				wake_raw_ns = slot->raw_ns + opt->timeout_ns;
		}
		if (p->blocking && gated && p->out.len == 0) {
			/* Ping-pong: wait in the read itself, one system call
			 * fewer per round trip than poll + read (it times out
			 * by SO_RCVTIMEO so the loop can still expire). */
			if (opt->busy_poll_ns > 0)
				spin_for_reply(p, opt->busy_poll_ns);
			if (p->mode->ready(p, POLLIN) != 0)
				return -1;
			continue;
		}
		pfd.fd = p->fd;
		pfd.events = p->mode->events ? p->mode->events(p) : p->fd >= 0 ? POLLIN : 0;
		if (p->out.len > 0)
			pfd.events |= POLLOUT;
		pfd.revents = 0;
		rc = poll(&pfd, pfd.events ? 1 : 0, ts_ms_until(wake_raw_ns, now_raw_ns, 1000));
		if (rc < 0 && errno != EINTR) {
			snprintf(p->error, sizeof p->error, "poll: %s", strerror(errno));
			return -1;
		}
		if (rc <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && p->out.len > 0 && ts_pinger_flush(p) != 0)
			return -1;
		if ((pfd.revents & (pfd.events | POLLERR | POLLHUP)) &&
		    p->mode->ready(p, pfd.revents) != 0)
			return -1;
	}
	return 0;
}

int ts_pinger_init(struct ts_pinger *p, const struct ts_ping_opts *opt, const struct ts_mode *mode)
{
	memset(p, 0, sizeof *p);
	p->opt = opt;
	p->mode = mode;
	p->fd = -1;
	p->rng = (uint64_t)ts_raw_ns() ^ (uint64_t)(uintptr_t)p;
	if (p->rng == 0)
		p->rng = 1;
	p->scratch_cap = opt->size > 65536 ? opt->size : 65536;
	p->scratch = calloc(1, p->scratch_cap);
	p->window = opt->window ? opt->window : TS_SEQ_WINDOW;
	p->slots = calloc(p->window, sizeof *p->slots);
	if (!p->scratch || !p->slots || ts_session_init(&p->sess) != 0)
		goto nomem;
	if (opt->kernel_timestamps) {
		p->kt = malloc(sizeof *p->kt);
		if (!p->kt || ts_ping_kt_init(p->kt, p->window, opt->samples || opt->report_path,
					      opt->quiet || opt->json ? NULL : stdout) != 0) {
			free(p->kt);
			p->kt = NULL;
			goto nomem;
		}
	}
	{
		const char *d = getenv("TSECHO_TEST_READ_DELAY");
		if (d && ts_parse_duration_ns(d, 0, TS_NS_PER_S, &p->test_read_delay_ns) != 0)
			p->test_read_delay_ns = 0;
	}
	return 0;
nomem:
	ts_pinger_fini(p);
	return -ENOMEM;
}

void ts_pinger_fini(struct ts_pinger *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	ts_session_fini(&p->sess);
	ts_buf_free(&p->in);
	ts_buf_free(&p->out);
	free(p->scratch);
	free(p->slots);
	free(p->samples);
	if (p->kt) {
		ts_ping_kt_fini(p->kt);
		free(p->kt);
		p->kt = NULL;
	}
	p->scratch = NULL;
	p->slots = NULL;
	p->samples = NULL;
}
