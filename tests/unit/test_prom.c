/* The Prometheus text writer: label escaping, number spelling, cumulative
 * histograms and the sticky error. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <tsecho/prom.h>
#include "unit.h"

/* The page so far as a NUL-terminated string (the buffer holds no NUL). */
static const char *page(struct ts_buf *b, char *copy, size_t cap)
{
	size_t n = b->len < cap - 1 ? b->len : cap - 1;

	if (n > 0)
		memcpy(copy, ts_buf_bytes(b), n);
	copy[n] = '\0';
	return copy;
}

static void test_label_escaping(void)
{
	char labels[128] = "";

	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "a", "plain"), 0);
	CHECK_EQ_STR(labels, "a=\"plain\"");
	/* Backslash, quote and newline are escaped; nothing else is. */
	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "b", "x\\y\"z\nw\tv"), 0);
	CHECK_EQ_STR(labels, "a=\"plain\",b=\"x\\\\y\\\"z\\nw\tv\"");
	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "c", ""), 0);
	CHECK_EQ_STR(labels, "a=\"plain\",b=\"x\\\\y\\\"z\\nw\tv\",c=\"\"");
}

static void test_label_full_leaves_buffer(void)
{
	char labels[32] = "";

	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "kind", "io"), 0);
	CHECK_EQ_STR(labels, "kind=\"io\"");
	/* Too long for what is left: -ENOBUFS and the text as it was. */
	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "reason", "far too long a value"),
		   -ENOBUFS);
	CHECK_EQ_STR(labels, "kind=\"io\"");
	/* The name alone does not fit either. */
	CHECK_EQ_I(ts_prom_label(labels, sizeof labels, "a_rather_long_label_name", "v"), -ENOBUFS);
	CHECK_EQ_STR(labels, "kind=\"io\"");
	/* An escape that would not fit counts as two bytes, not one. */
	char tight[9] = "";
	CHECK_EQ_I(ts_prom_label(tight, sizeof tight, "k", "a\"b\""), -ENOBUFS);
	CHECK_EQ_STR(tight, "");
	CHECK_EQ_I(ts_prom_label(tight, sizeof tight, "k", "abc"), 0);
	CHECK_EQ_STR(tight, "k=\"abc\"");
}

/* Exactly full: the text, its closing quote and the NUL take every byte,
 * and not one more. */
static void test_label_exact_fit_stays_in_bounds(void)
{
	char mem[16];

	for (size_t cap = 1; cap <= 8; cap++) {
		memset(mem, 'X', sizeof mem);
		mem[0] = '\0';
		/* ab="" and a NUL is 6 bytes, as is a="b" and a NUL. */
		int want = cap >= 6 ? 0 : -ENOBUFS;
		int rc = ts_prom_label(mem, cap, "ab", "");
		CHECK_EQ_I(rc, want);
		CHECK_EQ_STR(mem, rc == 0 ? "ab=\"\"" : "");
		if (mem[cap] != 'X')
			UNIT_FAIL("cap %zu: byte %zu past the buffer written", cap, cap);
		memset(mem, 'X', sizeof mem);
		mem[0] = '\0';
		rc = ts_prom_label(mem, cap, "a", "b");
		CHECK_EQ_I(rc, want);
		if (mem[cap] != 'X')
			UNIT_FAIL("cap %zu: byte %zu past the buffer written", cap, cap);
	}
}

static void test_family_and_samples(void)
{
	struct ts_buf b = { 0 };
	struct ts_prom p;
	char text[512];
	char labels[64] = "";

	ts_prom_begin(&p, &b, 4096);
	ts_prom_family(&p, "x_total", "counter", "Things.");
	ts_prom_label(labels, sizeof labels, "kind", "a");
	ts_prom_sample_u64(&p, "x_total", labels, UINT64_MAX);
	ts_prom_sample_u64(&p, "x_total", NULL, 0);
	ts_prom_sample_u64(&p, "x_total", "", 7);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	CHECK_EQ_STR(page(&b, text, sizeof text),
		     "# HELP x_total Things.\n# TYPE x_total counter\n"
		     "x_total{kind=\"a\"} 18446744073709551615\nx_total 0\nx_total 7\n");
	ts_buf_free(&b);
}

/* One sample's value as the page spells it. */
static const char *spelled(double v, char *text, size_t cap)
{
	struct ts_buf b = { 0 };
	struct ts_prom p;

	ts_prom_begin(&p, &b, 4096);
	ts_prom_sample(&p, "v", NULL, v);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	page(&b, text, cap);
	ts_buf_free(&b);
	return text;
}

static void test_float_spelling(void)
{
	char text[64];

	CHECK_EQ_STR(spelled(1e-06, text, sizeof text), "v 1e-06\n");
	CHECK_EQ_STR(spelled(0.0001, text, sizeof text), "v 0.0001\n");
	CHECK_EQ_STR(spelled(1, text, sizeof text), "v 1\n");
	CHECK_EQ_STR(spelled(0, text, sizeof text), "v 0\n");
	CHECK_EQ_STR(spelled(0.1, text, sizeof text), "v 0.1\n");
	CHECK_EQ_STR(spelled(-2.5, text, sizeof text), "v -2.5\n");
	CHECK_EQ_STR(spelled(INFINITY, text, sizeof text), "v +Inf\n");
	CHECK_EQ_STR(spelled(-INFINITY, text, sizeof text), "v -Inf\n");
	CHECK_EQ_STR(spelled(NAN, text, sizeof text), "v NaN\n");
	/* A time in seconds with nanoseconds needs more than 15 digits; what
	 * is printed reads back as the same double. */
	double t = 1795579710.8233931;
	spelled(t, text, sizeof text);
	CHECK(strtod(text + 2, NULL) == t);
	CHECK_EQ_STR(spelled(0.1 + 0.2, text, sizeof text), "v 0.30000000000000004\n");
}

