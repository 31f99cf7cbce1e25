/* Multi-series line charts as SVG: see svgplot.h.  A value counts only
 * when it is drawable on its axis, and every range is widened before it
 * divides, so no input puts a NaN or an infinity into a coordinate.
 * Coordinates are user units of the fixed viewBox. */
#include "config.h"

#include <tsecho/svgplot.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "htmlchart.h"
#include "svgaxis.h"

enum {
	VIEW_W = 720,
	VIEW_H = 400,
	PLOT_LEFT = 72,
	PLOT_TOP = 44,
	PLOT_W = 460,
	PLOT_H = 284,
	LEGEND_X = 548,
	LEGEND_ROW = 20,
	LEGEND_ROWS = 13,  /* PLOT_H / LEGEND_ROW, less one for "+N more" */
	LEGEND_CHARS = 20, /* of a label, in the legend (~120 user units) */
	TEXT_CHARS = 120,  /* of a title or a data-label */
	POINTS_MAX = 2000, /* per series; longer ones are decimated */
	BUCKETS = 500,     /* decimation: POINTS_MAX / 4 stretches of 4 points */
	MARKS_MAX = 300,   /* per series when p->markers is set */
	MARKS_SPARSE = 8,  /* per series along a line without */
	STYLES = 8,        /* dash patterns and marker shapes */
};

/* One dash pattern per style, solid first; butt caps keep them crisp. */
static const char *const dash[STYLES] = {
	NULL, "8 4", "2 3", "8 3 2 3", "14 4", "8 3 2 3 2 3", "14 3 4 3", "4 7",
};

/* Okabe and Ito's colour-blind-safe palette, less its yellow (too pale
 * on white).  Seven colours against eight styles: colours shift against
 * the shapes as series go on. */
static const char *const colour[] = {
	"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
};

enum paint { FILLED, STROKED, HOLLOW };

/* A marker shape: path commands from (x + dx, y + dy), about 8 units wide
 * and centred on (x, y). */
struct marker {
	const char *d;
	double dx, dy;
	enum paint paint;
};

static const struct marker marker[STYLES] = {
	{ "a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0 -7 0z", -3.5, 0, FILLED }, /* circle */
	{ "h6.4v6.4h-6.4z", -3.2, -3.2, FILLED },                      /* square */
	{ "l4.2 7.2h-8.4z", 0, -4.4, FILLED },                         /* triangle */
	{ "l4.5 4.5l-4.5 4.5l-4.5 -4.5z", 0, -4.5, FILLED },           /* diamond */
	{ "l7 7m0 -7l-7 7", -3.5, -3.5, STROKED },                     /* cross */
	{ "h9m-4.5 -4.5v9", -4.5, 0, STROKED },                        /* plus */
	{ "l4.2 -7.2h-8.4z", 0, 4.4, HOLLOW },                         /* triangle down */
	{ "a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0 -7 0z", -3.5, 0, HOLLOW }, /* ring */
};

struct style {
	const char *dash; /* NULL: solid */
	const char *colour;
	const struct marker *marker;
};

/* Series i's style.  Past eight the marker shifts against the dash, so
 * the first 64 series all differ in shape or dash. */
static struct style style_of(size_t i)
{
	struct style st = {
		.dash = dash[i % STYLES],
		.colour = colour[i % (sizeof colour / sizeof colour[0])],
		.marker = &marker[(i + i / STYLES) % STYLES],
	};
	return st;
}

struct frame {
	struct ts_plot_axis x, y;
};

static int point_ok(const struct frame *f, const struct ts_plot_series *s, size_t i)
{
	return ts_plot_drawable(f->x.scale, s->x[i]) && ts_plot_drawable(f->y.scale, s->y[i]);
}

static size_t count_ok(const struct frame *f, const struct ts_plot_series *s)
{
	size_t m = 0;

	if (!s->x || !s->y)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		m += point_ok(f, s, i);
	return m;
}

static double px(const struct frame *f, double x)
{
	return PLOT_LEFT + ts_plot_axis_at(&f->x, x) * PLOT_W;
}

static double py(const struct frame *f, double y)
{
	return PLOT_TOP + (1 - ts_plot_axis_at(&f->y, y)) * PLOT_H;
}

