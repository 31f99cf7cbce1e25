/* Client pieces that need no network: HOST[:PORT] parsing, protocol
 * discovery answers, the JSON writer. */
#include <stdio.h>
#include <stdlib.h>

#include <tsecho/text.h>
#include "../../src/client/target.h"
#include <tsecho/json.h>
#include "unit.h"

static void test_target_parse(void)
{
	struct ts_target t;

	CHECK_EQ_I(ts_target_parse(&t, "example.org", 12345), TS_TARGET_OK);
	CHECK_EQ_STR(t.host, "example.org");
	CHECK_EQ_STR(t.port, "12345");
	CHECK_EQ_I(ts_target_parse(&t, "127.0.0.1:7", 12345), TS_TARGET_OK);
	CHECK_EQ_STR(t.host, "127.0.0.1");
	CHECK_EQ_STR(t.port, "7");
	CHECK_EQ_I(ts_target_parse(&t, "[::1]:862", 12345), TS_TARGET_OK);
	CHECK_EQ_STR(t.host, "::1");
	CHECK_EQ_STR(t.port, "862");
	CHECK_EQ_I(ts_target_parse(&t, "[::1]", 12345), TS_TARGET_OK);
	CHECK_EQ_STR(t.port, "12345");
	CHECK_EQ_I(ts_target_parse(&t, "fe80::1", 9), TS_TARGET_OK);
	CHECK_EQ_STR(t.host, "fe80::1");
	CHECK_EQ_STR(t.port, "9");
	CHECK_EQ_I(ts_target_parse(&t, "host:0", 1), TS_TARGET_BAD_ARG);
	CHECK_EQ_I(ts_target_parse(&t, "host:70000", 1), TS_TARGET_BAD_ARG);
	CHECK_EQ_I(ts_target_parse(&t, ":80", 1), TS_TARGET_BAD_ARG);
	CHECK_EQ_I(ts_target_parse(&t, "[::1", 1), TS_TARGET_BAD_ARG);
	CHECK_EQ_I(ts_target_parse(&t, "[::1]x", 1), TS_TARGET_BAD_ARG);
}

static void test_hello_classify(void)
{
	const char *tsecho = "1764033903.541234:tsecho 1\n";
	const char *seed = "1764033903.5412345:tsecho?\n";
	const char *other = "tsecho?\n";
	const char *newer = "1764033903.541234:tsecho 2\n";

	CHECK_EQ_I(ts_text_hello_classify((const uint8_t *)tsecho, strlen(tsecho)),
		   TS_TEXT_HELLO_TSECHO);
	CHECK_EQ_I(ts_text_hello_classify((const uint8_t *)seed, strlen(seed)),
		   TS_TEXT_HELLO_ECHOED);
	/* A plain echo server returns the question bare: not ours. */
	CHECK_EQ_I(ts_text_hello_classify((const uint8_t *)other, strlen(other)),
		   TS_TEXT_HELLO_OTHER);
	CHECK_EQ_I(ts_text_hello_classify((const uint8_t *)newer, strlen(newer)),
		   TS_TEXT_HELLO_OTHER);
}

static void test_json_writer(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct ts_json j;

	ts_json_init(&j, f);
	ts_json_open(&j, NULL, '{');
	ts_json_u64(&j, "n", 3);
	ts_json_str(&j, "s", "a\"b\\c\n");
	ts_json_num(&j, "x", 1.5, 2);
	ts_json_num(&j, "nan", 0.0 / 0.0, 2);
	ts_json_open(&j, "arr", '[');
	ts_json_i64(&j, NULL, -1);
	ts_json_null(&j, NULL);
	ts_json_bool(&j, NULL, 1);
	ts_json_close(&j, ']');
	ts_json_open(&j, "o", '{');
	ts_json_close(&j, '}');
	ts_json_close(&j, '}');
	fclose(f);
	CHECK_EQ_STR(text, "{\"n\":3,\"s\":\"a\\\"b\\\\c\\u000a\",\"x\":1.50,\"nan\":null,"
			   "\"arr\":[-1,null,true],\"o\":{}}");
	free(text);
}

UNIT_SUITE(client_tests) = {
	{ "client_target_parse", test_target_parse },
	{ "client_hello_classify", test_hello_classify },
	{ "client_json_writer", test_json_writer },
	UNIT_END,
};
