/* Paired ratios and their 95% interval (tsecho compare's noise test). */
#include "config.h"

#include <math.h>

#include <tsecho/ratio.h>
#include "unit.h"

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

Test(ratio, t_quantiles)
{
	cr_expect(near(ts_t975(1), 12.706, 1e-9));
	cr_expect(near(ts_t975(2), 4.303, 1e-9));
	cr_expect(near(ts_t975(9), 2.262, 1e-9));
	cr_expect(near(ts_t975(30), 2.042, 1e-9));
	/* Past the table: 2.040 at 31, 2.000 at 60, 1.980 at 120, to 0.003. */
	cr_expect(near(ts_t975(31), 2.040, 0.003));
	cr_expect(near(ts_t975(60), 2.000, 0.003));
	cr_expect(near(ts_t975(120), 1.980, 0.003));
	cr_expect(near(ts_t975(0), 12.706, 1e-9)); /* df 0 read as 1 */
}

Test(ratio, equal_pairs_have_no_width)
{
	double a[] = { 2, 4, 8 }, b[] = { 1, 2, 4 };
	struct ts_ratio r = ts_ratio_of(a, b, 3);

	cr_expect(eq(u64, r.n, 3));
	cr_expect(near(r.ratio, 2.0, 1e-12));
	cr_expect(near(r.lo, 2.0, 1e-12) && near(r.hi, 2.0, 1e-12));
	cr_expect(r.has_interval && r.significant);
}

Test(ratio, interval_by_hand)
{
	/* ln ratios 0.1, 0.2, 0.3: mean 0.2, s 0.1, n 3, t 4.303. */
	double b[] = { 1, 1, 1 };
	double a[] = { exp(0.1), exp(0.2), exp(0.3) };
	struct ts_ratio r = ts_ratio_of(a, b, 3);
	double half = 4.303 * 0.1 / sqrt(3.0);

	cr_expect(near(r.ratio, exp(0.2), 1e-9));
	cr_expect(near(r.lo, exp(0.2 - half), 1e-9), "lo %f", r.lo);
	cr_expect(near(r.hi, exp(0.2 + half), 1e-9), "hi %f", r.hi);
	/* 0.2 - 0.248 < 0: the interval holds 1, so this is noise. */
	cr_expect(r.lo < 1 && r.hi > 1 && r.significant == 0);
}

Test(ratio, symmetric_in_log)
{
	double a[] = { 1, 1, 1, 1 }, b[] = { 2, 2.2, 1.9, 2.1 };
	struct ts_ratio x = ts_ratio_of(a, b, 4), y = ts_ratio_of(b, a, 4);

	cr_expect(near(x.ratio * y.ratio, 1.0, 1e-12));
	cr_expect(near(x.lo * y.hi, 1.0, 1e-12) && near(x.hi * y.lo, 1.0, 1e-12));
	cr_expect(x.significant && y.significant);
}

Test(ratio, unusable_pairs_left_out)
{
	double a[] = { 2, 0, NAN, 3, -1, INFINITY }, b[] = { 1, 1, 1, 0, 1, 1 };
	struct ts_ratio r = ts_ratio_of(a, b, 6);

	/* Only (2, 1) is usable: one pair, no interval. */
	cr_expect(eq(u64, r.n, 1));
	cr_expect(near(r.ratio, 2.0, 1e-12));
	cr_expect(r.has_interval == 0 && r.significant == 0);
	cr_expect(r.lo == r.ratio && r.hi == r.ratio);
	r = ts_ratio_of(a + 1, b + 1, 2);
	cr_expect(eq(u64, r.n, 0));
	cr_expect(r.ratio == 0 && r.has_interval == 0);
}
