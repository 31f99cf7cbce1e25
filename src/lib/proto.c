/* tsecho binary probe protocol: see proto.h and docs/protocol.md. */
#include "config.h"

#include <tsecho/proto.h>

#include <string.h>

/* Offsets of the fixed header fields (docs/protocol.md, "Frame layout"). */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_TYPE = 5,
	OFF_HDR_LEN = 6,
	OFF_FRAME_LEN = 8,
	OFF_STATUS = 12,
	OFF_FLAGS = 14,
	OFF_SEQ = 16,
	OFF_T1 = 24,
	OFF_T2 = 32,
	OFF_T3 = 40,
};

static const uint8_t magic[TS_PROTO_MAGIC_LEN] = { TS_PROTO_MAGIC0, TS_PROTO_MAGIC1,
						   TS_PROTO_MAGIC2, TS_PROTO_MAGIC3 };

void ts_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void ts_put_be32(uint8_t *p, uint32_t v)
{
	ts_put_be16(p, (uint16_t)(v >> 16));
	ts_put_be16(p + 2, (uint16_t)v);
}

void ts_put_be64(uint8_t *p, uint64_t v)
{
	ts_put_be32(p, (uint32_t)(v >> 32));
	ts_put_be32(p + 4, (uint32_t)v);
}

uint16_t ts_get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t ts_get_be32(const uint8_t *p)
{
	return (uint32_t)ts_get_be16(p) << 16 | ts_get_be16(p + 2);
}

uint64_t ts_get_be64(const uint8_t *p)
{
	return (uint64_t)ts_get_be32(p) << 32 | ts_get_be32(p + 4);
}

int ts_proto_magic_prefix(const uint8_t *buf, size_t len)
{
	size_t n = len < TS_PROTO_MAGIC_LEN ? len : TS_PROTO_MAGIC_LEN;

	/* An empty buffer may be NULL, which memcmp must not see. */
	return n == 0 || memcmp(buf, magic, n) == 0;
}

static enum ts_decode bad(enum ts_proto_status *status, enum ts_proto_status why)
{
	if (status)
		*status = why;
	return TS_DECODE_BAD;
}

enum ts_decode ts_proto_decode_hdr(const uint8_t *buf, size_t max_frame, struct ts_proto_hdr *out,
				   enum ts_proto_status *status)
{
	struct ts_proto_hdr h;

	if (!ts_proto_magic_prefix(buf, TS_PROTO_MAGIC_LEN))
		return bad(status, TS_STATUS_MALFORMED);
	if (max_frame > TS_PROTO_FRAME_MAX)
		max_frame = TS_PROTO_FRAME_MAX;

	h.version = buf[OFF_VERSION];
	h.type = buf[OFF_TYPE];
	h.hdr_len = ts_get_be16(buf + OFF_HDR_LEN);
	h.frame_len = ts_get_be32(buf + OFF_FRAME_LEN);
	h.status = ts_get_be16(buf + OFF_STATUS);
	h.flags = ts_get_be16(buf + OFF_FLAGS);
	h.seq = ts_get_be64(buf + OFF_SEQ);
	h.t1_wall_ns = ts_get_be64(buf + OFF_T1);
	h.t2_wall_ns = ts_get_be64(buf + OFF_T2);
	h.t3_wall_ns = ts_get_be64(buf + OFF_T3);

	/* Version first: a later version may lay out the rest differently. */
	if (h.version != TS_PROTO_VERSION)
		return bad(status, TS_STATUS_VERSION);
	if (h.type < TS_MSG_PROBE || h.type > TS_MSG_ERROR)
		return bad(status, TS_STATUS_TYPE);
	/* Extensions are whole 4-byte words inside the frame. */
	if (h.hdr_len < TS_PROTO_HDR_LEN || h.hdr_len % 4 != 0 || h.hdr_len > h.frame_len)
		return bad(status, TS_STATUS_MALFORMED);
	if (h.frame_len > max_frame)
		return bad(status, TS_STATUS_TOO_BIG);
	if (out)
		*out = h;
	return TS_DECODE_OK;
}

uint64_t ts_proto_error_seq(const uint8_t *buf, size_t len)
{
	if (len < OFF_SEQ + 8 || !ts_proto_magic_prefix(buf, TS_PROTO_MAGIC_LEN) ||
	    buf[OFF_VERSION] != TS_PROTO_VERSION)
		return 0;
	return ts_get_be64(buf + OFF_SEQ);
}

enum ts_decode ts_proto_decode(const uint8_t *buf, size_t len, size_t max_frame,
			       struct ts_proto_hdr *out, enum ts_proto_status *status)
{
	struct ts_proto_hdr h;
	enum ts_decode r;

