/* The seed's text protocol: framing, replies, escaping. */
#include <tsecho/text.h>
#include "unit.h"

static void test_message_len(void)
{
	const uint8_t two[] = "a\r\nbc\n";
	const uint8_t none[] = "123.4:hi";

	CHECK_EQ_U(ts_text_message_len(two, 6), 3);
	CHECK_EQ_U(ts_text_message_len(two + 3, 3), 3);
	CHECK_EQ_U(ts_text_message_len(none, 8), 8);
	CHECK_EQ_U(ts_text_message_len((const uint8_t *)"\n", 1), 1);
	CHECK_EQ_U(ts_text_message_len(none, 0), 0);
}

static void test_reply(void)
{
	uint8_t out[64];
	const uint8_t msg[] = { 'h', 'i', 0x00, 0xFE, '\n' };
	size_t n = ts_text_reply(out, sizeof out, 1764033903541234567LL, msg, sizeof msg);

	CHECK_EQ_U(n, 18 + sizeof msg);
	CHECK_MEM(out, "1764033903.541234:", 18);
	CHECK_MEM(out + 18, msg, sizeof msg);
	/* Too small: nothing written, 0 returned. */
	CHECK_EQ_U(ts_text_reply(out, 20, 1764033903541234567LL, msg, sizeof msg), 0);
	CHECK_EQ_U(ts_text_reply(out, 23, 1764033903541234567LL, msg, sizeof msg), 23);
	CHECK_EQ_U(ts_text_reply(out, 0, 0, msg, 0), 0);
}

static void test_escape(void)
{
	char out[64];
	const uint8_t msg[] = { 'a', '\\', '\r', '\n', '\t', 0x00, 0xFF, '"', 'z' };

	CHECK_EQ_U(ts_text_escape(out, sizeof out, msg, sizeof msg), 19);
	CHECK_EQ_STR(out, "a\\\\\\r\\n\\t\\x00\\xff\"z");
	/* Truncated output ends in "..." and stays inside cap. */
	CHECK_EQ_U(ts_text_escape(out, 8, msg, sizeof msg), 6);
	CHECK_EQ_STR(out, "a\\\\...");
	CHECK_EQ_U(ts_text_escape(out, 4, msg, sizeof msg), 3);
	CHECK_EQ_STR(out, "...");
	CHECK_EQ_U(ts_text_escape(out, sizeof out, msg, 0), 0);
	CHECK_EQ_STR(out, "");
}

static void test_parse_time(void)
{
	int64_t ns = 0;

	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"1764033903.541234", 17, &ns), 0);
	CHECK_EQ_I(ns, 1764033903541234000LL);
	/* Python's repr: seven decimals. */
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"1764033903.5412345", 18, &ns), 0);
	CHECK_EQ_I(ns, 1764033903541234500LL);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"12", 2, &ns), 0);
	CHECK_EQ_I(ns, 12000000000LL);
	/* Digits past nanoseconds are ignored. */
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"1.1234567899", 12, &ns), 0);
	CHECK_EQ_I(ns, 1123456789LL);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"", 0, &ns), -1);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"12.", 3, &ns), -1);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)".5", 2, &ns), -1);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"1e9", 3, &ns), -1);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"-1.5", 4, &ns), -1);
	CHECK_EQ_I(ts_text_parse_time((const uint8_t *)"99999999999999999", 17, &ns), -1);
}

UNIT_SUITE(text_tests) = {
	{ "text_parse_time", test_parse_time },
	{ "text_message_len", test_message_len },
	{ "text_reply", test_reply },
	{ "text_escape", test_escape },
	UNIT_END,
};
