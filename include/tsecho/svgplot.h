/* A line chart of several series as one SVG element, for reports that
 * put runs side by side (tsecho compare: one line per server engine).
 *
 * The chart reads in black and white: each series has its own dash
 * pattern and its own marker shape, shown in the legend and along the
 * line; colour (Okabe and Ito's colour-blind-safe palette) only helps.
 * No scripts, no fonts, nothing loaded from elsewhere.  The element
 * styles itself with presentation attributes, so a page stylesheet with
 * rules such as "svg text {...}" wins over them: scope such rules.
 *
 * A formatter: it writes to the caller's stream, never prints elsewhere,
 * never exits, and allocates nothing. */
#ifndef TSECHO_SVGPLOT_H
#define TSECHO_SVGPLOT_H

#include <stddef.h>
#include <stdio.h>

enum ts_plot_scale {
	TS_PLOT_LINEAR,
	TS_PLOT_LOG10, /* values > 0 only; ticks at 1, 2, 5 x powers of ten or powers of ten */
	TS_PLOT_PCT,   /* x only: values are fractions 0..1 drawn at HdrHistogram's
			* log10(1/(1-f)); ticks 0%, 90%, 99%, 99.9%... */
};

/* One line.  x[i], y[i] for i in [0, n) is a point; a point with either
 * value not drawable on its axis is skipped (the line joins its
 * neighbours): NaN and infinities, magnitudes above 1e150 (below 1e-150
 * on a log axis), values <= 0 on a log axis, fractions outside [0, 1] on
 * a percentile axis (1, the maximum, is drawn at the axis's right end).
 * Points are joined in index order.  x or y NULL: an empty series. */
struct ts_plot_series {
	const char *label; /* legend text (UTF-8; NULL: none) */
	const double *x, *y;
	size_t n;
};

struct ts_plot {
	const char *title;   /* chart heading (inside the SVG, <title> too); NULL: none */
	const char *x_label; /* with unit, e.g. "connections", "round trip (µs)"; NULL: none */
	const char *y_label;
	enum ts_plot_scale x_scale, y_scale;
	int y_from_zero; /* linear y: the axis starts at 0 */
	const struct ts_plot_series *series;
	size_t n_series;
	int markers; /* draw a marker at each point (for sparse data like conn counts) */
};

/* Writes p as one <svg class="ts-plot"> element: viewBox 0 0 720 400,
 * a title, axes with ticks, light gridlines and axis titles, one
 * <path class="series" data-label="LABEL"> per series with a drawable
 * point (at most about 2000 points each: longer series are decimated,
 * keeping each stretch's first, last, lowest and highest), a
 * <path class="markers"> after each, and a legend on the right (a
 * series with nothing to draw is listed as "(no data)"; past 13 series
 * the rest are counted, not listed).  Nothing drawable at all: the axes
 * and a "no data" text.  Every string is escaped for XML; invalid UTF-8
 * becomes U+FFFD; titles are cut at 120 characters, legend labels at 20
 * (the data-label keeps 120).
 *
 * standalone: a complete SVG document (XML declaration, xmlns,
 * xmlns:xlink, width 720 and height 400), valid XML on its own, for
 * --svg DIR files; else an inline <svg width="100%"> for an HTML page
 * (still well-formed XML, with xmlns).
 *
 * Returns 0, -EINVAL when out or p is NULL, or -errno on a write error
 * (-EIO when ferror says only that).  The stream is flushed, not closed. */
int ts_plot_write_svg(FILE *out, const struct ts_plot *p, int standalone);

#endif
