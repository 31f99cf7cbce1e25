/* Session measurement: offset and its bound, one-way delays, jitter, loss,
 * duplicates, reordering. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include <tsecho/stats.h>
#include "unit.h"

/* A reply on a path with the given one-way delays, server residence and
 * server clock offset (server minus client), all ns; sent at t1. */
static struct ts_sample path(uint64_t seq, int64_t t1, int64_t fwd, int64_t res, int64_t bwd,
			     int64_t offset)
{
	struct ts_sample s = { .seq = seq, .server_times = 1 };

	s.t1_wall_ns = t1;
	s.t2_wall_ns = t1 + fwd + offset;
	s.t3_wall_ns = s.t2_wall_ns + res;
	s.t4_wall_ns = t1 + fwd + res + bwd;
	s.rtt_ns = s.t4_wall_ns - s.t1_wall_ns;
	return s;
}

Test(stats, single_probe_math)
{
	struct ts_sample s = path(1, 1000000000000LL, 300, 50, 100, 50000000000LL);

	/* The offset estimate is wrong by (fwd - bwd) / 2 = 100 ns, within
	 * its bound of net_rtt / 2 = 200 ns. */
	cr_expect(fabs(ts_offset_ns(&s) - (50000000000.0 + 100)) < 1e-3);
	cr_expect(eq(i64, ts_residence_ns(&s), 50));
	cr_expect(eq(i64, ts_net_rtt_ns(&s), 400));
}

Test(stats, offset_from_best_probe)
{
	struct ts_session s;
	double offset, bound;
	const int64_t truth = -7000000; /* server 7 ms behind */

	cr_expect(eq(i64, ts_session_init(&s), 0));
	cr_expect(eq(i64, ts_session_offset(&s, &offset, &bound), 0));
	/* Queueing adds delay in one direction or the other; the least
	 * delayed probe (seq 3) gives the tightest estimate. */
	int64_t fwd[] = { 900000, 200000, 40000, 30000, 600000 };
	int64_t bwd[] = { 50000, 800000, 42000, 700000, 40000 };
	for (int i = 0; i < 5; i++) {
		struct ts_sample p =
		    path((uint64_t)i + 1, 1000000000LL * (i + 1), fwd[i], 3000, bwd[i], truth);
		ts_session_sent(&s, (uint64_t)i + 1);
		cr_expect(eq(i64, ts_session_reply(&s, &p), TS_REPLY_NEW));
	}
	cr_expect(eq(i64, ts_session_offset(&s, &offset, &bound), 1));
	cr_expect(fabs(bound - 41000.0) < 1e-6);
	cr_expect(fabs(offset - (double)truth) <= bound);
	cr_expect(fabs(offset - (truth + (40000 - 42000) / 2.0)) < 1e-6);
	/* One-way minima after correction are within the bound of truth. */
	cr_expect(fabs(((double)s.fwd_raw.min - offset) - 30000.0) <= bound);
	cr_expect(fabs(((double)s.bwd_raw.min + offset) - 40000.0) <= bound);
	cr_expect(eq(u64, s.received, 5));
	cr_expect(eq(i64, s.net_rtt.min, 82000));
	cr_expect(eq(i64, s.residence.max, 3000));
	ts_session_fini(&s);
}

Test(stats, jitter_rfc3550)
{
	struct ts_jitter j = { 0 };

	/* Constant transit: no jitter, whatever the offset in it. */
	for (int i = 0; i < 10; i++)
		ts_jitter_add(&j, 5000000000LL + 100);
	cr_expect(j.jitter_ns == 0.0);
	/* One step of D = 1600: J = 1600 / 16 = 100. */
	ts_jitter_add(&j, 5000000000LL + 1700);
	cr_expect(fabs(j.jitter_ns - 100.0) < 1e-9);
	/* Then D = 0: J decays by 1/16. */
	ts_jitter_add(&j, 5000000000LL + 1700);
	cr_expect(fabs(j.jitter_ns - 93.75) < 1e-9);
}

/* The estimate's maximum and mean over the run keep a stall the final
 * value forgets. */
Test(stats, jitter_over_the_run)
{
	struct ts_jitter j = { 0 };

	cr_expect(ts_jitter_mean_ns(&j) == 0.0);
	ts_jitter_add(&j, 1000);
	/* A 320 ms stall, then back: D = +320 ms gives J = 20 ms, D = -320 ms
	 * J = 20 + (320 - 20) / 16 = 38.75 ms, which then decays by 15/16. */
	ts_jitter_add(&j, 1000 + 320000000);
	for (int i = 0; i < 200; i++)
		ts_jitter_add(&j, 1000);
	cr_expect(fabs(j.max_ns - 38750000.0) < 1.0, "max %.1f", j.max_ns);
	cr_expect(j.jitter_ns < 1000.0, "final %.1f", j.jitter_ns);
	cr_expect(eq(u64, j.n_estimates, 201));
	/* (20 + 38.75 x sum of (15/16)^k) / 201, about 3.18 ms. */
	cr_expect(fabs(ts_jitter_mean_ns(&j) - 3184072.0) < 1000.0, "mean %.1f",
		  ts_jitter_mean_ns(&j));
}

Test(stats, loss_duplicates_reordering)
{
	struct ts_session s;
	uint64_t order[] = { 1, 2, 4, 3, 3, 6, 5, 9, 99 };

	cr_expect(eq(i64, ts_session_init(&s), 0));
	for (uint64_t seq = 1; seq <= 8; seq++)
		ts_session_sent(&s, seq);
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		struct ts_sample p = path(order[i], 1000, 10, 1, 10, 0);
		enum ts_reply_kind k = ts_session_reply(&s, &p);
		if (order[i] > 8)
			cr_expect(eq(i64, k, TS_REPLY_UNKNOWN));
	}
	cr_expect(eq(u64, s.sent, 8));
	cr_expect(eq(u64, s.received, 6));   /* 1 2 3 4 5 6; 7 and 8 lost */
	cr_expect(eq(u64, s.duplicates, 1)); /* the second 3 */
	cr_expect(eq(u64, s.reordered, 2));  /* 3 after 4, 5 after 6 */
	cr_expect(ts_session_answered(&s, 5));
	cr_expect(ts_session_answered(&s, 7) == 0);
	cr_expect(eq(u64, ts_hist_count(s.rtt), 6));
	ts_session_fini(&s);
}

Test(stats, window_forgets_old)
{
	struct ts_session s;
	struct ts_sample p = path(1, 1000, 10, 1, 10, 0);

	cr_expect(eq(i64, ts_session_init(&s), 0));
	for (uint64_t seq = 1; seq <= TS_SEQ_WINDOW + 1; seq++)
		ts_session_sent(&s, seq);
	/* Seq 1 left the window when seq 1 + window was sent. */
	cr_expect(eq(i64, ts_session_reply(&s, &p), TS_REPLY_UNKNOWN));
	p.seq = 2;
	cr_expect(eq(i64, ts_session_reply(&s, &p), TS_REPLY_NEW));
	ts_session_fini(&s);
}
