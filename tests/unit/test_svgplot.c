/* The multi-series SVG chart: well-formed XML for every input, one path
 * per drawable series with its label, a dash pattern per series, text
 * escaped, no NaN or infinity whatever the data, the percentile axis's
 * labels, decimation of long series, and write errors reported. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tsecho/svgplot.h>
#include "unit.h"

/* p as SVG in a malloc'd string (caller frees), or NULL. */
static char *svg_of(const struct ts_plot *p, int standalone)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (!f)
		return NULL;
	rc = ts_plot_write_svg(f, p, standalone);
	fclose(f);
	cr_expect(eq(i64, rc, 0));
	return text;
}

/* Whether s is one well-formed element (after an optional declaration):
 * every tag closed in order, every '&' an entity, no '<' in attributes.
 * Enough XML for what the writer emits: no comments, CDATA or DOCTYPE. */
static int well_formed(const char *s)
{
	const char *stack[64];
	size_t stack_len[64];
	int depth = 0, roots = 0;

	if (strncmp(s, "<?xml", 5) == 0)
		s = strstr(s, "?>") + 2;
	for (; *s; s++) {
		if (*s == '&' && strncmp(s, "&lt;", 4) && strncmp(s, "&gt;", 4) &&
		    strncmp(s, "&amp;", 5) && strncmp(s, "&quot;", 6) && strncmp(s, "&#", 2))
			return 0;
		if (*s != '<')
			continue;
		if (s[1] == '/') {
			size_t n = strcspn(s + 2, ">");
			if (depth == 0 || n != stack_len[depth - 1] ||
			    strncmp(s + 2, stack[depth - 1], n))
				return 0;
			depth--;
			s += n + 2;
			continue;
		}
		const char *end = s + 1 + strcspn(s + 1, "<>");
		if (*end != '>')
			return 0;
		if (end[-1] != '/') {
			if (depth == 64)
				return 0;
			stack[depth] = s + 1;
			stack_len[depth] = strcspn(s + 1, " >/\n");
			roots += depth == 0;
			depth++;
		}
		s = end;
	}
	return depth == 0 && roots == 1;
}

static void check_svg(const char *svg, int standalone)
{
	cr_assert(svg != NULL);
	cr_expect(well_formed(svg), "not well-formed:\n%s", svg);
	cr_expect(strncmp(svg, standalone ? "<?xml" : "<svg", standalone ? 5 : 4) == 0);
	cr_expect(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
	cr_expect(strstr(svg, "class=\"ts-plot\"") != NULL);
	cr_expect(strstr(svg, "nan") == NULL && strstr(svg, "NaN") == NULL);
	cr_expect(strstr(svg, "inf") == NULL && strstr(svg, "Inf") == NULL);
	cr_expect(strstr(svg, "href") == NULL && strstr(svg, "<script") == NULL);
	cr_expect(strstr(svg, "<image") == NULL && strstr(svg, "url(") == NULL);
}

static const double conns[] = { 1, 10, 100, 1000 };
static const double rate_uring[] = { 90e3, 400e3, 700e3, 650e3 };
static const double rate_epoll[] = { 80e3, 300e3, 500e3, 450e3 };

Test(svgplot, two_series)
{
	struct ts_plot_series s[] = {
		{ "io_uring", conns, rate_uring, 4 },
		{ "epoll", conns, rate_epoll, 4 },
	};
	struct ts_plot p = { .title = "Throughput",
			     .x_label = "connections",
			     .y_label = "throughput (msg/s)",
			     .x_scale = TS_PLOT_LOG10,
			     .y_from_zero = 1,
			     .series = s,
			     .n_series = 2,
			     .markers = 1 };
	char *svg = svg_of(&p, 1);

	check_svg(svg, 1);
	cr_expect(strstr(svg, "xmlns:xlink=") != NULL);
	cr_expect(strstr(svg, "width=\"720\" height=\"400\"") != NULL);
	cr_expect(strstr(svg, "<title>Throughput</title>") != NULL);
	cr_expect(eq(i64, ts_count_of(svg, "class=\"series\""), 2));
	cr_expect(eq(i64, ts_count_of(svg, "class=\"series\" data-label=\"io_uring\""), 1));
	cr_expect(eq(i64, ts_count_of(svg, "class=\"series\" data-label=\"epoll\""), 1));
	/* Log x: a tick at each power of ten; "k" keeps y's labels short. */
	cr_expect(strstr(svg, ">1000</text>") != NULL && strstr(svg, ">1</text>") != NULL);
	cr_expect(strstr(svg, "k</text>") != NULL);
	cr_expect(strstr(svg, ">0</text>") != NULL);
	free(svg);
	svg = svg_of(&p, 0);
	check_svg(svg, 0);
	cr_expect(strstr(svg, "width=\"100%\"") != NULL);
	cr_expect(strstr(svg, "<?xml") == NULL);
	free(svg);
}

/* The dash pattern of the n-th series path, "" for solid. */
static void dash_of(const char *svg, int n, char *buf, size_t cap)
{
	const char *p = svg;

	for (int i = 0; i <= n && p; i++)
		p = strstr(p + 1, "<path class=\"series\"");
	buf[0] = '\0';
	if (!p)
		return;
	const char *end = strstr(p, "/>"), *d = strstr(p, "stroke-dasharray=\"");
	if (d && d < end)
		snprintf(buf, cap, "%.*s", (int)strcspn(d + 18, "\""), d + 18);
}

Test(svgplot, distinct_dashes)
{
	struct ts_plot_series s[20];
	char names[20][16], dashes[8][32];
	struct ts_plot p = { .series = s, .n_series = 20 };
	char *svg;

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof names[i], "s%d", i);
		s[i] = (struct ts_plot_series){ names[i], conns, rate_uring, 4 };
	}
	svg = svg_of(&p, 0);
	check_svg(svg, 0);
	cr_expect(eq(i64, ts_count_of(svg, "class=\"series\""), 20));
	for (int i = 0; i < 8; i++) {
		dash_of(svg, i, dashes[i], sizeof dashes[i]);
		for (int j = 0; j < i; j++)
			cr_expect(strcmp(dashes[i], dashes[j]) != 0, "series %d and %d: \"%s\"", i,
				  j, dashes[i]);
	}
	/* Too many for the legend: the rest are counted. */
	cr_expect(strstr(svg, "+8 more") != NULL);
	free(svg);
}

