/* The charts of an HTML report: see htmlchart.h.  Coordinates are user
 * units of each chart's viewBox; the page's CSS scales the whole.  Every
 * range is widened before it divides, so one sample, equal samples or
 * none never divide by zero. */
#include "config.h"

#include "htmlchart.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	TICKS_MAX = 16,
	MARKS_MAX = 2000, /* ping: a dot a probe up to this many, bands above */
	BINS_MAX = 300,   /* ping: time columns of the bands */
	DOTS_MAX = 300,   /* bench: a dot an interval up to this many */
	BARS_TARGET = 40, /* histogram: about this many bars over the range */
	BARS_MAX = 256,
	PART_COLS_MAX = 600, /* parts: a bar a probe up to this many, medians above */
	PART_BAR_MAX = 24,   /* parts: the widest bar */
	PART_LEGEND_W = 215, /* parts: a legend entry, four to a row */
};

/* A chart's data area in user units, and the data at its edges (x in
 * log10 when x_log). */
struct plot {
	double left, top, width, height;
	double x_lo, x_hi;
	double y_lo, y_hi;
	int x_log;
};

static double px(const struct plot *p, double x)
{
	if (p->x_log)
		x = x > 0 ? log10(x) : p->x_lo;
	return p->left + (x - p->x_lo) / (p->x_hi - p->x_lo) * p->width;
}

static double py(const struct plot *p, double y)
{
	double f = (y - p->y_lo) / (p->y_hi - p->y_lo);

	f = f < 0 ? 0 : f > 1 ? 1 : f;
	return p->top + p->height * (1.0 - f);
}

struct tick {
	double v; /* in data units */
	char label[32];
};

struct ticks {
	int n;
	struct tick t[TICKS_MAX];
};

static void tick_add(struct ticks *tk, double v, const char *label)
{
	if (tk->n >= TICKS_MAX)
		return;
	tk->t[tk->n].v = v;
	snprintf(tk->t[tk->n].label, sizeof tk->t[tk->n].label, "%s", label);
	tk->n++;
}

/* Ticks at the multiples of step_units in [lo, hi] (data), labelled in
 * units of div data. */
static void linear_ticks(struct ticks *tk, double lo, double hi, double div, double step_units)
{
	int decimals = ts_html_step_decimals(step_units);
	double k = ceil(lo / div / step_units - 1e-9);
	char label[32];

	for (; tk->n < TICKS_MAX; k++) {
		double u = k * step_units;
		if (u * div > hi + 1e-9 * fabs(hi))
			break;
		if (u == 0)
			u = 0.0; /* never "-0" */
		snprintf(label, sizeof label, "%.*f", decimals, u);
		tick_add(tk, u * div, label);
	}
}

/* The top of an axis from 0 that shows max (data, > 0 or not): a nice
 * step above it, with a little headroom; *step_units is the step in
 * units of div. */
static double axis_top(double max, double div, int max_ticks, double *step_units)
{
	double top_units = max * 1.02 / div;
	double step;

	if (!(top_units > 0) || !isfinite(top_units))
		top_units = 1;
	step = ts_html_nice_step(top_units, max_ticks);
	*step_units = step;
	return ceil(top_units / step - 1e-9) * step * div;
}

static void svg_open(FILE *o, const char *id, int w, int h, const char *title, const char *desc)
{
	fprintf(o,
		"<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"%s-t %s-d\" "
		"preserveAspectRatio=\"xMidYMid meet\">\n<title id=\"%s-t\">",
		w, h, id, id, id);
	ts_html_put(o, title);
	fprintf(o, "</title>\n<desc id=\"%s-d\">", id);
	ts_html_put(o, desc);
	fputs("</desc>\n", o);
}

static void figure_open(FILE *o, const char *id, const char *heading, int wide)
{
	fprintf(o, "<figure class=\"card chart%s\" id=\"%s\">\n<h2>", wide ? " wide" : "", id);
	ts_html_put(o, heading);
	fputs("</h2>\n<div class=\"plot\">\n", o);
}

static void figure_close(FILE *o, const char *caption)
{
	fputs("</div>\n<figcaption>", o);
	ts_html_put(o, caption);
	fputs("</figcaption>\n</figure>\n", o);
}

static void nothing_to_chart(FILE *o, const char *why)
{
	fputs("<p class=\"empty\">", o);
	ts_html_put(o, why);
	fputs("</p>\n", o);
}

/* Grid lines and labels at the ticks, the two axis lines and their
 * titles (NULL: none). */
static void draw_axes(FILE *o, const struct plot *p, const struct ticks *xt, const struct ticks *yt,
		      const char *x_title, const char *y_title)
{
	double bottom = p->top + p->height;

	fputs("<g class=\"axes\">\n", o);
	for (int i = 0; i < yt->n; i++) {
		double y = py(p, yt->t[i].v);
		fprintf(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			p->left, y, p->left + p->width, y);
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			p->left - 8, y + 4, yt->t[i].label);
	}
	for (int i = 0; i < xt->n; i++) {
		double x = px(p, xt->t[i].v);
		fprintf(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			x, p->top, x, bottom);
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
			bottom + 18, xt->t[i].label);
	}
	fprintf(o, "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\"/>\n", p->left, p->top, bottom,
		p->left + p->width);
	if (x_title)
		fprintf(o,
			"<text class=\"title\" x=\"%.1f\" y=\"%.1f\" "
			"text-anchor=\"middle\">%s</text>\n",
			p->left + p->width / 2, bottom + 40, x_title);
	if (y_title)
		fprintf(o,
			"<text class=\"title\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
			"text-anchor=\"middle\">%s</text>\n",
			p->left - 54, p->top + p->height / 2, y_title);
	fputs("</g>\n", o);
}

