/* Ping mode "probe": tsecho's binary protocol over TCP or UDP, four
 * timestamps a reply.  Over TCP it first asks what the server speaks
 * (docs/ping.md) and hands over to the text mode for a seed-style server. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/net.h>
#include <tsecho/proto.h>
#include <tsecho/text.h>
#include "hello.h"
#include "pinger.h"

/* --kernel-timestamps, once the connection is ours to time: the keys
 * count from the first probe. */
static int kt_start(struct ts_pinger *p)
{
	if (p->kt) {
		p->kt->same_clock = ts_net_is_loopback((const struct sockaddr *)&p->target.addr);
		ts_ping_kt_enable(p->kt, p->fd);
	}
	return 0;
}

static int probe_start(struct ts_pinger *p)
{
	if (ts_pinger_connect(p) != 0)
		return -1;
	if (p->opt->udp)
		return kt_start(p);
	switch (ts_hello(p->fd, p->opt->timeout_ns, p->error, sizeof p->error)) {
	case TS_HELLO_TSECHO:
		return kt_start(p);
	case TS_HELLO_TEXT:
		p->mode = &ts_mode_text;
		return 0;
	default:
		return -1;
	}
}

static int probe_send(struct ts_pinger *p, uint64_t seq)
{
	struct ts_proto_hdr h = {
		.version = TS_PROTO_VERSION,
		.type = TS_MSG_PROBE,
		.hdr_len = p->kt ? TS_PROTO_KTS_HDR_LEN : TS_PROTO_HDR_LEN,
		.frame_len = (uint32_t)p->opt->size,
		.seq = seq,
	};
	static const struct ts_proto_kts ask = { 0 };
	int64_t raw_ns, wall_ns, t1;
	int rc;

	if (p->kt)
		ts_proto_put_kts_ext(p->scratch + TS_PROTO_HDR_LEN, &ask);
	/* t1 as late as possible before the send; the wall and raw clocks
	 * as one moment, so that a preemption between two reads does not
	 * come between the round trip and its parts. */
	ts_clock_pair(&wall_ns, &raw_ns);
	t1 = ts_pinger_sent(p, seq, raw_ns, wall_ns);
	h.t1_wall_ns = (uint64_t)t1;
	ts_proto_encode_hdr(p->scratch, &h);
	if (!p->opt->udp) {
		rc = ts_pinger_write(p, p->scratch, p->opt->size);
		if (p->kt)
			ts_ping_kt_sent(p->kt, seq, t1, p->opt->size, 0, rc == 0);
		return rc;
	}
	rc = (int)send(p->fd, p->scratch, p->opt->size, 0);
	if (p->kt)
		ts_ping_kt_sent(p->kt, seq, t1, p->opt->size, 1, rc >= 0);
	if (rc < 0) {
		/* A datagram the kernel would not take is lost like any
		 * other; an ICMP error from an earlier one says why. */
		if (errno == ECONNREFUSED) {
			/* The error was an earlier probe's; this one
			 * did not go either. */
			ts_pinger_unreachable(p, seq);
			ts_pinger_failed(p, seq, "port unreachable");
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			ts_pinger_failed(p, seq, strerror(errno));
	}
	return 0;
}

/* The clock offset the network parts are corrected by: the estimate so
 * far (0 with --synced, or with both ends on one host). */
static double kt_offset(const struct ts_pinger *p)
{
	double offset_ns = 0, bound_ns;

	if (!p->opt->synced)
		ts_session_offset(&p->sess, &offset_ns, &bound_ns);
	return offset_ns;
}

/* One reply frame at buf; -1 when it is an error frame or not a reply.
 * ends_read: its last byte was the read's, so the kernel's receive time
 * of the read (its newest segment's) is this reply's. */
static int take_reply(struct ts_pinger *p, const uint8_t *buf, const struct ts_proto_hdr *h,
		      bool ends_read, int64_t t4_raw_ns, int64_t t4_wall_ns)
{
	const struct ts_send_slot *slot = ts_pinger_slot(p, h->seq);
	struct ts_sample s;

	if (h->type == TS_MSG_ERROR) {
		snprintf(p->error, sizeof p->error, "the server refused a probe: %s",
			 ts_proto_status_str((enum ts_proto_status)h->status));
		return -1;
	}
	if (h->type != TS_MSG_REPLY) {
		snprintf(p->error, sizeof p->error, "unexpected frame type %u from the server",
			 h->type);
		return -1;
	}
	if (!slot)
		return 0; /* not ours, or from long ago */
	s.seq = h->seq;
	s.rtt_ns = t4_raw_ns - slot->raw_ns;
	s.t1_wall_ns = (int64_t)h->t1_wall_ns;
	s.t2_wall_ns = (int64_t)h->t2_wall_ns;
	s.t3_wall_ns = (int64_t)h->t3_wall_ns;
	s.t4_wall_ns = t4_wall_ns;
	s.server_times = 1;
	ts_pinger_got(p, &s, h->frame_len);
	if (p->kt)
		ts_ping_kt_reply(p->kt, p->fd, &s, buf, h->hdr_len, ends_read ? p->kt->rx_ns : 0,
				 kt_offset(p));
	return 0;
}

static long parse_frames(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			 int64_t t4_wall_ns)
{
	size_t used = 0;

	while (used < len) {
		struct ts_proto_hdr h;
		enum ts_decode r =
		    ts_proto_decode(buf + used, len - used, TS_PROTO_FRAME_MAX, &h, NULL);
		if (r == TS_DECODE_NEED_MORE)
			break;
		if (r == TS_DECODE_BAD) {
			snprintf(p->error, sizeof p->error, "malformed reply from the server");
			return -1;
		}
		if (take_reply(p, buf + used, &h, used + h.frame_len == len, t4_raw_ns,
			       t4_wall_ns) != 0)
			return -1;
		used += h.frame_len;
	}
	return (long)used;
}

/* One datagram: a whole reply frame, or not ours and ignored. */
static void take_datagram(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			  int64_t t4_wall_ns)
{
	struct ts_proto_hdr h;

	if (ts_proto_decode(buf, len, TS_PROTO_FRAME_MAX, &h, NULL) != TS_DECODE_OK ||
	    h.frame_len != len || h.type != TS_MSG_REPLY)
		return;
	take_reply(p, buf, &h, true, t4_raw_ns, t4_wall_ns);
}

static int probe_ready(struct ts_pinger *p, short revents)
{
	/* Transmit records on the error queue raise POLLERR. */
	if (p->kt && (revents & POLLERR))
		ts_ping_kt_drain(p->kt, p->fd);
	if (p->opt->udp)
		return ts_pinger_read_datagrams(p, take_datagram);
	return ts_pinger_read_stream(p, parse_frames);
}

void ts_probe_kt_finish(struct ts_pinger *p)
{
	if (p->kt && p->mode == &ts_mode_probe)
		ts_ping_kt_finish(p->kt, p->fd, kt_offset(p));
}

const struct ts_mode ts_mode_probe = {
	.name = "probe",
	.one_at_a_time = 0,
	.start = probe_start,
	.send = probe_send,
	.ready = probe_ready,
};
