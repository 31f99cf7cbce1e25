/* The open-loop schedule, on a fake clock. */
#include "config.h"

#include <tsecho/pacer.h>
#include "unit.h"

Test(pacer, interval)
{
	cr_expect(eq(i64, ts_pacer_interval_ns(1000), 1000000));
	cr_expect(eq(i64, ts_pacer_interval_ns(3000), 333333));
	cr_expect(eq(i64, ts_pacer_interval_ns(1.5e9), 1)); /* never 0 */
	cr_expect(eq(i64, ts_pacer_interval_ns(0.5), 2000000000));
}

Test(pacer, streams_take_turns)
{
	struct ts_pacer p = { .start_ns = 1000, .interval_ns = 10, .streams = 3 };

	/* The worker's messages are evenly spaced... */
	for (uint64_t m = 0; m < 30; m++)
		cr_expect(eq(i64, ts_pacer_due(&p, m), 1000 + 10 * (int64_t)m));
	/* ...and stream j's k-th is the worker's k*3+j: each stream at a
	 * third of the rate, the three interleaved. */
	cr_expect(eq(i64, ts_pacer_stream_due(&p, 0, 0), 1000));
	cr_expect(eq(i64, ts_pacer_stream_due(&p, 1, 0), 1010));
	cr_expect(eq(i64, ts_pacer_stream_due(&p, 2, 0), 1020));
	cr_expect(eq(i64, ts_pacer_stream_due(&p, 0, 1), 1030));
	cr_expect(eq(i64, ts_pacer_stream_due(&p, 2, 4), 1000 + 10 * 14));
	for (uint64_t k = 1; k < 10; k++)
		cr_expect(
		    eq(i64, ts_pacer_stream_due(&p, 1, k) - ts_pacer_stream_due(&p, 1, k - 1), 30));
}

Test(pacer, due_by_a_fake_clock)
{
	struct ts_pacer p = { .start_ns = 5000, .interval_ns = 250, .streams = 2 };

	cr_expect(eq(u64, ts_pacer_due_by(&p, 0), 0));
	cr_expect(eq(u64, ts_pacer_due_by(&p, 4999), 0));
	cr_expect(eq(u64, ts_pacer_due_by(&p, 5000), 1));
	cr_expect(eq(u64, ts_pacer_due_by(&p, 5249), 1));
	cr_expect(eq(u64, ts_pacer_due_by(&p, 5250), 2));
	/* A stall of a second at 4 messages a microsecond: all of them due
	 * at once afterwards, none skipped. */
	cr_expect(eq(u64, ts_pacer_due_by(&p, 5000 + 1000000000LL), 4000001));
	/* Due-by and due agree: message m is due by its own due time and
	 * not a nanosecond before. */
	for (uint64_t m = 0; m < 100; m++) {
		cr_expect(ts_pacer_due_by(&p, ts_pacer_due(&p, m)) == m + 1);
		cr_expect(ts_pacer_due_by(&p, ts_pacer_due(&p, m) - 1) == m);
	}
}
