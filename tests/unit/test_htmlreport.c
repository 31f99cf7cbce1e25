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

/* The parts' charts (ping --kernel-timestamps). */

static const char *const part_names[] = { "client send path",  "network out",      "server wake-up",
					  "server processing", "server send path", "network back",
					  "client wake-up" };

/* The <rect>s of the stacked chart's group for part k. */
static int segments_of(const char *page, int k)
{
	char open[32];
	const char *g, *end;
	int n = 0;

	snprintf(open, sizeof open, "<g class=\"seg p%d\">", k);
	g = strstr(page, open);
	if (!g)
		return -1;
	end = strstr(g, "</g>");
	for (const char *p = strstr(g, "<rect"); p && p < end; p = strstr(p + 1, "<rect"))
		n++;
	return n;
}

/* The figure with id, up to its end, in a malloc'd string, or NULL. */
static char *figure_of(const char *page, const char *id)
{
	char open[64];
	const char *f, *end;

	snprintf(open, sizeof open, "id=\"%s\"", id);
	f = page ? strstr(page, open) : NULL;
	end = f ? strstr(f, "</figure>") : NULL;
	return end ? strndup(f, (size_t)(end - f)) : NULL;
}

static void breakdown_init(struct ts_html_breakdown *b, struct ts_html_part_probe *pr, size_t n)
{
	memset(b, 0, sizeof *b);
	b->n_parts = 7;
	for (int k = 0; k < 7; k++) {
		b->part[k].name = part_names[k];
		b->part[k].count = n;
		b->part[k].p50_ns = (k + 1) * 1500;
	}
	b->probes = pr;
	b->n_probes = n;
}

Test(htmlreport, page_breakdown)
{
	struct ts_html_part_probe pr[3];
	struct ts_html_breakdown b;
	struct ts_html_report r = { .title = "kt", .series = TS_HTML_SERIES_PROBES };
	char *page, *fig;

	memset(pr, 0, sizeof pr);
	for (int i = 0; i < 3; i++) {
		pr[i].sent_ns = i * 10000000LL;
		for (int k = 0; k < 7; k++) {
			pr[i].part_ns[k] = (k + 1) * 1000 + i * 100;
			pr[i].have[k] = 1;
		}
	}
	/* The last probe: no server send path, no network back. */
	pr[2].have[4] = pr[2].have[5] = 0;
	pr[2].part_ns[4] = 777777; /* meaningless: never drawn */
	breakdown_init(&b, pr, 3);
	b.part[4].count = b.part[5].count = 2;
	r.breakdown = &b;
	page = page_of(&r);
	check_page(page);
	cr_assert(page != NULL);
	cr_expect(eq(
	    i64, ts_count_of(page, "<figure class=\"card chart wide\" id=\"breakdown-time\""), 1));
	cr_expect(eq(i64, ts_count_of(page, "id=\"breakdown-median\""), 1));
	cr_expect(eq(i64, ts_count_of(page, "<svg"), 2)); /* no probes, no histogram */
	/* A segment a part a probe, none where the probe lacks it. */
	for (int k = 0; k < 7; k++)
		cr_expect(eq(i64, segments_of(page, k), k == 4 || k == 5 ? 2 : 3), "part %d", k);
	cr_expect(strstr(page, "3 probes, 2 of them with every part.") != NULL);
	/* The medians: 1.5 µs to 10.5 µs, each printed, in µs to a tenth. */
	fig = figure_of(page, "breakdown-median");
	cr_assert(fig != NULL);
	cr_expect(eq(i64, ts_count_of(fig, "<rect class=\"p"), 7 + 7)); /* the bar, the legend */
	/* Inside the segments wide enough (the axis ends at 50 µs); the
	 * narrow one in its tooltip; all in the legend. */
	cr_expect(strstr(fig, ">10.5 \u00b5s</text>") != NULL);
	cr_expect(strstr(fig, ">6.0 \u00b5s</text>") != NULL);
	cr_expect(strstr(fig, ">1.5 \u00b5s</text>") == NULL);
	cr_expect(strstr(fig, "<title>client send path: 1.5 \u00b5s</title>") != NULL);
	cr_expect(strstr(fig, "client send path: 1.5 \u00b5s") != NULL);
	cr_expect(strstr(fig, "client wake-up: 10.5 \u00b5s") != NULL);
	cr_expect(strstr(fig, ": unavailable") == NULL);
	free(fig);
	free(page);

	/* A part no probe had: no segment, no room in the median bar, and
	 * "unavailable" in both legends, never a 0. */
	for (int i = 0; i < 3; i++)
		pr[i].have[3] = 0;
	b.part[3].count = 0;
	b.part[3].p50_ns = 0;
	page = page_of(&r);
	check_page(page);
	cr_assert(page != NULL);
	cr_expect(eq(i64, segments_of(page, 3), 0));
	cr_expect(eq(i64, segments_of(page, 6), 3));
	cr_expect(strstr(page, "3 probes, 0 of them with every part.") != NULL);
	cr_expect(strstr(page, "server processing (unavailable)") != NULL);
	fig = figure_of(page, "breakdown-median");
	cr_assert(fig != NULL);
	cr_expect(eq(i64, ts_count_of(fig, "<rect class=\"p3\""), 1)); /* the legend's */
	cr_expect(strstr(fig, "server processing: unavailable") != NULL);
	cr_expect(strstr(fig, "0.0 \u00b5s") == NULL);
	free(fig);
	free(page);

	/* Nothing accounted: two figures that say so. */
	for (int k = 0; k < 7; k++)
		b.part[k].count = 0;
	b.n_probes = 0;
	page = page_of(&r);
	check_page(page);
	cr_expect(page && ts_count_of(page, "id=\"breakdown-") == 2);
	cr_expect(page && ts_count_of(page, "<svg") == 0);
	free(page);
}

