/* The binary protocol codec: round trips, every truncation, garbage,
 * limits. */
#include <stdlib.h>

#include <tsecho/proto.h>
#include "unit.h"

static struct ts_proto_hdr probe_hdr(uint32_t frame_len)
{
	struct ts_proto_hdr h = {
		.version = TS_PROTO_VERSION,
		.type = TS_MSG_PROBE,
		.hdr_len = TS_PROTO_HDR_LEN,
		.frame_len = frame_len,
		.seq = 0x0102030405060708ull,
		.t1_wall_ns = 1764033903541234567ull,
	};
	return h;
}

static void test_be_helpers(void)
{
	uint8_t b[8];

	ts_put_be16(b, 0xABCD);
	CHECK_EQ_U(b[0], 0xAB);
	CHECK_EQ_U(b[1], 0xCD);
	CHECK_EQ_U(ts_get_be16(b), 0xABCD);
	ts_put_be32(b, 0xDEADBEEF);
	CHECK_EQ_U(b[0], 0xDE);
	CHECK_EQ_U(b[3], 0xEF);
	CHECK_EQ_U(ts_get_be32(b), 0xDEADBEEF);
	ts_put_be64(b, 0x0102030405060708ull);
	CHECK_EQ_U(b[0], 1);
	CHECK_EQ_U(b[7], 8);
	CHECK_EQ_U(ts_get_be64(b), 0x0102030405060708ull);
	ts_put_be64(b, UINT64_MAX);
	CHECK_EQ_U(ts_get_be64(b), UINT64_MAX);
}

static void test_encode_layout(void)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(64);
	static const uint8_t want[16] = {
		0xC0, 'T', 'S', 'E', 1, 1, 0, 48, 0, 0, 0, 64, 0, 0, 0, 0
	};

	h.t2_wall_ns = 2;
	h.t3_wall_ns = 3;
	ts_proto_encode_hdr(buf, &h);
	CHECK_MEM(buf, want, sizeof want);
	CHECK_EQ_U(ts_get_be64(buf + 16), h.seq);
	CHECK_EQ_U(ts_get_be64(buf + 24), h.t1_wall_ns);
	CHECK_EQ_U(ts_get_be64(buf + 32), 2);
	CHECK_EQ_U(ts_get_be64(buf + 40), 3);
}

static void test_round_trip(void)
{
	uint8_t buf[120];
	struct ts_proto_hdr h = probe_hdr(100), got;
	enum ts_proto_status st = TS_STATUS_OK;

	memset(buf, 0x5A, sizeof buf);
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, 1024, &got, &st), TS_DECODE_OK);
	CHECK_EQ_U(got.version, 1);
	CHECK_EQ_U(got.type, TS_MSG_PROBE);
	CHECK_EQ_U(got.hdr_len, 48);
	CHECK_EQ_U(got.frame_len, 100);
	CHECK_EQ_U(got.seq, h.seq);
	CHECK_EQ_U(got.t1_wall_ns, h.t1_wall_ns);
	CHECK_EQ_U(got.t2_wall_ns, 0);
	/* Bytes after the frame are not part of it; one short is NEED_MORE. */
	CHECK_EQ_I(ts_proto_decode(buf, 99, 1024, &got, &st), TS_DECODE_NEED_MORE);
}

static void test_every_truncation_needs_more(void)
{
	uint8_t buf[80];
	struct ts_proto_hdr h = probe_hdr(sizeof buf);

	memset(buf, 0, sizeof buf);
	ts_proto_encode_hdr(buf, &h);
	for (size_t len = 0; len < sizeof buf; len++) {
		/* Decode from a heap copy of exactly len bytes so that ASan
		 * catches any read past the end. */
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		if (ts_proto_decode(copy, len, 1024, NULL, NULL) != TS_DECODE_NEED_MORE)
			UNIT_FAIL("truncation at %zu bytes not NEED_MORE", len);
		free(copy);
	}
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, 1024, NULL, NULL), TS_DECODE_OK);
}

