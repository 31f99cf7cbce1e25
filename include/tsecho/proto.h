/* tsecho binary probe protocol, version 1: encode and decode.
 *
 * docs/protocol.md is the byte-by-byte description; this header is its
 * C form.  Every multi-byte field is big-endian.  Decoders are pure functions
 * over (buf, len) and never read past len. */
#ifndef TSECHO_PROTO_H
#define TSECHO_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* The magic opens every frame.  0xC0 can never appear in UTF-8 text and is
 * not telnet's IAC (0xFF), so a text peer can never be mistaken for a
 * binary one by its first byte. */
#define TS_PROTO_MAGIC0 0xC0u
#define TS_PROTO_MAGIC1 0x54u /* 'T' */
#define TS_PROTO_MAGIC2 0x53u /* 'S' */
#define TS_PROTO_MAGIC3 0x45u /* 'E' */
#define TS_PROTO_MAGIC_LEN 4u

#define TS_PROTO_VERSION 1u
#define TS_PROTO_HDR_LEN 48u          /* fixed header, version 1 */
#define TS_PROTO_FRAME_MAX (1u << 20) /* protocol limit: 1 MiB */

enum ts_proto_type {
	TS_MSG_PROBE = 1, /* client -> server */
	TS_MSG_REPLY = 2, /* server -> client, same size as the probe */
	TS_MSG_ERROR = 3, /* server -> client, then the server closes */
};

/* Status codes carried in error frames (and 0 in every other frame). */
enum ts_proto_status {
	TS_STATUS_OK = 0,
	TS_STATUS_MALFORMED = 1, /* header fields inconsistent */
	TS_STATUS_TOO_BIG = 2,   /* frame_len above the receiver's limit */
	TS_STATUS_VERSION = 3,   /* unsupported version */
	TS_STATUS_TYPE = 4,      /* unknown or unexpected message type */
};

/* The fixed header in host byte order.  Times are nanoseconds since the
 * Unix epoch on the clock of the host that took them; 0 means "not set". */
struct ts_proto_hdr {
	uint8_t version;
	uint8_t type;       /* enum ts_proto_type */
	uint16_t hdr_len;   /* bytes before the payload: 48 + extensions */
	uint32_t frame_len; /* whole frame, header included */
	uint16_t status;    /* enum ts_proto_status */
	uint16_t flags;     /* none defined in version 1: sent 0, ignored */
	uint64_t seq;
	uint64_t t1_wall_ns; /* client send */
	uint64_t t2_wall_ns; /* server receive */
	uint64_t t3_wall_ns; /* server send */
};

enum ts_decode {
	TS_DECODE_OK = 0,
	TS_DECODE_NEED_MORE = 1, /* a valid prefix: read more bytes */
	TS_DECODE_BAD = 2,       /* never valid: *status says why */
};

/* Extension types (docs/protocol.md, "Extensions"). */
enum ts_proto_ext_type {
	/* Kernel timestamps: the client sends it zeroed, a server that
	 * knows it fills it in (struct ts_proto_kts). */
	TS_EXT_KTS = 1,
};
#define TS_PROTO_EXT_HDR_LEN 4u
#define TS_EXT_KTS_LEN 32u
/* hdr_len of a frame that carries the kernel-timestamp extension alone. */
#define TS_PROTO_KTS_HDR_LEN (TS_PROTO_HDR_LEN + TS_PROTO_EXT_HDR_LEN + TS_EXT_KTS_LEN)

/* Bits of ts_proto_kts.flags, set by the server. */
#define TS_KTS_F_RX 1u     /* its receive timestamps are on */
#define TS_KTS_F_TX 2u     /* its transmit timestamps are on */
#define TS_KTS_F_SERVER 4u /* a server that knows the extension filled it in */

/* The kernel-timestamp extension's value, in host order.  Times are the
 * server's CLOCK_REALTIME in ns, 0 when it has none. */