/* The axes for every drawable point of p; returns how many there are. */
static size_t frame_setup(struct frame *f, const struct ts_plot *p)
{
	struct ts_plot_range xr = { 0 }, yr = { 0 };

	memset(f, 0, sizeof *f);
	/* The scales decide which points count (unknown ones are linear). */
	f->x.scale = p->x_scale;
	f->y.scale = p->y_scale;
	for (size_t k = 0; p->series && k < p->n_series; k++) {
		const struct ts_plot_series *s = &p->series[k];
		for (size_t i = 0; s->x && s->y && i < s->n; i++) {
			if (!point_ok(f, s, i))
				continue;
			ts_plot_range_add(&xr, s->x[i]);
			ts_plot_range_add(&yr, s->y[i]);
		}
	}
	ts_plot_axis_setup(&f->x, p->x_scale, &xr, 0);
	ts_plot_axis_setup(&f->y, p->y_scale, &yr, p->y_from_zero);
	return xr.n;
}

/* The length of the valid UTF-8 sequence at s, or 0 (XML 1.0's
 * characters only: no surrogates, no U+FFFE or U+FFFF). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned long cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* the NUL too: never read past it */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

/* s escaped, its first max_chars (<= TEXT_CHARS) characters and "…" when
 * there are more; invalid UTF-8 as U+FFFD.  NULL: nothing. */
static void put_text(FILE *o, const char *s, size_t max_chars)
{
	char buf[TEXT_CHARS * 4 + 4];
	size_t len = 0;

	if (!s)
		return;
	for (size_t chars = 0; *s && chars < max_chars && chars < TEXT_CHARS; chars++) {
		size_t n = utf8_len((const unsigned char *)s);
		memcpy(buf + len, n ? s : "\xef\xbf\xbd", n ? n : 3);
		len += n ? n : 3;
		s += n ? n : 1;
	}
	if (*s) {
		memcpy(buf + len, "\xe2\x80\xa6", 3);
		len += 3;
	}
	buf[len] = '\0';
	ts_html_put(o, buf);
}

static void svg_open(FILE *o, const struct ts_plot *p, int standalone)
{
	if (standalone)
		fprintf(o,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<svg xmlns=\"http://www.w3.org/2000/svg\" "
			"xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"%d\" height=\"%d\"",
			VIEW_W, VIEW_H);
	else
		fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\"", o);
	fprintf(o,
		" class=\"ts-plot\" viewBox=\"0 0 %d %d\" role=\"img\" "
		"font-family=\"sans-serif\">\n<title>",
		VIEW_W, VIEW_H);
	put_text(o, p->title, TEXT_CHARS);
	fprintf(o, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", VIEW_W, VIEW_H);
}

/* Where tick i of an axis falls, in user units. */
static double tick_x(const struct ts_plot_axis *a, int i)
{
	return PLOT_LEFT + (a->tick[i] - a->lo) / (a->hi - a->lo) * PLOT_W;
}

static double tick_y(const struct ts_plot_axis *a, int i)
{
	return PLOT_TOP + (a->hi - a->tick[i]) / (a->hi - a->lo) * PLOT_H;
}

/* Gridlines, tick marks and the two axis lines. */
static void draw_lines(FILE *o, const struct frame *f)
{
	const int bottom = PLOT_TOP + PLOT_H, right = PLOT_LEFT + PLOT_W;

	fputs("<path fill=\"none\" stroke=\"#e4e4e4\" stroke-width=\"1\" d=\"", o);
	for (int i = 0; i < f->y.n_ticks; i++)
		fprintf(o, "M%d %.1fH%d", PLOT_LEFT, tick_y(&f->y, i), right);
	for (int i = 0; i < f->x.n_ticks; i++)
		fprintf(o, "M%.1f %dV%d", tick_x(&f->x, i), PLOT_TOP, bottom);
	fputs("\"/>\n<path fill=\"none\" stroke=\"#555\" stroke-width=\"1\" d=\"", o);
	for (int i = 0; i < f->y.n_ticks; i++)
		fprintf(o, "M%d %.1fh-5", PLOT_LEFT, tick_y(&f->y, i));
	for (int i = 0; i < f->x.n_ticks; i++)
		fprintf(o, "M%.1f %dv5", tick_x(&f->x, i), bottom);
	fprintf(o, "M%d %dV%dH%d\"/>\n", PLOT_LEFT, PLOT_TOP, bottom, right);
}

