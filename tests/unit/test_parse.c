/* Command-line numbers. */
#include <tsecho/clock.h>
#include <tsecho/parse.h>
#include "unit.h"

static void test_u64(void)
{
	uint64_t v = 7;

	CHECK_EQ_I(ts_parse_u64("0", 0, 65535, &v), 0);
	CHECK_EQ_U(v, 0);
	CHECK_EQ_I(ts_parse_u64("65535", 0, 65535, &v), 0);
	CHECK_EQ_U(v, 65535);
	v = 7;
	CHECK_EQ_I(ts_parse_u64("65536", 0, 65535, &v), -1);
	CHECK_EQ_I(ts_parse_u64("-1", 0, 65535, &v), -1);
	CHECK_EQ_I(ts_parse_u64("12x", 0, 65535, &v), -1);
	CHECK_EQ_I(ts_parse_u64("", 0, 65535, &v), -1);
	CHECK_EQ_I(ts_parse_u64(" 1", 0, 65535, &v), -1);
	CHECK_EQ_I(ts_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -1);
	CHECK_EQ_U(v, 7);
}

static void test_size(void)
{
	uint64_t v = 0;

	CHECK_EQ_I(ts_parse_size("64k", 0, UINT64_MAX, &v), 0);
	CHECK_EQ_U(v, 65536);
	CHECK_EQ_I(ts_parse_size("1m", 0, UINT64_MAX, &v), 0);
	CHECK_EQ_U(v, 1048576);
	CHECK_EQ_I(ts_parse_size("48", 48, 100, &v), 0);
	CHECK_EQ_U(v, 48);
	CHECK_EQ_I(ts_parse_size("47", 48, 100, &v), -1);
	CHECK_EQ_I(ts_parse_size("1.5k", 0, UINT64_MAX, &v), 0);
	CHECK_EQ_U(v, 1536);
	CHECK_EQ_I(ts_parse_size("0.3", 0, UINT64_MAX, &v), -1);
	CHECK_EQ_I(ts_parse_size("10q", 0, UINT64_MAX, &v), -1);
	CHECK_EQ_I(ts_parse_size("-5", 0, UINT64_MAX, &v), -1);
	CHECK_EQ_I(ts_parse_size("inf", 0, UINT64_MAX, &v), -1);
}

static void test_duration(void)
{
	int64_t v = 0;

	CHECK_EQ_I(ts_parse_duration_ns("500ms", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, 500 * TS_NS_PER_MS);
	CHECK_EQ_I(ts_parse_duration_ns("2", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, 2 * TS_NS_PER_S);
	CHECK_EQ_I(ts_parse_duration_ns("0.5s", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, TS_NS_PER_S / 2);
	CHECK_EQ_I(ts_parse_duration_ns("1m", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, 60 * TS_NS_PER_S);
	CHECK_EQ_I(ts_parse_duration_ns("250us", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, 250 * TS_NS_PER_US);
	CHECK_EQ_I(ts_parse_duration_ns("0", 0, INT64_MAX / 2, &v), 0);
	CHECK_EQ_I(v, 0);
	CHECK_EQ_I(ts_parse_duration_ns("5 s", 0, INT64_MAX / 2, &v), -1);
	CHECK_EQ_I(ts_parse_duration_ns("5d", 0, INT64_MAX / 2, &v), -1);
	CHECK_EQ_I(ts_parse_duration_ns("2h", 0, TS_NS_PER_S, &v), -1);
	CHECK_EQ_I(ts_parse_duration_ns("nan", 0, TS_NS_PER_S, &v), -1);
}

UNIT_SUITE(parse_tests) = {
	{ "parse_u64", test_u64 },
	{ "parse_size", test_size },
	{ "parse_duration", test_duration },
	UNIT_END,
};
