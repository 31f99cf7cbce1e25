/* The log-linear histogram: exact bucket edges, precision, percentiles
 * against known distributions, merge. */
#include "config.h"

#include <stdlib.h>

#include <tsecho/hist.h>
#include "unit.h"

Test(hist, bucket_edges)
{
	/* Exact below 2048; then each power of two in 1024 steps. */
	cr_expect(eq(i64, ts_hist_bucket_low(0), 0));
	cr_expect(eq(i64, ts_hist_bucket_high(2047), 2047));
	cr_expect(eq(i64, ts_hist_bucket_low(2048), 2048));
	cr_expect(eq(i64, ts_hist_bucket_high(2048), 2049));
	cr_expect(eq(i64, ts_hist_bucket_high(3071), 4095));
	cr_expect(eq(i64, ts_hist_bucket_low(3072), 4096));
	cr_expect(eq(i64, ts_hist_bucket_high(3072), 4099));
	cr_expect(eq(i64, ts_hist_bucket_high(ts_hist_buckets() - 1), TS_HIST_MAX_NS - 1));
	/* Buckets tile the range with no gap and no overlap. */
	for (size_t i = 1; i < ts_hist_buckets(); i++) {
		if (ts_hist_bucket_low(i) != ts_hist_bucket_high(i - 1) + 1) {
			cr_fail("gap or overlap before bucket %zu", i);
			break;
		}
	}
}

Test(hist, precision)
{
	/* Every bucket is narrower than 1/1024 of its lowest value. */
	for (size_t i = 2048; i < ts_hist_buckets(); i += 97) {
		int64_t lo = ts_hist_bucket_low(i), hi = ts_hist_bucket_high(i);
		if ((double)(hi - lo + 1) > (double)lo / 1024.0) {
			cr_fail("bucket %zu [%lld, %lld] too wide", i, (long long)lo,
				(long long)hi);
			break;
		}
	}
}

/* 1..10000 us, each once. */
static struct ts_hist *uniform_us(void)
{
	struct ts_hist *h = ts_hist_new();

	cr_assert(h != NULL);
	for (int64_t v = 1; v <= 10000; v++)
		ts_hist_record(h, v * 1000);
	return h;
}

/* Of 1..10000 us: p50 = 5000 us, p99 = 9900 us, p99.9 = 9990 us, each to
 * within 0.1% above. */
static const struct {
	double p;
	int64_t want_ns;
} uniform_percentiles[] = { { 50, 5000000 },   { 90, 9000000 }, { 99, 9900000 },
			    { 99.9, 9990000 }, { 0, 1000 },     { 100, 10000000 } };

ParameterizedTestParameters(hist, uniform_percentile)
{
	TS_TABLE_ROWS(uniform_percentiles);
}

ParameterizedTest(size_t *row, hist, uniform_percentile)
{
	struct ts_hist *h = uniform_us();
	double p = uniform_percentiles[*row].p;
	int64_t want = uniform_percentiles[*row].want_ns;
	int64_t got = ts_hist_percentile(h, p);

	cr_expect(got >= want && (double)got <= (double)want * 1.001,
		  "p%g = %lld ns, want %lld ns (+0.1%%)", p, (long long)got, (long long)want);
	ts_hist_free(h);
}

Test(hist, uniform_moments)
{
	struct ts_hist *h = uniform_us();

	cr_expect(eq(u64, ts_hist_count(h), 10000));
	cr_expect(eq(i64, ts_hist_min(h), 1000));
	cr_expect(eq(i64, ts_hist_max(h), 10000000));
	cr_expect(ts_hist_mean(h) > 5000499.0 && ts_hist_mean(h) < 5000501.0);
	/* Uniform 1..n: stddev = sqrt((n^2 - 1) / 12) us. */
	cr_expect(ts_hist_stddev(h) > 2886750.0 && ts_hist_stddev(h) < 2886752.0);
	ts_hist_free(h);
}

