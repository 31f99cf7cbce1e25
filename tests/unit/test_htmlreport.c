/* The HTML report's pieces with logic: escaping, the command line, tick
 * steps, units, the log percentile axis; and whole pages for the edge
 * cases (nothing measured, one sample), which must hold no NaN or
 * infinity and no script. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tsecho/htmlreport.h>
#include "unit.h"

#define CHECK_NEAR(a, b)                                                                           \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= 1e-9 * (fabs(b_) > 1 ? fabs(b_) : 1)))                      \
			cr_fail("%s == %s: %.12g != %.12g", #a, #b, a_, b_);                       \
	} while (0)

Test(htmlreport, escape)
{
	char buf[64];

	cr_expect(eq(u64, ts_html_escape(buf, sizeof buf, "a<b>&\"'c"), 27));
	cr_expect_str_eq(buf, "a&lt;b&gt;&amp;&quot;&#39;c");
	ts_html_escape(buf, sizeof buf, "tab\there\x01");
	cr_expect_str_eq(buf, "tab\there&#xFFFD;");
	/* Truncated, never in the middle of an entity. */
	cr_expect(eq(u64, ts_html_escape(buf, 6, "a&b"), 7));
	cr_expect_str_eq(buf, "a");
	cr_expect(eq(u64, ts_html_escape(buf, 7, "a&b"), 7));
	cr_expect_str_eq(buf, "a&amp;");
	cr_expect(eq(u64, ts_html_escape(NULL, 0, "<<"), 8));
}

Test(htmlreport, command_line)
{
	char a0[] = "ping", a1[] = "-c", a2[] = "20", a3[] = "--report", a4[] = "my report.html",
	     a5[] = "it's", a6[] = "", a7[] = "a/b-c=d";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, a7 };
	char buf[128];
	const char *want = "tsecho ping -c 20 --report 'my report.html' 'it'\\''s' '' a/b-c=d";
	size_t n = ts_html_command_line(buf, sizeof buf, "tsecho", 8, argv);

	cr_expect_str_eq(buf, want);
	cr_expect(eq(u64, n, strlen(want)));
	/* Truncated: as much as fits, NUL-terminated, the whole length told. */
	cr_expect(eq(u64, ts_html_command_line(buf, 10, "tsecho", 8, argv), strlen(want)));
	cr_expect_str_eq(buf, "tsecho pi");
	cr_expect(eq(u64, ts_html_command_line(NULL, 0, "tsecho", 0, argv), 6));
}

Test(htmlreport, nice_step)
{
	CHECK_NEAR(ts_html_nice_step(10, 5), 2);
	CHECK_NEAR(ts_html_nice_step(1, 5), 0.2);
	CHECK_NEAR(ts_html_nice_step(7, 5), 2);
	CHECK_NEAR(ts_html_nice_step(0.3, 6), 0.05);
	CHECK_NEAR(ts_html_nice_step(100, 4), 50);
	CHECK_NEAR(ts_html_nice_step(300, 6), 50);
	CHECK_NEAR(ts_html_nice_step(1e9, 5), 2e8);
	CHECK_NEAR(ts_html_nice_step(9, 1), 10);
	/* Nothing to cut: a step of 1, never 0 or NaN. */
	CHECK_NEAR(ts_html_nice_step(0, 5), 1);
	CHECK_NEAR(ts_html_nice_step(-3, 5), 1);
	CHECK_NEAR(ts_html_nice_step(NAN, 5), 1);
	CHECK_NEAR(ts_html_nice_step(INFINITY, 5), 1);
	CHECK_NEAR(ts_html_nice_step(10, 0), 1);
}

Test(htmlreport, step_decimals)
{
	cr_expect(eq(i64, ts_html_step_decimals(0.2), 1));
	cr_expect(eq(i64, ts_html_step_decimals(0.05), 2));
	cr_expect(eq(i64, ts_html_step_decimals(0.1), 1));
	cr_expect(eq(i64, ts_html_step_decimals(0.001), 3));
	cr_expect(eq(i64, ts_html_step_decimals(1), 0));
	cr_expect(eq(i64, ts_html_step_decimals(50), 0));
	cr_expect(eq(i64, ts_html_step_decimals(0), 0));
}

Test(htmlreport, time_unit)
{
	double ns = 0;

	cr_expect_str_eq(ts_html_time_unit(999e3, &ns), "\u00b5s");
	CHECK_NEAR(ns, 1e3);
	cr_expect_str_eq(ts_html_time_unit(1e6, &ns), "ms");
	CHECK_NEAR(ns, 1e6);
	cr_expect_str_eq(ts_html_time_unit(9.9e9, &ns), "ms");
	cr_expect_str_eq(ts_html_time_unit(1e10, &ns), "s");
	CHECK_NEAR(ns, 1e9);
	cr_expect_str_eq(ts_html_time_unit(0, &ns), "\u00b5s");
}