static void test_bad_headers(void)
{
	uint8_t buf[64];
	struct ts_proto_hdr h;
	enum ts_proto_status st;

	struct {
		const char *what;
		size_t field_off;
		uint32_t value;
		size_t width;
		enum ts_proto_status want;
	} cases[] = {
		{ "magic", 0, 0x41, 1, TS_STATUS_MALFORMED },
		{ "magic byte 3", 3, 0x00, 1, TS_STATUS_MALFORMED },
		{ "version 0", 4, 0, 1, TS_STATUS_VERSION },
		{ "version 2", 4, 2, 1, TS_STATUS_VERSION },
		{ "type 0", 5, 0, 1, TS_STATUS_TYPE },
		{ "type 9", 5, 9, 1, TS_STATUS_TYPE },
		{ "hdr_len 20", 6, 20, 2, TS_STATUS_MALFORMED },
		{ "hdr_len 50", 6, 50, 2, TS_STATUS_MALFORMED },
		{ "hdr_len > frame", 6, 68, 2, TS_STATUS_MALFORMED },
		{ "frame_len 47", 8, 47, 4, TS_STATUS_MALFORMED },
		{ "frame_len over limit", 8, 1025, 4, TS_STATUS_TOO_BIG },
		{ "frame_len 4 GiB", 8, 0xFFFFFFFFu, 4, TS_STATUS_TOO_BIG },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		h = probe_hdr(sizeof buf);
		memset(buf, 0, sizeof buf);
		ts_proto_encode_hdr(buf, &h);
		if (cases[i].width == 1)
			buf[cases[i].field_off] = (uint8_t)cases[i].value;
		else if (cases[i].width == 2)
			ts_put_be16(buf + cases[i].field_off, (uint16_t)cases[i].value);
		else
			ts_put_be32(buf + cases[i].field_off, cases[i].value);
		st = TS_STATUS_OK;
		if (ts_proto_decode(buf, sizeof buf, 1024, NULL, &st) != TS_DECODE_BAD)
			UNIT_FAIL("%s: not BAD", cases[i].what);
		else if (st != cases[i].want)
			UNIT_FAIL("%s: status %d, want %d", cases[i].what, st, cases[i].want);
	}
}

static void test_oversize_known_from_header(void)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(4096);
	enum ts_proto_status st = TS_STATUS_OK;

	/* Only the header is here: too big must not wait for the body. */
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, 1024, NULL, &st), TS_DECODE_BAD);
	CHECK_EQ_I(st, TS_STATUS_TOO_BIG);
	/* A limit above the protocol's own is clamped to it. */
	h = probe_hdr(TS_PROTO_FRAME_MAX + 1);
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, SIZE_MAX, NULL, &st), TS_DECODE_BAD);
	CHECK_EQ_I(st, TS_STATUS_TOO_BIG);
}

static void test_maximum_sizes(void)
{
	uint8_t *buf = calloc(1, TS_PROTO_FRAME_MAX);
	struct ts_proto_hdr h = probe_hdr(TS_PROTO_FRAME_MAX), got;

	h.hdr_len = 0xFFFC; /* the largest extension area */
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode(buf, TS_PROTO_FRAME_MAX, TS_PROTO_FRAME_MAX, &got, NULL),
		   TS_DECODE_OK);
	CHECK_EQ_U(got.frame_len, TS_PROTO_FRAME_MAX);
	CHECK_EQ_U(got.hdr_len, 0xFFFC);
	/* The smallest frame: header only. */
	h = probe_hdr(TS_PROTO_HDR_LEN);
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode(buf, TS_PROTO_HDR_LEN, 48, &got, NULL), TS_DECODE_OK);
	free(buf);
}

static void test_reply_in_place(void)
{
	uint8_t frame[60], orig[60];
	struct ts_proto_hdr h = probe_hdr(sizeof frame), got;

	for (size_t i = 0; i < sizeof frame; i++)
		frame[i] = (uint8_t)i;
	ts_proto_encode_hdr(frame, &h);
	memcpy(orig, frame, sizeof frame);
	ts_proto_make_reply(frame, 111, 222);
	CHECK_EQ_I(ts_proto_decode(frame, sizeof frame, 1024, &got, NULL), TS_DECODE_OK);
	CHECK_EQ_U(got.type, TS_MSG_REPLY);
	CHECK_EQ_U(got.t2_wall_ns, 111);
	CHECK_EQ_U(got.t3_wall_ns, 222);
	CHECK_EQ_U(got.seq, h.seq);
	CHECK_EQ_U(got.t1_wall_ns, h.t1_wall_ns);
	/* Everything but type, t2 and t3 is untouched. */
	CHECK_MEM(frame, orig, 5);
	CHECK_MEM(frame + 6, orig + 6, 26);
	CHECK_MEM(frame + 48, orig + 48, sizeof frame - 48);
}

