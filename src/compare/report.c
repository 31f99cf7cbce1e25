/* tsecho compare's report: one self-contained HTML page (the system, the
 * servers' setup, a table and charts per workload), and the same charts
 * as standalone SVG files.  Every chart is made once, by each_chart, and
 * handed to the page or to a file.  See compare.h. */
#include "config.h"

#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../report/htmlchart.h"
#include <tsecho/clock.h>
#include <tsecho/htmlreport.h>
#include <tsecho/svgplot.h>

#define SPECTRUM_STEPS_PER_NINE 10
#define SPECTRUM_POINTS_MAX (12 * SPECTRUM_STEPS_PER_NINE + 2)
#define HIST_BINS 40

/* The data behind one chart: a series per server. */
struct chart {
	struct ts_plot plot;
	struct ts_plot_series series[64];
	double *x, *y; /* n_servers * cap values each */
	size_t cap;
	char title[160];
	char slug[160];
};

typedef int emit_fn(void *ctx, const struct chart *c);

static int chart_init(struct chart *c, const struct cmp_result *r, size_t cap)
{
	size_t n = r->n_servers < 64 ? r->n_servers : 64;

	memset(c, 0, sizeof *c);
	c->cap = cap;
	c->x = calloc(n * cap, sizeof *c->x);
	c->y = calloc(n * cap, sizeof *c->y);
	if (!c->x || !c->y)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c->series[i].label = r->servers[i].name;
		c->series[i].x = c->x + i * cap;
		c->series[i].y = c->y + i * cap;
	}
	c->plot.series = c->series;
	c->plot.n_series = n;
	c->plot.title = c->title;
	return 0;
}

static void chart_fini(struct chart *c)
{
	free(c->x);
	free(c->y);
}

static double *sx(struct chart *c, size_t i)
{
	return c->x + i * c->cap;
}

static double *sy(struct chart *c, size_t i)
{
	return c->y + i * c->cap;
}

/* The percentile spectrum of a step: HdrHistogram's 1/(1-p) axis. */
static void fill_spectrum(struct chart *c, const struct cmp_result *r, size_t st)
{
	for (size_t si = 0; si < c->plot.n_series; si++) {
		const struct ts_hist *h = cmp_cell(r, si, st)->all;
		uint64_t count = ts_hist_count(h);
		int nines = ts_html_pct_x_max(count);
		size_t n = 0;

		for (int k = 0; count && k <= nines * SPECTRUM_STEPS_PER_NINE; k++) {
			double f = 1.0 - pow(10.0, -(double)k / SPECTRUM_STEPS_PER_NINE);
			sx(c, si)[n] = f;
			sy(c, si)[n++] = (double)ts_hist_percentile(h, 100.0 * f) / TS_NS_PER_US;
		}
		c->series[si].n = n;
	}
	c->plot.x_scale = TS_PLOT_PCT;
	c->plot.y_scale = TS_PLOT_LINEAR;
	c->plot.y_from_zero = 1;
	c->plot.x_label = "percentile";
	c->plot.y_label = "round trip (µs)";
}

/* The histogram of a step: the share of messages in log-spaced bins over
 * the range every server's values span. */
static void fill_histogram(struct chart *c, const struct cmp_result *r, size_t st)
{
	double lo = INFINITY, hi = 0, step;

	for (size_t si = 0; si < c->plot.n_series; si++) {
		const struct ts_hist *h = cmp_cell(r, si, st)->all;
		if (!ts_hist_count(h))
			continue;
		lo = fmin(lo, fmax(1.0, (double)ts_hist_min(h)));
		hi = fmax(hi, (double)ts_hist_max(h));
	}
	if (!(hi > lo))
		hi = lo * 2;
	step = (log10(hi) - log10(lo)) / HIST_BINS;
	for (size_t si = 0; si < c->plot.n_series; si++) {
		const struct ts_hist *h = cmp_cell(r, si, st)->all;
		double total = (double)ts_hist_count(h);
		double *share = sy(c, si);

		c->series[si].n = total > 0 && isfinite(step) ? HIST_BINS : 0;
		for (size_t b = 0; b < c->series[si].n; b++)
			sx(c, si)[b] =
			    pow(10.0, log10(lo) + step * ((double)b + 0.5)) / TS_NS_PER_US;
		for (size_t i = 0; c->series[si].n && i < ts_hist_buckets(); i++) {
			uint64_t n = ts_hist_bucket_count(h, i);
			double v = (double)ts_hist_bucket_low(i);
			long b;
			if (!n)
				continue;
			b = v < lo ? 0 : (long)((log10(v) - log10(lo)) / step);
			b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
			share[b] += 100.0 * (double)n / total;
		}
	}
	c->plot.x_scale = TS_PLOT_LOG10;
	c->plot.y_scale = TS_PLOT_LINEAR;
	c->plot.y_from_zero = 1;
	c->plot.x_label = "round trip (µs)";
	c->plot.y_label = "messages (%)";
}

