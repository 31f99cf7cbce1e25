/* Clocks and the seed's time format. */
#include "config.h"

#include <tsecho/clock.h>
#include "unit.h"

Test(clock, format_wall)
{
	char buf[32];

	cr_expect(eq(i64, ts_format_wall(buf, sizeof buf, 1764033903541234567LL), 17));
	cr_expect_str_eq(buf, "1764033903.541234");
	ts_format_wall(buf, sizeof buf, 0);
	cr_expect_str_eq(buf, "0.000000");
	ts_format_wall(buf, sizeof buf, 1000000999LL);
	cr_expect_str_eq(buf, "1.000000"); /* truncated, not rounded up */
	ts_format_wall(buf, sizeof buf, -1500000000LL);
	cr_expect_str_eq(buf, "-2.500000"); /* floor: -2 + 0.5 */
	/* Truncation to cap behaves as snprintf. */
	cr_expect(eq(i64, ts_format_wall(buf, 5, 1764033903541234567LL), 17));
	cr_expect_str_eq(buf, "1764");
}

Test(clock, clocks_move)
{
	int64_t a = ts_mono_ns(), b = ts_mono_ns();
	int64_t wall = ts_wall_ns();

	cr_expect(a > 0);
	cr_expect(b >= a);
	/* After 2020 and before 2100: the wall clock is in nanoseconds. */
	cr_expect(wall > 1577836800LL * TS_NS_PER_S);
	cr_expect(wall < 4102444800LL * TS_NS_PER_S);
}

Test(clock, ms_until)
{
	cr_expect(eq(i64, ts_ms_until(100, 200, 1000), 0));
	cr_expect(eq(i64, ts_ms_until(200, 200, 1000), 0));
	cr_expect(eq(i64, ts_ms_until(201, 200, 1000), 1)); /* rounded up */
	cr_expect(eq(i64, ts_ms_until(5 * TS_NS_PER_MS, 0, 1000), 5));
	cr_expect(eq(i64, ts_ms_until(5 * TS_NS_PER_S, 0, 1000), 1000));
	cr_expect(eq(i64, ts_ms_until(INT64_MAX, 0, 1000), 1000));
}
