/* The binary protocol codec: round trips, every truncation, garbage,
 * limits. */
#include "config.h"

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

Test(proto, be_helpers)
{
	uint8_t b[8];

	ts_put_be16(b, 0xABCD);
	cr_expect(eq(u64, b[0], 0xAB));
	cr_expect(eq(u64, b[1], 0xCD));
	cr_expect(eq(u64, ts_get_be16(b), 0xABCD));
	ts_put_be32(b, 0xDEADBEEF);
	cr_expect(eq(u64, b[0], 0xDE));
	cr_expect(eq(u64, b[3], 0xEF));
	cr_expect(eq(u64, ts_get_be32(b), 0xDEADBEEF));
	ts_put_be64(b, 0x0102030405060708ull);
	cr_expect(eq(u64, b[0], 1));
	cr_expect(eq(u64, b[7], 8));
	cr_expect(eq(u64, ts_get_be64(b), 0x0102030405060708ull));
	ts_put_be64(b, UINT64_MAX);
	cr_expect(eq(u64, ts_get_be64(b), UINT64_MAX));
}

Test(proto, encode_layout)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(64);
	static const uint8_t want[16] = {
		0xC0, 'T', 'S', 'E', 1, 1, 0, 48, 0, 0, 0, 64, 0, 0, 0, 0
	};

	h.t2_wall_ns = 2;
	h.t3_wall_ns = 3;
	ts_proto_encode_hdr(buf, &h);
	expect_mem_eq(buf, want, sizeof want);
	cr_expect(eq(u64, ts_get_be64(buf + 16), h.seq));
	cr_expect(eq(u64, ts_get_be64(buf + 24), h.t1_wall_ns));
	cr_expect(eq(u64, ts_get_be64(buf + 32), 2));
	cr_expect(eq(u64, ts_get_be64(buf + 40), 3));
}

Test(proto, round_trip)
{
	uint8_t buf[120];
	struct ts_proto_hdr h = probe_hdr(100), got;
	enum ts_proto_status st = TS_STATUS_OK;

	memset(buf, 0x5A, sizeof buf);
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, 1024, &got, &st), TS_DECODE_OK));
	cr_expect(eq(u64, got.version, 1));
	cr_expect(eq(u64, got.type, TS_MSG_PROBE));
	cr_expect(eq(u64, got.hdr_len, 48));
	cr_expect(eq(u64, got.frame_len, 100));
	cr_expect(eq(u64, got.seq, h.seq));
	cr_expect(eq(u64, got.t1_wall_ns, h.t1_wall_ns));
	cr_expect(eq(u64, got.t2_wall_ns, 0));
	/* Bytes after the frame are not part of it; one short is NEED_MORE. */
	cr_expect(eq(i64, ts_proto_decode(buf, 99, 1024, &got, &st), TS_DECODE_NEED_MORE));
}

Test(proto, every_truncation_needs_more)
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
			cr_fail("truncation at %zu bytes not NEED_MORE", len);
		free(copy);
	}
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, 1024, NULL, NULL), TS_DECODE_OK));
}

/* One header field set to a bad value, and the status the decoder gives. */
static const struct {
	const char *what;
	size_t field_off;
	uint32_t value;
	size_t width;
	enum ts_proto_status want;
} bad_headers[] = {
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

ParameterizedTestParameters(proto, bad_header)
{
	TS_TABLE_ROWS(bad_headers);
}

ParameterizedTest(size_t *row, proto, bad_header)
{
	uint8_t buf[64] = { 0 };
	struct ts_proto_hdr h = probe_hdr(sizeof buf);
	enum ts_proto_status st = TS_STATUS_OK;
	const char *what = bad_headers[*row].what;
	size_t off = bad_headers[*row].field_off;
	uint32_t value = bad_headers[*row].value;

	ts_proto_encode_hdr(buf, &h);
	if (bad_headers[*row].width == 1)
		buf[off] = (uint8_t)value;
	else if (bad_headers[*row].width == 2)
		ts_put_be16(buf + off, (uint16_t)value);
	else
		ts_put_be32(buf + off, value);
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, 1024, NULL, &st), TS_DECODE_BAD), "%s",
		  what);
	cr_expect(eq(i64, st, bad_headers[*row].want), "%s", what);
}

Test(proto, oversize_known_from_header)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(4096);
	enum ts_proto_status st = TS_STATUS_OK;

	/* Only the header is here: too big must not wait for the body. */
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, 1024, NULL, &st), TS_DECODE_BAD));
	cr_expect(eq(i64, st, TS_STATUS_TOO_BIG));
	/* A limit above the protocol's own is clamped to it. */
	h = probe_hdr(TS_PROTO_FRAME_MAX + 1);
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, SIZE_MAX, NULL, &st), TS_DECODE_BAD));
	cr_expect(eq(i64, st, TS_STATUS_TOO_BIG));
}

Test(proto, maximum_sizes)
{
	uint8_t *buf = calloc(1, TS_PROTO_FRAME_MAX);
	struct ts_proto_hdr h = probe_hdr(TS_PROTO_FRAME_MAX), got;

	h.hdr_len = 0xFFFC; /* the largest extension area */
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode(buf, TS_PROTO_FRAME_MAX, TS_PROTO_FRAME_MAX, &got, NULL),
		     TS_DECODE_OK));
	cr_expect(eq(u64, got.frame_len, TS_PROTO_FRAME_MAX));
	cr_expect(eq(u64, got.hdr_len, 0xFFFC));
	/* The smallest frame: header only. */
	h = probe_hdr(TS_PROTO_HDR_LEN);
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode(buf, TS_PROTO_HDR_LEN, 48, &got, NULL), TS_DECODE_OK));
	free(buf);
}