enum by_conns { BY_MPS, BY_P99, BY_CPU };

/* A figure against the connection count, over the steps of a group. */
static void fill_by_conns(struct chart *c, const struct cmp_result *r, const char *group,
			  enum by_conns what)
{
	char g[96];

	for (size_t si = 0; si < c->plot.n_series; si++) {
		size_t n = 0;
		for (size_t st = 0; st < r->n_steps && n < c->cap; st++) {
			struct cmp_figures f = cmp_figures_of(r, si, st);
			double v;
			cmp_group_name(&r->steps[st], g, sizeof g);
			if (strcmp(g, group) != 0 || f.n == 0)
				continue;
			v = what == BY_MPS ? f.messages_per_s
			    : what == BY_CPU
				? f.server_us_per_message
				: (double)ts_hist_percentile(cmp_cell(r, si, st)->all, 99) /
				      TS_NS_PER_US;
			if (v < 0)
				continue;
			sx(c, si)[n] = (double)r->steps[st].connections;
			sy(c, si)[n++] = v;
		}
		c->series[si].n = n;
	}
	c->plot.x_scale = TS_PLOT_LOG10;
	c->plot.y_scale = TS_PLOT_LINEAR;
	c->plot.y_from_zero = 1;
	c->plot.markers = 1;
	c->plot.x_label = "connections";
	c->plot.y_label = what == BY_MPS   ? "messages a second"
			  : what == BY_CPU ? "server CPU per message (µs)"
					   : "p99 round trip (µs)";
}

static int emit_steps(const struct cmp_result *r, size_t st, emit_fn *emit, void *ctx)
{
	struct chart c;
	char slug[96];
	int rc;

	cmp_slug(r->steps[st].name, slug, sizeof slug);
	if (chart_init(&c, r, SPECTRUM_POINTS_MAX) != 0)
		return -ENOMEM;
	fill_spectrum(&c, r, st);
	snprintf(c.title, sizeof c.title, "Percentile spectrum: %s", r->steps[st].name);
	snprintf(c.slug, sizeof c.slug, "spectrum-%s", slug);
	rc = emit(ctx, &c);
	chart_fini(&c);
	if (rc != 0 || chart_init(&c, r, HIST_BINS) != 0)
		return rc ? rc : -ENOMEM;
	fill_histogram(&c, r, st);
	snprintf(c.title, sizeof c.title, "Round-trip histogram: %s", r->steps[st].name);
	snprintf(c.slug, sizeof c.slug, "histogram-%s", slug);
	rc = emit(ctx, &c);
	chart_fini(&c);
	return rc;
}

static int emit_by_conns(const struct cmp_result *r, const char *group, emit_fn *emit, void *ctx)
{
	static const char *const what[] = { "Throughput", "p99", "Server CPU per message" };
	static const char *const slug_of[] = { "throughput", "p99", "cpu" };
	char slug[96];
	int rc = 0;

	cmp_slug(group, slug, sizeof slug);
	for (int k = BY_MPS; k <= BY_CPU && rc == 0; k++) {
		struct chart c;
		if (chart_init(&c, r, r->n_steps) != 0)
			return -ENOMEM;
		fill_by_conns(&c, r, group, (enum by_conns)k);
		snprintf(c.title, sizeof c.title, "%s against connections: %s", what[k], group);
		snprintf(c.slug, sizeof c.slug, "%s-%s", slug_of[k], slug);
		rc = emit(ctx, &c);
		chart_fini(&c);
	}
	return rc;
}

