/* The Prometheus text exposition format (version 0.0.4), written into a
 * buffer: metric families with HELP and TYPE lines, samples with labels,
 * and histograms with fixed bucket bounds.  A scrape is rendered whole and
 * then sent, so a slow scraper never sees a half-updated page.
 *
 * Errors are sticky: once an append fails (the page outgrew its cap, or
 * memory ran out) every later call does nothing and ts_prom_end returns
 * the error. */
#ifndef TSECHO_PROM_H
#define TSECHO_PROM_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/buf.h>

struct ts_prom {
	struct ts_buf *out;
	size_t max; /* cap on the whole page, bytes */
	int err;    /* 0 or the first -errno */
};

/* A histogram with cumulative buckets at fixed upper bounds (seconds, in
 * increasing order, +Inf implied).  counts has n_bounds + 1 slots. */
struct ts_prom_hist {
	const double *bounds_s;
	size_t n_bounds;
	uint64_t *counts; /* per bucket, not cumulative; last: above every bound */
	uint64_t count;
	double sum_s;
};

void ts_prom_begin(struct ts_prom *p, struct ts_buf *out, size_t max);
/* 0, or the first error (-ENOBUFS: over max; -ENOMEM). */
int ts_prom_end(const struct ts_prom *p);

/* The HELP and TYPE lines of a family; type is counter, gauge or histogram. */
void ts_prom_family(struct ts_prom *p, const char *name, const char *type, const char *help);

/* One sample.  labels is NULL or the text inside the braces, already
 * escaped (ts_prom_label builds it). */
void ts_prom_sample(struct ts_prom *p, const char *name, const char *labels, double value);
void ts_prom_sample_u64(struct ts_prom *p, const char *name, const char *labels, uint64_t value);

/* The _bucket, _sum and _count samples of a histogram. */
void ts_prom_histogram(struct ts_prom *p, const char *name, const char *labels,
		       const struct ts_prom_hist *h);

/* tsecho_build_info{version="..."} 1: which tsecho a page comes from. */
void ts_prom_build_info(struct ts_prom *p, const char *version);

/* Counts value_s into h. */
void ts_prom_hist_observe(struct ts_prom_hist *h, double value_s);

/* Appends name="value" (with a leading comma when buf is not empty) to the
 * NUL-terminated label text in buf, escaping backslash, quote and newline
 * as the format requires.  Returns 0, or -ENOBUFS when it does not fit
 * (buf is then unchanged). */
int ts_prom_label(char *buf, size_t cap, const char *name, const char *value);

#endif