static void test_error_frame(void)
{
	uint8_t buf[48];
	struct ts_proto_hdr got;

	CHECK_EQ_U(ts_proto_encode_error(buf, TS_STATUS_TOO_BIG, 77), 48);
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, 48, &got, NULL), TS_DECODE_OK);
	CHECK_EQ_U(got.type, TS_MSG_ERROR);
	CHECK_EQ_U(got.status, TS_STATUS_TOO_BIG);
	CHECK_EQ_U(got.seq, 77);
	CHECK_EQ_U(got.frame_len, 48);
	CHECK_EQ_STR(ts_proto_status_str(TS_STATUS_TOO_BIG), "frame too big");
}

static void test_garbage_never_ok(void)
{
	uint8_t buf[256];
	unsigned seed = 12345;

	/* Random bytes with the right magic: any answer is fine but OK must
	 * mean the header checks passed. */
	for (int round = 0; round < 20000; round++) {
		struct ts_proto_hdr h;
		size_t len = (size_t)(seed % sizeof buf);
		for (size_t i = 0; i < sizeof buf; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		if (round % 2) {
			buf[0] = 0xC0, buf[1] = 'T', buf[2] = 'S', buf[3] = 'E', buf[4] = 1;
			buf[5] = (uint8_t)(1 + round % 3);
		}
		if (ts_proto_decode(buf, len, sizeof buf, &h, NULL) == TS_DECODE_OK) {
			CHECK(h.frame_len <= len);
			CHECK(h.hdr_len >= 48 && h.hdr_len <= h.frame_len);
		}
	}
}

static void test_magic_prefix(void)
{
	const uint8_t good[4] = { 0xC0, 'T', 'S', 'E' };
	const uint8_t text[4] = { 'h', 'e', 'l', 'o' };

	CHECK(ts_proto_magic_prefix(good, 0));
	CHECK(ts_proto_magic_prefix(good, 1));
	CHECK(ts_proto_magic_prefix(good, 4));
	CHECK(!ts_proto_magic_prefix(text, 1));
	CHECK_EQ_I(ts_proto_decode(text, 4, 1024, NULL, NULL), TS_DECODE_BAD);
}

static void test_decode_hdr_only(void)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(4096), got;
	enum ts_proto_status st = TS_STATUS_OK;

	/* The header alone is enough: no NEED_MORE for the body. */
	ts_proto_encode_hdr(buf, &h);
	CHECK_EQ_I(ts_proto_decode_hdr(buf, 65536, &got, &st), TS_DECODE_OK);
	CHECK_EQ_U(got.frame_len, 4096);
	CHECK_EQ_U(got.seq, h.seq);
	CHECK_EQ_I(ts_proto_decode(buf, sizeof buf, 65536, NULL, NULL), TS_DECODE_NEED_MORE);
	/* The same checks as the full decoder. */
	CHECK_EQ_I(ts_proto_decode_hdr(buf, 1024, NULL, &st), TS_DECODE_BAD);
	CHECK_EQ_I(st, TS_STATUS_TOO_BIG);
	buf[4] = 9;
	CHECK_EQ_I(ts_proto_decode_hdr(buf, 65536, NULL, &st), TS_DECODE_BAD);
	CHECK_EQ_I(st, TS_STATUS_VERSION);
	buf[0] = 'x';
	CHECK_EQ_I(ts_proto_decode_hdr(buf, 65536, NULL, &st), TS_DECODE_BAD);
	CHECK_EQ_I(st, TS_STATUS_MALFORMED);
}

UNIT_SUITE(proto_tests) = {
	{ "proto_decode_hdr_only", test_decode_hdr_only },
	{ "proto_be_helpers", test_be_helpers },
	{ "proto_encode_layout", test_encode_layout },
	{ "proto_round_trip", test_round_trip },
	{ "proto_every_truncation_needs_more", test_every_truncation_needs_more },
	{ "proto_bad_headers", test_bad_headers },
	{ "proto_oversize_known_from_header", test_oversize_known_from_header },
	{ "proto_maximum_sizes", test_maximum_sizes },
	{ "proto_reply_in_place", test_reply_in_place },
	{ "proto_error_frame", test_error_frame },
	{ "proto_garbage_never_ok", test_garbage_never_ok },
	{ "proto_magic_prefix", test_magic_prefix },
	UNIT_END,
};
