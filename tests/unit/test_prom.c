/* The Prometheus text writer: label escaping, number spelling, cumulative
 * histograms and the sticky error. */
#include "config.h"

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

Test(prom, label_escaping)
{
	char labels[128] = "";

	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "a", "plain"), 0));
	cr_expect_str_eq(labels, "a=\"plain\"");
	/* Backslash, quote and newline are escaped; nothing else is. */
	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "b", "x\\y\"z\nw\tv"), 0));
	cr_expect_str_eq(labels, "a=\"plain\",b=\"x\\\\y\\\"z\\nw\tv\"");
	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "c", ""), 0));
	cr_expect_str_eq(labels, "a=\"plain\",b=\"x\\\\y\\\"z\\nw\tv\",c=\"\"");
}

Test(prom, label_full_leaves_buffer)
{
	char labels[32] = "";

	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "kind", "io"), 0));
	cr_expect_str_eq(labels, "kind=\"io\"");
	/* Too long for what is left: -ENOBUFS and the text as it was. */
	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "reason", "far too long a value"),
		     -ENOBUFS));
	cr_expect_str_eq(labels, "kind=\"io\"");
	/* The name alone does not fit either. */
	cr_expect(eq(i64, ts_prom_label(labels, sizeof labels, "a_rather_long_label_name", "v"),
		     -ENOBUFS));
	cr_expect_str_eq(labels, "kind=\"io\"");
	/* An escape that would not fit counts as two bytes, not one. */
	char tight[9] = "";
	cr_expect(eq(i64, ts_prom_label(tight, sizeof tight, "k", "a\"b\""), -ENOBUFS));
	cr_expect_str_eq(tight, "");
	cr_expect(eq(i64, ts_prom_label(tight, sizeof tight, "k", "abc"), 0));
	cr_expect_str_eq(tight, "k=\"abc\"");
}

/* Exactly full: the text, its closing quote and the NUL take every byte,
 * and not one more. */
Test(prom, label_exact_fit_stays_in_bounds)
{
	char mem[16];

	for (size_t cap = 1; cap <= 8; cap++) {
		memset(mem, 'X', sizeof mem);
		mem[0] = '\0';
		/* ab="" and a NUL is 6 bytes, as is a="b" and a NUL. */
		int want = cap >= 6 ? 0 : -ENOBUFS;
		int rc = ts_prom_label(mem, cap, "ab", "");
		cr_expect(eq(i64, rc, want));
		cr_expect_str_eq(mem, rc == 0 ? "ab=\"\"" : "");
		if (mem[cap] != 'X')
			cr_fail("cap %zu: byte %zu past the buffer written", cap, cap);
		memset(mem, 'X', sizeof mem);
		mem[0] = '\0';
		rc = ts_prom_label(mem, cap, "a", "b");
		cr_expect(eq(i64, rc, want));
		if (mem[cap] != 'X')
			cr_fail("cap %zu: byte %zu past the buffer written", cap, cap);
	}
}

Test(prom, family_and_samples)
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
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	cr_expect_str_eq(page(&b, text, sizeof text),
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
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	page(&b, text, cap);
	ts_buf_free(&b);
	return text;
}

Test(prom, float_spelling)
{
	char text[64];

	cr_expect_str_eq(spelled(1e-06, text, sizeof text), "v 1e-06\n");
	cr_expect_str_eq(spelled(0.0001, text, sizeof text), "v 0.0001\n");
	cr_expect_str_eq(spelled(1, text, sizeof text), "v 1\n");
	cr_expect_str_eq(spelled(0, text, sizeof text), "v 0\n");
	cr_expect_str_eq(spelled(0.1, text, sizeof text), "v 0.1\n");
	cr_expect_str_eq(spelled(-2.5, text, sizeof text), "v -2.5\n");
	cr_expect_str_eq(spelled(INFINITY, text, sizeof text), "v +Inf\n");
	cr_expect_str_eq(spelled(-INFINITY, text, sizeof text), "v -Inf\n");
	cr_expect_str_eq(spelled(NAN, text, sizeof text), "v NaN\n");
	/* A time in seconds with nanoseconds needs more than 15 digits; what
	 * is printed reads back as the same double. */
	double t = 1795579710.8233931;
	spelled(t, text, sizeof text);
	cr_expect(strtod(text + 2, NULL) == t);
	cr_expect_str_eq(spelled(0.1 + 0.2, text, sizeof text), "v 0.30000000000000004\n");
}