static void legend(FILE *o, double x, double y, const char *cls, const char *text)
{
	fprintf(o,
		"<g class=\"legend\"><path class=\"%s\" d=\"M%.1f %.1fh18\"/>"
		"<text x=\"%.1f\" y=\"%.1f\">",
		cls, x, y, x + 24, y + 4);
	ts_html_put(o, text);
	fputs("</text></g>\n", o);
}

/* A polyline that keeps to about one column of user units: the points in
 * a column become its first, lowest, highest and last (spikes survive,
 * the file stays small however many points there are). */
struct pen {
	FILE *out;
	long col;
	int down; /* a line is open: the next column continues it */
	int n;    /* points in the column */
	double first, lo, hi, last;
};

static void pen_start(struct pen *pn, FILE *o, const char *cls)
{
	memset(pn, 0, sizeof *pn);
	pn->out = o;
	fprintf(o, "<path class=\"%s\" d=\"", cls);
}

static void pen_flush(struct pen *pn)
{
	double ys[4] = { pn->first, pn->lo, pn->hi, pn->last };
	double prev = NAN;

	if (pn->first > pn->last) {
		ys[1] = pn->hi;
		ys[2] = pn->lo;
	}
	for (int i = 0; i < 4; i++) {
		if (ys[i] == prev)
			continue;
		fprintf(pn->out, "%c%.1f %.1f", pn->down ? 'L' : 'M', (double)pn->col + 0.5, ys[i]);
		pn->down = 1;
		prev = ys[i];
	}
	pn->n = 0;
}

static void pen_to(struct pen *pn, double x, double y)
{
	long col = (long)floor(x);

	if (pn->n && col != pn->col)
		pen_flush(pn);
	if (!pn->n) {
		pn->col = col;
		pn->first = pn->lo = pn->hi = pn->last = y;
		pn->n = 1;
		return;
	}
	pn->lo = y < pn->lo ? y : pn->lo;
	pn->hi = y > pn->hi ? y : pn->hi;
	pn->last = y;
	pn->n++;
}

/* Ends the line: the next point starts a new one (a gap). */
static void pen_lift(struct pen *pn)
{
	if (pn->n)
		pen_flush(pn);
	pn->down = 0;
}

static void pen_end(struct pen *pn)
{
	pen_lift(pn);
	fputs("\"/>\n", pn->out);
}

/* The time axis: ms below a second, s above. */
static void time_axis(struct ticks *xt, double t_hi_ns, const char **title)
{
	double div = t_hi_ns < 1e9 ? 1e6 : 1e9;
	double step = ts_html_nice_step(t_hi_ns / div, 6);

	*title = div == 1e6 ? "time (ms)" : "time (s)";
	linear_ticks(xt, 0, t_hi_ns, div, step);
}

/* y from 0 up to max_ns, in the unit its range calls for. */
static void latency_axis(struct plot *p, struct ticks *yt, double max_ns, int max_ticks,
			 const char *what, char *title, size_t title_cap)
{
	double unit_ns, step;
	const char *unit = ts_html_time_unit(max_ns * 1.02, &unit_ns);

	p->y_lo = 0;
	p->y_hi = axis_top(max_ns, unit_ns, max_ticks, &step);
	linear_ticks(yt, 0, p->y_hi, unit_ns, step);
	snprintf(title, title_cap, "%s (%s)", what, unit);
}

static void probes_range(const struct ts_html_report *r, double *t_hi_ns, double *rtt_max_ns,
			 size_t *received)
{
	*t_hi_ns = 0;
	*rtt_max_ns = 0;
	*received = 0;
	for (size_t i = 0; i < r->n_probes; i++) {
		const struct ts_html_probe *pr = &r->probes[i];
		if ((double)pr->sent_ns > *t_hi_ns)
			*t_hi_ns = (double)pr->sent_ns;
		if (!pr->lost) {
			(*received)++;
			if ((double)pr->rtt_ns > *rtt_max_ns)
				*rtt_max_ns = (double)pr->rtt_ns;
		}
	}
	if (*t_hi_ns <= 0)
		*t_hi_ns = 1e9; /* one probe: a second's axis */
}

/* Lost probes: a red tick at the top of the chart, one a column. */
static void lost_marks(FILE *o, const struct plot *p, const struct ts_html_report *r)
{
	long last_col = -1;

	fputs("<path class=\"lost\" d=\"", o);
	for (size_t i = 0; i < r->n_probes; i++) {
		double x;
		if (!r->probes[i].lost)
			continue;
		x = px(p, (double)r->probes[i].sent_ns);
		if ((long)floor(x) == last_col)
			continue;
		last_col = (long)floor(x);
		fprintf(o, "M%.1f %.1fv10", x, p->top);
	}
	fputs("\"/>\n", o);
}

static void probe_dots(FILE *o, const struct plot *p, const struct ts_html_report *r)
{
	fputs("<g class=\"dots s1\">\n", o);
	for (size_t i = 0; i < r->n_probes; i++) {
		const struct ts_html_probe *pr = &r->probes[i];
		if (!pr->lost)
			fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n",
				px(p, (double)pr->sent_ns), py(p, (double)pr->rtt_ns));
	}
	fputs("</g>\n", o);
}

struct band {
	double lo, hi, sum;
	uint64_t n;
};

/* Many probes: per time column, the range of round trips as a band and
 * their mean as a line. */
