/* Paired ratios with a confidence interval: see ratio.h. */
#include "config.h"

#include <tsecho/ratio.h>

#include <math.h>

double ts_t975(size_t df)
{
	/* t(0.975, df) for df = 1..30, rounded to three decimals. */
	static const double table[30] = {
		12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
	};

	if (df < 1)
		df = 1;
	if (df <= 30)
		return table[df - 1];
	/* Past 30 the quantile is 1.96 + 2.4 / df to within 0.002. */
	return 1.96 + 2.4 / (double)df;
}

static int usable(double v)
{
	return isfinite(v) && v > 0;
}

struct ts_ratio ts_ratio_of(const double *a, const double *b, size_t n)
{
	struct ts_ratio r = { 0 };
	double sum = 0, sum_sq = 0, mean, sd, half;

	for (size_t i = 0; i < n; i++) {
		double l;
		if (!usable(a[i]) || !usable(b[i]))
			continue;
		l = log(a[i] / b[i]);
		sum += l;
		sum_sq += l * l;
		r.n++;
	}
	if (r.n == 0)
		return r;
	mean = sum / (double)r.n;
	r.ratio = r.lo = r.hi = exp(mean);
	if (r.n < 2)
		return r;
	sd = sqrt(fmax(0.0, (sum_sq - (double)r.n * mean * mean) / (double)(r.n - 1)));
	half = ts_t975(r.n - 1) * sd / sqrt((double)r.n);
	r.lo = exp(mean - half);
	r.hi = exp(mean + half);
	r.has_interval = 1;
	r.significant = r.lo > 1.0 || r.hi < 1.0;
	return r;
}