Test(hist, small_and_extreme_values)
{
	struct ts_hist *h = ts_hist_new();

	cr_expect(eq(i64, ts_hist_percentile(h, 50), 0)); /* empty */
	ts_hist_record(h, -5);                            /* counts as 0 */
	ts_hist_record(h, 7);
	ts_hist_record(h, TS_HIST_MAX_NS * 4); /* clamped bucket, exact max */
	cr_expect(eq(i64, ts_hist_min(h), 0));
	cr_expect(eq(i64, ts_hist_percentile(h, 50), 7));
	cr_expect(eq(i64, ts_hist_max(h), TS_HIST_MAX_NS * 4));
	cr_expect(eq(i64, ts_hist_percentile(h, 100), TS_HIST_MAX_NS * 4));
	ts_hist_free(h);
}

Test(hist, one_outlier_tail)
{
	struct ts_hist *h = ts_hist_new();

	/* 999 fast, one slow: p99.9 must show the slow one. */
	for (int i = 0; i < 999; i++)
		ts_hist_record(h, 20000);
	ts_hist_record(h, 1000000000);
	/* The highest value of 20000's bucket: within 0.1% above it. */
	cr_expect(ts_hist_percentile(h, 99) >= 20000 && ts_hist_percentile(h, 99) <= 20020);
	cr_expect(ts_hist_percentile(h, 99.9) >= 20000 && ts_hist_percentile(h, 99.9) <= 20020);
	cr_expect(ts_hist_percentile(h, 99.91) >= 1000000000);
	ts_hist_free(h);
}

Test(hist, merge_equals_one)
{
	struct ts_hist *a = ts_hist_new(), *b = ts_hist_new(), *both = ts_hist_new();
	unsigned seed = 7;

	for (int i = 0; i < 50000; i++) {
		int64_t v;
		seed = seed * 1103515245u + 12345u;
		v = (int64_t)(seed >> 8) % 5000000;
		ts_hist_record(i % 3 ? a : b, v);
		ts_hist_record(both, v);
	}
	ts_hist_merge(a, b);
	cr_expect(eq(u64, ts_hist_count(a), ts_hist_count(both)));
	cr_expect(eq(i64, ts_hist_min(a), ts_hist_min(both)));
	cr_expect(eq(i64, ts_hist_max(a), ts_hist_max(both)));
	for (size_t i = 0; i < ts_hist_buckets(); i++) {
		if (ts_hist_bucket_count(a, i) != ts_hist_bucket_count(both, i)) {
			cr_fail("bucket %zu differs after merge", i);
			break;
		}
	}
	cr_expect(eq(i64, ts_hist_percentile(a, 99.9), ts_hist_percentile(both, 99.9)));
	ts_hist_free(a);
	ts_hist_free(b);
	ts_hist_free(both);
}

Test(hist, export_rebuild)
{
	struct ts_hist *a = ts_hist_new(), *b = ts_hist_new();

	/* What a JSON export carries (non-empty buckets and the exact
	 * figures) rebuilds the same histogram: tsecho merge relies on it. */
	for (int64_t v = 1; v < 3000000; v = v * 3 + 7)
		ts_hist_record(a, v);
	for (size_t i = 0; i < ts_hist_buckets(); i++)
		if (ts_hist_bucket_count(a, i))
			ts_hist_add_bucket(b, i, ts_hist_bucket_count(a, i));
	ts_hist_add_bucket(b, ts_hist_buckets(), 99); /* out of range: ignored */
	ts_hist_set_exact(b, ts_hist_min(a), ts_hist_max(a), ts_hist_sum(a), ts_hist_sum_sq(a));
	cr_expect(eq(u64, ts_hist_count(b), ts_hist_count(a)));
	cr_expect(eq(i64, ts_hist_percentile(b, 50), ts_hist_percentile(a, 50)));
	cr_expect(eq(i64, ts_hist_percentile(b, 99.9), ts_hist_percentile(a, 99.9)));
	cr_expect(ts_hist_mean(b) == ts_hist_mean(a));
	cr_expect(ts_hist_stddev(b) == ts_hist_stddev(a));
	ts_hist_free(a);
	ts_hist_free(b);
}
