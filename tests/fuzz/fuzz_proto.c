/* libFuzzer harness for the binary probe decoder (untrusted bytes from any
 * peer).  Checks, beyond "no crash": OK frames are self-consistent, a
 * reply made from one still decodes as the same frame, and decoding never
 * depends on bytes past the frame. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/proto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { TS_PROTO_HDR_LEN, 1024, 65536, TS_PROTO_FRAME_MAX };

	/* An error frame's seq comes from a frame's own header or is 0; a
	 * frame that decodes has its seq there. */
	uint64_t error_seq = ts_proto_error_seq(data, size);
	if (error_seq != 0 && (size < 24 || data[0] != TS_PROTO_MAGIC0))
		abort();

	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		struct ts_proto_hdr h, again;
		enum ts_proto_status st = TS_STATUS_OK;
		enum ts_decode r = ts_proto_decode(data, size, limits[i], &h, &st);
		uint8_t *copy;

		if (r == TS_DECODE_BAD && st == TS_STATUS_OK)
			abort(); /* BAD always says why */
		if (r != TS_DECODE_OK)
			continue;
		if (h.frame_len > size || h.frame_len > limits[i] || h.hdr_len < TS_PROTO_HDR_LEN ||
		    h.hdr_len > h.frame_len)
			abort();
		/* Exactly the frame, in its own allocation: ASan sees any
		 * read past it. */
		copy = malloc(h.frame_len);
		if (!copy)
			return 0;
		memcpy(copy, data, h.frame_len);
		ts_proto_make_reply(copy, 1, 2);
		/* The extension walk stays inside the header, and a kernel
		 * timestamp written where it was found reads back. */
		{
			size_t v = ts_proto_find_ext(copy, h.hdr_len, TS_EXT_KTS, TS_EXT_KTS_LEN);
			struct ts_proto_kts k = { TS_KTS_F_RX, 3, 4, 5 }, back;
			if (v != 0) {
				if (v < TS_PROTO_HDR_LEN + TS_PROTO_EXT_HDR_LEN ||
				    v + TS_EXT_KTS_LEN > h.hdr_len)
					abort();
				ts_proto_kts_set(copy + v, &k);
				ts_proto_kts_get(copy + v, &back);
				if (back.flags != k.flags || back.rx_ns != 3 || back.tx_seq != 4 ||
				    back.tx_ns != 5)
					abort();
			}
		}
		if (ts_proto_decode(copy, h.frame_len, limits[i], &again, NULL) != TS_DECODE_OK ||
		    again.frame_len != h.frame_len || again.seq != h.seq ||
		    again.type != TS_MSG_REPLY || again.t2_wall_ns != 1 || again.t3_wall_ns != 2 ||
		    memcmp(copy + h.hdr_len, data + h.hdr_len, h.frame_len - h.hdr_len) != 0)
			abort();
		free(copy);
	}
	return 0;
}
