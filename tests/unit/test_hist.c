/* The log-linear histogram: exact bucket edges, precision, percentiles
 * against known distributions, merge. */
#include <stdlib.h>

#include <tsecho/hist.h>
#include "unit.h"

static void test_bucket_edges(void)
{
	/* Exact below 2048; then each power of two in 1024 steps. */
	CHECK_EQ_I(ts_hist_bucket_low(0), 0);
	CHECK_EQ_I(ts_hist_bucket_high(2047), 2047);
	CHECK_EQ_I(ts_hist_bucket_low(2048), 2048);
	CHECK_EQ_I(ts_hist_bucket_high(2048), 2049);
	CHECK_EQ_I(ts_hist_bucket_high(3071), 4095);
	CHECK_EQ_I(ts_hist_bucket_low(3072), 4096);
	CHECK_EQ_I(ts_hist_bucket_high(3072), 4099);
	CHECK_EQ_I(ts_hist_bucket_high(ts_hist_buckets() - 1), TS_HIST_MAX_NS - 1);
	/* Buckets tile the range with no gap and no overlap. */
	for (size_t i = 1; i < ts_hist_buckets(); i++) {
		if (ts_hist_bucket_low(i) != ts_hist_bucket_high(i - 1) + 1) {
			UNIT_FAIL("gap or overlap before bucket %zu", i);
			break;
		}
	}
}

static void test_precision(void)
{
	/* Every bucket is narrower than 1/1024 of its lowest value. */
	for (size_t i = 2048; i < ts_hist_buckets(); i += 97) {
		int64_t lo = ts_hist_bucket_low(i), hi = ts_hist_bucket_high(i);
		if ((double)(hi - lo + 1) > (double)lo / 1024.0) {
			UNIT_FAIL("bucket %zu [%lld, %lld] too wide", i, (long long)lo,
				  (long long)hi);
			break;
		}
	}
}

static void test_uniform_percentiles(void)
{
	struct ts_hist *h = ts_hist_new();

	/* 1..10000 us: p50 = 5000 us, p99 = 9900 us, p99.9 = 9990 us, each
	 * to within 0.1% above. */
	for (int64_t v = 1; v <= 10000; v++)
		ts_hist_record(h, v * 1000);
	CHECK_EQ_U(ts_hist_count(h), 10000);
	CHECK_EQ_I(ts_hist_min(h), 1000);
	CHECK_EQ_I(ts_hist_max(h), 10000000);
	struct {
		double p;
		int64_t want;
	} cases[] = { { 50, 5000000 },   { 90, 9000000 }, { 99, 9900000 },
		      { 99.9, 9990000 }, { 0, 1000 },     { 100, 10000000 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t got = ts_hist_percentile(h, cases[i].p);
		if (got < cases[i].want || (double)got > (double)cases[i].want * 1.001)
			UNIT_FAIL("p%g = %lld, want %lld (+0.1%%)", cases[i].p, (long long)got,
				  (long long)cases[i].want);
	}
	CHECK(ts_hist_mean(h) > 5000499.0 && ts_hist_mean(h) < 5000501.0);
	/* Uniform 1..n: stddev = sqrt((n^2 - 1) / 12) us. */
	CHECK(ts_hist_stddev(h) > 2886750.0 && ts_hist_stddev(h) < 2886752.0);
	ts_hist_free(h);
}

static void test_small_and_extreme_values(void)
{
	struct ts_hist *h = ts_hist_new();

	CHECK_EQ_I(ts_hist_percentile(h, 50), 0); /* empty */
	ts_hist_record(h, -5);                    /* counts as 0 */
	ts_hist_record(h, 7);
	ts_hist_record(h, TS_HIST_MAX_NS * 4); /* clamped bucket, exact max */
	CHECK_EQ_I(ts_hist_min(h), 0);
	CHECK_EQ_I(ts_hist_percentile(h, 50), 7);
	CHECK_EQ_I(ts_hist_max(h), TS_HIST_MAX_NS * 4);
	CHECK_EQ_I(ts_hist_percentile(h, 100), TS_HIST_MAX_NS * 4);
	ts_hist_free(h);
}

static void test_one_outlier_tail(void)
{
	struct ts_hist *h = ts_hist_new();

	/* 999 fast, one slow: p99.9 must show the slow one. */
	for (int i = 0; i < 999; i++)
		ts_hist_record(h, 20000);
	ts_hist_record(h, 1000000000);
	/* The highest value of 20000's bucket: within 0.1% above it. */
	CHECK(ts_hist_percentile(h, 99) >= 20000 && ts_hist_percentile(h, 99) <= 20020);
	CHECK(ts_hist_percentile(h, 99.9) >= 20000 && ts_hist_percentile(h, 99.9) <= 20020);
	CHECK(ts_hist_percentile(h, 99.91) >= 1000000000);
	ts_hist_free(h);
}

static void test_merge_equals_one(void)
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
	CHECK_EQ_U(ts_hist_count(a), ts_hist_count(both));
	CHECK_EQ_I(ts_hist_min(a), ts_hist_min(both));
	CHECK_EQ_I(ts_hist_max(a), ts_hist_max(both));
	for (size_t i = 0; i < ts_hist_buckets(); i++) {
		if (ts_hist_bucket_count(a, i) != ts_hist_bucket_count(both, i)) {
			UNIT_FAIL("bucket %zu differs after merge", i);
			break;
		}
	}
	CHECK_EQ_I(ts_hist_percentile(a, 99.9), ts_hist_percentile(both, 99.9));
	ts_hist_free(a);
	ts_hist_free(b);
	ts_hist_free(both);
}

static void test_export_rebuild(void)
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
	CHECK_EQ_U(ts_hist_count(b), ts_hist_count(a));
	CHECK_EQ_I(ts_hist_percentile(b, 50), ts_hist_percentile(a, 50));
	CHECK_EQ_I(ts_hist_percentile(b, 99.9), ts_hist_percentile(a, 99.9));
	CHECK(ts_hist_mean(b) == ts_hist_mean(a));
	CHECK(ts_hist_stddev(b) == ts_hist_stddev(a));
	ts_hist_free(a);
	ts_hist_free(b);
}

UNIT_SUITE(hist_tests) = {
	{ "hist_export_rebuild", test_export_rebuild },
	{ "hist_bucket_edges", test_bucket_edges },
	{ "hist_precision", test_precision },
	{ "hist_uniform_percentiles", test_uniform_percentiles },
	{ "hist_small_and_extreme_values", test_small_and_extreme_values },
	{ "hist_one_outlier_tail", test_one_outlier_tail },
	{ "hist_merge_equals_one", test_merge_equals_one },
	UNIT_END,
};