Test(svgplot, escaping)
{
	struct ts_plot_series s[] = { { "a<b&\"c'", conns, rate_uring, 4 } };
	struct ts_plot p = { .title = "<T&>",
			     .x_label = "x \"q\"",
			     .y_label = "y & z",
			     .series = s,
			     .n_series = 1 };
	char *svg = svg_of(&p, 1);

	check_svg(svg, 1);
	cr_expect(strstr(svg, "data-label=\"a&lt;b&amp;&quot;c&#39;\"") != NULL);
	cr_expect(strstr(svg, "<title>&lt;T&amp;&gt;</title>") != NULL);
	cr_expect(strstr(svg, "x &quot;q&quot;") != NULL && strstr(svg, "y &amp; z") != NULL);
	cr_expect(strstr(svg, "<b") == NULL && strstr(svg, "<T") == NULL);
	free(svg);
}

Test(svgplot, text_cut_and_utf8)
{
	struct ts_plot_series s[] = { { "\xff\xfe bad \xc3", conns, rate_uring, 4 },
				      { "a label far too long for the legend", conns, rate_epoll,
					4 } };
	struct ts_plot p = { .x_label = "round trip (\xc2\xb5s)", .series = s, .n_series = 2 };
	char *svg = svg_of(&p, 1);

	check_svg(svg, 1);
	cr_expect(strstr(svg, "\xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd") != NULL);
	cr_expect(strstr(svg, "\xff") == NULL);
	cr_expect(strstr(svg, "round trip (\xc2\xb5s)") != NULL);
	cr_expect(strstr(svg, ">a label far too long\xe2\x80\xa6<") != NULL);
	cr_expect(strstr(svg, "data-label=\"a label far too long for the legend\"") != NULL);
	free(svg);
}

static void check_no_data(const struct ts_plot *p)
{
	char *svg = svg_of(p, 1);

	check_svg(svg, 1);
	cr_expect(eq(i64, ts_count_of(svg, "class=\"series\""), 0));
	cr_expect(strstr(svg, ">no data</text>") != NULL);
	free(svg);
}

Test(svgplot, nothing_to_draw)
{
	static const double bad[] = { NAN, INFINITY, -INFINITY, 0, -5, 1e200 };
	struct ts_plot_series s[] = { { "empty", NULL, NULL, 0 }, { "bad", bad, bad, 6 } };
	struct ts_plot p = { 0 };

	check_no_data(&p); /* no series */
	p.series = s;
	p.n_series = 1; /* one, empty */
	check_no_data(&p);
	p.n_series = 2; /* and one with nothing drawable on log axes */
	p.x_scale = p.y_scale = TS_PLOT_LOG10;
	check_no_data(&p);
	p.x_scale = TS_PLOT_PCT; /* (0, 0) would be drawable on a linear y */
	p.y_from_zero = 1;
	check_no_data(&p);
	p.series = NULL; /* n_series without series */
	check_no_data(&p);
}

