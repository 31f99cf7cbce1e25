/* STAMP (RFC 8762) packet codec: see stamp.h. */
#include "config.h"

#include <tsecho/stamp.h>

#include <tsecho/clock.h>

#include <math.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch):
 * 70 years, 17 of them leap (RFC 5905 6, Figure 4). */
#define NTP_UNIX_OFFSET_S INT64_C(2208988800)

/* Field offsets, RFC 8762 4.2.1 Figure 2 and 4.3.1 Figure 5. */
enum {
	OFF_SEQ = 0,
	OFF_TIMESTAMP = 4,
	OFF_EE = 12,
	OFF_SSID = 14, /* RFC 8972; MBZ in RFC 8762 */
	OFF_SENDER_MBZ = 16,
	OFF_RX_TIMESTAMP = 16,
	OFF_SENDER_SEQ = 24,
	OFF_SENDER_TIMESTAMP = 28,
	OFF_SENDER_EE = 36,
	OFF_MBZ1 = 38,
	OFF_SENDER_TTL = 40,
	OFF_MBZ2 = 41,
};

/* unix_ns as whole seconds (rounded towards minus infinity) and the
 * nanoseconds left over, 0..999999999. */
static void split_ns(int64_t unix_ns, int64_t *sec, uint32_t *nsec)
{
	int64_t s = unix_ns / NS_PER_S, rem = unix_ns % NS_PER_S;

	if (rem < 0) {
		rem += NS_PER_S;
		s--;
	}
	*sec = s;
	*nsec = (uint32_t)rem;
}

uint64_t ts_ntp_from_unix_ns(int64_t unix_ns)
{
	int64_t sec;
	uint32_t nsec;
	uint64_t frac;

	split_ns(unix_ns, &sec, &nsec);
	/* Modulo 2^32: a time after the 2036 rollover lands in era 1. */
	sec += NTP_UNIX_OFFSET_S;
	frac = ((uint64_t)nsec << 32) / (uint64_t)NS_PER_S;
	return (uint64_t)(uint32_t)(uint64_t)sec << 32 | frac;
}

int64_t ts_ntp_to_unix_ns(uint64_t ntp)
{
	int64_t sec = (int64_t)(ntp >> 32);
	uint64_t frac = ntp & 0xFFFFFFFFu;
	/* Rounded to nearest: 10^9 at most, which carries into the
	 * seconds below. */
	int64_t nsec = (int64_t)((frac * (uint64_t)NS_PER_S + (1ull << 31)) >> 32);

	/* Seconds below 2^31 are era 1 (from Feb 2036), see stamp.h. */
	if (sec < (int64_t)1 << 31)
		sec += (int64_t)1 << 32;
	return (sec - NTP_UNIX_OFFSET_S) * NS_PER_S + nsec;
}

uint64_t ts_ptp_from_unix_ns(int64_t unix_ns, int tai_offset_s)
{
	int64_t sec;
	uint32_t nsec;

	split_ns(unix_ns, &sec, &nsec);
	sec += tai_offset_s;
	return (uint64_t)(uint32_t)(uint64_t)sec << 32 | nsec;
}

int64_t ts_ptp_to_unix_ns(uint64_t ptp, int tai_offset_s)
{
	int64_t sec = (int64_t)(ptp >> 32) - tai_offset_s;
	int64_t nsec = (int64_t)(ptp & 0xFFFFFFFFu);

	return sec * NS_PER_S + nsec;
}

uint16_t ts_stamp_ee_encode(const struct ts_stamp_ee *ee)
{
	unsigned v = (ee->scale & 0x3Fu) << 8 | (ee->multiplier & 0xFFu);

	if (ee->synced)
		v |= TS_STAMP_EE_S;
	if (ee->ptp)
		v |= TS_STAMP_EE_Z;
	return (uint16_t)v;
}

void ts_stamp_ee_decode(uint16_t v, struct ts_stamp_ee *ee)
{
	ee->synced = (v & TS_STAMP_EE_S) != 0;
	ee->ptp = (v & TS_STAMP_EE_Z) != 0;
	ee->scale = (v >> 8) & 0x3Fu;
	ee->multiplier = v & 0xFFu;
}

/* One Multiplier unit at this Scale, in ns: 10^9 * 2^(scale - 32).  Exact
 * in a double, and so is its product with a multiplier (10^9 has 21
 * significant bits, a multiplier 8). */
static double unit_ns(unsigned scale)
{
	return ldexp(1e9, (int)scale - 32);
}

