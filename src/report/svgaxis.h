/* The axes of the SVG line charts (svgplot.c): which values a scale can
 * draw, the ends and ticks that show a range of them, and where a value
 * falls between the ends.  Internal to src/report/. */
#ifndef TSECHO_SVGAXIS_H
#define TSECHO_SVGAXIS_H

#include <stddef.h>

#include <tsecho/svgplot.h>

#define TS_PLOT_TICKS_MAX 16

/* An axis: its ends in axis units (the value, its log10, or its nines on
 * the percentile axis; hi > lo always) and its ticks, in axis units with
 * their labels. */
struct ts_plot_axis {
	enum ts_plot_scale scale;
	double lo, hi;
	int n_ticks;
	double tick[TS_PLOT_TICKS_MAX];
	char label[TS_PLOT_TICKS_MAX][24];
};

/* What the drawable values on one axis span; below_one is the largest
 * value under 1 (where a percentile axis ends), 0 if none.  Zeroed: no
 * value yet. */
struct ts_plot_range {
	double lo, hi, below_one;
	size_t n;
};

/* Whether v can be drawn on scale: finite and of magnitude at most 1e150;
 * on a log axis in [1e-150, 1e150], on a percentile axis in [0, 1]. */
int ts_plot_drawable(enum ts_plot_scale scale, double v);

/* Counts drawable v into r. */
void ts_plot_range_add(struct ts_plot_range *r, double v);

/* a's ends and ticks for the values in r on scale (an unknown scale is
 * linear); an empty r, or one value, gets an axis around it.  from_zero:
 * a linear axis includes 0. */
void ts_plot_axis_setup(struct ts_plot_axis *a, enum ts_plot_scale scale,
			const struct ts_plot_range *r, int from_zero);

/* How far along a the drawable value v falls: 0 at lo, 1 at hi, clamped. */
double ts_plot_axis_at(const struct ts_plot_axis *a, double v);

#endif
