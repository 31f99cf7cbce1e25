/* The axes of the SVG line charts: see svgaxis.h.  Ranges are widened
 * before they divide and every value is checked before it counts, so the
 * ends are finite and hi > lo whatever the data. */
#include "config.h"

#include "svgaxis.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <tsecho/htmlreport.h>

/* Values farther from 0 (nearer on a log axis) are not drawn: ranges and
 * their ticks stay finite. */
static const double value_max = 1e150;

int ts_plot_drawable(enum ts_plot_scale scale, double v)
{
	switch (scale) {
	case TS_PLOT_LOG10:
		return v >= 1 / value_max && v <= value_max;
	case TS_PLOT_PCT:
		return v >= 0 && v <= 1;
	default:
		return isfinite(v) && fabs(v) <= value_max;
	}
}

static double to_units(const struct ts_plot_axis *a, double v)
{
	if (a->scale == TS_PLOT_LOG10)
		return log10(v);
	if (a->scale == TS_PLOT_PCT)
		return ts_html_pct_x(v, a->hi);
	return v;
}

double ts_plot_axis_at(const struct ts_plot_axis *a, double v)
{
	double t = (to_units(a, v) - a->lo) / (a->hi - a->lo);

	return t < 0 ? 0 : t > 1 ? 1 : t;
}

static void tick_add(struct ts_plot_axis *a, double units, const char *label)
{
	if (a->n_ticks >= TS_PLOT_TICKS_MAX)
		return;
	a->tick[a->n_ticks] = units;
	snprintf(a->label[a->n_ticks], sizeof a->label[0], "%s", label);
	a->n_ticks++;
}

/* A suffix that keeps large tick labels short: values of magnitude mag
 * are printed in units of *div ("20k"); past 1e12 "%g" is shorter. */
static const char *suffix_for(double mag, double *div)
{
	static const struct {
		double at, div;
		const char *suffix;
	} si[] = { { 1e12, 1, "" }, { 1e9, 1e9, "G" }, { 1e6, 1e6, "M" }, { 1e4, 1e3, "k" } };

	for (size_t i = 0; i < sizeof si / sizeof si[0]; i++) {
		if (mag >= si[i].at) {
			*div = si[i].div;
			return si[i].suffix;
		}
	}
	*div = 1;
	return "";
}

/* Ticks at the multiples of step in [lo, hi], with a suffix unless the
 * step is too fine for one (1000000001, 1000000002). */
static void linear_ticks(struct ts_plot_axis *a, double step)
{
	double div;
	const char *suffix = suffix_for(fmax(fabs(a->lo), fabs(a->hi)), &div);
	int decimals;
	char label[24];

	if (step < div * 1e-3) {
		suffix = "";
		div = 1;
	}
	decimals = ts_html_step_decimals(step / div);
	for (double k = round(a->lo / step); k * step <= a->hi + step * 1e-6; k++) {
		double v = k * step / div;
		if (fabs(v) < step / div * 1e-6)
			snprintf(label, sizeof label, "0"); /* never "-0" or "0k" */
		else
			snprintf(label, sizeof label, "%.*f%s", decimals, v, suffix);
		tick_add(a, k * step, label);
		if (a->n_ticks >= TS_PLOT_TICKS_MAX)
			break;
	}
}

/* Nice ends around the range (0 included when from_zero); one value or
 * none gets an axis around it. */
static void linear_axis(struct ts_plot_axis *a, const struct ts_plot_range *r, int from_zero)
{
	double lo = r->n ? r->lo : 0, hi = r->n ? r->hi : 1, step;

	if (from_zero) {
		lo = fmin(lo, 0);
		hi = fmax(hi, 0);
	}
	if (!(hi > lo)) {
		double pad = lo != 0 ? fabs(lo) / 10 : 1;
		lo = from_zero ? lo : lo - pad;
		hi += pad;
	}
	step = ts_html_nice_step(hi - lo, 6);
	a->lo = floor(lo / step + 1e-9) * step;
	a->hi = ceil(hi / step - 1e-9) * step;
	if (!(a->hi > a->lo))
		a->hi = a->lo + step;
	linear_ticks(a, step);
}

static void log_label(struct ts_plot_axis *a, double v)
{
	double div;
	const char *suffix = suffix_for(v, &div);
	char label[24];

	snprintf(label, sizeof label, "%g%s", v / div, suffix);
	tick_add(a, log10(v), label);
}

/* v rounded down (up) to 1, 2 or 5 times a power of ten. */
static double snap125(double v, int up)
{
	static const double mult[] = { 1, 2, 5, 10 };
	double mag = pow(10.0, floor(log10(v))), m = v / mag;

	if (up) {
		for (int i = 0; i < 4; i++)
			if (mult[i] >= m * (1 - 1e-9))
				return mult[i] * mag;
		return 10 * mag;
	}
	for (int i = 3; i >= 0; i--)
		if (mult[i] <= m * (1 + 1e-9))
			return mult[i] * mag;
	return mag;
}

/* Ends at 1, 2 or 5 times a power of ten.  Up to three decades: ticks
 * there too; more: at powers of ten, every few so that at most nine are. */
static void log_axis(struct ts_plot_axis *a, const struct ts_plot_range *r)
{
	double lo = r->n ? r->lo : 1, hi = r->n ? r->hi : 10;

	if (hi < lo * 1.000001) {
		lo /= 2;
		hi *= 2;
	}
	a->lo = log10(snap125(lo, 0));
	a->hi = log10(snap125(hi, 1));
	if (a->hi - a->lo > 3) {
		long e0 = (long)ceil(a->lo - 1e-9), e1 = (long)floor(a->hi + 1e-9);
		long every = (e1 - e0 + 8) / 8;
		for (long e = e0; e <= e1; e += every)
			log_label(a, pow(10.0, (double)e));
		return;
	}
	for (double e = floor(a->lo); e <= a->hi; e++)
		for (int m = 1; m <= 5; m += m == 1 ? 1 : 3)
			if (e + log10(m) >= a->lo - 1e-9 && e + log10(m) <= a->hi + 1e-9)
				log_label(a, m * pow(10.0, e));
}

/* From 0% to the nines that show the largest fraction below 1, labelled
 * as HTML reports label their spectrum. */
static void pct_axis(struct ts_plot_axis *a, const struct ts_plot_range *r)
{
	double f = r->below_one;
	uint64_t n = f > 0 ? (uint64_t)llround(fmin(1 / (1 - f), 1e13)) : 1;
	int nines = ts_html_pct_x_max(n), every = (nines + 5) / 6;
	char label[24];

	a->lo = 0;
	a->hi = nines;
	for (int k = 0; k <= nines; k += every) {
		ts_html_pct_label(label, sizeof label, k);
		tick_add(a, k, label);
	}
}

void ts_plot_range_add(struct ts_plot_range *r, double v)
{
	r->lo = r->n == 0 || v < r->lo ? v : r->lo;
	r->hi = r->n == 0 || v > r->hi ? v : r->hi;
	if (v < 1 && v > r->below_one)
		r->below_one = v;
	r->n++;
}

void ts_plot_axis_setup(struct ts_plot_axis *a, enum ts_plot_scale scale,
			const struct ts_plot_range *r, int from_zero)
{
	memset(a, 0, sizeof *a);
	a->scale = scale == TS_PLOT_LOG10 || scale == TS_PLOT_PCT ? scale : TS_PLOT_LINEAR;
	if (a->scale == TS_PLOT_LOG10)
		log_axis(a, r);
	else if (a->scale == TS_PLOT_PCT)
		pct_axis(a, r);
	else
		linear_axis(a, r, from_zero);
}