void ts_stamp_ee_set_error(struct ts_stamp_ee *ee, double err_ns)
{
	ee->scale = 0;
	ee->multiplier = 1;
	if (!(err_ns > 0)) /* also NaN */
		return;
	for (unsigned scale = 0; scale < 64; scale++) {
		double unit = unit_ns(scale), q = ceil(err_ns / unit);
		unsigned m;

		if (q > 255.0)
			continue;
		m = q < 1.0 ? 1u : (unsigned)q;
		/* The division may round either way: settle m on the exact
		 * products. */
		while (m > 1 && (m - 1) * unit >= err_ns)
			m--;
		while (m * unit < err_ns)
			m++;
		if (m > 255)
			continue;
		ee->scale = scale;
		ee->multiplier = m;
		return;
	}
	ee->scale = 63;
	ee->multiplier = 255;
}

double ts_stamp_ee_error_ns(const struct ts_stamp_ee *ee)
{
	return (ee->multiplier & 0xFFu) * unit_ns(ee->scale & 0x3Fu);
}

size_t ts_stamp_sender_encode(uint8_t *buf, const struct ts_stamp_sender *s)
{
	ts_put_be32(buf + OFF_SEQ, s->seq);
	ts_put_be64(buf + OFF_TIMESTAMP, s->timestamp);
	ts_put_be16(buf + OFF_EE, s->ee);
	ts_put_be16(buf + OFF_SSID, s->ssid);
	memset(buf + OFF_SENDER_MBZ, 0, TS_STAMP_BASE_LEN - OFF_SENDER_MBZ);
	return TS_STAMP_BASE_LEN;
}

enum ts_decode ts_stamp_sender_decode(const uint8_t *buf, size_t len, struct ts_stamp_sender *out)
{
	struct ts_stamp_sender s;

	/* No NEED_MORE: a datagram is all there is. */
	if (len < TS_STAMP_SENDER_MIN)
		return TS_DECODE_BAD;
	s.seq = ts_get_be32(buf + OFF_SEQ);
	s.timestamp = ts_get_be64(buf + OFF_TIMESTAMP);
	s.ee = ts_get_be16(buf + OFF_EE);
	/* A TWAMP-Light sender's 14-15 are padding; a 14-octet one has none. */
	s.ssid = len >= OFF_SSID + 2 ? ts_get_be16(buf + OFF_SSID) : 0;
	if (out)
		*out = s;
	return TS_DECODE_OK;
}

void ts_stamp_reflector_encode(uint8_t *pkt, size_t len, const struct ts_stamp_reflector *r)
{
	size_t mbz2_end = len < TS_STAMP_BASE_LEN ? len : TS_STAMP_BASE_LEN;

	ts_put_be32(pkt + OFF_SEQ, r->seq);
	ts_put_be64(pkt + OFF_TIMESTAMP, r->timestamp);
	ts_put_be16(pkt + OFF_EE, r->ee);
	ts_put_be16(pkt + OFF_SSID, r->ssid);
	ts_put_be64(pkt + OFF_RX_TIMESTAMP, r->rx_timestamp);
	ts_put_be32(pkt + OFF_SENDER_SEQ, r->sender_seq);
	ts_put_be64(pkt + OFF_SENDER_TIMESTAMP, r->sender_timestamp);
	ts_put_be16(pkt + OFF_SENDER_EE, r->sender_ee);
	ts_put_be16(pkt + OFF_MBZ1, 0);
	pkt[OFF_SENDER_TTL] = r->sender_ttl;
	if (mbz2_end > OFF_MBZ2)
		memset(pkt + OFF_MBZ2, 0, mbz2_end - OFF_MBZ2);
}

void ts_stamp_reflector_set_t3(uint8_t *pkt, uint64_t t3)
{
	ts_put_be64(pkt + OFF_TIMESTAMP, t3);
}

enum ts_decode ts_stamp_reflector_decode(const uint8_t *buf, size_t len,
					 struct ts_stamp_reflector *out)
{
	struct ts_stamp_reflector r;

	if (len < TS_STAMP_TWAMP_MIN)
		return TS_DECODE_BAD;
	r.seq = ts_get_be32(buf + OFF_SEQ);
	r.timestamp = ts_get_be64(buf + OFF_TIMESTAMP);
	r.ee = ts_get_be16(buf + OFF_EE);
	r.ssid = ts_get_be16(buf + OFF_SSID);
	r.rx_timestamp = ts_get_be64(buf + OFF_RX_TIMESTAMP);
	r.sender_seq = ts_get_be32(buf + OFF_SENDER_SEQ);
	r.sender_timestamp = ts_get_be64(buf + OFF_SENDER_TIMESTAMP);
	r.sender_ee = ts_get_be16(buf + OFF_SENDER_EE);
	r.sender_ttl = buf[OFF_SENDER_TTL];
	if (out)
		*out = r;
	return TS_DECODE_OK;
}

uint16_t ts_stamp_local_ee(void)
{
	struct ts_stamp_ee ee = { 0 };
	double err_ns;

	ts_clock_sync(&ee.synced, &err_ns);
	ts_stamp_ee_set_error(&ee, err_ns);
	return ts_stamp_ee_encode(&ee);
}
