/* The STAMP (RFC 8762) codec: byte-exact packets from the RFC figures and
 * from packets seen on the wire, every truncation, NTP/PTP timestamps, the
 * Error Estimate. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include <tsecho/stamp.h>
#include "unit.h"

/* Observed on loopback (docs: stamp-rfc8762.md section 9): an RFC8762-CLI
 * sender packet, seq 0, EE 0x0001 ... */
static const uint8_t wire_sender[44] = {
	0x00, 0x00, 0x00, 0x00, 0xee, 0xb0, 0xaf, 0x45, 0x59, 0xea, 0xfd, 0x7e, 0x00, 0x01,
	/* 30 MBZ octets */
};

/* ... and an RFC8762-CLI reflector answering a twampy sender (TTL 255). */
static const uint8_t wire_reflector[44] = {
	0x00, 0x00, 0x00, 0x00,                         /* seq */
	0xee, 0xb0, 0xaf, 0x4d, 0x9e, 0x81, 0xb3, 0x2b, /* T3 */
	0x00, 0x01,                                     /* EE */
	0x00, 0x00,                                     /* MBZ / SSID */
	0xee, 0xb0, 0xaf, 0x4d, 0x9e, 0x74, 0x8a, 0xce, /* T2 */
	0x00, 0x00, 0x00, 0x00,                         /* sender seq */
	0xee, 0xb0, 0xaf, 0x4d, 0x9e, 0x5d, 0xeb, 0xff, /* T1 */
	0x3f, 0xff,                                     /* sender EE */
	0x00, 0x00,                                     /* MBZ */
	0xff,                                           /* sender TTL */
	0x00, 0x00, 0x00,                               /* MBZ */
};

static struct ts_stamp_reflector wire_reflector_fields(void)
{
	struct ts_stamp_reflector r = {
		.seq = 0,
		.timestamp = 0xeeb0af4d9e81b32bull,
		.ee = 0x0001,
		.ssid = 0,
		.rx_timestamp = 0xeeb0af4d9e748aceull,
		.sender_seq = 0,
		.sender_timestamp = 0xeeb0af4d9e5debffull,
		.sender_ee = 0x3fff,
		.sender_ttl = 255,
	};
	return r;
}

static uint8_t *heap_copy(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	if (c && len)
		memcpy(c, p, len);
	return c;
}

Test(stamp, sender_encode_wire)
{
	uint8_t buf[48];
	struct ts_stamp_sender s = { .seq = 0, .timestamp = 0xeeb0af4559eafd7eull, .ee = 0x0001 };

	memset(buf, 0xA5, sizeof buf);
	cr_expect(eq(u64, ts_stamp_sender_encode(buf, &s), TS_STAMP_BASE_LEN));
	expect_mem_eq(buf, wire_sender, sizeof wire_sender);
	/* Octets past the base packet belong to the caller. */
	cr_expect(eq(u64, buf[44], 0xA5));
	cr_expect(eq(u64, buf[47], 0xA5));
}

Test(stamp, sender_encode_fields)
{
	uint8_t buf[44];
	static const uint8_t want[16] = { 0x01, 0x02, 0x03, 0x04, 0x11, 0x12, 0x13, 0x14,
					  0x15, 0x16, 0x17, 0x18, 0x8c, 0x05, 0xbe, 0xef };
	struct ts_stamp_sender s = {
		.seq = 0x01020304, .timestamp = 0x1112131415161718ull, .ee = 0x8c05, .ssid = 0xbeef
	};

	memset(buf, 0xFF, sizeof buf);
	ts_stamp_sender_encode(buf, &s);
	expect_mem_eq(buf, want, sizeof want);
	for (size_t i = 16; i < sizeof buf; i++)
		if (buf[i] != 0)
			cr_fail("MBZ octet %zu is 0x%02x", i, buf[i]);
}