static void probe_bands(FILE *o, const struct plot *p, const struct ts_html_report *r)
{
	struct band b[BINS_MAX];
	struct pen pn;

	memset(b, 0, sizeof b);
	for (size_t i = 0; i < r->n_probes; i++) {
		const struct ts_html_probe *pr = &r->probes[i];
		double f = (double)pr->sent_ns / p->x_hi;
		int k = (int)(f * BINS_MAX);
		double v = (double)pr->rtt_ns;
		if (pr->lost)
			continue;
		k = k < 0 ? 0 : k >= BINS_MAX ? BINS_MAX - 1 : k;
		b[k].lo = b[k].n == 0 || v < b[k].lo ? v : b[k].lo;
		b[k].hi = b[k].n == 0 || v > b[k].hi ? v : b[k].hi;
		b[k].sum += v;
		b[k].n++;
	}
	fputs("<path class=\"band\" d=\"", o);
	for (int k = 0; k < BINS_MAX; k++)
		if (b[k].n)
			fprintf(o, "M%.1f %.1fV%.1f", p->left + (k + 0.5) * p->width / BINS_MAX,
				py(p, b[k].lo), py(p, b[k].hi) - 0.5);
	fputs("\"/>\n", o);
	pen_start(&pn, o, "line s1");
	for (int k = 0; k < BINS_MAX; k++) {
		if (!b[k].n) {
			pen_lift(&pn);
			continue;
		}
		pen_to(&pn, p->left + (k + 0.5) * p->width / BINS_MAX,
		       py(p, b[k].sum / (double)b[k].n));
	}
	pen_end(&pn);
}

static void chart_probes(FILE *o, const struct ts_html_report *r)
{
	struct plot p = { .left = 72, .top = 24, .width = 860, .height = 260 };
	struct ticks xt = { 0 }, yt = { 0 };
	double t_hi_ns, rtt_max_ns;
	size_t received;
	char y_title[64];
	const char *x_title;

	probes_range(r, &t_hi_ns, &rtt_max_ns, &received);
	p.x_hi = t_hi_ns;
	time_axis(&xt, t_hi_ns, &x_title);
	latency_axis(&p, &yt, rtt_max_ns, 6, "round trip", y_title, sizeof y_title);
	svg_open(o, "time", 960, 340, "Round trip of each probe over time",
		 "Each reply's round-trip time against the time its probe was sent; "
		 "lost probes are red ticks along the top.");
	draw_axes(o, &p, &xt, &yt, x_title, y_title);
	if (received > MARKS_MAX)
		probe_bands(o, &p, r);
	else
		probe_dots(o, &p, r);
	lost_marks(o, &p, r);
	if (received > MARKS_MAX)
		legend(o, p.left + p.width - 300, 12, "line s1", "mean (band: min to max)");
	if (received < r->n_probes)
		legend(o, p.left + p.width - 80, 12, "lost", "lost");
	fputs("</svg>\n", o);
}

/* One series of the intervals (0 throughput, 1 p50, 2 p99) in a panel;
 * a gap where an interval had no message to take a latency from. */
static double interval_value(const struct ts_html_interval *iv, int which)
{
	return which == 0   ? iv->messages_per_s
	       : which == 1 ? (double)iv->p50_ns
			    : (double)iv->p99_ns;
}

static void interval_series(FILE *o, const struct plot *p, const struct ts_html_report *r,
			    int which, const char *series)
{
	struct pen pn;
	char cls[32];

	snprintf(cls, sizeof cls, "line %s", series);
	pen_start(&pn, o, cls);
	for (size_t i = 0; i < r->n_intervals; i++) {
		const struct ts_html_interval *iv = &r->intervals[i];
		if (which > 0 && iv->messages == 0) {
			pen_lift(&pn);
			continue;
		}
		pen_to(&pn, px(p, (double)iv->end_ns), py(p, interval_value(iv, which)));
	}
	pen_end(&pn);
	if (r->n_intervals > DOTS_MAX)
		return;
	fprintf(o, "<g class=\"dots %s\">", series);
	for (size_t i = 0; i < r->n_intervals; i++) {
		const struct ts_html_interval *iv = &r->intervals[i];
		if (which == 0 || iv->messages > 0)
			fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>",
				px(p, (double)iv->end_ns), py(p, interval_value(iv, which)));
	}
	fputs("</g>\n", o);
}

/* The throughput panel: msg/s, in thousands or millions when large. */
static void throughput_panel(FILE *o, struct plot *p, const struct ticks *xt,
			     const struct ts_html_report *r, double max_mps)
{
	struct ticks yt = { 0 };
	double div = max_mps >= 1e6 ? 1e6 : max_mps >= 1e4 ? 1e3 : 1;
	double step;

	p->y_lo = 0;
	p->y_hi = axis_top(max_mps, div, 4, &step);
	linear_ticks(&yt, 0, p->y_hi, div, step);
	draw_axes(o, p, xt, &yt, NULL,
		  div == 1e6   ? "throughput (M msg/s)"
		  : div == 1e3 ? "throughput (k msg/s)"
			       : "throughput (msg/s)");
	interval_series(o, p, r, 0, "s1");
}