static const double bounds_s[] = { 1e-6, 1e-3, 1 };

Test(prom, histogram_cumulative)
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
	cr_expect(eq(u64, counts[0], 2));
	cr_expect(eq(u64, counts[1], 1));
	cr_expect(eq(u64, counts[2], 1));
	cr_expect(eq(u64, counts[3], 2));
	cr_expect(eq(u64, h.count, 6));

	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "r_seconds", NULL, &h);
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	page(&b, text, sizeof text);
	const char *want_buckets = "r_seconds_bucket{le=\"1e-06\"} 2\n"
				   "r_seconds_bucket{le=\"0.001\"} 3\n"
				   "r_seconds_bucket{le=\"1\"} 4\n"
				   "r_seconds_bucket{le=\"+Inf\"} 6\n"
				   "r_seconds_sum ";
	cr_expect(strncmp(text, want_buckets, strlen(want_buckets)) == 0);
	if (strncmp(text, want_buckets, strlen(want_buckets)) != 0)
		cr_fail("page:\n%s", text);
	cr_expect(strstr(text, "\nr_seconds_count 6\n") != NULL);
	ts_buf_free(&b);

	/* With labels: le comes last, after a comma. */
	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "r_seconds", "proto=\"udp\"", &h);
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	page(&b, text, sizeof text);
	cr_expect(strstr(text, "r_seconds_bucket{proto=\"udp\",le=\"+Inf\"} 6\n") != NULL);
	cr_expect(strstr(text, "r_seconds_count{proto=\"udp\"} 6\n") != NULL);
	cr_expect(strstr(text, "r_seconds_sum{proto=\"udp\"} ") != NULL);
	ts_buf_free(&b);
}

Test(prom, empty_histogram)
{
	uint64_t counts[4] = { 0 };
	struct ts_prom_hist h = { .bounds_s = bounds_s, .n_bounds = 3, .counts = counts };
	struct ts_buf b = { 0 };
	struct ts_prom p;
	char text[1024];

	ts_prom_begin(&p, &b, 4096);
	ts_prom_histogram(&p, "e", NULL, &h);
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	cr_expect_str_eq(
	    page(&b, text, sizeof text),
	    "e_bucket{le=\"1e-06\"} 0\ne_bucket{le=\"0.001\"} 0\ne_bucket{le=\"1\"} 0\n"
	    "e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
	ts_buf_free(&b);
}

Test(prom, sticky_error)
{
	struct ts_buf b = { 0 };
	struct ts_prom p;
	size_t before;

	/* Room for the first sample only. */
	ts_prom_begin(&p, &b, 12);
	ts_prom_sample_u64(&p, "a", NULL, 1);
	cr_expect(eq(i64, ts_prom_end(&p), 0));
	before = b.len;
	cr_expect(eq(u64, before, 4));
	ts_prom_family(&p, "much_too_long", "gauge", "Does not fit.");
	cr_expect(eq(i64, ts_prom_end(&p), -ENOBUFS));
	cr_expect(eq(u64, b.len, before));
	/* Later calls, even ones that would fit, append nothing. */
	ts_prom_sample_u64(&p, "b", NULL, 2);
	ts_prom_sample(&p, "c", NULL, 3.0);
	cr_expect(eq(u64, b.len, before));
	cr_expect(eq(i64, ts_prom_end(&p), -ENOBUFS));
	ts_buf_free(&b);

	/* A line longer than the writer's line buffer is an error too, not a
	 * truncated line. */
	char name[1100];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	ts_prom_begin(&p, &b, 1u << 20);
	ts_prom_sample_u64(&p, name, NULL, 1);
	cr_expect(eq(i64, ts_prom_end(&p), -ENOBUFS));
	cr_expect(eq(u64, b.len, 0));
	ts_buf_free(&b);
}