Test(proto, reply_in_place)
{
	uint8_t frame[60], orig[60];
	struct ts_proto_hdr h = probe_hdr(sizeof frame), got;

	for (size_t i = 0; i < sizeof frame; i++)
		frame[i] = (uint8_t)i;
	ts_proto_encode_hdr(frame, &h);
	memcpy(orig, frame, sizeof frame);
	ts_proto_make_reply(frame, 111, 222);
	cr_expect(eq(i64, ts_proto_decode(frame, sizeof frame, 1024, &got, NULL), TS_DECODE_OK));
	cr_expect(eq(u64, got.type, TS_MSG_REPLY));
	cr_expect(eq(u64, got.t2_wall_ns, 111));
	cr_expect(eq(u64, got.t3_wall_ns, 222));
	cr_expect(eq(u64, got.seq, h.seq));
	cr_expect(eq(u64, got.t1_wall_ns, h.t1_wall_ns));
	/* Everything but type, t2 and t3 is untouched. */
	expect_mem_eq(frame, orig, 5);
	expect_mem_eq(frame + 6, orig + 6, 26);
	expect_mem_eq(frame + 48, orig + 48, sizeof frame - 48);
}

Test(proto, error_frame)
{
	uint8_t buf[48];
	struct ts_proto_hdr got;

	cr_expect(eq(u64, ts_proto_encode_error(buf, TS_STATUS_TOO_BIG, 77), 48));
	cr_expect(eq(i64, ts_proto_decode(buf, sizeof buf, 48, &got, NULL), TS_DECODE_OK));
	cr_expect(eq(u64, got.type, TS_MSG_ERROR));
	cr_expect(eq(u64, got.status, TS_STATUS_TOO_BIG));
	cr_expect(eq(u64, got.seq, 77));
	cr_expect(eq(u64, got.frame_len, 48));
	cr_expect_str_eq(ts_proto_status_str(TS_STATUS_TOO_BIG), "frame too big");
}

Test(proto, error_seq_only_from_a_header)
{
	uint8_t frame[64];
	struct ts_proto_hdr h = probe_hdr(sizeof frame);
	uint8_t garbage[64];

	h.seq = 0x0102030405060708ULL;
	memset(frame, 0, sizeof frame);
	ts_proto_encode_hdr(frame, &h);
	cr_expect(eq(u64, ts_proto_error_seq(frame, sizeof frame), h.seq));
	/* A bad type or length leaves the v1 layout: its seq is the frame's. */
	frame[5] = 9;
	cr_expect(eq(u64, ts_proto_error_seq(frame, sizeof frame), h.seq));
	/* Too short to hold it, another version, or not a frame at all. */
	cr_expect(eq(u64, ts_proto_error_seq(frame, 23), 0));
	frame[4] = 2;
	cr_expect(eq(u64, ts_proto_error_seq(frame, sizeof frame), 0));
	memset(garbage, 0x41, sizeof garbage);
	cr_expect(eq(u64, ts_proto_error_seq(garbage, sizeof garbage), 0));
}

Test(proto, garbage_never_ok)
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
			cr_expect(h.frame_len <= len);
			cr_expect(h.hdr_len >= 48 && h.hdr_len <= h.frame_len);
		}
	}
}

Test(proto, magic_prefix)
{
	const uint8_t good[4] = { 0xC0, 'T', 'S', 'E' };
	const uint8_t text[4] = { 'h', 'e', 'l', 'o' };

	cr_expect(ts_proto_magic_prefix(good, 0));
	cr_expect(ts_proto_magic_prefix(good, 1));
	cr_expect(ts_proto_magic_prefix(good, 4));
	cr_expect(ts_proto_magic_prefix(text, 1) == 0);
	cr_expect(eq(i64, ts_proto_decode(text, 4, 1024, NULL, NULL), TS_DECODE_BAD));
}

Test(proto, decode_hdr_only)
{
	uint8_t buf[48];
	struct ts_proto_hdr h = probe_hdr(4096), got;
	enum ts_proto_status st = TS_STATUS_OK;

	/* The header alone is enough: no NEED_MORE for the body. */
	ts_proto_encode_hdr(buf, &h);
	cr_expect(eq(i64, ts_proto_decode_hdr(buf, 65536, &got, &st), TS_DECODE_OK));
	cr_expect(eq(u64, got.frame_len, 4096));
	cr_expect(eq(u64, got.seq, h.seq));
	cr_expect(
	    eq(i64, ts_proto_decode(buf, sizeof buf, 65536, NULL, NULL), TS_DECODE_NEED_MORE));
	/* The same checks as the full decoder. */
	cr_expect(eq(i64, ts_proto_decode_hdr(buf, 1024, NULL, &st), TS_DECODE_BAD));
	cr_expect(eq(i64, st, TS_STATUS_TOO_BIG));
	buf[4] = 9;
	cr_expect(eq(i64, ts_proto_decode_hdr(buf, 65536, NULL, &st), TS_DECODE_BAD));
	cr_expect(eq(i64, st, TS_STATUS_VERSION));
	buf[0] = 'x';
	cr_expect(eq(i64, ts_proto_decode_hdr(buf, 65536, NULL, &st), TS_DECODE_BAD));
	cr_expect(eq(i64, st, TS_STATUS_MALFORMED));
}