/* Tick labels, the axis titles and the chart's title. */
static void draw_text(FILE *o, const struct frame *f, const struct ts_plot *p)
{
	const int bottom = PLOT_TOP + PLOT_H;

	fputs("<g class=\"ticks\" font-size=\"11\" fill=\"#444\">\n", o);
	for (int i = 0; i < f->y.n_ticks; i++)
		fprintf(o, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			PLOT_LEFT - 8, tick_y(&f->y, i) + 4, f->y.label[i]);
	for (int i = 0; i < f->x.n_ticks; i++)
		fprintf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			tick_x(&f->x, i), bottom + 18, f->x.label[i]);
	fputs("</g>\n<g font-size=\"13\" fill=\"#222\">\n", o);
	fprintf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", PLOT_LEFT + PLOT_W / 2,
		bottom + 42);
	put_text(o, p->x_label, TEXT_CHARS);
	fprintf(o,
		"</text>\n<text transform=\"translate(%d %d) rotate(-90)\" "
		"text-anchor=\"middle\">",
		PLOT_LEFT - 54, PLOT_TOP + PLOT_H / 2);
	put_text(o, p->y_label, TEXT_CHARS);
	fprintf(o,
		"</text>\n<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" "
		"font-weight=\"bold\">",
		VIEW_W / 2);
	put_text(o, p->title, TEXT_CHARS);
	fputs("</text>\n</g>\n", o);
}

/* A path's points, each new one only when it moves on the 0.1 grid. */
struct line {
	FILE *out;
	int started;
	long x10, y10;
};

static void line_to(struct line *ln, double x, double y)
{
	long x10 = lround(x * 10), y10 = lround(y * 10);

	if (ln->started && x10 == ln->x10 && y10 == ln->y10)
		return;
	fprintf(ln->out, "%c%.1f %.1f", ln->started ? 'L' : 'M', (double)x10 / 10,
		(double)y10 / 10);
	ln->started = 1;
	ln->x10 = x10;
	ln->y10 = y10;
}

/* Points [from, to) of s as at most four: the first, lowest, highest and
 * last drawable ones, in index order. */
static void line_stretch(struct line *ln, const struct frame *f, const struct ts_plot_series *s,
			 size_t from, size_t to)
{
	size_t pick[4], n = 0;

	for (size_t i = from; i < to; i++) {
		if (!point_ok(f, s, i))
			continue;
		if (n == 0) {
			pick[0] = pick[1] = pick[2] = pick[3] = i;
			n = 4;
		}
		pick[1] = s->y[i] < s->y[pick[1]] ? i : pick[1];
		pick[2] = s->y[i] > s->y[pick[2]] ? i : pick[2];
		pick[3] = i;
	}
	if (n && pick[1] > pick[2]) {
		size_t t = pick[1];
		pick[1] = pick[2];
		pick[2] = t;
	}
	for (size_t k = 0; k < n; k++)
		line_to(ln, px(f, s->x[pick[k]]), py(f, s->y[pick[k]]));
}

static void series_line(FILE *o, const struct frame *f, const struct ts_plot_series *s,
			struct style st)
{
	struct line ln = { .out = o };

	fputs("<path class=\"series\" data-label=\"", o);
	put_text(o, s->label, TEXT_CHARS);
	fprintf(o, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"",
		st.colour);
	if (st.dash)
		fprintf(o, " stroke-dasharray=\"%s\"", st.dash);
	fputs(" d=\"", o);
	if (s->n <= POINTS_MAX) {
		for (size_t i = 0; i < s->n; i++)
			if (point_ok(f, s, i))
				line_to(&ln, px(f, s->x[i]), py(f, s->y[i]));
	} else {
		/* Stretch b is [b * q + min(b, r), ...): n = q * BUCKETS + r,
		 * split exactly, with no product that could overflow. */
		size_t q = s->n / BUCKETS, r = s->n % BUCKETS;
		for (size_t b = 0; b < BUCKETS; b++)
			line_stretch(&ln, f, s, b * q + (b < r ? b : r),
				     (b + 1) * q + (b + 1 < r ? b + 1 : r));
	}
	fputs("\"/>\n", o);
}