Test(stamp, sender_decode_round_trip)
{
	uint8_t buf[60];
	struct ts_stamp_sender s = { .seq = 0xFFFFFFFEu,
				     .timestamp = UINT64_MAX - 1,
				     .ee = 0xC0FF,
				     .ssid = 0x1234 },
			       got;

	memset(buf, 0x77, sizeof buf); /* TLV area: ignored */
	ts_stamp_sender_encode(buf, &s);
	cr_expect(eq(i64, ts_stamp_sender_decode(buf, sizeof buf, &got), TS_DECODE_OK));
	cr_expect(eq(u64, got.seq, s.seq));
	cr_expect(eq(u64, got.timestamp, s.timestamp));
	cr_expect(eq(u64, got.ee, s.ee));
	cr_expect(eq(u64, got.ssid, s.ssid));
	cr_expect(
	    eq(i64, ts_stamp_sender_decode(wire_sender, sizeof wire_sender, &got), TS_DECODE_OK));
	cr_expect(eq(u64, got.seq, 0));
	cr_expect(eq(u64, got.timestamp, 0xeeb0af4559eafd7eull));
	cr_expect(eq(u64, got.ee, 1));
	cr_expect(eq(u64, got.ssid, 0));
	cr_expect(eq(i64, ts_stamp_sender_decode(buf, sizeof buf, NULL), TS_DECODE_OK));
}

Test(stamp, sender_truncations)
{
	uint8_t buf[44];
	struct ts_stamp_sender s = { .seq = 7,
				     .timestamp = 0x0102030405060708ull,
				     .ee = 0x0C01,
				     .ssid = 0xABCD },
			       got;

	ts_stamp_sender_encode(buf, &s);
	for (size_t len = 0; len <= sizeof buf; len++) {
		/* Exactly len bytes on the heap: ASan sees any over-read. */
		uint8_t *copy = heap_copy(buf, len);
		enum ts_decode r = ts_stamp_sender_decode(copy, len, &got);

		if (len < 14 && r != TS_DECODE_BAD)
			cr_fail("sender of %zu octets: %d, want BAD", len, r);
		if (len >= 14) {
			if (r != TS_DECODE_OK)
				cr_fail("sender of %zu octets: %d, want OK", len, r);
			else if (got.seq != 7 || got.timestamp != s.timestamp || got.ee != 0x0C01 ||
				 got.ssid != (len >= 16 ? 0xABCD : 0))
				cr_fail("sender of %zu octets: wrong fields", len);
		}
		free(copy);
	}
}

Test(stamp, reflector_encode_wire)
{
	/* twampy's sender packet as it arrived, padding made non-zero so
	 * the MBZ zeroing shows. */
	uint8_t pkt[44];
	struct ts_stamp_reflector r = wire_reflector_fields();

	memset(pkt, 0xA5, sizeof pkt);
	ts_put_be32(pkt, 0);
	ts_put_be64(pkt + 4, r.sender_timestamp);
	ts_put_be16(pkt + 12, r.sender_ee);
	r.timestamp = 0; /* placeholder, T3 comes last */
	ts_stamp_reflector_encode(pkt, sizeof pkt, &r);
	cr_expect(eq(u64, ts_get_be64(pkt + 4), 0));
	ts_stamp_reflector_set_t3(pkt, 0xeeb0af4d9e81b32bull);
	expect_mem_eq(pkt, wire_reflector, sizeof wire_reflector);
}

Test(stamp, reflector_encode_fields)
{
	uint8_t pkt[44];
	static const uint8_t want[44] = {
		0x00, 0x00, 0x00, 0x2a, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
		0x38, 0x80, 0x01, 0x12, 0x34, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
		0x27, 0x28, 0x00, 0x00, 0x00, 0x29, 0x11, 0x12, 0x13, 0x14, 0x15,
		0x16, 0x17, 0x18, 0x16, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00,
	};
	struct ts_stamp_reflector r = {
		.seq = 42,
		.timestamp = 0x3132333435363738ull,
		.ee = 0x8001,
		.ssid = 0x1234,
		.rx_timestamp = 0x2122232425262728ull,
		.sender_seq = 41,
		.sender_timestamp = 0x1112131415161718ull,
		.sender_ee = 0x1601,
		.sender_ttl = 64,
	};

	memset(pkt, 0xFF, sizeof pkt);
	ts_stamp_reflector_encode(pkt, sizeof pkt, &r);
	expect_mem_eq(pkt, want, sizeof want);
}

