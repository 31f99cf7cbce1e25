/* Ping mode "echo": round trips against any RFC 862 echo service, TCP or
 * UDP.  Each probe is size bytes, the first eight (when there are eight)
 * its sequence number, big-endian; the echo comes back unchanged, so only
 * the client's two times exist: RTT, no offset, no one-way delays. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>
#include "pinger.h"

static int echo_start(struct ts_pinger *p)
{
	return ts_pinger_connect(p);
}

/* Probe seq's bytes: 'e's, the seq in the first eight when they fit. */
static void echo_fill(uint8_t *buf, size_t size, uint64_t seq)
{
	memset(buf, 'e', size);
	if (size >= 8)
		ts_put_be64(buf, seq);
}

static int echo_send(struct ts_pinger *p, uint64_t seq)
{
	size_t size = p->opt->size;

	echo_fill(p->scratch, size, seq);
	ts_pinger_sent(p, seq, ts_raw_ns(), ts_wall_ns());
	if (!p->opt->udp)
		return ts_pinger_write(p, p->scratch, size);
	if (send(p->fd, p->scratch, size, 0) < 0 && errno == ECONNREFUSED) {
		ts_pinger_unreachable(p, seq); /* an earlier probe's error */
		ts_pinger_failed(p, seq, "port unreachable");
	}
	return 0;
}

/* The seq an echo of size bytes answers: written in it, or else the
 * oldest unanswered one (TCP keeps order). */
static uint64_t echo_seq(struct ts_pinger *p, const uint8_t *buf)
{
	uint64_t seq;

	if (p->opt->size >= 8)
		return ts_get_be64(buf);
	for (seq = p->sess.highest_rx + 1; seq < p->sess.next_seq; seq++)
		if (!ts_session_answered(&p->sess, seq))
			break;
	return seq;
}

static void take_echo(struct ts_pinger *p, const uint8_t *buf, int64_t t4_raw_ns,
		      int64_t t4_wall_ns)
{
	struct ts_sample s = { .seq = echo_seq(p, buf) };
	const struct ts_send_slot *slot = ts_pinger_slot(p, s.seq);
	uint8_t want[64];
	size_t n = p->opt->size < sizeof want ? p->opt->size : sizeof want;

	/* An echo is our bytes as they went (a tsecho main port, say, puts
	 * its timestamp in front): anything else is no answer to a probe. */
	echo_fill(want, n, s.seq);
	if (!slot || memcmp(buf, want, n) != 0) {
		p->mismatched++;
		return;
	}
	s.rtt_ns = t4_raw_ns - slot->raw_ns;
	s.t1_wall_ns = slot->wall_ns;
	s.t4_wall_ns = t4_wall_ns;
	ts_pinger_got(p, &s, p->opt->size);
}

static long parse_echoes(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			 int64_t t4_wall_ns)
{
	size_t used = 0;

	while (len - used >= p->opt->size) {
		take_echo(p, buf + used, t4_raw_ns, t4_wall_ns);
		used += p->opt->size;
	}
	return (long)used;
}

/* One datagram: an echo of ours has the size we sent. */
static void take_datagram(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			  int64_t t4_wall_ns)
{
	if (len == p->opt->size)
		take_echo(p, buf, t4_raw_ns, t4_wall_ns);
	else
		p->mismatched++;
}

static int echo_ready(struct ts_pinger *p, short revents)
{
	(void)revents;
	if (!p->opt->udp)
		return ts_pinger_read_stream(p, parse_echoes);
	return ts_pinger_read_datagrams(p, take_datagram);
}

const struct ts_mode ts_mode_echo = {
	.name = "echo",
	.one_at_a_time = 0,
	.start = echo_start,
	.send = echo_send,
	.ready = echo_ready,
};