static void chart_intervals(FILE *o, const struct ts_html_report *r)
{
	struct plot top = { .left = 72, .top = 16, .width = 860, .height = 150 };
	struct plot bot = { .left = 72, .top = 230, .width = 860, .height = 170 };
	struct ticks xt = { 0 }, yt = { 0 };
	double t_hi_ns = 0, max_mps = 0, max_ns = 0;
	char y_title[64];
	const char *x_title;

	for (size_t i = 0; i < r->n_intervals; i++) {
		const struct ts_html_interval *iv = &r->intervals[i];
		t_hi_ns = (double)iv->end_ns > t_hi_ns ? (double)iv->end_ns : t_hi_ns;
		max_mps = iv->messages_per_s > max_mps ? iv->messages_per_s : max_mps;
		if (iv->messages > 0 && (double)iv->p99_ns > max_ns)
			max_ns = (double)iv->p99_ns;
	}
	top.x_hi = bot.x_hi = t_hi_ns > 0 ? t_hi_ns : 1e9;
	time_axis(&xt, top.x_hi, &x_title);
	svg_open(o, "time", 960, 460, "Throughput and latency over time",
		 "Top: messages a second in each progress interval. Bottom: the 50th and "
		 "99th percentile latency of each interval.");
	throughput_panel(o, &top, &xt, r, max_mps);
	latency_axis(&bot, &yt, max_ns, 5, "latency", y_title, sizeof y_title);
	draw_axes(o, &bot, &xt, &yt, x_title, y_title);
	interval_series(o, &bot, r, 1, "s1");
	interval_series(o, &bot, r, 2, "s2");
	legend(o, bot.left + bot.width - 150, bot.top - 12, "line s1", "p50");
	legend(o, bot.left + bot.width - 70, bot.top - 12, "line s2", "p99");
	fputs("</svg>\n", o);
}

void ts_htmlchart_time(FILE *out, const struct ts_html_report *r)
{
	int probes = r->series == TS_HTML_SERIES_PROBES;

	figure_open(out, "chart-time",
		    probes ? "Latency over time" : "Throughput and latency over time", 1);
	if (probes && r->n_probes > 0)
		chart_probes(out, r);
	else if (r->series == TS_HTML_SERIES_INTERVALS && r->n_intervals > 0)
		chart_intervals(out, r);
	else
		nothing_to_chart(out, "Nothing to chart: no probe was sent or no interval "
				      "completed.");
	figure_close(out, probes ? "Each dot is one reply: its round trip against the time its "
				   "probe was sent (since the first). Lost probes are red ticks "
				   "along the top. Above 2000 replies, each column shows the range "
				   "and mean of its replies."
				 : "One point per progress interval (about a second): the messages "
				   "answered in it, and the percentiles of their latency.");
}

/* One distribution as a step line: percentile f's value v, for every
 * bucket (HdrHistogram's plot of its percentile distribution). */
static void spectrum_series(FILE *o, const struct plot *p, const struct ts_hist *h, const char *cls)
{
	uint64_t total = ts_hist_count(h), cum = 0;
	int64_t max_ns = ts_hist_max(h);
	struct pen pn;

	pen_start(&pn, o, cls);
	for (size_t i = 0; i < ts_hist_buckets() && cum < total; i++) {
		uint64_t n = ts_hist_bucket_count(h, i);
		double v;
		if (n == 0)
			continue;
		v = (double)(ts_hist_bucket_high(i) < max_ns ? ts_hist_bucket_high(i) : max_ns);
		pen_to(&pn, px(p, ts_html_pct_x((double)cum / (double)total, p->x_hi)), py(p, v));
		cum += n;
		pen_to(&pn, px(p, ts_html_pct_x((double)cum / (double)total, p->x_hi)), py(p, v));
	}
	pen_end(&pn);
}

static void pct_ticks(struct ticks *xt, int x_max)
{
	int every = (x_max + 5) / 6; /* at most about six labels */
	char label[32];

	for (int k = 0; k <= x_max; k += every) {
		ts_html_pct_label(label, sizeof label, k);
		tick_add(xt, k, label);
	}
}

static void chart_spectrum(FILE *o, const struct ts_html_report *r)
{
	const struct ts_hist *alt =
	    r->hist_alt && ts_hist_count(r->hist_alt) > 0 ? r->hist_alt : NULL;
	uint64_t n = ts_hist_count(r->hist);
	struct plot p = { .left = 72, .top = 28, .width = 456, .height = 250 };
	struct ticks xt = { 0 }, yt = { 0 };
	double max_ns = (double)ts_hist_max(r->hist);
	char y_title[64];

	if (alt) {
		n = ts_hist_count(alt) > n ? ts_hist_count(alt) : n;
		max_ns = (double)ts_hist_max(alt) > max_ns ? (double)ts_hist_max(alt) : max_ns;
	}
	p.x_hi = ts_html_pct_x_max(n);
	pct_ticks(&xt, (int)p.x_hi);
	latency_axis(&p, &yt, max_ns, 5, r->hist_label ? r->hist_label : "latency", y_title,
		     sizeof y_title);
	svg_open(o, "spectrum", 560, 340, "Percentile spectrum",
		 "The latency at each percentile, the percentile axis on a log scale of "
		 "1/(1-p): 90%, 99%, 99.9% equally spaced.");
	draw_axes(o, &p, &xt, &yt, "percentile (log scale of 1/(1-p))", y_title);
	if (alt) {
		spectrum_series(o, &p, alt, "line s2");
		legend(o, p.left + 10, p.top - 12, "line s1", r->hist_label ? r->hist_label : "");
		legend(o, p.left + 170, p.top - 12, "line s2",
		       r->hist_alt_label ? r->hist_alt_label : "");
	}
	spectrum_series(o, &p, r->hist, "line s1");
	fputs("</svg>\n", o);
}

void ts_htmlchart_spectrum(FILE *out, const struct ts_html_report *r)
{
	figure_open(out, "chart-spectrum", "Percentile spectrum", 0);
	if (r->hist && ts_hist_count(r->hist) > 0)
		chart_spectrum(out, r);
	else
		nothing_to_chart(out, "Nothing to chart: no latency was measured.");
	figure_close(out, "The latency below which each fraction of the messages fell, from the "
			  "run's histogram (within 0.1%). The percentile axis stretches the tail: "
			  "each step right is ten times rarer.");
}