static const double bounds_s[] = { 1e-6, 1e-3, 1 };

static void test_histogram_cumulative(void)
{
	uint64_t counts[4] = { 0 };
	struct ts_prom_hist h = { .bounds_s = bounds_s, .n_bounds = 3, .counts = counts };
	struct ts_buf b = { 0 };
	struct ts_prom p;
	char text[1024];

	/* A value equal to a bound is in that bound's bucket (le). */
	ts_prom_hist_observe(&h, 1e-6);
	ts_prom_hist_observe(&h, 5e-7);
	ts_prom_hist_observe(&h, 2e-6);
	ts_prom_hist_observe(&h, 1);
	ts_prom_hist_observe(&h, 1.5);
	ts_prom_hist_observe(&h, 1.5);
	CHECK_EQ_U(counts[0], 2);
	CHECK_EQ_U(counts[1], 1);
	CHECK_EQ_U(counts[2], 1);
	CHECK_EQ_U(counts[3], 2);
	CHECK_EQ_U(h.count, 6);

	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "r_seconds", NULL, &h);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	page(&b, text, sizeof text);
	const char *want_buckets = "r_seconds_bucket{le=\"1e-06\"} 2\n"
				   "r_seconds_bucket{le=\"0.001\"} 3\n"
				   "r_seconds_bucket{le=\"1\"} 4\n"
				   "r_seconds_bucket{le=\"+Inf\"} 6\n"
				   "r_seconds_sum ";
	CHECK(strncmp(text, want_buckets, strlen(want_buckets)) == 0);
	if (strncmp(text, want_buckets, strlen(want_buckets)) != 0)
		UNIT_FAIL("page:\n%s", text);
	CHECK(strstr(text, "\nr_seconds_count 6\n") != NULL);
	ts_buf_free(&b);

	/* With labels: le comes last, after a comma. */
	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "r_seconds", "proto=\"udp\"", &h);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	page(&b, text, sizeof text);
	CHECK(strstr(text, "r_seconds_bucket{proto=\"udp\",le=\"+Inf\"} 6\n") != NULL);
	CHECK(strstr(text, "r_seconds_count{proto=\"udp\"} 6\n") != NULL);
	CHECK(strstr(text, "r_seconds_sum{proto=\"udp\"} ") != NULL);
	ts_buf_free(&b);
}

static void test_empty_histogram(void)
{
	uint64_t counts[4] = { 0 };
	struct ts_prom_hist h = { .bounds_s = bounds_s, .n_bounds = 3, .counts = counts };
	struct ts_buf b = { 0 };
	struct ts_prom p;
	char text[1024];

	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "e", NULL, &h);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	CHECK_EQ_STR(page(&b, text, sizeof text),
		     "e_bucket{le=\"1e-06\"} 0\ne_bucket{le=\"0.001\"} 0\ne_bucket{le=\"1\"} 0\n"
		     "e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
	ts_buf_free(&b);
}

static void test_sticky_error(void)
{
	struct ts_buf b = { 0 };
	struct ts_prom p;
	size_t before;

	/* Room for the first sample only. */
	ts_prom_begin(&p, &b, 12);
	ts_prom_sample_u64(&p, "a", NULL, 1);
	CHECK_EQ_I(ts_prom_end(&p), 0);
	before = b.len;
	CHECK_EQ_U(before, 4);
	ts_prom_family(&p, "much_too_long", "gauge", "Does not fit.");
	CHECK_EQ_I(ts_prom_end(&p), -ENOBUFS);
	CHECK_EQ_U(b.len, before);
	/* Later calls, even ones that would fit, append nothing. */
	ts_prom_sample_u64(&p, "b", NULL, 2);
	ts_prom_sample(&p, "c", NULL, 3.0);
	CHECK_EQ_U(b.len, before);
	CHECK_EQ_I(ts_prom_end(&p), -ENOBUFS);
	ts_buf_free(&b);

	/* A line longer than the writer's line buffer is an error too, not a
	 * truncated line. */
	char name[1100];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	ts_prom_begin(&p, &b, 1u << 20);
	ts_prom_sample_u64(&p, name, NULL, 1);
	CHECK_EQ_I(ts_prom_end(&p), -ENOBUFS);
	CHECK_EQ_U(b.len, 0);
	ts_buf_free(&b);
}

UNIT_SUITE(prom_tests) = {
	{ "prom_label_escaping", test_label_escaping },
	{ "prom_label_full_leaves_buffer", test_label_full_leaves_buffer },
	{ "prom_label_exact_fit_stays_in_bounds", test_label_exact_fit_stays_in_bounds },
	{ "prom_family_and_samples", test_family_and_samples },
	{ "prom_float_spelling", test_float_spelling },
	{ "prom_histogram_cumulative", test_histogram_cumulative },
	{ "prom_empty_histogram", test_empty_histogram },
	{ "prom_sticky_error", test_sticky_error },
	UNIT_END,
};
