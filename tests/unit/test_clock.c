/* Clocks and the seed's time format. */
#include <tsecho/clock.h>
#include "unit.h"

static void test_format_wall(void)
{
	char buf[32];

	CHECK_EQ_I(ts_format_wall(buf, sizeof buf, 1764033903541234567LL), 17);
	CHECK_EQ_STR(buf, "1764033903.541234");
	ts_format_wall(buf, sizeof buf, 0);
	CHECK_EQ_STR(buf, "0.000000");
	ts_format_wall(buf, sizeof buf, 1000000999LL);
	CHECK_EQ_STR(buf, "1.000000"); /* truncated, not rounded up */
	ts_format_wall(buf, sizeof buf, -1500000000LL);
	CHECK_EQ_STR(buf, "-2.500000"); /* floor: -2 + 0.5 */
	/* Truncation to cap behaves as snprintf. */
	CHECK_EQ_I(ts_format_wall(buf, 5, 1764033903541234567LL), 17);
	CHECK_EQ_STR(buf, "1764");
}

static void test_clocks_move(void)
{
	int64_t a = ts_mono_ns(), b = ts_mono_ns();
	int64_t wall = ts_wall_ns();

	CHECK(a > 0);
	CHECK(b >= a);
	/* After 2020 and before 2100: the wall clock is in nanoseconds. */
	CHECK(wall > 1577836800LL * TS_NS_PER_S);
	CHECK(wall < 4102444800LL * TS_NS_PER_S);
}

static void test_ms_until(void)
{
	CHECK_EQ_I(ts_ms_until(100, 200, 1000), 0);
	CHECK_EQ_I(ts_ms_until(200, 200, 1000), 0);
	CHECK_EQ_I(ts_ms_until(201, 200, 1000), 1); /* rounded up */
	CHECK_EQ_I(ts_ms_until(5 * TS_NS_PER_MS, 0, 1000), 5);
	CHECK_EQ_I(ts_ms_until(5 * TS_NS_PER_S, 0, 1000), 1000);
	CHECK_EQ_I(ts_ms_until(INT64_MAX, 0, 1000), 1000);
}

UNIT_SUITE(clock_tests) = {
	{ "clock_ms_until", test_ms_until },
	{ "clock_format_wall", test_format_wall },
	{ "clock_clocks_move", test_clocks_move },
	UNIT_END,
};