/* More probes than bars: 600 columns of equal time, each part the median
 * of the column's probes. */
Test(htmlreport, page_breakdown_binned)
{
	enum { N = 1500 };
	struct ts_html_part_probe *pr = calloc(N, sizeof *pr);
	struct ts_html_breakdown b;
	struct ts_html_report r = { .title = "kt", .series = TS_HTML_SERIES_PROBES };
	const char *g;
	char *page, first[32] = "";
	int same = 1;

	cr_assert(pr != NULL);
	for (int i = 0; i < N; i++) {
		pr[i].sent_ns = i * 1000000LL; /* a ms apart: 2 or 3 probes a column */
		for (int k = 0; k < 7; k++) {
			pr[i].part_ns[k] = 2000;
			pr[i].have[k] = 1;
		}
	}
	/* An outlier the median of its column ignores (a mean or max would
	 * not), and a part one probe lacks, still drawn from the others. */
	pr[0].part_ns[0] = 5000000;
	pr[N - 1].have[6] = 0;
	breakdown_init(&b, pr, N);
	r.breakdown = &b;
	page = page_of(&r);
	check_page(page);
	cr_assert(page != NULL);
	for (int k = 0; k < 7; k++)
		cr_expect(eq(i64, segments_of(page, k), 600), "part %d", k);
	cr_expect(strstr(page, "Above 600 probes, each bar is one of 600 equal time columns") !=
		  NULL);
	cr_expect(strstr(page, "1500 probes, 1499 of them with every part.") != NULL);
	/* Every column's bottom segment as tall as the next: the outlier is
	 * out, and the axis stays in µs. */
	g = strstr(page, "<g class=\"seg p0\">");
	for (const char *h = g ? strstr(g, "height=\"") : NULL; h && h < strstr(g, "</g>");
	     h = strstr(h + 1, "height=\"")) {
		char v[32];
		sscanf(h, "height=\"%31[^\"]", v);
		if (!first[0])
			snprintf(first, sizeof first, "%s", v);
		same &= strcmp(v, first) == 0;
	}
	cr_expect(first[0] && same);
	cr_expect(strstr(page, "round trip in parts (\u00b5s)") != NULL);
	/* Bounded: about 4200 rects, whatever the number of probes. */
	cr_expect(lt(u64, strlen(page), 400000));
	cr_expect(strstr(page, "<path class=\"cut\" d=\"\"/>") != NULL);
	free(page);
	/* A stall in the first column: the axis ends near the others, and
	 * that bar is cut at its top, with a tick and a word. */
	for (int i = 0; i < 3; i++)
		pr[i].part_ns[6] = 5000000;
	page = page_of(&r);
	check_page(page);
	cr_assert(page != NULL);
	cr_expect(strstr(page, "round trip in parts (\u00b5s)") != NULL);
	cr_expect(strstr(page, "1 taller bar (the tallest 5.012 ms) is cut") != NULL);
	g = strstr(page, "<path class=\"cut\" d=\"");
	cr_expect(g && strncmp(strchr(g, 'M'), "M72.7 14.0v-8\"", 14) == 0);
	free(page);
	free(pr);
}