Test(svgplot, degenerate_data)
{
	static const double one[] = { 5 }, same[] = { 3, 3, 3, 3 }, zero[] = { 0, 0, 0, 0 };
	static const double mixed[] = { NAN, -1, 0, 2, INFINITY, 4 };
	struct ts_plot_series s[] = { { "one", one, one, 1 },
				      { "flat", conns, same, 4 },
				      { "zero", conns, zero, 4 },
				      { "mixed", mixed, mixed, 6 } };
	enum ts_plot_scale scales[] = { TS_PLOT_LINEAR, TS_PLOT_LOG10 };

	for (size_t k = 0; k < 4; k++) {
		for (int xs = 0; xs < 2; xs++) {
			for (int ys = 0; ys < 2; ys++) {
				struct ts_plot p = { .x_scale = scales[xs],
						     .y_scale = scales[ys],
						     .series = &s[k],
						     .n_series = 1,
						     .y_from_zero = k % 2 };
				char *svg = svg_of(&p, 1);
				check_svg(svg, 1);
				free(svg);
			}
		}
	}
}

Test(svgplot, pct_axis)
{
	static const double f[] = { 0, 0.5, 0.9, 0.99, 0.999, 0.9999 };
	static const double v[] = { 10, 12, 20, 40, 90, 300 };
	struct ts_plot_series s[] = { { "select", f, v, 6 } };
	struct ts_plot p = {
		.x_scale = TS_PLOT_PCT, .y_scale = TS_PLOT_LOG10, .series = s, .n_series = 1
	};
	char *svg = svg_of(&p, 0);

	check_svg(svg, 0);
	cr_expect(strstr(svg, ">0%</text>") != NULL && strstr(svg, ">90%</text>") != NULL);
	cr_expect(strstr(svg, ">99%</text>") != NULL);
	cr_expect(strstr(svg, ">99.9%</text>") != NULL);
	cr_expect(strstr(svg, ">99.99%</text>") != NULL);
	cr_expect(strstr(svg, ">99.999%</text>") == NULL);
	/* 1-2-5 ticks on a log y of less than three decades. */
	cr_expect(strstr(svg, ">20</text>") != NULL && strstr(svg, ">500</text>") != NULL);
	free(svg);
}

/* The points (M or L) of the first path of class cls. */
static int points_of(const char *svg, const char *cls)
{
	char start[64];
	const char *p, *d;
	int n = 0;

	snprintf(start, sizeof start, "<path class=\"%s\"", cls);
	p = strstr(svg, start);
	d = p ? strstr(p, " d=\"") : NULL;
	for (; d && *d && *d != '/'; d++)
		n += *d == 'M' || *d == 'L';
	return n;
}

Test(svgplot, long_series_decimated)
{
	enum { N = 1000000 };
	double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	struct ts_plot_series s[] = { { "big", x, y, N } };
	struct ts_plot p = { .series = s, .n_series = 1 };
	char *svg;

	cr_assert(x && y);
	for (int i = 0; i < N; i++) {
		x[i] = i;
		y[i] = i == 123457 ? 1e6 : i % 100;
	}
	svg = svg_of(&p, 1);
	check_svg(svg, 1);
	cr_expect(points_of(svg, "series") > 100 && points_of(svg, "series") <= 2000, "%d points",
		  points_of(svg, "series"));
	/* The spike survives: the axis goes to 1M and the line to the top. */
	cr_expect(strstr(svg, ">1.0M</text>") != NULL);
	cr_expect(strstr(svg, " 44.0L") != NULL);
	/* Without markers set, a few along the line. */
	cr_expect(eq(i64, points_of(svg, "markers"), 8));
	free(svg);
	free(x);
	free(y);
}

static int rc_on(FILE *f)
{
	struct ts_plot_series s[] = { { "epoll", conns, rate_epoll, 4 } };
	struct ts_plot p = { .title = "t", .series = s, .n_series = 1, .markers = 1 };
	int rc;

	cr_assert(f != NULL);
	setvbuf(f, NULL, _IOFBF, 256);
	rc = ts_plot_write_svg(f, &p, 1);
	fclose(f);
	return rc;
}

Test(svgplot, write_error)
{
	char tiny[64];

	cr_expect(eq(i64, rc_on(fopen("/dev/full", "w")), -ENOSPC));
	cr_expect(rc_on(fmemopen(tiny, sizeof tiny, "w")) < 0);
	cr_expect(eq(i64, ts_plot_write_svg(NULL, NULL, 0), -EINVAL));
}

Test(svgplot, linear_tick_labels)
{
	static const double x[] = { 0, 1 }, fine[] = { 1e9 + 1, 1e9 + 2 }, big[] = { 0, 2.5e6 };
	struct ts_plot_series s[] = { { "fine", x, fine, 2 } };
	struct ts_plot p = { .series = s, .n_series = 1 };
	char *svg = svg_of(&p, 0);

	/* A step too fine for "G": the whole numbers. */
	check_svg(svg, 0);
	cr_expect(strstr(svg, ">1000000001.0</text>") != NULL);
	cr_expect(strstr(svg, "G</text>") == NULL);
	free(svg);
	s[0].y = big;
	svg = svg_of(&p, 0);
	check_svg(svg, 0);
	cr_expect(strstr(svg, ">0</text>") != NULL && strstr(svg, ">2.5M</text>") != NULL);
	cr_expect(strstr(svg, ">0.2</text>") != NULL); /* x */
	free(svg);
}
