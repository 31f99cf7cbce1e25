/* Command-line numbers. */
#include "config.h"

#include <tsecho/clock.h>
#include <tsecho/parse.h>
#include "unit.h"

Test(parse, u64)
{
	uint64_t v = 7;

	cr_expect(eq(i64, ts_parse_u64("0", 0, 65535, &v), 0));
	cr_expect(eq(u64, v, 0));
	cr_expect(eq(i64, ts_parse_u64("65535", 0, 65535, &v), 0));
	cr_expect(eq(u64, v, 65535));
	v = 7;
	cr_expect(eq(i64, ts_parse_u64("65536", 0, 65535, &v), -1));
	cr_expect(eq(i64, ts_parse_u64("-1", 0, 65535, &v), -1));
	cr_expect(eq(i64, ts_parse_u64("12x", 0, 65535, &v), -1));
	cr_expect(eq(i64, ts_parse_u64("", 0, 65535, &v), -1));
	cr_expect(eq(i64, ts_parse_u64(" 1", 0, 65535, &v), -1));
	cr_expect(eq(i64, ts_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -1));
	cr_expect(eq(u64, v, 7));
}

Test(parse, size)
{
	uint64_t v = 0;

	cr_expect(eq(i64, ts_parse_size("64k", 0, UINT64_MAX, &v), 0));
	cr_expect(eq(u64, v, 65536));
	cr_expect(eq(i64, ts_parse_size("1m", 0, UINT64_MAX, &v), 0));
	cr_expect(eq(u64, v, 1048576));
	cr_expect(eq(i64, ts_parse_size("48", 48, 100, &v), 0));
	cr_expect(eq(u64, v, 48));
	cr_expect(eq(i64, ts_parse_size("47", 48, 100, &v), -1));
	cr_expect(eq(i64, ts_parse_size("1.5k", 0, UINT64_MAX, &v), 0));
	cr_expect(eq(u64, v, 1536));
	cr_expect(eq(i64, ts_parse_size("0.3", 0, UINT64_MAX, &v), -1));
	cr_expect(eq(i64, ts_parse_size("10q", 0, UINT64_MAX, &v), -1));
	cr_expect(eq(i64, ts_parse_size("-5", 0, UINT64_MAX, &v), -1));
	cr_expect(eq(i64, ts_parse_size("inf", 0, UINT64_MAX, &v), -1));
}

Test(parse, duration)
{
	int64_t v = 0;

	cr_expect(eq(i64, ts_parse_duration_ns("500ms", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, 500 * TS_NS_PER_MS));
	cr_expect(eq(i64, ts_parse_duration_ns("2", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, 2 * TS_NS_PER_S));
	cr_expect(eq(i64, ts_parse_duration_ns("0.5s", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, TS_NS_PER_S / 2));
	cr_expect(eq(i64, ts_parse_duration_ns("1m", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, 60 * TS_NS_PER_S));
	cr_expect(eq(i64, ts_parse_duration_ns("250us", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, 250 * TS_NS_PER_US));
	cr_expect(eq(i64, ts_parse_duration_ns("0", 0, INT64_MAX / 2, &v), 0));
	cr_expect(eq(i64, v, 0));
	cr_expect(eq(i64, ts_parse_duration_ns("5 s", 0, INT64_MAX / 2, &v), -1));
	cr_expect(eq(i64, ts_parse_duration_ns("5d", 0, INT64_MAX / 2, &v), -1));
	cr_expect(eq(i64, ts_parse_duration_ns("2h", 0, TS_NS_PER_S, &v), -1));
	cr_expect(eq(i64, ts_parse_duration_ns("nan", 0, TS_NS_PER_S, &v), -1));
}
