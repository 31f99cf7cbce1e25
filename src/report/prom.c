/* Prometheus text format: see prom.h.  The format is described at
 * prometheus.io/docs/instrumenting/exposition_formats. */
#include "config.h"

#include <tsecho/prom.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_prom_begin(struct ts_prom *p, struct ts_buf *out, size_t max)
{
	p->out = out;
	p->max = max;
	p->err = 0;
}

int ts_prom_end(const struct ts_prom *p)
{
	return p->err;
}

static void put(struct ts_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one formatted line (lines are short: names, labels, a number). */
static void put(struct ts_prom *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (p->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line) {
		p->err = -ENOBUFS;
		return;
	}
	p->err = ts_buf_append(p->out, line, (size_t)n, p->max);
}

void ts_prom_family(struct ts_prom *p, const char *name, const char *type, const char *help)
{
	put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The format's spelling of a float: Go's, with +Inf, -Inf and NaN. */
static void format_value(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "NaN");
	else if (isinf(v))
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
	else if (snprintf(buf, cap, "%.15g", v) > 0 && strtod(buf, NULL) != v)
		snprintf(buf, cap, "%.17g", v); /* the shortest that reads back exactly */
}

void ts_prom_sample(struct ts_prom *p, const char *name, const char *labels, double value)
{
	char v[40];

	format_value(v, sizeof v, value);
	if (labels && labels[0])
		put(p, "%s{%s} %s\n", name, labels, v);
	else
		put(p, "%s %s\n", name, v);
}

void ts_prom_sample_u64(struct ts_prom *p, const char *name, const char *labels, uint64_t value)
{
	if (labels && labels[0])
		put(p, "%s{%s} %" PRIu64 "\n", name, labels, value);
	else
		put(p, "%s %" PRIu64 "\n", name, value);
}

void ts_prom_histogram(struct ts_prom *p, const char *name, const char *labels,
		       const struct ts_prom_hist *h)
{
	const char *sep = labels && labels[0] ? "," : "";
	const char *l = labels ? labels : "";
	uint64_t cumulative = 0;
	char le[40];

	for (size_t i = 0; i <= h->n_bounds; i++) {
		cumulative += h->counts[i];
		if (i < h->n_bounds)
			format_value(le, sizeof le, h->bounds_s[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		put(p, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, l, sep, le, cumulative);
	}
	format_value(le, sizeof le, h->sum_s);
	if (l[0]) {
		put(p, "%s_sum{%s} %s\n", name, l, le);
		put(p, "%s_count{%s} %" PRIu64 "\n", name, l, h->count);
	} else {
		put(p, "%s_sum %s\n", name, le);
		put(p, "%s_count %" PRIu64 "\n", name, h->count);
	}
}

void ts_prom_hist_observe(struct ts_prom_hist *h, double value_s)
{
	size_t i = 0;

	/* Few bounds (a dozen or two): a linear scan is as quick as any. */
	while (i < h->n_bounds && value_s > h->bounds_s[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_s += value_s;
}

int ts_prom_label(char *buf, size_t cap, const char *name, const char *value)
{
	size_t len = strlen(buf);
	size_t at = len;
	int n = snprintf(buf + at, cap - at, "%s%s=\"", len ? "," : "", name);

	if (n < 0 || (size_t)n + 2 > cap - at) /* and the closing quote and NUL */
		goto full;
	at += (size_t)n;
	for (const char *s = value; *s; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
				  : *s == '"'  ? "\\\""
				  : *s == '\n' ? "\\n"
					       : NULL;
		size_t k = esc ? 2 : 1;
		if (at + k + 2 > cap) /* room for the closing quote and NUL */
			goto full;
		memcpy(buf + at, esc ? esc : s, k);
		at += k;
	}
	buf[at++] = '"';
	buf[at] = '\0';
	return 0;
full:
	buf[len] = '\0';
	return -ENOBUFS;
}

void ts_prom_build_info(struct ts_prom *p, const char *version)
{
	char labels[128] = "";

	ts_prom_label(labels, sizeof labels, "version", version);
	ts_prom_family(p, "tsecho_build_info", "gauge", "Always 1; the version is a label.");
	ts_prom_sample(p, "tsecho_build_info", labels, 1);
}