static void marker_open(FILE *o, const char *cls, struct style st)
{
	const struct marker *mk = st.marker;

	fprintf(o, "<path class=\"%s\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\" d=\"", cls,
		mk->paint == FILLED   ? st.colour
		: mk->paint == HOLLOW ? "#fff"
				      : "none",
		st.colour, mk->paint == FILLED ? "1" : "1.6");
}

static void marker_at(FILE *o, const struct marker *mk, double x, double y)
{
	fprintf(o, "M%.1f %.1f%s", x + mk->dx, y + mk->dy, mk->d);
}

/* Markers on series k's m drawable points: on each (at most MARKS_MAX)
 * when every_point, else about MARKS_SPARSE along the line, staggered
 * by series so that lines sharing points do not share markers. */
static void series_markers(FILE *o, const struct frame *f, const struct ts_plot_series *s, size_t k,
			   size_t m, int every_point)
{
	size_t cap = every_point ? MARKS_MAX : MARKS_SPARSE;
	size_t step = (m + cap - 1) / cap, offset = (k % STYLES) * step / STYLES, j = 0;
	struct style st = style_of(k);

	marker_open(o, "markers", st);
	for (size_t i = 0; i < s->n; i++) {
		if (!point_ok(f, s, i))
			continue;
		if (j >= offset && (j - offset) % step == 0)
			marker_at(o, st.marker, px(f, s->x[i]), py(f, s->y[i]));
		j++;
	}
	fputs("\"/>\n", o);
}

static void legend_entry(FILE *o, size_t k, const struct ts_plot_series *s, size_t m, int y)
{
	struct style st = style_of(k);

	fprintf(o,
		"<g class=\"legend-entry\">\n<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"",
		st.colour);
	if (st.dash)
		fprintf(o, " stroke-dasharray=\"%s\"", st.dash);
	fprintf(o, " d=\"M%d %dh32\"/>\n", LEGEND_X, y);
	marker_open(o, "legend-marker", st);
	marker_at(o, st.marker, LEGEND_X + 16, y);
	fprintf(o, "\"/>\n<text x=\"%d\" y=\"%d\">", LEGEND_X + 40, y + 4);
	put_text(o, s->label, LEGEND_CHARS);
	fprintf(o, "%s</text>\n</g>\n", m ? "" : " (no data)");
}

static void draw_legend(FILE *o, const struct frame *f, const struct ts_plot *p)
{
	size_t n = p->series ? p->n_series : 0;
	size_t shown = n > LEGEND_ROWS ? LEGEND_ROWS - 1 : n;

	if (n == 0)
		return;
	fputs("<g class=\"legend\" font-size=\"12\" fill=\"#222\">\n", o);
	for (size_t k = 0; k < shown; k++)
		legend_entry(o, k, &p->series[k], count_ok(f, &p->series[k]),
			     PLOT_TOP + 8 + (int)k * LEGEND_ROW);
	if (shown < n)
		fprintf(o, "<text x=\"%d\" y=\"%d\">+%zu more</text>\n", LEGEND_X,
			PLOT_TOP + 12 + (int)shown * LEGEND_ROW, n - shown);
	fputs("</g>\n", o);
}

static void draw_series(FILE *o, const struct frame *f, const struct ts_plot *p)
{
	for (size_t k = 0; k < p->n_series; k++) {
		const struct ts_plot_series *s = &p->series[k];
		size_t m = count_ok(f, s);
		if (m == 0)
			continue;
		series_line(o, f, s, style_of(k));
		series_markers(o, f, s, k, m, p->markers);
	}
}

static int flush_status(FILE *out)
{
	errno = 0;
	if (fflush(out) != 0)
		return errno ? -errno : -EIO;
	return ferror(out) ? -EIO : 0;
}

int ts_plot_write_svg(FILE *out, const struct ts_plot *p, int standalone)
{
	struct frame f;
	size_t drawable_points;

	if (!out || !p)
		return -EINVAL;
	drawable_points = frame_setup(&f, p);
	svg_open(out, p, standalone);
	draw_lines(out, &f);
	draw_text(out, &f, p);
	if (drawable_points)
		draw_series(out, &f, p);
	else
		fprintf(out,
			"<text class=\"no-data\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
			"font-size=\"14\" fill=\"#777\">no data</text>\n",
			PLOT_LEFT + PLOT_W / 2, PLOT_TOP + PLOT_H / 2);
	draw_legend(out, &f, p);
	fputs("</svg>\n", out);
	return flush_status(out);
}
