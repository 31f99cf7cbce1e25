/* A log-linear latency histogram in the manner of HdrHistogram: fixed
 * memory, values in nanoseconds from 0 to TS_HIST_MAX_NS, and a documented
 * precision.
 *
 * Values below 2048 are counted exactly.  Above, each power-of-two range
 * [2^k, 2^(k+1)) is cut into 1024 equal sub-buckets, so a value is known to
 * within 1/1024 of itself (better than 0.1%: three significant digits).
 * Percentiles report the highest value of the sub-bucket they fall in
 * (never below the truth, at most 0.1% above it), clamped to the exact
 * maximum recorded.  min, max, mean and standard deviation are exact. */
#ifndef TSECHO_HIST_H
#define TSECHO_HIST_H

#include <stddef.h>
#include <stdint.h>

/* 2^43 ns, about 2 h 26 min; larger values are counted as this. */
#define TS_HIST_MAX_NS ((int64_t)1 << 43)

struct ts_hist;

/* A new, empty histogram (about 280 KB), or NULL when out of memory.
 * Caller owns it. */
struct ts_hist *ts_hist_new(void);
void ts_hist_free(struct ts_hist *h);
void ts_hist_reset(struct ts_hist *h);

/* Counts one value; negative values count as 0. */
void ts_hist_record(struct ts_hist *h, int64_t value_ns);

/* Adds every count of src into dst. */
void ts_hist_merge(struct ts_hist *dst, const struct ts_hist *src);

uint64_t ts_hist_count(const struct ts_hist *h);
/* The next four are 0 when the histogram is empty. */
int64_t ts_hist_min(const struct ts_hist *h);
int64_t ts_hist_max(const struct ts_hist *h);
double ts_hist_mean(const struct ts_hist *h);
double ts_hist_stddev(const struct ts_hist *h); /* population */

/* The value at percentile p (0..100): the smallest recorded value v such
 * that at least p% of the values are <= v, to the precision above.
 * p <= 0 gives the minimum, p >= 100 the maximum, empty gives 0. */
int64_t ts_hist_percentile(const struct ts_hist *h, double p);

/* Walking the buckets (for exports): there are ts_hist_buckets() of them;
 * bucket i covers [ts_hist_bucket_low(i), ts_hist_bucket_high(i)]. */
size_t ts_hist_buckets(void);
int64_t ts_hist_bucket_low(size_t i);
int64_t ts_hist_bucket_high(size_t i);
uint64_t ts_hist_bucket_count(const struct ts_hist *h, size_t i);

/* Rebuilding a histogram from an export (tsecho merge): add counts to
 * bucket i (ignored when out of range), then set the exact figures that
 * buckets cannot carry.  ts_hist_count() is the sum of the counts. */
void ts_hist_add_bucket(struct ts_hist *h, size_t i, uint64_t count);
void ts_hist_set_exact(struct ts_hist *h, int64_t min_ns, int64_t max_ns, double sum,
		       double sum_sq);
double ts_hist_sum(const struct ts_hist *h);
double ts_hist_sum_sq(const struct ts_hist *h);

#endif
