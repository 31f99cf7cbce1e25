/* The seed's text protocol: framing, replies, escaping. */
#include "config.h"

#include <tsecho/text.h>
#include "unit.h"

Test(text, message_len)
{
	const uint8_t two[] = "a\r\nbc\n";
	const uint8_t none[] = "123.4:hi";

	cr_expect(eq(u64, ts_text_message_len(two, 6), 3));
	cr_expect(eq(u64, ts_text_message_len(two + 3, 3), 3));
	cr_expect(eq(u64, ts_text_message_len(none, 8), 8));
	cr_expect(eq(u64, ts_text_message_len((const uint8_t *)"\n", 1), 1));
	cr_expect(eq(u64, ts_text_message_len(none, 0), 0));
}

Test(text, reply)
{
	uint8_t out[64];
	const uint8_t msg[] = { 'h', 'i', 0x00, 0xFE, '\n' };
	size_t n = ts_text_reply(out, sizeof out, 1764033903541234567LL, msg, sizeof msg);

	cr_expect(eq(u64, n, 18 + sizeof msg));
	expect_mem_eq(out, "1764033903.541234:", 18);
	expect_mem_eq(out + 18, msg, sizeof msg);
	/* Too small: nothing written, 0 returned. */
	cr_expect(eq(u64, ts_text_reply(out, 20, 1764033903541234567LL, msg, sizeof msg), 0));
	cr_expect(eq(u64, ts_text_reply(out, 23, 1764033903541234567LL, msg, sizeof msg), 23));
	cr_expect(eq(u64, ts_text_reply(out, 0, 0, msg, 0), 0));
}

Test(text, escape)
{
	char out[64];
	const uint8_t msg[] = { 'a', '\\', '\r', '\n', '\t', 0x00, 0xFF, '"', 'z' };

	cr_expect(eq(u64, ts_text_escape(out, sizeof out, msg, sizeof msg), 19));
	cr_expect_str_eq(out, "a\\\\\\r\\n\\t\\x00\\xff\"z");
	/* Truncated output ends in "..." and stays inside cap. */
	cr_expect(eq(u64, ts_text_escape(out, 8, msg, sizeof msg), 6));
	cr_expect_str_eq(out, "a\\\\...");
	cr_expect(eq(u64, ts_text_escape(out, 4, msg, sizeof msg), 3));
	cr_expect_str_eq(out, "...");
	cr_expect(eq(u64, ts_text_escape(out, sizeof out, msg, 0), 0));
	cr_expect_str_eq(out, "");
}

Test(text, is_reply)
{
	const char *replies[] = { "1764033903.541234:hello", "1764033903.541234:", "1.5:x",
				  "1764033903.5412999:1764033903.541234:x" };
	const char *messages[] = {
		"hello", "12:30 meeting", "1764033903:x",         "",
		":x",    "1.:x",          "a1764033903.541234:x", "123456789012345678901.5:x"
	};

	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++)
		cr_expect(ts_text_is_reply((const uint8_t *)replies[i], strlen(replies[i])),
			  "not taken for a reply: %s", replies[i]);
	for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
		cr_expect(ts_text_is_reply((const uint8_t *)messages[i], strlen(messages[i])) == 0,
			  "taken for a reply: %s", messages[i]);
}

Test(text, parse_time)
{
	int64_t ns = 0;

	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"1764033903.541234", 17, &ns), 0));
	cr_expect(eq(i64, ns, 1764033903541234000LL));
	/* Python's repr: seven decimals. */
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"1764033903.5412345", 18, &ns), 0));
	cr_expect(eq(i64, ns, 1764033903541234500LL));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"12", 2, &ns), 0));
	cr_expect(eq(i64, ns, 12000000000LL));
	/* Digits past nanoseconds are ignored. */
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"1.1234567899", 12, &ns), 0));
	cr_expect(eq(i64, ns, 1123456789LL));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"", 0, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"12.", 3, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)".5", 2, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"1e9", 3, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"-1.5", 4, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"99999999999999999", 17, &ns), -1));
	/* The largest seconds that fit, and one past them: 12 digits once
	 * overflowed sec * 10^9 (a reply "61728033903.5:x" did). */
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"9223372035.999999999", 20, &ns), 0));
	cr_expect(eq(i64, ns, INT64_C(9223372035999999999)));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"9223372036", 10, &ns), -1));
	cr_expect(eq(i64, ts_text_parse_time((const uint8_t *)"61728033903.5", 13, &ns), -1));
}