	if (!ts_proto_magic_prefix(buf, len))
		return bad(status, TS_STATUS_MALFORMED);
	if (len < TS_PROTO_HDR_LEN)
		return TS_DECODE_NEED_MORE;
	r = ts_proto_decode_hdr(buf, max_frame, &h, status);
	if (r != TS_DECODE_OK)
		return r;
	if (len < h.frame_len)
		return TS_DECODE_NEED_MORE;
	if (out)
		*out = h;
	return TS_DECODE_OK;
}

void ts_proto_encode_hdr(uint8_t *buf, const struct ts_proto_hdr *h)
{
	memcpy(buf + OFF_MAGIC, magic, sizeof magic);
	buf[OFF_VERSION] = h->version;
	buf[OFF_TYPE] = h->type;
	ts_put_be16(buf + OFF_HDR_LEN, h->hdr_len);
	ts_put_be32(buf + OFF_FRAME_LEN, h->frame_len);
	ts_put_be16(buf + OFF_STATUS, h->status);
	ts_put_be16(buf + OFF_FLAGS, h->flags);
	ts_put_be64(buf + OFF_SEQ, h->seq);
	ts_put_be64(buf + OFF_T1, h->t1_wall_ns);
	ts_put_be64(buf + OFF_T2, h->t2_wall_ns);
	ts_put_be64(buf + OFF_T3, h->t3_wall_ns);
}

void ts_proto_make_reply(uint8_t *frame, uint64_t t2_wall_ns, uint64_t t3_wall_ns)
{
	frame[OFF_TYPE] = TS_MSG_REPLY;
	ts_put_be64(frame + OFF_T2, t2_wall_ns);
	ts_put_be64(frame + OFF_T3, t3_wall_ns);
}

size_t ts_proto_encode_error(uint8_t *buf, enum ts_proto_status status, uint64_t seq)
{
	struct ts_proto_hdr h = {
		.version = TS_PROTO_VERSION,
		.type = TS_MSG_ERROR,
		.hdr_len = TS_PROTO_HDR_LEN,
		.frame_len = TS_PROTO_HDR_LEN,
		.status = (uint16_t)status,
		.seq = seq,
	};
	ts_proto_encode_hdr(buf, &h);
	return TS_PROTO_HDR_LEN;
}

size_t ts_proto_find_ext(const uint8_t *frame, size_t hdr_len, uint16_t type, uint16_t min_len)
{
	size_t off = TS_PROTO_HDR_LEN;

	while (off + TS_PROTO_EXT_HDR_LEN <= hdr_len) {
		uint16_t t = ts_get_be16(frame + off);
		size_t len = ts_get_be16(frame + off + 2);
		size_t value = off + TS_PROTO_EXT_HDR_LEN;

		if (value + len > hdr_len)
			return 0;
		if (t == type && len >= min_len)
			return value;
		off = value + (len + 3) / 4 * 4;
	}
	return 0;
}

/* Offsets in the kernel-timestamp value (docs/protocol.md). */
enum { KTS_FLAGS = 0, KTS_RX = 8, KTS_TX_SEQ = 16, KTS_TX = 24 };

void ts_proto_kts_get(const uint8_t *v, struct ts_proto_kts *k)
{
	k->flags = ts_get_be32(v + KTS_FLAGS);
	k->rx_ns = ts_get_be64(v + KTS_RX);
	k->tx_seq = ts_get_be64(v + KTS_TX_SEQ);
	k->tx_ns = ts_get_be64(v + KTS_TX);
}

void ts_proto_kts_set(uint8_t *v, const struct ts_proto_kts *k)
{
	ts_put_be32(v + KTS_FLAGS, k->flags);
	ts_put_be32(v + KTS_FLAGS + 4, 0);
	ts_put_be64(v + KTS_RX, k->rx_ns);
	ts_put_be64(v + KTS_TX_SEQ, k->tx_seq);
	ts_put_be64(v + KTS_TX, k->tx_ns);
}

void ts_proto_put_kts_ext(uint8_t *p, const struct ts_proto_kts *k)
{
	ts_put_be16(p, TS_EXT_KTS);
	ts_put_be16(p + 2, TS_EXT_KTS_LEN);
	ts_proto_kts_set(p + TS_PROTO_EXT_HDR_LEN, k);
}

const char *ts_proto_status_str(enum ts_proto_status status)
{
	switch (status) {
	case TS_STATUS_OK:
		return "ok";
	case TS_STATUS_MALFORMED:
		return "malformed frame";
	case TS_STATUS_TOO_BIG:
		return "frame too big";
	case TS_STATUS_VERSION:
		return "unsupported version";
	case TS_STATUS_TYPE:
		return "unexpected message type";
	}
	return "unknown status";
}
