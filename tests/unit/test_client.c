/* Client pieces that need no network: HOST[:PORT] parsing, protocol
 * discovery answers, the JSON writer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <tsecho/text.h>
#include "../../src/client/report.h"
#include "../../src/client/target.h"
#include <tsecho/json.h>
#include "unit.h"

Test(client, target_parse)
{
	struct ts_target t;

	cr_expect(eq(i64, ts_target_parse(&t, "example.org", 12345), TS_TARGET_OK));
	cr_expect_str_eq(t.host, "example.org");
	cr_expect_str_eq(t.port, "12345");
	cr_expect(eq(i64, ts_target_parse(&t, "127.0.0.1:7", 12345), TS_TARGET_OK));
	cr_expect_str_eq(t.host, "127.0.0.1");
	cr_expect_str_eq(t.port, "7");
	cr_expect(eq(i64, ts_target_parse(&t, "[::1]:862", 12345), TS_TARGET_OK));
	cr_expect_str_eq(t.host, "::1");
	cr_expect_str_eq(t.port, "862");
	cr_expect(eq(i64, ts_target_parse(&t, "[::1]", 12345), TS_TARGET_OK));
	cr_expect_str_eq(t.port, "12345");
	cr_expect(eq(i64, ts_target_parse(&t, "fe80::1", 9), TS_TARGET_OK));
	cr_expect_str_eq(t.host, "fe80::1");
	cr_expect_str_eq(t.port, "9");
	cr_expect(eq(i64, ts_target_parse(&t, "host:0", 1), TS_TARGET_BAD_ARG));
	cr_expect(eq(i64, ts_target_parse(&t, "host:70000", 1), TS_TARGET_BAD_ARG));
	cr_expect(eq(i64, ts_target_parse(&t, ":80", 1), TS_TARGET_BAD_ARG));
	cr_expect(eq(i64, ts_target_parse(&t, "[::1", 1), TS_TARGET_BAD_ARG));
	cr_expect(eq(i64, ts_target_parse(&t, "[::1]x", 1), TS_TARGET_BAD_ARG));
}

Test(client, hello_classify)
{
	const char *tsecho = "1764033903.541234:tsecho 1\n";
	const char *seed = "1764033903.5412345:tsecho?\n";
	const char *other = "tsecho?\n";
	const char *newer = "1764033903.541234:tsecho 2\n";

	cr_expect(eq(i64, ts_text_hello_classify((const uint8_t *)tsecho, strlen(tsecho)),
		     TS_TEXT_HELLO_TSECHO));
	cr_expect(eq(i64, ts_text_hello_classify((const uint8_t *)seed, strlen(seed)),
		     TS_TEXT_HELLO_ECHOED));
	/* A plain echo server returns the question bare: not ours. */
	cr_expect(eq(i64, ts_text_hello_classify((const uint8_t *)other, strlen(other)),
		     TS_TEXT_HELLO_OTHER));
	cr_expect(eq(i64, ts_text_hello_classify((const uint8_t *)newer, strlen(newer)),
		     TS_TEXT_HELLO_OTHER));
}

Test(client, json_writer)
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
	cr_expect_str_eq(text, "{\"n\":3,\"s\":\"a\\\"b\\\\c\\u000a\",\"x\":1.50,\"nan\":null,"
			       "\"arr\":[-1,null,true],\"o\":{}}");
	free(text);
}

Test(client, offset_never_negative_zero)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%+.3f", ts_round_zero(-0.0004, 3));
	cr_expect_str_eq(buf, "+0.000");
	snprintf(buf, sizeof buf, "%+.3f", ts_round_zero(-0.0006, 3));
	cr_expect_str_eq(buf, "-0.001");
	snprintf(buf, sizeof buf, "%+.6f", ts_round_zero(-0.0000004, 6));
	cr_expect_str_eq(buf, "+0.000000");
	cr_expect(ts_round_zero(12.5, 3) == 12.5);
}