Test(stamp, reflector_decode_wire)
{
	struct ts_stamp_reflector got, want = wire_reflector_fields();

	cr_expect(eq(i64, ts_stamp_reflector_decode(wire_reflector, sizeof wire_reflector, &got),
		     TS_DECODE_OK));
	cr_expect(eq(u64, got.seq, want.seq));
	cr_expect(eq(u64, got.timestamp, want.timestamp));
	cr_expect(eq(u64, got.ee, want.ee));
	cr_expect(eq(u64, got.ssid, want.ssid));
	cr_expect(eq(u64, got.rx_timestamp, want.rx_timestamp));
	cr_expect(eq(u64, got.sender_seq, want.sender_seq));
	cr_expect(eq(u64, got.sender_timestamp, want.sender_timestamp));
	cr_expect(eq(u64, got.sender_ee, want.sender_ee));
	cr_expect(eq(u64, got.sender_ttl, want.sender_ttl));
	/* T1 < T2 < T3 on the wire, as they should be on one host. */
	cr_expect(ts_ntp_to_unix_ns(got.sender_timestamp) < ts_ntp_to_unix_ns(got.rx_timestamp));
	cr_expect(ts_ntp_to_unix_ns(got.rx_timestamp) < ts_ntp_to_unix_ns(got.timestamp));
	cr_expect(eq(i64, ts_stamp_reflector_decode(wire_reflector, 41, NULL), TS_DECODE_OK));
}

/* Every reflected size from the TWAMP minimum up: exact heap buffers, so
 * ASan catches a write or read past len; octets from 44 on survive. */
Test(stamp, reflector_in_place_sizes)
{
	struct ts_stamp_reflector r = wire_reflector_fields(), got;

	for (size_t len = TS_STAMP_TWAMP_MIN; len <= 64; len++) {
		uint8_t *pkt = malloc(len);

		for (size_t i = 0; i < len; i++)
			pkt[i] = (uint8_t)(0x80 | i);
		ts_stamp_reflector_encode(pkt, len, &r);
		ts_stamp_reflector_set_t3(pkt, 0x0102030405060708ull);
		for (size_t i = 41; i < len && i < 44; i++)
			if (pkt[i] != 0)
				cr_fail("len %zu: MBZ octet %zu not zeroed", len, i);
		for (size_t i = 44; i < len; i++)
			if (pkt[i] != (uint8_t)(0x80 | i))
				cr_fail("len %zu: octet %zu changed", len, i);
		cr_expect(eq(u64, pkt[38], 0));
		cr_expect(eq(u64, pkt[39], 0));
		if (ts_stamp_reflector_decode(pkt, len, &got) != TS_DECODE_OK)
			cr_fail("len %zu: not OK", len);
		else if (got.timestamp != 0x0102030405060708ull || got.seq != r.seq ||
			 got.rx_timestamp != r.rx_timestamp ||
			 got.sender_timestamp != r.sender_timestamp ||
			 got.sender_ee != r.sender_ee || got.sender_ttl != r.sender_ttl ||
			 got.ee != r.ee || got.ssid != r.ssid)
			cr_fail("len %zu: fields differ", len);
		free(pkt);
	}
}

Test(stamp, reflector_truncations)
{
	for (size_t len = 0; len <= sizeof wire_reflector; len++) {
		uint8_t *copy = heap_copy(wire_reflector, len);
		struct ts_stamp_reflector got;
		enum ts_decode r = ts_stamp_reflector_decode(copy, len, &got);
		enum ts_decode want = len < TS_STAMP_TWAMP_MIN ? TS_DECODE_BAD : TS_DECODE_OK;

		if (r != want)
			cr_fail("reflector of %zu octets: %d, want %d", len, r, want);
		else if (r == TS_DECODE_OK && got.sender_ttl != 255)
			cr_fail("reflector of %zu octets: TTL %u", len, got.sender_ttl);
		free(copy);
	}
}

#define NS INT64_C(1000000000)