Test(htmlreport, pct_axis)
{
	char label[32];

	CHECK_NEAR(ts_html_pct_x(0, 3), 0);
	CHECK_NEAR(ts_html_pct_x(-1, 3), 0);
	CHECK_NEAR(ts_html_pct_x(0.9, 3), 1);
	CHECK_NEAR(ts_html_pct_x(0.99, 3), 2);
	CHECK_NEAR(ts_html_pct_x(0.999, 3), 3);
	CHECK_NEAR(ts_html_pct_x(0.5, 3), log10(2));
	/* 100% and beyond the axis: its right end. */
	CHECK_NEAR(ts_html_pct_x(1, 3), 3);
	CHECK_NEAR(ts_html_pct_x(0.99999, 3), 3);
	cr_expect(eq(i64, ts_html_pct_x_max(0), 1));
	cr_expect(eq(i64, ts_html_pct_x_max(1), 1));
	cr_expect(eq(i64, ts_html_pct_x_max(10), 1));
	cr_expect(eq(i64, ts_html_pct_x_max(11), 2));
	cr_expect(eq(i64, ts_html_pct_x_max(100), 2));
	cr_expect(eq(i64, ts_html_pct_x_max(101), 3));
	cr_expect(eq(i64, ts_html_pct_x_max(1000000), 6));
	cr_expect(eq(i64, ts_html_pct_x_max(UINT64_MAX), 12));
	ts_html_pct_label(label, sizeof label, 0);
	cr_expect_str_eq(label, "0%");
	ts_html_pct_label(label, sizeof label, 1);
	cr_expect_str_eq(label, "90%");
	ts_html_pct_label(label, sizeof label, 2);
	cr_expect_str_eq(label, "99%");
	ts_html_pct_label(label, sizeof label, 3);
	cr_expect_str_eq(label, "99.9%");
	ts_html_pct_label(label, sizeof label, 5);
	cr_expect_str_eq(label, "99.999%");
}

/* The page for r, in a malloc'd string (caller frees), or NULL. */
static char *page_of(const struct ts_html_report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (!f)
		return NULL;
	rc = ts_html_report_write(f, r);
	fclose(f);
	cr_expect(eq(i64, rc, 0));
	return text;
}

static void check_page(const char *page)
{
	cr_expect(page != NULL);
	if (!page)
		return;
	cr_expect(strncmp(page, "<!DOCTYPE html>", 15) == 0);
	cr_expect(strstr(page, "</html>\n") != NULL);
	cr_expect(strstr(page, "<script") == NULL);
	cr_expect(strstr(page, "nan") == NULL && strstr(page, "NaN") == NULL);
	cr_expect(strstr(page, "inf") == NULL);
	cr_expect(eq(i64, ts_count_of(page, "id=\"chart-time\""), 1));
	cr_expect(eq(i64, ts_count_of(page, "id=\"chart-spectrum\""), 1));
	cr_expect(eq(i64, ts_count_of(page, "id=\"chart-hist\""), 1));
}

Test(htmlreport, page_empty)
{
	struct ts_html_row rows[] = { { "Probes", NULL }, { "sent", "3" }, { "received", "0" } };
	struct ts_html_probe lost[] = { { 0, 0, 1 }, { 1000, 0, 1 }, { 2000, 0, 1 } };
	struct ts_hist *h = ts_hist_new();
	struct ts_html_report r = {
		.title = "t<1>",
		.command = "tsecho ping --report 'a&b'",
		.host = "h",
		.version = "0",
		.rows = rows,
		.n_rows = 3,
		.series = TS_HTML_SERIES_PROBES,
		.hist = h,
	};
	char *page = page_of(&r);

	check_page(page);
	/* No probe, no latency: three figures that say so, no <svg>. */
	cr_expect(eq(i64, page ? ts_count_of(page, "Nothing to chart") : 0, 3));
	cr_expect(eq(i64, page ? ts_count_of(page, "<svg") : 1, 0));
	cr_expect(page && strstr(page, "tsecho ping --report &#39;a&amp;b&#39;"));
	cr_expect(page && strstr(page, "<title>t&lt;1&gt;</title>"));
	free(page);
	/* Only lost probes: a time chart of red ticks, still nothing else. */
	r.probes = lost;
	r.n_probes = 3;
	page = page_of(&r);
	check_page(page);
	cr_expect(eq(i64, page ? ts_count_of(page, "<svg") : 0, 1));
	cr_expect(eq(i64, page ? ts_count_of(page, "Nothing to chart") : 0, 2));
	free(page);
	ts_hist_free(h);
}

Test(htmlreport, page_one_sample)
{
	struct ts_html_probe one = { 0, 250000, 0 };
	struct ts_html_interval iv = { .end_ns = 0, .length_ns = 0, .messages = 0 };
	struct ts_hist *h = ts_hist_new();
	struct ts_html_report r = {
		.title = "one",
		.series = TS_HTML_SERIES_PROBES,
		.probes = &one,
		.n_probes = 1,
		.hist = h,
	};
	char *page;

	ts_hist_record(h, 250000);
	page = page_of(&r);
	check_page(page);
	cr_expect(eq(i64, page ? ts_count_of(page, "<svg") : 0, 3));
	cr_expect(eq(i64, page ? ts_count_of(page, "<circle") : 0, 1));
	cr_expect(eq(i64, page ? ts_count_of(page, "<rect") : 0, 1));
	free(page);
	/* A zero latency and an interval of no length or message. */
	ts_hist_reset(h);
	ts_hist_record(h, 0);
	r.series = TS_HTML_SERIES_INTERVALS;
	r.intervals = &iv;
	r.n_intervals = 1;
	page = page_of(&r);
	check_page(page);
	cr_expect(eq(i64, page ? ts_count_of(page, "<svg") : 0, 3));
	free(page);
	ts_hist_free(h);
}