struct ts_proto_kts {
	uint32_t flags;
	uint64_t rx_ns;  /* the kernel's receive time of this probe */
	uint64_t tx_seq; /* an earlier reply on this flow ... */
	uint64_t tx_ns;  /* ... and when the kernel sent it (0: none yet) */
};

/* Big-endian helpers; p must have room for the width. */
void ts_put_be16(uint8_t *p, uint16_t v);
void ts_put_be32(uint8_t *p, uint32_t v);
void ts_put_be64(uint8_t *p, uint64_t v);
uint16_t ts_get_be16(const uint8_t *p);
uint32_t ts_get_be32(const uint8_t *p);
uint64_t ts_get_be64(const uint8_t *p);

/* True when the len bytes at buf could be the start of a frame (all of the
 * magic that is there matches).  len 0 is a match. */
int ts_proto_magic_prefix(const uint8_t *buf, size_t len);

/* The sequence number an error frame answering buf[0..len) should carry:
 * the frame's own when buf opens with the magic and a version 1 header up
 * to its seq field, otherwise 0 (bytes that are not a frame have no
 * sequence number, whatever they hold at offset 16). */
uint64_t ts_proto_error_seq(const uint8_t *buf, size_t len);

/* Decodes the frame at the start of buf[0..len).  max_frame is the
 * receiver's limit (at most TS_PROTO_FRAME_MAX).  An oversize frame is
 * reported BAD as soon as its header is in, without waiting for its body.
 * On OK, *out holds the header and out->frame_len bytes of buf are the
 * frame.  On BAD, *status (if not NULL) gets the reason.  Extensions and
 * payload are not examined: a reflector copies them back unchanged. */
enum ts_decode ts_proto_decode(const uint8_t *buf, size_t len, size_t max_frame,
			       struct ts_proto_hdr *out, enum ts_proto_status *status);

/* Decodes and checks only the fixed header (TS_PROTO_HDR_LEN bytes at buf,
 * which must all be there): what a receiver needs to read a frame's body
 * as a stream without keeping it.  Same checks and results as
 * ts_proto_decode, but OK without the body. */
enum ts_decode ts_proto_decode_hdr(const uint8_t *buf, size_t max_frame, struct ts_proto_hdr *out,
				   enum ts_proto_status *status);

/* Writes the 48-byte fixed header h to buf (which has room for it). */
void ts_proto_encode_hdr(uint8_t *buf, const struct ts_proto_hdr *h);

/* Turns a decoded probe, in place, into its reply: type REPLY and the
 * server's receive and send times.  Every other byte is left as it was. */
void ts_proto_make_reply(uint8_t *frame, uint64_t t2_wall_ns, uint64_t t3_wall_ns);

/* Writes a 48-byte error frame for the given status and sequence number
 * to buf; returns its length (TS_PROTO_HDR_LEN). */
size_t ts_proto_encode_error(uint8_t *buf, enum ts_proto_status status, uint64_t seq);

/* The offset in frame of the value of the first extension of the given
 * type, with at least min_len bytes, among the extensions of a decoded
 * frame (hdr_len bytes of it at frame); 0 when there is none or the
 * extensions do not parse. */
size_t ts_proto_find_ext(const uint8_t *frame, size_t hdr_len, uint16_t type, uint16_t min_len);

/* Writes the kernel-timestamp extension (header and value k) at p, which
 * has room for TS_PROTO_EXT_HDR_LEN + TS_EXT_KTS_LEN bytes. */
void ts_proto_put_kts_ext(uint8_t *p, const struct ts_proto_kts *k);

/* Reads and writes the extension's value (TS_EXT_KTS_LEN bytes at v). */
void ts_proto_kts_get(const uint8_t *v, struct ts_proto_kts *k);
void ts_proto_kts_set(uint8_t *v, const struct ts_proto_kts *k);

/* A short static name for a status ("too big", ...). */
const char *ts_proto_status_str(enum ts_proto_status status);

#endif