Test(stamp, ntp_epochs)
{
	/* RFC 5905 Figure 4: 1970-01-01 is NTP 2,208,988,800 s; 2000-01-01
	 * (Unix 946684800) is 3,155,673,600 s. */
	cr_expect(eq(u64, ts_ntp_from_unix_ns(0), UINT64_C(2208988800) << 32));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(2208988800) << 32), 0));
	cr_expect(eq(u64, ts_ntp_from_unix_ns(946684800 * NS), UINT64_C(3155673600) << 32));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(3155673600) << 32), 946684800 * NS));
	/* Half a second is fraction 2^31. */
	cr_expect(eq(u64, ts_ntp_from_unix_ns(NS / 2), UINT64_C(2208988800) << 32 | 0x80000000u));
	/* 1 ns = 4.29 fraction units, truncated to 4. */
	cr_expect(eq(u64, ts_ntp_from_unix_ns(1) & 0xFFFFFFFFu, 4));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(2208988800) << 32 | 4), 1));
	/* The largest fraction rounds up into the next second. */
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(2208988800) << 32 | 0xFFFFFFFFu), NS));
	/* Before 1970 is fine down to the window's start. */
	cr_expect(eq(u64, ts_ntp_from_unix_ns(-NS / 2), UINT64_C(2208988799) << 32 | 0x80000000u));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(2208988799) << 32 | 0x80000000u), -NS / 2));
	/* The wire vector's T1 reads back to a nearby NTP value. */
	{
		uint64_t t1 = 0xeeb0af4559eafd7eull;
		int64_t ns = ts_ntp_to_unix_ns(t1);
		uint64_t again = ts_ntp_from_unix_ns(ns);

		cr_expect(eq(i64, ns / NS, 0xeeb0af45 - INT64_C(2208988800)));
		cr_expect(again >> 32 == t1 >> 32);
		cr_expect(le(u64, again > t1 ? again - t1 : t1 - again, 5)); /* 1 ns = 4.3 units */
	}
}

Test(stamp, ntp_era_2036)
{
	/* Era 1 starts at 2036-02-07 06:28:16 UTC, Unix 2085978496. */
	int64_t era1 = INT64_C(2085978496) * NS;

	cr_expect(eq(u64, ts_ntp_from_unix_ns(era1), 0));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(0), era1));
	cr_expect(eq(u64, ts_ntp_from_unix_ns(era1 - NS), UINT64_C(0xFFFFFFFF) << 32));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(0xFFFFFFFF) << 32), era1 - NS));
	cr_expect(eq(u64, ts_ntp_from_unix_ns(era1 + NS / 4), 0x40000000u));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(0x40000000u), era1 + NS / 4));
	/* The window: seconds 2^31 are era 0 (1968-01-20 03:14:08 UTC),
	 * 2^31 - 1 are era 1 (the last second before 2104-02-26 09:42:24). */
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(0x80000000) << 32),
		     (INT64_C(0x80000000) - INT64_C(2208988800)) * NS));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(0x7FFFFFFF) << 32),
		     (INT64_C(0x17FFFFFFF) - INT64_C(2208988800)) * NS));
	cr_expect(eq(i64, ts_ntp_to_unix_ns(UINT64_C(0x7FFFFFFF) << 32) / NS, INT64_C(4233462143)));
	cr_expect(
	    eq(u64, ts_ntp_from_unix_ns(INT64_C(4233462143) * NS), UINT64_C(0x7FFFFFFF) << 32));
}

Test(stamp, ntp_ns_round_trip)
{
	static const int64_t base[] = { 0, 946684800 * NS, INT64_C(1764033903) * NS,
					INT64_C(2085978496) * NS, -INT64_C(61505152) * NS };
	uint64_t x = 0x9E3779B97F4A7C15ull;

	for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
		for (int i = 0; i < 2000; i++) {
			int64_t ns;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ns = base[b] + (i < 1000 ? i : (int64_t)(x % (uint64_t)(100 * NS)));
			if (ts_ntp_to_unix_ns(ts_ntp_from_unix_ns(ns)) != ns)
				cr_fail("ns %" PRId64 " -> 0x%016" PRIx64 " -> %" PRId64, ns,
					ts_ntp_from_unix_ns(ns),
					ts_ntp_to_unix_ns(ts_ntp_from_unix_ns(ns)));
		}
	}
	/* The last ns of a second stays in its second. */
	cr_expect(eq(i64, ts_ntp_to_unix_ns(ts_ntp_from_unix_ns(NS - 1)), NS - 1));
	cr_expect(eq(u64, ts_ntp_from_unix_ns(NS - 1) >> 32, 2208988800u));
}

