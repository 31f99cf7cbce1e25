/* libFuzzer harness for the text protocol: framing a read into messages,
 * the reply and the log escaping, as the server applies them to any bytes
 * a peer sends. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/text.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	size_t cap = size + TS_TEXT_PREFIX_MAX;
	uint8_t *reply = malloc(cap ? cap : 1);
	char esc[64];

	if (!reply)
		return 0;
	while (off < size) {
		size_t len = ts_text_message_len(data + off, size - off);
		size_t n;

		/* Every message is non-empty, inside the read, and ends at
		 * an LF or at the end of the read. */
		if (len == 0 || len > size - off)
			abort();
		if (off + len < size && data[off + len - 1] != '\n')
			abort();
		if (memchr(data + off, '\n', len - 1) != NULL)
			abort();
		n = ts_text_reply(reply, cap, 1764033903541234567LL, data + off, len);
		if (n != 18 + len || memcmp(reply + 18, data + off, len) != 0)
			abort();
		n = ts_text_escape(esc, sizeof esc, data + off, len);
		if (n >= sizeof esc || esc[n] != '\0' || strlen(esc) != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (esc[i] < 0x20 || esc[i] > 0x7e)
				abort();
		/* What a client parses out of an answer: the server's time
		 * and the protocol question's answer. */
		{
			int64_t wall_ns;
			const uint8_t *colon = memchr(data + off, ':', len);
			if (colon)
				(void)ts_text_parse_time(data + off, (size_t)(colon - (data + off)),
							 &wall_ns);
			if (ts_text_hello_classify(data + off, len) == TS_TEXT_HELLO_TSECHO &&
			    (len < 9 || memcmp(data + off + len - 9, TS_HELLO_ANSWER, 9) != 0))
				abort();
			/* What the server refuses over UDP as another
			 * reflector's answer: a time, then a colon. */
			if (ts_text_is_reply(data + off, len) &&
			    (!colon || colon - (data + off) >= (ptrdiff_t)TS_TEXT_PREFIX_MAX ||
			     ts_text_parse_time(data + off, (size_t)(colon - (data + off)),
						&wall_ns) != 0))
				abort();
		}
		off += len;
	}
	free(reply);
	return 0;
}