/* Log-spaced buckets: bins_per_decade of them in each power of ten,
 * bucket k covering [10^(k/bpd), 10^((k+1)/bpd)) ns. */
struct bars {
	int bpd;
	long k_lo;
	int n;
	uint64_t count[BARS_MAX];
};

static void bars_fill(struct bars *b, const struct ts_hist *h)
{
	double lo = ts_hist_min(h) > 1 ? (double)ts_hist_min(h) : 1;
	double hi = (double)ts_hist_max(h) > lo ? (double)ts_hist_max(h) : lo;
	double decades = log10(hi / lo);
	int bpd = (int)ceil(BARS_TARGET / (decades > 0.05 ? decades : 0.05));

	memset(b, 0, sizeof *b);
	b->bpd = bpd < 5 ? 5 : bpd > 200 ? 200 : bpd;
	b->k_lo = (long)floor(log10(lo) * b->bpd);
	b->n = (int)((long)floor(log10(hi) * b->bpd) - b->k_lo + 1);
	b->n = b->n < 1 ? 1 : b->n > BARS_MAX ? BARS_MAX : b->n;
	for (size_t i = 0; i < ts_hist_buckets(); i++) {
		uint64_t c = ts_hist_bucket_count(h, i);
		double mid;
		long k;
		if (c == 0)
			continue;
		mid = ((double)ts_hist_bucket_low(i) + (double)ts_hist_bucket_high(i)) / 2;
		k = (long)floor(log10(mid > 1 ? mid : 1) * b->bpd) - b->k_lo;
		k = k < 0 ? 0 : k >= b->n ? b->n - 1 : k;
		b->count[k] += c;
	}
}

static double bar_edge(const struct bars *b, long k)
{
	return pow(10.0, (double)(b->k_lo + k) / b->bpd);
}

/* Ticks on a log axis from lo to hi (ns): 1, 2, 5 times the powers of
 * ten (only 1 over many decades); a narrow range gets linear ones. */
static void log_ticks(struct ticks *xt, double lo, double hi, double unit_ns)
{
	static const double mult[] = { 1, 2, 5 };
	int many = log10(hi / lo) > 4;
	char label[32];

	for (double e = floor(log10(lo)); e <= ceil(log10(hi)); e++) {
		for (int m = 0; m < (many ? 1 : 3); m++) {
			double v = mult[m] * pow(10.0, e);
			if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9))
				continue;
			snprintf(label, sizeof label, "%g", v / unit_ns);
			tick_add(xt, v, label);
		}
	}
	if (xt->n < 2) {
		xt->n = 0;
		linear_ticks(xt, lo, hi, unit_ns, ts_html_nice_step((hi - lo) / unit_ns, 4));
	}
}

static void draw_bars(FILE *o, const struct plot *p, const struct bars *b, double unit_ns,
		      const char *unit)
{
	fputs("<g class=\"bars\">\n", o);
	for (long k = 0; k < b->n; k++) {
		double x0, x1, y;
		if (b->count[k] == 0)
			continue;
		x0 = px(p, bar_edge(b, k));
		x1 = px(p, bar_edge(b, k + 1));
		y = py(p, (double)b->count[k]);
		fprintf(o,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
			"<title>%.4g to %.4g %s: %llu</title></rect>\n",
			x0 + 0.5, y, x1 - x0 > 2 ? x1 - x0 - 1 : 1, p->top + p->height - y,
			bar_edge(b, k) / unit_ns, bar_edge(b, k + 1) / unit_ns, unit,
			(unsigned long long)b->count[k]);
	}
	fputs("</g>\n", o);
}

static void chart_hist(FILE *o, const struct ts_html_report *r)
{
	struct plot p = { .left = 72, .top = 16, .width = 456, .height = 262, .x_log = 1 };
	struct ticks xt = { 0 }, yt = { 0 };
	struct bars b;
	uint64_t max_count = 0;
	double unit_ns, step, lo, hi;
	const char *unit;
	char x_title[64];

	bars_fill(&b, r->hist);
	for (int k = 0; k < b.n; k++)
		max_count = b.count[k] > max_count ? b.count[k] : max_count;
	lo = bar_edge(&b, 0);
	hi = bar_edge(&b, b.n);
	p.x_lo = log10(lo);
	p.x_hi = log10(hi);
	unit = ts_html_time_unit(hi, &unit_ns);
	log_ticks(&xt, lo, hi, unit_ns);
	p.y_hi = axis_top((double)max_count, 1, 5, &step);
	if (step < 1) {
		step = 1;
		p.y_hi = ceil(p.y_hi);
	}
	linear_ticks(&yt, 0, p.y_hi, 1, step);
	snprintf(x_title, sizeof x_title, "%s (%s, log scale)",
		 r->hist_label ? r->hist_label : "latency", unit);
	svg_open(o, "hist", 560, 340, "Latency histogram",
		 "How many messages fell in each latency bucket; buckets equally wide on a "
		 "log scale.");
	draw_axes(o, &p, &xt, &yt, x_title, "count");
	draw_bars(o, &p, &b, unit_ns, unit);
	fputs("</svg>\n", o);
}

void ts_htmlchart_hist(FILE *out, const struct ts_html_report *r)
{
	figure_open(out, "chart-hist", "Histogram", 0);
	if (r->hist && ts_hist_count(r->hist) > 0)
		chart_hist(out, r);
	else
		nothing_to_chart(out, "Nothing to chart: no latency was measured.");
	figure_close(out, "Counts in buckets equally wide on a log scale (about 40 over the "
			  "range), re-binned from the run's histogram.");
}

