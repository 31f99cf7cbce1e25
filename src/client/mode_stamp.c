/* Ping mode "stamp": a STAMP Session-Sender (RFC 8762, unauthenticated),
 * interoperable with any STAMP or TWAMP-Light reflector.  Each probe is the
 * 44-octet base packet (zero-padded to -s) with its sequence number (from
 * 0), the NTP timestamp T1 and our clock's error estimate; the reflected
 * packet brings back T2 and T3, and the reflector's own sequence number,
 * which a stateful reflector counts per session: a gap there is a probe
 * lost on the way out, a gap only in ours one lost on the way back. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/stamp.h>
#include "pinger.h"

/* The TAI-UTC offset for PTP timestamps (IERS: 37 s since 2017). */
#define TAI_UTC_S 37

static int stamp_start(struct ts_pinger *p)
{
	return ts_pinger_connect(p);
}

static int stamp_send(struct ts_pinger *p, uint64_t seq)
{
	struct ts_stamp_sender s = { 0 };
	int64_t raw_ns = ts_raw_ns();

	memset(p->scratch, 0, p->opt->size);
	/* STAMP counts from 0; our sequence numbers from 1. */
	s.seq = (uint32_t)(seq - 1);
	s.ee = ts_stamp_local_ee();
	s.timestamp = ts_ntp_from_unix_ns(ts_pinger_sent(p, seq, raw_ns, ts_wall_ns()));
	ts_stamp_sender_encode(p->scratch, &s);
	if (send(p->fd, p->scratch, p->opt->size, 0) < 0 && errno == ECONNREFUSED) {
		ts_pinger_unreachable(p, seq); /* an earlier probe's error */
		ts_pinger_failed(p, seq, "port unreachable");
	}
	return 0;
}

static int64_t to_unix_ns(uint64_t ts, uint16_t ee_bits)
{
	struct ts_stamp_ee ee;

	/* Each timestamp is read by the Z bit of its own error estimate. */
	ts_stamp_ee_decode(ee_bits, &ee);
	return ee.ptp ? ts_ptp_to_unix_ns(ts, TAI_UTC_S) : ts_ntp_to_unix_ns(ts);
}

static void take(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
		 int64_t t4_wall_ns)
{
	struct ts_stamp_reflector r;
	const struct ts_send_slot *slot;
	struct ts_sample s;

	if (ts_stamp_reflector_decode(buf, len, &r) != TS_DECODE_OK)
		return;
	s.seq = (uint64_t)r.sender_seq + 1;
	slot = ts_pinger_slot(p, s.seq);
	if (!slot)
		return;
	s.rtt_ns = t4_raw_ns - slot->raw_ns;
	s.t1_wall_ns = slot->wall_ns;
	s.t2_wall_ns = to_unix_ns(r.rx_timestamp, r.ee);
	s.t3_wall_ns = to_unix_ns(r.timestamp, r.ee);
	s.t4_wall_ns = t4_wall_ns;
	s.server_times = 1;
	/* The reflector's own count: stateful when it differs from ours. */
	if (r.seq != r.sender_seq)
		p->stamp_stateful = 1;
	if (!ts_session_answered(&p->sess, s.seq) && (uint64_t)r.seq + 1 > p->stamp_reflected)
		p->stamp_reflected = (uint64_t)r.seq + 1;
	ts_pinger_got(p, &s, len);
}

static int stamp_ready(struct ts_pinger *p, short revents)
{
	(void)revents;
	return ts_pinger_read_datagrams(p, take);
}

const struct ts_mode ts_mode_stamp = {
	.name = "stamp",
	.one_at_a_time = 0,
	.start = stamp_start,
	.send = stamp_send,
	.ready = stamp_ready,
};