Test(stamp, ptp)
{
	/* PTP epoch 1970-01-01 TAI; UTC is 37 s behind TAI since 2017. */
	cr_expect(eq(u64, ts_ptp_from_unix_ns(0, 0), 0));
	cr_expect(eq(u64, ts_ptp_from_unix_ns(0, 37), UINT64_C(37) << 32));
	cr_expect(eq(u64, ts_ptp_from_unix_ns(NS + NS / 2, 37), UINT64_C(38) << 32 | 500000000u));
	cr_expect(eq(i64, ts_ptp_to_unix_ns(UINT64_C(38) << 32 | 500000000u, 37), NS + NS / 2));
	cr_expect(eq(u64, ts_ptp_from_unix_ns(INT64_C(1764033903) * NS + 123456789, 37),
		     UINT64_C(1764033940) << 32 | 123456789u));
	cr_expect(eq(i64, ts_ptp_to_unix_ns(UINT64_C(1764033940) << 32 | 123456789u, 37),
		     INT64_C(1764033903) * NS + 123456789));
	/* The last ns of a second, and unsigned seconds past 2038. */
	cr_expect(eq(u64, ts_ptp_from_unix_ns(NS - 1, 0), 999999999u));
	cr_expect(
	    eq(i64, ts_ptp_to_unix_ns(UINT64_C(0xFFFFFFFF) << 32, 0), INT64_C(0xFFFFFFFF) * NS));
	for (int64_t ns = INT64_C(1700000000) * NS; ns < INT64_C(1700000000) * NS + 3 * NS;
	     ns += 7777777)
		if (ts_ptp_to_unix_ns(ts_ptp_from_unix_ns(ns, 37), 37) != ns)
			cr_fail("PTP round trip of %" PRId64, ns);
}

/* Error estimates (RFC 8762 section 4.2.1, RFC 4656 section 4.1.2) and
 * what they decode to. */
static const struct {
	uint16_t v;
	int synced, ptp;
	unsigned scale, multiplier;
	double error_ns;
} ee_cases[] = {
	{ 0x0001, 0, 0, 0, 1, 1e9 / 4294967296.0 },          /* 0.23 ns */
	{ 0x0C01, 0, 0, 12, 1, 1e9 / 1048576.0 },            /* 0.95 us */
	{ 0x1601, 0, 0, 22, 1, 1e9 / 1024.0 },               /* 0.98 ms */
	{ 0x3FFF, 0, 0, 63, 255, 255 * 1e9 * 2147483648.0 }, /* "unknown" */
	{ 0x4001, 0, 1, 0, 1, 1e9 / 4294967296.0 },          /* PTP */
	{ 0x8C01, 1, 0, 12, 1, 1e9 / 1048576.0 },            /* synced */
	{ 0xC000, 1, 1, 0, 0, 0.0 },                         /* invalid: m 0 */
};

ParameterizedTestParameters(stamp, ee_worked_value)
{
	TS_TABLE_ROWS(ee_cases);
}

ParameterizedTest(size_t *row, stamp, ee_worked_value)
{
	struct ts_stamp_ee ee;
	uint16_t v = ee_cases[*row].v;

	ts_stamp_ee_decode(v, &ee);
	cr_expect(eq(int, ee.synced, ee_cases[*row].synced), "0x%04x: S", v);
	cr_expect(eq(int, ee.ptp, ee_cases[*row].ptp), "0x%04x: Z", v);
	cr_expect(eq(uint, ee.scale, ee_cases[*row].scale), "0x%04x: scale", v);
	cr_expect(eq(uint, ee.multiplier, ee_cases[*row].multiplier), "0x%04x: multiplier", v);
	cr_expect(ts_stamp_ee_error_ns(&ee) == ee_cases[*row].error_ns,
		  "0x%04x: error %.9g ns, want %.9g", v, ts_stamp_ee_error_ns(&ee),
		  ee_cases[*row].error_ns);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), v));
}

Test(stamp, ee_error_in_ns)
{
	cr_expect(fabs(ts_stamp_ee_error_ns(&(struct ts_stamp_ee){ .scale = 12, .multiplier = 1 }) -
		       953.67) < 0.01);
	cr_expect(fabs(ts_stamp_ee_error_ns(&(struct ts_stamp_ee){ .scale = 22, .multiplier = 1 }) -
		       976562.5) < 1e-6);
}