/* The round trip's parts (ping --kernel-timestamps). */

/* One bar of the stack: a probe's parts, or the medians of a time
 * column's probes.  v in ns, never below 0; have: drawn. */
struct part_col {
	double x_ns;
	double v[TS_HTML_PARTS_MAX];
	uint8_t have[TS_HTML_PARTS_MAX];
};

static size_t parts_n(const struct ts_html_breakdown *b)
{
	return b->n_parts < TS_HTML_PARTS_MAX ? b->n_parts : TS_HTML_PARTS_MAX;
}

static double part_ns(int64_t ns)
{
	return ns > 0 ? (double)ns : 0;
}

static double sent_ns(const struct ts_html_part_probe *pr)
{
	return pr->sent_ns > 0 ? (double)pr->sent_ns : 0;
}

/* The drawn parts below part `upto` of c: where the next one sits. */
static double col_base(const struct part_col *c, size_t upto)
{
	double sum = 0;

	for (size_t k = 0; k < upto; k++)
		if (c->have[k])
			sum += c->v[k];
	return sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void cols_of_probes(struct part_col *c, const struct ts_html_breakdown *b)
{
	size_t np = parts_n(b);

	for (size_t i = 0; i < b->n_probes; i++) {
		const struct ts_html_part_probe *pr = &b->probes[i];
		c[i].x_ns = sent_ns(pr);
		for (size_t k = 0; k < np; k++) {
			c[i].have[k] = pr->have[k] != 0;
			c[i].v[k] = c[i].have[k] ? part_ns(pr->part_ns[k]) : 0;
		}
	}
}

static size_t bin_of(double x_ns, double span_ns)
{
	long k = (long)(x_ns / span_ns * PART_COLS_MAX);

	return k < 0 ? 0 : k >= PART_COLS_MAX ? PART_COLS_MAX - 1 : (size_t)k;
}

/* PART_COLS_MAX columns of equal time over [0, span_ns]: in each, every
 * part's median over the column's probes that have it.  Into c, the
 * columns that have a probe, in order of time; returns how many, or -1
 * when out of memory. */
static long cols_of_bins(struct part_col *c, const struct ts_html_breakdown *b, double span_ns)
{
	size_t start[PART_COLS_MAX + 1] = { 0 }, next[PART_COLS_MAX];
	size_t *order = malloc(b->n_probes * sizeof *order);
	double *vals = malloc(b->n_probes * sizeof *vals);
	size_t np = parts_n(b);
	long n = 0;

	if (!order || !vals) {
		free(order);
		free(vals);
		return -1;
	}
	/* The probes in order of column (a counting sort). */
	for (size_t i = 0; i < b->n_probes; i++)
		start[bin_of(sent_ns(&b->probes[i]), span_ns) + 1]++;
	for (size_t k = 0; k < PART_COLS_MAX; k++) {
		start[k + 1] += start[k];
		next[k] = start[k];
	}
	for (size_t i = 0; i < b->n_probes; i++)
		order[next[bin_of(sent_ns(&b->probes[i]), span_ns)]++] = i;
	for (size_t k = 0; k < PART_COLS_MAX; k++) {
		struct part_col *col = &c[n];
		if (start[k] == start[k + 1])
			continue;
		col->x_ns = ((double)k + 0.5) * span_ns / PART_COLS_MAX;
		for (size_t part = 0; part < np; part++) {
			size_t m = 0;
			for (size_t j = start[k]; j < start[k + 1]; j++) {
				const struct ts_html_part_probe *pr = &b->probes[order[j]];
				if (pr->have[part])
					vals[m++] = part_ns(pr->part_ns[part]);
			}
			col->have[part] = m > 0;
			col->v[part] = 0;
			if (m == 0)
				continue;
			qsort(vals, m, sizeof *vals, cmp_double);
			col->v[part] = m % 2 ? vals[m / 2] : (vals[m / 2 - 1] + vals[m / 2]) / 2;
		}
		n++;
	}
	free(order);
	free(vals);
	return n;
}

/* "12.3 µs": a tenth of a µs, a thousandth of a ms or s. */
static void part_text(char *buf, size_t cap, double ns, double unit_ns, const char *unit)
{
	snprintf(buf, cap, "%.*f %s", unit_ns <= 1e3 ? 1 : 3, ns / unit_ns, unit);
}

/* The parts in stack order, numbered as on the charts, four to a row
 * from (x, y).  unit: each part's median after its name (NULL: only
 * "unavailable" for a part no probe had). */
static void parts_legend(FILE *o, double x, double y, const struct ts_html_breakdown *b,
			 double unit_ns, const char *unit)
{
	char value[48];

	for (size_t k = 0; k < parts_n(b); k++) {
		const struct ts_html_part *pt = &b->part[k];
		double ex = x + (double)(k % 4) * PART_LEGEND_W, ey = y + (double)(k / 4) * 22;
		fprintf(
		    o,
		    "<g class=\"legend\"><rect class=\"p%zu\" x=\"%.1f\" y=\"%.1f\" width=\"16\" "
		    "height=\"16\"/><text class=\"num\" x=\"%.1f\" y=\"%.1f\" "
		    "text-anchor=\"middle\">%zu</text><text x=\"%.1f\" y=\"%.1f\">",
		    k, ex, ey - 12, ex + 8, ey, k + 1, ex + 22, ey + 1);
		ts_html_put(o, pt->name ? pt->name : "");
		if (pt->count == 0)
			fputs(unit ? ": unavailable" : " (unavailable)", o);
		else if (unit) {
			part_text(value, sizeof value, part_ns(pt->p50_ns), unit_ns, unit);
			fprintf(o, ": %s", value);
		}
		fputs("</text></g>\n", o);
	}
}

/* Each column's parts as rects, a group a part (class "seg pK"), and
 * the part's number on a segment with room for it. */
static void parts_stack(FILE *o, const struct plot *p, const struct part_col *c, size_t n,
			size_t np, double bar_w)
{
	for (size_t k = 0; k < np; k++) {
		fprintf(o, "<g class=\"seg p%zu\">\n", k);
		for (size_t i = 0; i < n; i++) {
			double y0, y1;
			if (!c[i].have[k])
				continue;
			y0 = py(p, col_base(&c[i], k));
			y1 = py(p, col_base(&c[i], k) + c[i].v[k]);
			fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
				px(p, c[i].x_ns) - bar_w / 2, y1, bar_w, y0 - y1);
		}
		fputs("</g>\n", o);
	}
	if (bar_w < 12)
		return;
	fputs("<g class=\"seglabels\">", o);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < np; k++) {
			double y0 = py(p, col_base(&c[i], k)), y1;
			if (!c[i].have[k])
				continue;
			y1 = py(p, col_base(&c[i], k) + c[i].v[k]);
			if (y0 - y1 >= 14)
				fprintf(o,
					"<text class=\"num\" x=\"%.1f\" y=\"%.1f\" "
					"text-anchor=\"middle\">%zu</text>",
					px(p, c[i].x_ns), (y0 + y1) / 2 + 4, k + 1);
		}
	}
	fputs("</g>\n", o);
}