/* Every chart of group (the group of step first), to emit. */
static int each_chart(const struct cmp_result *r, size_t first, emit_fn *emit, void *ctx)
{
	char group[96], g[96];
	int rc = 0;

	cmp_group_name(&r->steps[first], group, sizeof group);
	for (size_t st = first; st < r->n_steps && rc == 0; st++) {
		cmp_group_name(&r->steps[st], g, sizeof g);
		if (strcmp(g, group) == 0)
			rc = emit_steps(r, st, emit, ctx);
	}
	if (rc == 0 && r->steps[first].kind == CMP_CLOSED)
		rc = emit_by_conns(r, group, emit, ctx);
	return rc;
}

static int emit_figure(void *ctx, const struct chart *c)
{
	FILE *out = ctx;
	int rc;

	fprintf(out, "<figure id=\"%s\">\n", c->slug);
	rc = ts_plot_write_svg(out, &c->plot, 0);
	fputs("</figure>\n", out);
	return rc;
}

struct svg_dir {
	const char *dir;
	char *why;
	size_t cap;
};

static int emit_file(void *ctx, const struct chart *c)
{
	struct svg_dir *d = ctx;
	FILE *f;
	int rc;

	snprintf(d->why, d->cap, "%s/%s.svg", d->dir, c->slug);
	f = fopen(d->why, "w");
	if (!f)
		return -errno;
	rc = ts_plot_write_svg(f, &c->plot, 1);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

int cmp_write_svg_dir(const struct cmp_result *r, const char *dir, char *why, size_t cap)
{
	struct svg_dir d = { dir, why, cap };
	int rc = 0;

	for (size_t st = 0; st < r->n_steps && rc == 0; st++)
		if (cmp_group_first(r, st))
			rc = each_chart(r, st, emit_file, &d);
	return rc;
}

static const char style[] =
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#111}"
    "table{border-collapse:collapse;margin:.5em 0 1em;font-size:90%}"
    "td,th{border:1px solid #999;padding:.2em .5em;text-align:right}"
    "td:first-child,td:nth-child(2),th{text-align:left}"
    "th{background:#eee}.best{font-weight:bold;text-decoration:underline}"
    "figure{margin:1em 0}svg{max-width:100%;height:auto}"
    "@media print{figure{break-inside:avoid}}";

static void th_row(FILE *out, const char *baseline)
{
	fprintf(out, "<tr><th>step</th><th>server</th><th>msg/s</th><th>p50 µs</th>"
		     "<th>p90 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>p99.99 µs</th>"
		     "<th>max µs</th><th>server CPU µs/msg</th><th>syscalls/msg</th>"
		     "<th>load busy</th><th>msg/s vs ");
	ts_html_put(out, baseline);
	fputs("</th><th>p99 vs ", out);
	ts_html_put(out, baseline);
	fputs("</th></tr>\n", out);
}

static void td_num(FILE *out, double v, int decimals, int best)
{
	if (v < 0)
		fputs("<td>–</td>", out);
	else
		fprintf(out, "<td%s>%.*f</td>", best ? " class=\"best\"" : "", decimals, v);
}

static void td_ratio(FILE *out, const struct ts_ratio *q)
{
	if (q->n == 0)
		fputs("<td>–</td>", out);
	else if (!q->has_interval)
		fprintf(out, "<td>%.2f× (1 repetition)</td>", q->ratio);
	else
		fprintf(out, "<td>%.2f× [%.2f, %.2f]%s</td>", q->ratio, q->lo, q->hi,
			q->significant ? "" : " noise");
}

static void html_row(FILE *out, const struct cmp_result *r, size_t si, size_t st)
{
	static const double pcts[] = { 50, 90, 99, 99.9, 99.99, 100 };
	const struct cmp_cell *cell = cmp_cell(r, si, st);
	struct cmp_figures f = cmp_figures_of(r, si, st);
	struct ts_ratio q0 = cmp_ratio(r, si, st, 0), q1 = cmp_ratio(r, si, st, 1);

	fputs("<tr><td>", out);
	ts_html_put(out, r->steps[st].name);
	fputs("</td><td>", out);
	ts_html_put(out, r->servers[si].name);
	fputs("</td>", out);
	if (cell->skipped[0] || f.n == 0) {
		fputs("<td colspan=\"12\">", out);
		ts_html_put(out, cell->skipped[0] ? cell->skipped
				 : f.fault        ? f.fault
				 : f.ran          ? "no replies"
						  : "not run");
		fputs("</td></tr>\n", out);
		return;
	}
	td_num(out, f.messages_per_s, 0, cmp_is_best(r, si, st, CMP_FIG_MPS, 0));
	for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
		td_num(out, cmp_figure(r, si, st, CMP_FIG_LATENCY, pcts[i]) / TS_NS_PER_US, 1,
		       cmp_is_best(r, si, st, CMP_FIG_LATENCY, pcts[i]));
	td_num(out, f.server_us_per_message, 2, cmp_is_best(r, si, st, CMP_FIG_SERVER_CPU, 0));
	td_num(out, f.syscalls_per_message, 2, cmp_is_best(r, si, st, CMP_FIG_SYSCALLS, 0));
	fprintf(out, "<td>%.0f%%%s</td>", 100 * f.client_busy,
		f.client_saturated ? " (saturated)" : "");
	if (si == r->baseline) {
		fputs("<td>baseline</td><td>baseline</td>", out);
	} else {
		td_ratio(out, &q0);
		td_ratio(out, &q1);
	}
	fputs("</tr>\n", out);
}

static void html_group(FILE *out, const struct cmp_result *r, size_t first)
{
	char group[96], g[96];

	cmp_group_name(&r->steps[first], group, sizeof group);
	fputs("<section>\n<h2>", out);
	ts_html_put(out, group);
	fputs("</h2>\n<table>\n", out);
	th_row(out, r->servers[r->baseline].name);
	for (size_t st = first; st < r->n_steps; st++) {
		cmp_group_name(&r->steps[st], g, sizeof g);
		if (strcmp(g, group) != 0)
			continue;
		for (size_t si = 0; si < r->n_servers; si++)
			html_row(out, r, si, st);
	}
	fputs("</table>\n", out);
}

static void kv(FILE *out, const char *k, const char *v)
{
	fputs("<tr><th>", out);
	ts_html_put(out, k);
	fputs("</th><td>", out);
	ts_html_put(out, v);
	fputs("</td></tr>\n", out);
}

static void html_system(FILE *out, const struct cmp_result *r, const char *command)
{
	char buf[160];

	fputs("<table>\n", out);
	kv(out, "command", command);
	kv(out, "kernel", r->sys.kernel);
	kv(out, "CPU", r->sys.cpu_model);
	snprintf(buf, sizeof buf, "%ld", r->sys.cores);
	kv(out, "cores", buf);
	kv(out, "governor", r->sys.governor);
	kv(out, "tsecho", r->sys.version);
	kv(out, "configured with", r->sys.configure[0] ? r->sys.configure : "(defaults)");
	if (r->sys.server_cpu >= 0)
		snprintf(buf, sizeof buf, "servers on CPU %d, load on CPU %s", r->sys.server_cpu,
			 r->sys.load_cpus);
	else
		snprintf(buf, sizeof buf, "not pinned");
	kv(out, "pinning", buf);
	snprintf(buf, sizeof buf, "%zu × %.1f s (%.1f s warm-up), interleaved; %.1f s in all%s",
		 r->repeat, r->duration_s, r->warmup_s, r->wall_s,
		 r->interrupted ? "; interrupted" : "");
	kv(out, "repetitions", buf);
	kv(out, "load generator", r->load_engine);
	kv(out, "system calls", r->sys.syscalls_how);
	for (size_t si = 0; si < r->n_servers; si++)
		kv(out, r->servers[si].name,
		   r->servers[si].setup[0] ? r->servers[si].setup : r->servers[si].target);
	fputs("</table>\n", out);
}

int cmp_write_html(FILE *out, const struct cmp_result *r, const char *command)
{
	int rc = 0;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
	      out);
	ts_html_put(out, r->title);
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
	ts_html_put(out, r->title);
	fputs("</h1>\n", out);
	html_system(out, r, command);
	fputs("<p>msg/s is the mean over the repetitions; latencies merge every repetition. "
	      "Ratios are to the baseline, with the 95% interval of Student's t over the "
	      "repetitions' paired log ratios; \"noise\" means the interval holds 1. The best "
	      "in a column is <span class=\"best\">underlined</span>.</p>\n",
	      out);
	for (size_t st = 0; st < r->n_steps && rc == 0; st++) {
		if (!cmp_group_first(r, st))
			continue;
		html_group(out, r, st);
		rc = each_chart(r, st, emit_figure, out);
		fputs("</section>\n", out);
	}
	fputs("</body>\n</html>\n", out);
	if (rc == 0 && ferror(out))
		rc = -EIO;
	return rc;
}
