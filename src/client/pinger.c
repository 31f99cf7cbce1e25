/* What every ping mode shares: send-time bookkeeping, reply accounting and
 * its per-probe line, and stream I/O. */
#define _GNU_SOURCE
#include "pinger.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/net.h"

enum {
	OUT_MAX = 1 << 20,
	DATAGRAMS_PER_READY = 64, /* a bounded share of work per wake-up */
};

int64_t ts_pinger_sent(struct ts_pinger *p, uint64_t seq, int64_t mono_ns, int64_t wall_ns)
{
	struct ts_send_slot *slot = &p->slots[seq % TS_SEQ_WINDOW];

	slot->mono_ns = mono_ns;
	slot->wall_ns = wall_ns;
	slot->failed = 0;
	ts_session_sent(&p->sess, seq);
	return wall_ns;
}

const struct ts_send_slot *ts_pinger_slot(const struct ts_pinger *p, uint64_t seq)
{
	if (seq >= p->sess.next_seq || p->sess.next_seq - seq > TS_SEQ_WINDOW)
		return NULL;
	return &p->slots[seq % TS_SEQ_WINDOW];
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
	if (kind == TS_REPLY_NEW && p->opt->samples) {
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
	if (seq < p->sess.next_seq && p->sess.next_seq - seq <= TS_SEQ_WINDOW)
		p->slots[seq % TS_SEQ_WINDOW].failed = 1;
	if (!p->opt->quiet && !p->opt->json)
		printf("seq=%" PRIu64 ": %s\n", seq, why);
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

int ts_pinger_read_stream(struct ts_pinger *p,
			  long (*parse)(struct ts_pinger *p, const uint8_t *buf, size_t len,
					int64_t t4_mono_ns, int64_t t4_wall_ns))
{
	ssize_t n = recv(p->fd, p->scratch, p->scratch_cap, 0);
	int64_t t4_mono_ns = ts_mono_ns();
	int64_t t4_wall_ns = ts_wall_ns();
	long used;

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
		used = parse(p, p->scratch, (size_t)n, t4_mono_ns, t4_wall_ns);
		if (used < 0)
			return -1;
		if (ts_buf_append(&p->in, p->scratch + used, (size_t)n - (size_t)used, 2 * OUT_MAX))
			goto too_big;
		return 0;
	}
	if (ts_buf_append(&p->in, p->scratch, (size_t)n, 2 * OUT_MAX) != 0)
		goto too_big;
	used = parse(p, ts_buf_bytes(&p->in), p->in.len, t4_mono_ns, t4_wall_ns);
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
		ssize_t n = recv(p->fd, p->scratch, p->scratch_cap, i ? MSG_DONTWAIT : 0);
		int64_t t4_mono_ns = ts_mono_ns();
		int64_t t4_wall_ns = ts_wall_ns();

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			continue;
		}
		take(p, p->scratch, (size_t)n, t4_mono_ns, t4_wall_ns);
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
	snprintf(p->error, sizeof p->error, "%s:%s: %s", p->target.host, p->target.port,
		 ts_target_strerror(err, sys_errno, buf, sizeof buf));
	return -1;
}