/* The top of the stacked chart: the tallest bar, unless it is more than
 * twice the 99th percentile of the bars (a stall would flatten every
 * other bar): then that percentile, and the taller bars are cut. */
static double parts_top(const struct part_col *c, size_t n, size_t np, double *max_ns)
{
	double *tot = malloc((n ? n : 1) * sizeof *tot), p99;

	*max_ns = 0;
	for (size_t i = 0; i < n; i++)
		*max_ns = col_base(&c[i], np) > *max_ns ? col_base(&c[i], np) : *max_ns;
	if (!tot || n == 0) {
		free(tot);
		return *max_ns;
	}
	for (size_t i = 0; i < n; i++)
		tot[i] = col_base(&c[i], np);
	qsort(tot, n, sizeof *tot, cmp_double);
	p99 = tot[(size_t)ceil(0.99 * (double)n) - 1];
	free(tot);
	return *max_ns > 2 * p99 && p99 > 0 ? p99 : *max_ns;
}

/* Bars taller than the axis: a dark tick above each (one a column of
 * user units); returns how many. */
static size_t parts_cut(FILE *o, const struct plot *p, const struct part_col *c, size_t n,
			size_t np)
{
	size_t cut = 0;
	long last = LONG_MIN;

	fputs("<path class=\"cut\" d=\"", o);
	for (size_t i = 0; i < n; i++) {
		double x = px(p, c[i].x_ns);
		if (col_base(&c[i], np) <= p->y_hi)
			continue;
		cut++;
		if ((long)floor(x) == last)
			continue;
		last = (long)floor(x);
		fprintf(o, "M%.1f %.1fv-8", x, p->top - 2);
	}
	fputs("\"/>\n", o);
	return cut;
}

/* Returns how many bars are cut at the top of the axis; *max_ns the
 * tallest. */
static size_t chart_parts_time(FILE *o, const struct ts_html_breakdown *b, const struct part_col *c,
			       size_t n, int binned, double span_ns, double *max_ns)
{
	struct plot p = { .left = 72, .top = 16, .width = 860, .height = 260 };
	struct ticks xt = { 0 }, yt = { 0 };
	size_t np = parts_n(b), cut;
	double slot, bar_w, top_ns, div = span_ns < 1e9 ? 1e6 : 1e9;
	char x_title[64], y_title[64];

	/* A bar a probe centred on its send time, as wide as the probes'
	 * mean spacing allows; columns side by side. */
	slot = binned ? span_ns / PART_COLS_MAX : n > 1 ? span_ns / (double)(n - 1) : span_ns;
	p.x_lo = binned ? 0 : -slot / 2;
	p.x_hi = binned ? span_ns : span_ns + slot / 2;
	bar_w = slot / (p.x_hi - p.x_lo) * p.width * (binned ? 1 : 0.8);
	bar_w = bar_w > PART_BAR_MAX ? PART_BAR_MAX : bar_w;
	top_ns = parts_top(c, n, np, max_ns);
	linear_ticks(&xt, 0, span_ns, div, ts_html_nice_step(span_ns / div, 6));
	snprintf(x_title, sizeof x_title, "probe sent, since the first (%s)",
		 div == 1e6 ? "ms" : "s");
	latency_axis(&p, &yt, top_ns, 6, "round trip in parts", y_title, sizeof y_title);
	svg_open(o, "bd-time", 960, 380, "The round trip's parts over time",
		 binned ? "For each of 600 equal time columns, the median of each part over its "
			  "probes, stacked from the client's send path at the bottom to its "
			  "wake-up at the top."
			: "For each probe, at the time it was sent, its round trip split into "
			  "parts, stacked from the client's send path at the bottom to its "
			  "wake-up at the top.");
	draw_axes(o, &p, &xt, &yt, x_title, y_title);
	parts_stack(o, &p, c, n, np, bar_w);
	cut = parts_cut(o, &p, c, n, np);
	parts_legend(o, p.left, p.top + p.height + 66, b, 0, NULL);
	fputs("</svg>\n", o);
	return cut;
}