Test(stamp, ee_encode_decode_all)
{
	for (unsigned v = 0; v <= 0xFFFF; v++) {
		struct ts_stamp_ee ee;

		ts_stamp_ee_decode((uint16_t)v, &ee);
		if (ts_stamp_ee_encode(&ee) != v)
			cr_fail("0x%04x does not round trip", v);
	}
	/* Non-zero flags count as 1; out-of-range fields are masked. */
	cr_expect(eq(u64,
		     ts_stamp_ee_encode(&(struct ts_stamp_ee){
			 .synced = 5, .ptp = -1, .scale = 64 + 3, .multiplier = 256 + 9 }),
		     0xC309));
}

/* The chosen scale is the smallest that fits, the multiplier the smallest
 * at that scale, the error never below the request. */
static void check_set_error(double err_ns)
{
	struct ts_stamp_ee ee = { .synced = 1, .ptp = 1, .scale = 9, .multiplier = 9 };
	double got, unit;

	ts_stamp_ee_set_error(&ee, err_ns);
	got = ts_stamp_ee_error_ns(&ee);
	unit = ldexp(1e9, (int)ee.scale - 32);
	if (ee.multiplier < 1 || ee.multiplier > 255 || ee.scale > 63)
		cr_fail("%.17g ns: scale %u multiplier %u", err_ns, ee.scale, ee.multiplier);
	if (!ee.synced || !ee.ptp)
		cr_fail("%.17g ns: S or Z changed", err_ns);
	if (ee.scale == 63 && ee.multiplier == 255)
		return; /* saturated: the largest there is */
	if (got < err_ns)
		cr_fail("%.17g ns: error %.17g is smaller", err_ns, got);
	if (ee.multiplier > 1 && (ee.multiplier - 1) * unit >= err_ns)
		cr_fail("%.17g ns: multiplier %u not the smallest", err_ns, ee.multiplier);
	if (ee.scale > 0 && 255 * ldexp(1e9, (int)ee.scale - 33) >= err_ns)
		cr_fail("%.17g ns: scale %u not the smallest", err_ns, ee.scale);
}

Test(stamp, ee_set_error)
{
	const double unit0 = 1e9 / 4294967296.0; /* 2^-32 s */
	struct ts_stamp_ee ee = { 0 };

	/* The finest, for nothing or less than one unit. */
	ts_stamp_ee_set_error(&ee, 0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0001));
	ts_stamp_ee_set_error(&ee, -5);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0001));
	ts_stamp_ee_set_error(&ee, NAN);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0001));
	ts_stamp_ee_set_error(&ee, unit0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0001));
	ts_stamp_ee_set_error(&ee, unit0 * 1.000001);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0002));
	ts_stamp_ee_set_error(&ee, 255 * unit0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x00FF));
	/* 256 units need scale 1: 128 * 2 units. */
	ts_stamp_ee_set_error(&ee, 256 * unit0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0180));
	/* 2^-20 s (0x0C01's value) fits first at scale 5, as 128 * 2^-27. */
	ts_stamp_ee_set_error(&ee, 1e9 / 1048576.0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0580));
	/* 1 us: scale 5 (7.45 ns units), ceil(134.2) = 135. */
	ts_stamp_ee_set_error(&ee, 1000);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x0587));
	/* Saturation. */
	ts_stamp_ee_set_error(&ee, 255 * 1e9 * 2147483648.0);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x3FFF));
	ts_stamp_ee_set_error(&ee, 1e30);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x3FFF));
	ts_stamp_ee_set_error(&ee, INFINITY);
	cr_expect(eq(u64, ts_stamp_ee_encode(&ee), 0x3FFF));

	for (double e = 1e-3; e < 1e21; e *= 1.0137)
		check_set_error(e);
	/* Exact boundaries: every multiplier at every scale, and just above. */
	for (unsigned s = 0; s < 64; s++)
		for (unsigned m = 1; m < 256; m++) {
			check_set_error(m * ldexp(1e9, (int)s - 32));
			check_set_error(nextafter(m * ldexp(1e9, (int)s - 32), INFINITY));
		}
}
