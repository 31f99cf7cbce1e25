/* libFuzzer harness for the STAMP (RFC 8762) decoders (untrusted datagrams
 * from any peer).  Checks, beyond "no crash": the decoders agree with the
 * length rules, a reflected packet built in place from the decoded fields
 * decodes to the same fields without touching octets from 44 on, a sender
 * packet re-encodes to the same fields, and the Error Estimate round trips. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/stamp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sender(const uint8_t *data, size_t size)
{
	struct ts_stamp_sender s, again;
	uint8_t buf[TS_STAMP_BASE_LEN];
	enum ts_decode r = ts_stamp_sender_decode(data, size, &s);

	if (r != (size >= TS_STAMP_SENDER_MIN ? TS_DECODE_OK : TS_DECODE_BAD))
		abort();
	if (r != TS_DECODE_OK)
		return;
	if (ts_stamp_sender_encode(buf, &s) != TS_STAMP_BASE_LEN ||
	    ts_stamp_sender_decode(buf, sizeof buf, &again) != TS_DECODE_OK || again.seq != s.seq ||
	    again.timestamp != s.timestamp || again.ee != s.ee || again.ssid != s.ssid ||
	    memcmp(buf, data, size < 16 ? 14 : 16) != 0)
		abort();
}

static void check_reflector(const uint8_t *data, size_t size)
{
	struct ts_stamp_reflector r, again;
	uint8_t *copy;
	enum ts_decode d = ts_stamp_reflector_decode(data, size, &r);

	if (d != (size >= TS_STAMP_TWAMP_MIN ? TS_DECODE_OK : TS_DECODE_BAD))
		abort();
	if (d != TS_DECODE_OK)
		return;
	/* Exactly size octets in their own allocation: ASan sees any access
	 * past them. */
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, data, size);
	ts_stamp_reflector_encode(copy, size, &r);
	if (ts_stamp_reflector_decode(copy, size, &again) != TS_DECODE_OK || again.seq != r.seq ||
	    again.timestamp != r.timestamp || again.ee != r.ee || again.ssid != r.ssid ||
	    again.rx_timestamp != r.rx_timestamp || again.sender_seq != r.sender_seq ||
	    again.sender_timestamp != r.sender_timestamp || again.sender_ee != r.sender_ee ||
	    again.sender_ttl != r.sender_ttl)
		abort();
	/* MBZ zeroed, fields where they were, the rest untouched. */
	if (copy[38] != 0 || copy[39] != 0)
		abort();
	for (size_t i = 41; i < size && i < TS_STAMP_BASE_LEN; i++)
		if (copy[i] != 0)
			abort();
	if (memcmp(copy, data, 38) != 0 || copy[40] != data[40])
		abort();
	if (size > TS_STAMP_BASE_LEN &&
	    memcmp(copy + TS_STAMP_BASE_LEN, data + TS_STAMP_BASE_LEN, size - TS_STAMP_BASE_LEN))
		abort();
	ts_stamp_reflector_set_t3(copy, ~r.timestamp);
	if (ts_stamp_reflector_decode(copy, size, &again) != TS_DECODE_OK ||
	    again.timestamp != ~r.timestamp || again.rx_timestamp != r.rx_timestamp)
		abort();
	free(copy);
}

static void check_ee(const uint8_t *data, size_t size)
{
	struct ts_stamp_ee ee;
	uint16_t v;
	double err_ns;

	if (size < 2)
		return;
	v = ts_get_be16(data);
	ts_stamp_ee_decode(v, &ee);
	if (ts_stamp_ee_encode(&ee) != v)
		abort();
	/* The error a valid pair describes maps back to the same error (at
	 * the smallest scale that holds it); multiplier 0 to the finest. */
	err_ns = ts_stamp_ee_error_ns(&ee);
	ts_stamp_ee_set_error(&ee, err_ns);
	if (ee.multiplier < 1 || ee.multiplier > 255 || ee.scale > 63 ||
	    (err_ns > 0 && ts_stamp_ee_error_ns(&ee) != err_ns) ||
	    (err_ns == 0 && (ee.scale != 0 || ee.multiplier != 1)))
		abort();
	if (ts_stamp_ee_encode(&ee) >> 14 != v >> 14) /* S and Z kept */
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_sender(data, size);
	check_reflector(data, size);
	check_ee(data, size);
	return 0;
}