void ts_htmlchart_parts_time(FILE *out, const struct ts_html_breakdown *b)
{
	size_t np = parts_n(b), complete = 0;
	int binned = b->n_probes > PART_COLS_MAX;
	struct part_col *c = NULL;
	double span_ns = 0, max_ns = 0, unit_ns;
	long n = -1;
	char caption[800], cut_text[200] = "", max_text[48];
	const char *unit;
	size_t cut = 0;

	for (size_t i = 0; i < b->n_probes; i++) {
		size_t k = 0;
		span_ns = sent_ns(&b->probes[i]) > span_ns ? sent_ns(&b->probes[i]) : span_ns;
		while (k < np && b->probes[i].have[k])
			k++;
		complete += k == np;
	}
	if (span_ns <= 0)
		span_ns = 1e6; /* one probe, or all at once: a millisecond's axis */
	figure_open(out, "breakdown-time", "Round trip in parts over time", 1);
	if (b->n_probes > 0)
		c = calloc(binned ? PART_COLS_MAX : b->n_probes, sizeof *c);
	if (c && binned) {
		n = cols_of_bins(c, b, span_ns);
	} else if (c) {
		cols_of_probes(c, b);
		n = (long)b->n_probes;
	}
	if (b->n_probes == 0)
		nothing_to_chart(out, "Nothing to chart: no probe had its parts accounted.");
	else if (n < 0)
		nothing_to_chart(out, "Nothing to chart: out of memory.");
	else
		cut = chart_parts_time(out, b, c, (size_t)n, binned, span_ns, &max_ns);
	free(c);
	if (cut > 0) {
		unit = ts_html_time_unit(max_ns, &unit_ns);
		part_text(max_text, sizeof max_text, max_ns, unit_ns, unit);
		snprintf(cut_text, sizeof cut_text,
			 " The axis ends near the bars' 99th percentile: %zu taller bar%s (the "
			 "tallest %s) %s cut at its top, marked by a tick above it.",
			 cut, cut == 1 ? "" : "s", max_text, cut == 1 ? "is" : "are");
	}
	snprintf(caption, sizeof caption,
		 "%zu probes, %zu of them with every part. %s, stacked in the legend's order "
		 "from 1 at the bottom. A part a probe lacks is left out of its bar, not drawn "
		 "as zero; the parts of a bar add up to its round trip only when it has them "
		 "all.%s",
		 b->n_probes, complete,
		 binned ? "Above 600 probes, each bar is one of 600 equal time columns and each "
			  "segment the median of that part over the column's probes"
			: "Each bar is one probe at its send time (since the first probe's), "
			  "each segment one part of its round trip",
		 cut_text);
	figure_close(out, caption);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void chart_parts_median(FILE *o, const struct ts_html_breakdown *b)
{
	struct plot p = { .left = 72, .top = 40, .width = 860, .height = 40 };
	struct ticks xt = { 0 }, yt = { 0 };
	double sum = 0, x, unit_ns, step;
	const char *unit;
	char title[64], value[48];

	for (size_t k = 0; k < parts_n(b); k++)
		if (b->part[k].count > 0)
			sum += part_ns(b->part[k].p50_ns);
	unit = ts_html_time_unit(sum * 1.02, &unit_ns);
	p.x_hi = axis_top(sum, unit_ns, 8, &step);
	linear_ticks(&xt, 0, p.x_hi, unit_ns, step);
	snprintf(title, sizeof title, "the parts' medians end to end (%s)", unit);
	svg_open(o, "bd-median", 960, 184, "Median of each part of the round trip",
		 "One bar: the median of each part, laid end to end from the client's send "
		 "path at the left to its wake-up at the right, each labelled with its number "
		 "and value.");
	draw_axes(o, &p, &xt, &yt, title, NULL);
	fputs("<g class=\"stack\">\n", o);
	x = p.left;
	for (size_t k = 0; k < parts_n(b); k++) {
		const struct ts_html_part *pt = &b->part[k];
		double w;
		if (pt->count == 0)
			continue;
		w = px(&p, part_ns(pt->p50_ns)) - p.left;
		part_text(value, sizeof value, part_ns(pt->p50_ns), unit_ns, unit);
		fprintf(o,
			"<rect class=\"p%zu\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>",
			k, x, p.top, w, p.height);
		ts_html_put(o, pt->name ? pt->name : "");
		fprintf(o, ": %s</title></rect>\n", value);
		if (w >= 12)
			fprintf(o,
				"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%zu</text>\n",
				x + w / 2, p.top - 8, k + 1);
		/* The value inside when it fits (about 7 units a character). */
		if (w >= 7.0 * (double)utf8_chars(value) + 6)
			fprintf(o,
				"<text class=\"num\" x=\"%.1f\" y=\"%.1f\" "
				"text-anchor=\"middle\">%s</text>\n",
				x + w / 2, p.top + p.height / 2 + 4, value);
		x += w;
	}
	fputs("</g>\n", o);
	parts_legend(o, p.left, p.top + p.height + 70, b, unit_ns, unit);
	fputs("</svg>\n", o);
}

void ts_htmlchart_parts_median(FILE *out, const struct ts_html_breakdown *b)
{
	int any = 0;

	for (size_t k = 0; k < parts_n(b); k++)
		any |= b->part[k].count > 0;
	figure_open(out, "breakdown-median", "Median of each part", 1);
	if (any)
		chart_parts_median(out, b);
	else
		nothing_to_chart(out, "Nothing to chart: no part of the round trip could be "
				      "measured.");
	figure_close(out, "The median (p50) of each part over the probes that had it, from its "
			  "histogram (within 0.1%), in the stack's order. The medians need not add "
			  "up to the median round trip. A part no probe had is marked unavailable "
			  "and takes no room.");
}
